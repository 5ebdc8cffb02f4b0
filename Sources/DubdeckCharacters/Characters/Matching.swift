#if canImport(Glibc)
import Glibc
#endif

/// Every comparable vector of the store, L2-normalized: the averages of the active characters in one
/// contiguous block (one pass per query) and each character's snapshots with the largest angle between
/// them and the average. A query compares snapshots only where that angle could lift the similarity
/// to the floor (spherical triangle inequality), so the result is exact for every decision while a
/// query reads the averages alone almost always.
///
/// Kept row by row, with the characters of each series: a changed character refreshes its own row
/// (`refresh`), so matching an episode reads its series' rows, never the whole store (SPEC §11.12).
final class EmbeddingMatrix {
    let dim: Int
    /// Row → index into `CharacterStore.characters` (-1: retired, a character merged or emptied).
    var owners: [Int] = []
    var averages: [Float] = []
    /// Per row: its snapshots (contiguous) and the largest snapshot angle from the average.
    var snapshots: [[Float]] = []
    var spread: [Float] = []
    /// Character index → row (-1: none).
    var rowOf: [Int] = []
    /// Series → the characters (indices) seen in it that have a row; and back.
    var members: [String: [Int]] = [:]
    var seriesOf: [Int: [String]] = [:]
    /// Queries answered and rows they compared (tests check the shape: a series' rows, not the store's).
    var rowsRead = 0

    init(store: CharacterStore, dim: Int) {
        self.dim = dim
        for (i, c) in store.characters.enumerated() { refresh(i, c) }
    }

    /// Brings character i's row and series membership up to date with `c`.
    func refresh(_ i: Int, _ c: CharacterRecord) {
        let eligible = c.mergedInto == nil && c.embeddingAvg.count == dim && Matching.norm(c.embeddingAvg) > 0
        while rowOf.count <= i { rowOf.append(-1) }
        if let old = seriesOf[i] {
            for s in old { members[s]?.removeAll { $0 == i } }
            seriesOf[i] = nil
        }
        guard eligible else {
            if rowOf[i] >= 0 { owners[rowOf[i]] = -1; rowOf[i] = -1 }
            return
        }
        let avg = Matching.normalized(c.embeddingAvg)
        var snaps: [Float] = []
        var widest: Float = 0
        for s in c.snapshots where s.embedding.count == dim && Matching.norm(s.embedding) > 0 {
            let v = Matching.normalized(s.embedding)
            snaps.append(contentsOf: v)
            widest = max(widest, acos(max(-1, min(1, Matching.cosine(avg, v)))))
        }
        let r: Int
        if rowOf[i] >= 0 {
            r = rowOf[i]
            averages.replaceSubrange(r * dim..<(r + 1) * dim, with: avg)
            snapshots[r] = snaps
            spread[r] = widest + 1e-4
        } else {
            r = owners.count
            owners.append(i)
            averages.append(contentsOf: avg)
            snapshots.append(snaps)
            spread.append(widest + 1e-4)
            rowOf[i] = r
        }
        let ids = c.series.map(\.id)
        for s in ids { members[s, default: []].append(i) }
        seriesOf[i] = ids
    }

    /// Best cosine of each normalized query to each character of `among` (indices into the store's
    /// characters; nil: every row), aligned with `among` (-2: no row). Exact wherever the best is at
    /// or above `floor`; below it a character may show its average's similarity instead.
    func best(_ queries: [[Float]], among: [Int], floor: Float) -> [[Float]] {
        rowsRead += queries.count * among.count
        var out: [[Float]] = []
        out.reserveCapacity(queries.count)
        averages.withUnsafeBufferPointer { avg in
            for q in queries {
                var best = [Float](repeating: -2, count: among.count)
                q.withUnsafeBufferPointer { qp in
                    for (k, i) in among.enumerated() {
                        let r = i < rowOf.count ? rowOf[i] : -1
                        guard r >= 0 else { continue }
                        var b = Matching.dot(avg.baseAddress! + r * dim, qp.baseAddress!, dim)
                        let snaps = snapshots[r]
                        if !snaps.isEmpty {
                            let angle = acos(max(-1, min(1, b)))
                            let bound = angle <= spread[r] ? 1 : cos(angle - spread[r])
                            if bound >= floor {
                                snaps.withUnsafeBufferPointer { sp in
                                    for j in stride(from: 0, to: snaps.count, by: dim) { b = max(b, Matching.dot(sp.baseAddress! + j, qp.baseAddress!, dim)) }
                                }
                            }
                        }
                        best[k] = b
                    }
                }
                out.append(best)
            }
        }
        return out
    }

    /// Every character with a row, in row order.
    var all: [Int] { owners.filter { $0 >= 0 } }
}

public enum Matching {
    public static let defaultThreshold = 0.70
    /// Updates (moving an average, joining labels, matching across series) need match + 0.10.
    public static let updateMargin = 0.10
    /// A running mean over at most this many embeddings: a character cannot drift over a season.
    public static let countCap = 50
    /// Second edition: a runner-up this close makes a match ambiguous (it moves nothing).
    public static let margin = 0.05
    /// Third edition (SPEC §11.13): a label heard at a lower quality (0…1: SNR, length, share of
    /// speech) is thin — it never creates a settled character nor moves one — and its match is said
    /// to rest on poor audio. Chosen on the noise bench (docs/CHARACTERS.md).
    public static let poorQuality = 0.05
    /// Tie-break towards characters already seen in the episode's series.
    static let seriesBonus: Float = 0.05

    /// Multiply and add, not `addingProduct`: without an FMA target that is a library call per lane.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            acc = acc + x * y
            i += 8
        }
        var s = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7]
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    public static func norm(_ v: [Float]) -> Float {
        v.withUnsafeBufferPointer { dot($0.baseAddress!, $0.baseAddress!, v.count).squareRoot() }
    }

    /// What an embedding must be before anything of it is stored (SPEC §11.1): float32 numbers
    /// that are finite (a JSON 1e39 is a finite double but an infinite float) and not all zero (a
    /// vector with no direction matches nothing, and its average is NaN). The one rule for every
    /// writer: diarization's embeddings, a legacy .npy, a character's average.
    public static func embeddingProblem(_ v: [Float]) -> String? {
        if v.isEmpty { return "no values" }
        if !v.allSatisfy({ $0.isFinite }) { return "a value is not a finite float32 number (NaN, infinite, or past ±3.4e38)" }
        if !(norm(v) > 0) || !norm(v).isFinite { return "all zeros (or too large to measure): it has no direction to compare" }
        return nil
    }

    public static func normalized(_ v: [Float]) -> [Float] {
        let n = norm(v)
        return n > 0 ? v.map { $0 / n } : v
    }

    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count, !a.isEmpty else { return 0 }
        let na = norm(a), nb = norm(b)
        guard na > 0, nb > 0 else { return 0 }
        return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in dot(x.baseAddress!, y.baseAddress!, a.count) } } / (na * nb)
    }

    /// Maximum-weight one-to-one assignment (Hungarian algorithm on costs = −weight). `weights` is
    /// rows × cols with rows ≤ cols; nil entries may not be assigned. Returns the column per row or nil.
    public static func assign(_ weights: [[Float?]]) -> [Int?] {
        let n = weights.count
        guard n > 0 else { return [] }
        let m = weights[0].count
        guard m > 0 else { return Array(repeating: nil, count: n) }
        // Pad with dummy columns so every row can stay unassigned at zero gain.
        let cols = m + n
        let big: Double = 1e6
        func cost(_ i: Int, _ j: Int) -> Double {
            if j >= m { return 0 }
            guard let w = weights[i][j] else { return big }
            return -Double(w) - 1  // any real match beats a dummy
        }
        var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: cols + 1)
        var p = [Int](repeating: 0, count: cols + 1), way = [Int](repeating: 0, count: cols + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            var minv = [Double](repeating: .infinity, count: cols + 1)
            var used = [Bool](repeating: false, count: cols + 1)
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity
                var j1 = 0
                for j in 1...cols where !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...cols {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var result = [Int?](repeating: nil, count: n)
        for j in 1...cols where p[j] != 0 {
            let col = j - 1
            if col < m, weights[p[j] - 1][col] != nil { result[p[j] - 1] = col }
        }
        return result
    }
}

/// One label of an episode with how much speech stands behind its embedding.
public struct LabelEvidence: Sendable {
    public var label: String
    public var embedding: [Float]
    /// Utterances and seconds of speech (nil: unknown, taken as enough).
    public var utterances: Int?
    public var seconds: Double?
    /// How clearly it was heard, 0…1 (SPEC §11.13; nil: not measured — the pipeline's embedding).
    public var quality: Double?

    public init(label: String, embedding: [Float], utterances: Int? = nil, seconds: Double? = nil, quality: Double? = nil) {
        self.label = label
        self.embedding = embedding
        self.utterances = utterances
        self.seconds = seconds
        self.quality = quality
    }

    /// Too little speech, or speech heard too poorly, to create or move a character (SPEC §10.8, §11.13).
    public var thin: Bool { (utterances.map { $0 < 2 } ?? false) || (seconds.map { $0 < 3 } ?? false) || poorAudio }
    /// Heard under `Matching.poorQuality`: the match rests on poor audio.
    public var poorAudio: Bool { quality.map { $0 < Matching.poorQuality } ?? false }
}

/// How much of one label the audio held (summed over its spans with speech): what identify weighs it by.
public struct LabelHearing: Equatable, Sendable {
    public var utterances = 0
    public var seconds = 0.0
    /// Σ quality × seconds: `quality` is their mean weighted by seconds.
    var weightedQuality = 0.0
    public var quality: Double { seconds > 0 ? weightedQuality / seconds : 0 }

    public init() {}

    mutating func add(_ h: VoiceActivity.Hearing) {
        utterances += 1
        seconds += h.seconds
        weightedQuality += h.quality * h.seconds
    }
}

/// Who each diarization label of an episode is.

extension CharacterStore {
    func matrix() -> EmbeddingMatrix? {
        guard let d = dim else { return nil }
        if let m = matrixCache, m.dim == d { return m }
        let m = EmbeddingMatrix(store: self, dim: d)
        matrixCache = m
        return m
    }

    /// Checks an input embedding's type and dim against the store's (setting them on a new store).
    public func checkEmbedding(type: String, dim d: Int, model: String?, file: String) throws {
        if let have = dim, let t = embeddingType {
            guard have == d, t == type else {
                throw DubdeckError.data(Sanitizer.display(file), "embedding \(type)/\(d) does not match the character store's \(t)/\(have); refusing to mix them")
            }
            return
        }
        var meta = JSONObject([("type", .string(type)), ("dim", .number(d))])
        meta["model"] = model.map { .string($0) } ?? .null
        meta["encoding"] = .string("f32le-base64")
        meta["updated_at"] = .string(Clock.isoNow())
        embeddingMeta = meta
        matrixCache = nil
    }

    /// Best similarity (average or snapshots) of one embedding to every active character,
    /// index-aligned with `characters`; exact at or above `floor`.
    public func similarities(_ embedding: [Float], floor: Double = 0) -> [Float] {
        var out = [Float](repeating: -2, count: characters.count)
        guard let m = matrix() else { return out }
        let all = m.all
        for (k, s) in similarities([embedding], among: all, floor: floor)[0].enumerated() { out[all[k]] = s }
        return out
    }

    /// The same for several embeddings against the characters `among` (indices), aligned with it.
    func similarities(_ batch: [[Float]], among: [Int], floor: Double) -> [[Float]] {
        guard let m = matrix(), batch.allSatisfy({ $0.count == m.dim }) else { return batch.map { _ in Array(repeating: -2, count: among.count) } }
        return m.best(batch.map { Matching.normalized($0) }, among: among, floor: Float(floor))
    }

    /// The characters seen in a series that can be compared (indices into `characters`).
    func seriesMembers(_ series: String) -> [Int] { matrix()?.members[series] ?? [] }

    /// The comparable characters never seen in a series: read only for what the series cannot match.
    func otherMembers(_ series: String) -> [Int] {
        guard let m = matrix() else { return [] }
        let local = Swift.Set(m.members[series] ?? [])
        m.rowsRead += m.owners.count  // listing them reads every row
        return m.all.filter { !local.contains($0) }
    }

    /// Rows compared or listed by matching since the store was opened (the shape a test checks).
    var rowsCompared: Int { matrixCache?.rowsRead ?? 0 }

    /// The best match for one embedding under the series rules, or nil: a character of the series at
    /// the threshold; only when none, one of another series at the update threshold (SPEC §4.2).
    public func match(_ embedding: [Float], series: String, threshold: Double = Matching.defaultThreshold) -> (String, Double)? {
        // The other series are listed only when the series has no match (a list of them is the store's size).
        for round in 0..<2 {
            let (among, need) = round == 0 ? (seriesMembers(series), threshold) : (otherMembers(series), threshold + Matching.updateMargin)
            let sims = similarities([embedding], among: among, floor: need)[0]
            if let k = sims.indices.filter({ Double(sims[$0]) >= need }).max(by: { sims[$0] < sims[$1] }) {
                return (characters[among[k]].id, Double(sims[k]))
            }
        }
        return nil
    }

    /// Assigns all labels of one episode jointly (one-to-one), merging labels that are one speaker,
    /// and records the episode. `update` false: only look (nothing counted, no average moved).
    public func identify(labels: [(String, [Float])], series: String, episode: String, threshold: Double = Matching.defaultThreshold,
                         update: Bool = true) -> [LabelAssignment] {
        identify(labels: labels, series: series, episode: episode, threshold: threshold, update: update, rules: nil)
    }

    /// One round of identify's joint assignment: `groups` against the characters `among`, each pair
    /// allowed at `needed`. Returns per group its character index, similarity and best other
    /// similarity seen (for the margin rule), or nil.
    private func assignRound(_ embeddings: [[Float]], groups: [Int], among: [Int], floor: Double,
                             needed: (Int) -> Double) -> [Int: (character: Int, similarity: Float, runnerUp: Float)] {
        guard !groups.isEmpty, !among.isEmpty else { return [:] }
        let sims = similarities(groups.map { embeddings[$0] }, among: among, floor: floor)
        var columns: [Int] = []  // positions in `among` some group may take
        var seen = Swift.Set<Int>()
        for row in sims { for (k, s) in row.enumerated() where s > -2 && Double(s) >= needed(among[k]) && seen.insert(k).inserted { columns.append(k) } }
        guard !columns.isEmpty else { return [:] }
        let weights: [[Float?]] = sims.map { row in columns.map { k in Double(row[k]) >= needed(among[k]) ? row[k] : nil } }
        var out: [Int: (character: Int, similarity: Float, runnerUp: Float)] = [:]
        for (g, col) in Matching.assign(weights).enumerated() {
            guard let col else { continue }
            let k = columns[col]
            let runnerUp = sims[g].enumerated().filter { $0.offset != k }.map(\.element).max() ?? -2
            out[groups[g]] = (among[k], sims[g][k], runnerUp)
        }
        return out
    }

    func identify(labels: [(String, [Float])], series: String, episode: String, threshold: Double, update: Bool,
                  rules: SecondEditionRules?) -> [LabelAssignment] {
        let updateThreshold = threshold + Matching.updateMargin
        // Labels whose mutual cosine reaches the update threshold are one speaker (diarization split).
        var parent = Array(labels.indices)
        func find(_ x: Int) -> Int { parent[x] == x ? x : find(parent[x]) }
        for a in labels.indices {
            for b in labels.indices where b > a {
                if Double(Matching.cosine(labels[a].1, labels[b].1)) >= updateThreshold { parent[find(b)] = find(a) }
            }
        }
        var groups: [Int: [Int]] = [:]
        for i in labels.indices { groups[find(i), default: []].append(i) }
        let groupList = groups.keys.sorted().map { groups[$0]! }
        let groupEmbeddings: [[Float]] = groupList.map { members in
            var sum = [Float](repeating: 0, count: labels[members[0]].1.count)
            for m in members { for (k, x) in Matching.normalized(labels[m].1).enumerated() { sum[k] += x } }
            return Matching.normalized(sum)
        }
        let thinGroup = groupList.map { members in rules.map { r in members.allSatisfy { r.thin.contains(labels[$0].0) } } ?? false }
        // First the series' own characters, jointly; a provisional one (one episode, one embedding,
        // second edition) takes only a closer voice. Then, for the groups the series could not place,
        // the other series' characters at the update threshold (SPEC §4.2): the rest of the store is
        // read only for a voice new to the series.
        let provisional = rules?.provisionalThreshold
        var chosen = assignRound(groupEmbeddings, groups: Array(groupList.indices), among: seriesMembers(series), floor: threshold) { i in
            guard let p = provisional, let info = self.characters[i].seriesInfo(series), info.seen <= 1, self.characters[i].embeddingCount <= 1 else { return threshold }
            return p
        }
        let unplaced = groupList.indices.filter { chosen[$0] == nil }
        if !unplaced.isEmpty {
            for (g, a) in assignRound(groupEmbeddings, groups: unplaced, among: otherMembers(series), floor: updateThreshold, needed: { _ in updateThreshold }) {
                chosen[g] = a
            }
        }
        var result: [LabelAssignment] = []
        let now = Clock.isoNow()
        for (g, members) in groupList.enumerated() {
            var id: String
            var similarity: Double
            var created = false
            if let a = chosen[g] {
                id = characters[a.character].id
                similarity = Double(a.similarity)
                // Second edition: thin evidence, or a runner-up within the margin, moves nothing.
                var ambiguous = false
                if let r = rules { ambiguous = thinGroup[g] || similarity - Double(a.runnerUp) < r.margin }
                if update {
                    let e = groupEmbeddings[g]
                    let moves = similarity >= updateThreshold && !ambiguous
                    modify(id) { c in
                        if moves {
                            // Running mean, the count capped: late episodes cannot drag the voice away.
                            let n = Float(min(c.embeddingCount, Matching.countCap - 1))
                            if c.embeddingAvg.count == e.count {
                                c.embeddingAvg = zip(c.embeddingAvg, e).map { ($0 * n + $1) / (n + 1) }
                            } else {
                                c.embeddingAvg = e
                            }
                            c.embeddingCount += 1
                            c.snapshots.append(EmbeddingSnapshot(series: series, episode: episode, embedding: e, at: now))
                            if c.snapshots.count > CharacterRecord.maxSnapshots { c.snapshots.removeFirst(c.snapshots.count - CharacterRecord.maxSnapshots) }
                        }
                        CharacterStore.recordEpisode(&c, series: series, episode: episode, now: now)
                    }
                }
            } else {
                similarity = 1
                created = true
                if update {
                    id = create(now: now)
                    let e = groupEmbeddings[g]
                    modify(id) { c in
                        c.embeddingAvg = e
                        c.embeddingCount = 1
                        c.snapshots = [EmbeddingSnapshot(series: series, episode: episode, embedding: e, at: now)]
                        CharacterStore.recordEpisode(&c, series: series, episode: episode, now: now)
                    }
                } else {
                    id = ""
                }
            }
            for m in members {
                result.append(LabelAssignment(label: labels[m].0, characterID: id, similarity: similarity.rounded3, created: created))
            }
        }
        return result.sorted { $0.label < $1.label }
    }

    static func recordEpisode(_ c: inout CharacterRecord, series: String, episode: String, now: String) {
        var info = c.seriesInfo(series) ?? SeriesInfo(episodes: [], lastSeenAt: nil, lastEpisode: nil)
        if !info.episodes.contains(episode) { info.episodes.append(episode) }
        info.lastSeenAt = now
        info.lastEpisode = episode
        c.setSeries(series, info)
    }

    /// True when some character already lists this episode in this series.
    public func episodeIdentified(series: String, episode: String) -> Bool {
        characters.contains { $0.seriesInfo(series)?.episodes.contains(episode) == true }
    }
}

extension Double {
    var rounded3: Double { (self * 1000).rounded() / 1000 }
}

extension CharacterStore {
    /// The second edition's identify (SPEC §10.8): the first edition's joint assignment, with
    /// - provisional characters: one seen in a single episode (one embedding) is matched only at
    ///   0.74 (a guest's voice does not become the next stranger's);
    /// - a margin rule: a match whose runner-up is within `margin` is ambiguous and moves nothing;
    /// - thin evidence (under 2 utterances or 3 s of speech) never moves a character.
    public func identify(evidence: [LabelEvidence], series: String, episode: String, threshold: Double = Matching.defaultThreshold,
                         margin: Double = Matching.margin, update: Bool = true, job: String? = nil) -> [LabelAssignment] {
        let result = identify(labels: evidence.map { ($0.label, $0.embedding) }, series: series, episode: episode, threshold: threshold,
                              update: update, rules: SecondEditionRules(thin: Swift.Set(evidence.filter(\.thin).map(\.label)), margin: margin))
        // What reconcile will cluster: every label as seen, with the character it was given.
        if update {
            let now = Clock.isoNow()
            let entries = evidence.compactMap { e -> Observation? in
                guard let a = result.first(where: { $0.label == e.label }), !a.characterID.isEmpty else { return nil }
                return Observation(episode: episode, label: e.label, characterID: a.characterID, embedding: e.embedding,
                                   utterances: e.utterances, seconds: e.seconds, quality: e.quality, job: job, at: now)
            }
            recordObservations(series: series, episode: episode, entries, replace: true)
        }
        return result
    }
}

/// What the second edition adds to one-pass matching (nil: the first edition's behaviour). The
/// numbers were chosen on the season simulator (docs/CHARACTERS.md): a provisional character at
/// 0.74 halves the characters two speakers share without losing stability; thin evidence that
/// matches nothing still starts a (provisional) character — left without one, a cast member's thin
/// first appearance made their next one a second character (−2 % stability).
struct SecondEditionRules {
    var thin: Swift.Set<String>
    var margin: Double
    var provisionalThreshold = 0.74
}
