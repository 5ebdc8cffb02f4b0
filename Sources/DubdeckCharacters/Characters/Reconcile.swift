/// `characters reconcile` (SPEC §10.8): the whole series at once, where identify saw one episode at
/// a time. Every (episode, character) of the series with enough speech is a unit; units are
/// clustered by average linkage, never two units of one episode in a cluster (cannot-link); each
/// cluster is matched to the character most of it already is. Where the clusters and the
/// characters disagree, a proposal: a **merge** (all of a character's units belong with another's)
/// or a **split** (some of a character's episodes are someone else, or a new character).
/// Applied, each is an undoable store change that re-writes the affected episodes' maps.
public struct ReconcileProposal: Equatable, Sendable {
    public enum Kind: String, Sendable { case merge, split }
    public var kind: Kind
    public var from: String
    /// The character the units go to; nil: a new character (a split).
    public var into: String?
    /// The (episode, label) pairs that change character.
    public var moves: [ObservationKey]
    /// The episodes that move, and the episodes `from` and `into` have in the series (before).
    public var episodes: [String]
    public var fromEpisodes: [String]
    public var intoEpisodes: [String]
    /// Mean cosine between the moving units and the target's units (a new character: among the
    /// moving units themselves, 1 for one unit).
    public var similarity: Double
    /// A split: mean cosine between the moving units and those that stay with `from`.
    public var similarityToRest: Double?
    /// Stable identity (what a rejection remembers).
    public var key: String
}

public struct ObservationKey: Hashable, Sendable, Comparable {
    public var episode: String
    public var label: String
    public static func < (a: ObservationKey, b: ObservationKey) -> Bool { (a.episode, a.label) < (b.episode, b.label) }
}

public struct ReconcileAnalysis: Equatable, Sendable {
    public var series: String
    /// Observations of the series, and the units (episode, character) clustered.
    public var observations: Int
    public var units: Int
    public var proposals: [ReconcileProposal]
    /// Proposals a reviewer rejected before (not applied by --apply).
    public var rejected: [ReconcileProposal]
}

/// What reconcile did, kept in the store to be undone: one record per map re-written.
public struct ReconcileResult: Sendable {
    public var id: String
    public var applied: [ReconcileProposal]
    public var created: [String]
    public var maps: [(job: String, episode: String, written: Bool, reason: String?)]
}

/// Per series: the reconciles applied (newest last) and the proposal keys rejected.
struct ReconcileLog {
    var applied: [JSONValue] = []
    var rejected: [String] = []
    /// The number of the next reconcile of the series (IDs R1, R2, … are never reused).
    var next = 1
    static let maxApplied = 20
    static let maxRejected = 2000

    /// As the store keeps it (file and database alike).
    var json: JSONValue {
        .object(JSONObject([("next", .number(next)), ("applied", .array(applied)), ("rejected", .array(rejected.map { .string($0) }))]))
    }
}

public struct ReconcileParameters: Sendable {
    /// Clusters join while their average-linkage cosine reaches this (the equal-error point).
    public var link: Float = 0.80
    /// A merge, or a move to an existing character, needs this mean cosine to the target.
    public var join: Double = 0.78
    /// A split needs the moving units this far from what stays (mean cosine at most).
    public var apart: Double = 0.78
    /// A character of thin labels only joins its nearest character by this much over the next.
    public var margin: Double = 0.05
    public init() {}
}

extension CharacterStore {
    struct ReconcileUnit {
        var episode: String
        var character: String
        var labels: [String]
        var embedding: [Float]
        var fixed: Bool
    }

    /// The series' units: (episode, character) with enough speech, the character resolved through merges.
    func reconcileUnits(series: String) -> [ReconcileUnit] {
        var units: [ReconcileUnit] = []
        var at: [String: Int] = [:]
        var sums: [[Float]] = []
        for o in observations(series: series) where !o.thin && o.embedding.count == (dim ?? o.embedding.count) {
            let id = resolve(o.characterID)?.id ?? o.characterID
            let key = o.episode + "\u{0}" + id
            let e = Matching.normalized(o.embedding)
            if let i = at[key] {
                units[i].labels.append(o.label)
                units[i].fixed = units[i].fixed || o.override
                for k in e.indices { sums[i][k] += e[k] }
            } else {
                at[key] = units.count
                units.append(ReconcileUnit(episode: o.episode, character: id, labels: [o.label], embedding: [], fixed: o.override))
                sums.append(e)
            }
        }
        for i in units.indices { units[i].embedding = Matching.normalized(sums[i]) }
        return units
    }

    /// Average-linkage clustering with cannot-link inside an episode. Returns a cluster index per unit.
    ///
    /// The linkage of two clusters of unit vectors is the dot product of their sums over the product
    /// of their sizes (the mean of every pair's cosine), so a cluster is kept as its sum: no matrix of
    /// pairs. And the clustering starts from what identify decided: each character's units as one
    /// cluster, after peeling off, worst first, every unit whose mean cosine to the rest of its
    /// character is under `link` (a unit average linkage would not have joined them; those start
    /// alone, so a split is still found). The clusters compared are then the series' characters and
    /// its doubtful units, not every unit: reconcile grows with the units read once, plus the
    /// square of the characters and outliers (SPEC §11.12).
    static func cluster(_ units: [ReconcileUnit], link: Float) -> [Int] {
        var linkages = 0
        return cluster(units, link: link, linkages: &linkages)
    }

    /// The same, counting the cluster pairs compared (the shape a test checks).
    static func cluster(_ units: [ReconcileUnit], link: Float, linkages: inout Int) -> [Int] {
        let n = units.count
        guard n > 1 else { return Array(0..<n) }
        let dim = units[0].embedding.count
        guard units.allSatisfy({ $0.embedding.count == dim }) else { return Array(0..<n) }
        var episodeNumber: [String: Int] = [:]
        for u in units where episodeNumber[u.episode] == nil { episodeNumber[u.episode] = episodeNumber.count }
        let words = (episodeNumber.count + 63) / 64
        // The seeds: per character (in order of first appearance) its core, and its outliers alone.
        var byCharacter: [String: [Int]] = [:]
        var characterOrder: [String] = []
        for (i, u) in units.enumerated() {
            if byCharacter[u.character] == nil { characterOrder.append(u.character) }
            byCharacter[u.character, default: []].append(i)
        }
        func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float { Matching.dot(a, b, dim) }
        var seeds: [[Int]] = []
        for id in characterOrder {
            var members = byCharacter[id]!
            var sum = [Float](repeating: 0, count: dim)
            for u in members { for k in 0..<dim { sum[k] += units[u].embedding[k] } }
            while members.count > 1 {
                // Mean cosine of each unit to the rest: (u · sum − u · u) / (k − 1), u · u being 1.
                var worst = 0
                var worstLink = Float.infinity
                for (p, u) in members.enumerated() {
                    let l = units[u].embedding.withUnsafeBufferPointer { e in sum.withUnsafeBufferPointer { s in
                        (dot(e.baseAddress!, s.baseAddress!) - dot(e.baseAddress!, e.baseAddress!)) / Float(members.count - 1)
                    } }
                    if l < worstLink { worstLink = l; worst = p }
                }
                guard worstLink < link else { break }
                let out = members.remove(at: worst)
                for k in 0..<dim { sum[k] -= units[out].embedding[k] }
                seeds.append([out])
            }
            seeds.append(members)
        }
        let m = seeds.count
        var sums = [Float](repeating: 0, count: m * dim)
        var size = [Int](repeating: 0, count: m)
        var episodes = [UInt64](repeating: 0, count: m * words)
        var owner = [Int](repeating: 0, count: n)
        for (c, seed) in seeds.enumerated() {
            for u in seed {
                for k in 0..<dim { sums[c * dim + k] += units[u].embedding[k] }
                let e = episodeNumber[units[u].episode]!
                episodes[c * words + e / 64] |= 1 << UInt64(e % 64)
                owner[u] = c
            }
            size[c] = seed.count
        }
        var alive = [Bool](repeating: true, count: m)
        func linkage(_ i: Int, _ j: Int) -> Float? {
            guard i != j, alive[j] else { return nil }
            linkages += 1
            for w in 0..<words where episodes[i * words + w] & episodes[j * words + w] != 0 { return nil }
            return sums.withUnsafeBufferPointer { s in dot(s.baseAddress! + i * dim, s.baseAddress! + j * dim) } / Float(size[i] * size[j])
        }
        // Each cluster's best partner, kept up to date: a merge touches only the rows that pointed at it.
        var best = [(Int, Float)?](repeating: nil, count: m)
        func refresh(_ i: Int) {
            var b: (Int, Float)? = nil
            for j in 0..<m { if let l = linkage(i, j), b == nil || l > b!.1 { b = (j, l) } }
            best[i] = b
        }
        for i in 0..<m { refresh(i) }
        while true {
            var pick: (Int, Int, Float)? = nil
            for i in 0..<m where alive[i] {
                if let (j, l) = best[i], pick == nil || l > pick!.2 { pick = (i, j, l) }
            }
            guard let (a, b, l) = pick, l >= link else { break }
            for k in 0..<dim { sums[a * dim + k] += sums[b * dim + k] }
            for w in 0..<words { episodes[a * words + w] |= episodes[b * words + w] }
            size[a] += size[b]
            alive[b] = false
            for u in 0..<n where owner[u] == b { owner[u] = a }
            for k in 0..<m where alive[k] {
                if k == a || best[k]?.0 == a || best[k]?.0 == b {
                    refresh(k)
                } else if let l = linkage(k, a), best[k] == nil || l > best[k]!.1 {
                    best[k] = (a, l)
                }
            }
        }
        var index: [Int: Int] = [:]
        return owner.map { o in
            if let i = index[o] { return i }
            index[o] = index.count
            return index[o]!
        }
    }

    static func meanCosine(_ a: [ReconcileUnit], _ b: [ReconcileUnit]) -> Double {
        var total = 0.0, count = 0
        for x in a { for y in b { total += Double(Matching.cosine(x.embedding, y.embedding)); count += 1 } }
        return count > 0 ? total / Double(count) : 0
    }

    static func meanWithin(_ a: [ReconcileUnit]) -> Double {
        guard a.count > 1 else { return 1 }
        var total = 0.0, count = 0
        for i in a.indices { for j in a.indices where j > i { total += Double(Matching.cosine(a[i].embedding, a[j].embedding)); count += 1 } }
        return total / Double(count)
    }

    /// The proposals for a series (nothing changes).
    public func reconcile(series: String, parameters: ReconcileParameters = ReconcileParameters()) -> ReconcileAnalysis {
        let all = observations(series: series)
        let units = reconcileUnits(series: series)
        let clusters = Self.cluster(units, link: parameters.link)
        let clusterCount = (clusters.max() ?? -1) + 1
        var episodeOrder: [String: Int] = [:]
        for o in all where episodeOrder[o.episode] == nil { episodeOrder[o.episode] = episodeOrder.count }
        // Each cluster takes the character most of it is; a character leads one cluster at most.
        var counts: [(cluster: Int, character: String, count: Int)] = []
        var byCluster: [Int: [String: Int]] = [:]
        for (u, c) in zip(units, clusters) { byCluster[c, default: [:]][u.character, default: 0] += 1 }
        for (c, m) in byCluster { for (id, k) in m { counts.append((c, id, k)) } }
        let totals = Dictionary(units.map { ($0.character, 1) }, uniquingKeysWith: +)
        counts.sort { ($0.count, totals[$0.character] ?? 0, $1.character, $1.cluster) > ($1.count, totals[$1.character] ?? 0, $0.character, $0.cluster) }
        var target = [String?](repeating: nil, count: clusterCount)
        var taken = Swift.Set<String>()
        var decided = Swift.Set<Int>()
        for x in counts where !decided.contains(x.cluster) && !taken.contains(x.character) {
            target[x.cluster] = x.character
            decided.insert(x.cluster)
            taken.insert(x.character)
        }
        // Moves grouped by (from, target); a new character per leaderless cluster.
        var groups: [String: (from: String, into: String?, units: [Int])] = [:]
        var groupOrder: [String] = []
        for (u, unit) in units.enumerated() where !unit.fixed {
            let t = target[clusters[u]]
            guard t != unit.character else { continue }
            let g = unit.character + "\u{0}" + (t ?? "new\(clusters[u])")
            if groups[g] == nil { groups[g] = (unit.character, t, []); groupOrder.append(g) }
            groups[g]!.units.append(u)
        }
        func episodes(of id: String) -> [String] {
            Array(Swift.Set(units.filter { $0.character == id }.map(\.episode))).sorted { episodeOrder[$0, default: 0] < episodeOrder[$1, default: 0] }
        }
        let rejected = Swift.Set(reconcileLog[series]?.rejected ?? [])
        var proposals: [ReconcileProposal] = [], refused: [ReconcileProposal] = []
        for g in groupOrder {
            let (from, into, members) = groups[g]!
            let moving = members.map { units[$0] }
            let stays = units.enumerated().filter { $0.element.character == from && !members.contains($0.offset) }.map(\.element)
            // The target as the cluster has it (its units elsewhere may be the very ones split off).
            let cluster = clusters[members[0]]
            let targetUnits = into.map { id in units.indices.filter { clusters[$0] == cluster && units[$0].character == id }.map { units[$0] } } ?? []
            let isMerge = into != nil && stays.isEmpty
            let similarity = into == nil ? Self.meanWithin(moving) : Self.meanCosine(moving, targetUnits)
            let rest = stays.isEmpty ? nil : Self.meanCosine(moving, stays)
            // Conservative: a proposal is made only on evidence clearly past the decision point.
            if into != nil && similarity < parameters.join { continue }
            if let r = rest, r > parameters.apart { continue }
            let moves = all.filter { o in
                moving.contains { $0.episode == o.episode && $0.labels.contains(o.label) }
            }.map { ObservationKey(episode: $0.episode, label: $0.label) }.sorted()
            let moved = Array(Swift.Set(moving.map(\.episode))).sorted { episodeOrder[$0, default: 0] < episodeOrder[$1, default: 0] }
            let key = isMerge ? "merge \(from) into \(into!)"
                : "split \(from) \(moves.map { "\($0.episode):\($0.label)" }.joined(separator: ",")) to \(into ?? "new")"
            let p = ReconcileProposal(kind: isMerge ? .merge : .split, from: from, into: into, moves: moves, episodes: moved,
                                      fromEpisodes: episodes(of: from), intoEpisodes: into.map { episodes(of: $0) } ?? [],
                                      similarity: similarity.rounded3, similarityToRest: rest?.rounded3, key: key)
            if rejected.contains(key) { refused.append(p) } else { proposals.append(p) }
        }
        // A character made of thin labels only (too little speech to stand on its own) joins the
        // character it is clearly closest to, when that one was not in its episodes.
        var centroid: [String: [Float]] = [:]
        var present: [String: Swift.Set<String>] = [:]
        for u in units {
            var c = centroid[u.character] ?? [Float](repeating: 0, count: u.embedding.count)
            for k in c.indices { c[k] += u.embedding[k] }
            centroid[u.character] = c
            present[u.character, default: []].insert(u.episode)
        }
        var thinOnly: [String: [Observation]] = [:]
        var thinOrder: [String] = []
        for o in all {
            let id = resolve(o.characterID)?.id ?? o.characterID
            guard o.thin, !o.override, centroid[id] == nil else { continue }
            if thinOnly[id] == nil { thinOrder.append(id) }
            thinOnly[id, default: []].append(o)
        }
        for id in thinOrder {
            let obs = thinOnly[id]!
            // Seen in another series too: a merge would reach beyond this one.
            guard let c = character(id), c.series.allSatisfy({ $0.id == series }) else { continue }
            var sum = [Float](repeating: 0, count: obs[0].embedding.count)
            for o in obs { for (k, x) in Matching.normalized(o.embedding).enumerated() { sum[k] += x } }
            let e = Matching.normalized(sum)
            let episodesHere = Swift.Set(obs.map(\.episode))
            var ranked: [(String, Double)] = []
            for (other, v) in centroid where v.count == e.count {
                ranked.append((other, Double(Matching.cosine(e, v))))
            }
            ranked.sort { ($0.1, $1.0) > ($1.1, $0.0) }
            guard let best = ranked.first, best.1 >= parameters.join, best.1 - (ranked.dropFirst().first?.1 ?? -1) >= parameters.margin,
                  present[best.0, default: []].isDisjoint(with: episodesHere) else { continue }
            let moves = obs.map { ObservationKey(episode: $0.episode, label: $0.label) }.sorted()
            let p = ReconcileProposal(kind: .merge, from: id, into: best.0, moves: moves,
                                      episodes: Array(episodesHere).sorted { episodeOrder[$0, default: 0] < episodeOrder[$1, default: 0] },
                                      fromEpisodes: Array(episodesHere).sorted { episodeOrder[$0, default: 0] < episodeOrder[$1, default: 0] },
                                      intoEpisodes: episodes(of: best.0), similarity: best.1.rounded3, similarityToRest: nil,
                                      key: "merge \(id) into \(best.0)")
            if rejected.contains(p.key) { refused.append(p) } else { proposals.append(p) }
        }
        return ReconcileAnalysis(series: series, observations: all.count, units: units.count, proposals: proposals, rejected: refused)
    }

    /// A reviewer's "no" to a proposal: never proposed again for the series (its key remembered).
    public func rejectReconcile(series: String, key: String) {
        var log = reconcileLog[series] ?? ReconcileLog()
        if !log.rejected.contains(key) { log.rejected.append(key) }
        log.rejected = Array(log.rejected.suffix(ReconcileLog.maxRejected))
        setReconcileLog(log, series: series)
    }

    func setReconcileLog(_ log: ReconcileLog, series: String) {
        if reconcileLog[series] == nil { reconcileOrder.append(series) }
        reconcileLog[series] = log
    }

    /// A map re-write planned under the store's lock: the label's ID as read, and the new one.
    struct MapPlan {
        var job: String
        var episode: String
        var path: String
        var changes: [(label: String, before: String, after: String)]
        var document: CharacterMap?
        var reason: String?
    }

    /// Applies `proposals` (each must still hold: its units are still `from`'s). Returns the
    /// record and the map re-writes to carry out once the store is saved.
    func applyReconcile(series: String, _ proposals: [ReconcileProposal]) throws -> (ReconcileResult, [MapPlan]) {
        var log = reconcileLog[series] ?? ReconcileLog()
        let id = "R\(log.next)"
        log.next += 1
        var before: [(String, JSONValue)] = []
        func keep(_ cid: String) {
            if !before.contains(where: { $0.0 == cid }), let c = character(cid) { before.append((cid, characterJSON(c))) }
        }
        var created: [String] = []
        var obsChanges: [(ObservationKey, String, String)] = []
        var list = observations(series: series)
        let now = Clock.isoNow()
        for p in proposals {
            guard let from = resolve(p.from), from.id == p.from, from.mergedInto == nil else {
                throw DubdeckError.conflict("reconcile: \(Sanitizer.display(p.from)) changed since the proposal (merged or gone); run reconcile again")
            }
            let moving = Swift.Set(p.moves)
            let idx = list.indices.filter { moving.contains(ObservationKey(episode: list[$0].episode, label: list[$0].label)) }
            guard idx.count == moving.count, idx.allSatisfy({ (resolve(list[$0].characterID)?.id ?? list[$0].characterID) == p.from }) else {
                throw DubdeckError.conflict("reconcile: the labels of \(Sanitizer.display(p.key)) changed since the proposal; run reconcile again")
            }
            switch p.kind {
            case .merge:
                guard let into = p.into else { continue }
                keep(p.from)
                keep(into)
                try merge(p.from, into: into)
                for i in idx { obsChanges.append((ObservationKey(episode: list[i].episode, label: list[i].label), list[i].characterID, into)) }
            case .split:
                keep(p.from)
                let target: String
                if let into = p.into {
                    guard resolve(into)?.id == into else { throw DubdeckError.conflict("reconcile: \(Sanitizer.display(into)) is gone; run reconcile again") }
                    keep(into)
                    target = into
                } else {
                    target = create(now: now)
                    created.append(target)
                }
                for i in idx {
                    obsChanges.append((ObservationKey(episode: list[i].episode, label: list[i].label), list[i].characterID, target))
                    list[i].characterID = target
                }
                let moved = idx.map { list[$0] }
                modify(target) { c in
                    for o in moved {
                        let e = Matching.normalized(o.embedding)
                        let n = Float(min(c.embeddingCount, Matching.countCap - 1))
                        c.embeddingAvg = c.embeddingAvg.count == e.count ? zip(c.embeddingAvg, e).map { ($0 * n + $1) / (n + 1) } : e
                        c.embeddingCount += 1
                        c.snapshots.append(EmbeddingSnapshot(series: series, episode: o.episode, embedding: e, at: now))
                        CharacterStore.recordEpisode(&c, series: series, episode: o.episode, now: now)
                    }
                    c.snapshots = Array(c.snapshots.suffix(CharacterRecord.maxSnapshots))
                }
                setObservations(list, series: series)
                forget(p.from, episodes: p.episodes, series: series)
            }
        }
        setObservations(list.map { o in
            var o = o
            if let ch = obsChanges.last(where: { $0.0 == ObservationKey(episode: o.episode, label: o.label) }) { o.characterID = ch.2 }
            return o
        }, series: series)
        // The maps: one plan per episode, read now (under the lock), written once the store is saved.
        var plans: [MapPlan] = []
        for (key, old, new) in obsChanges {
            guard let o = list.first(where: { $0.episode == key.episode && $0.label == key.label }) else { continue }
            if let i = plans.firstIndex(where: { $0.episode == key.episode }) {
                plans[i].changes.append((key.label, old, new))
            } else {
                plans.append(MapPlan(job: o.job ?? "", episode: key.episode, path: (o.job ?? "") + "/characters.map.json",
                                     changes: [(key.label, old, new)], document: nil, reason: nil))
            }
        }
        for i in plans.indices { plans[i] = planMap(plans[i], series: series) }
        // Each touched character's version as this reconcile leaves it: what its undo compares.
        var afterVersions = JSONObject()
        for (cid, _) in before { afterVersions[cid] = .number(character(cid)?.version ?? -1) }
        for cid in created { afterVersions[cid] = .number(character(cid)?.version ?? -1) }
        let record = JSONValue.object(JSONObject([
            ("id", .string(id)), ("at", .string(now)), ("keys", .array(proposals.map { .string($0.key) })),
            ("characters_before", .object(JSONObject(before))), ("characters_after", .object(afterVersions)),
            ("created", .array(created.map { .string($0) })),
            ("observations", .array(obsChanges.map { k, b, a in
                .object(JSONObject([("episode", .string(k.episode)), ("label", .string(k.label)), ("before", .string(b)), ("after", .string(a))]))
            })),
            ("maps", .array(plans.map { p in
                .object(JSONObject([
                    ("job", .string(p.job)), ("episode", .string(p.episode)), ("written", .bool(p.document != nil)),
                    ("reason", p.reason.map { .string($0) } ?? .null),
                    ("labels", .object(JSONObject(p.changes.map { ($0.label, JSONValue.object(JSONObject([("before", .string($0.before)), ("after", .string($0.after))]))) }))),
                ]))
            })),
        ]))
        log.applied.append(record)
        log.applied = Array(log.applied.suffix(ReconcileLog.maxApplied))
        setReconcileLog(log, series: series)
        let result = ReconcileResult(id: id, applied: proposals, created: created,
                                     maps: plans.map { ($0.job, $0.episode, $0.document != nil, $0.reason) })
        return (result, plans.map { p in var p = p; p.document = p.document.map { stamp($0, reconcile: id, at: now) }; return p })
    }

    /// After a split, `from` no longer has the moved episodes: its series info, snapshots and
    /// average are what its remaining observations say (an average kept when it has none left).
    func forget(_ id: String, episodes moved: [String], series: String) {
        let mine = observations(series: series).filter { (resolve($0.characterID)?.id ?? $0.characterID) == id }
        let stillThere = Swift.Set(mine.map(\.episode))
        let gone = Swift.Set(moved).subtracting(stillThere)
        var remaining: [Observation] = []
        for (_, list) in observations { remaining += list.filter { (resolve($0.characterID)?.id ?? $0.characterID) == id && !$0.thin } }
        modify(id) { c in
            if var info = c.seriesInfo(series) {
                info.episodes.removeAll { gone.contains($0) }
                if let last = info.lastEpisode, gone.contains(last) { info.lastEpisode = info.episodes.last }
                c.setSeries(series, info)
            }
            c.snapshots.removeAll { $0.series == series && gone.contains($0.episode) }
            if !remaining.isEmpty {
                var sum = [Float](repeating: 0, count: remaining[0].embedding.count)
                for o in remaining.suffix(Matching.countCap) { for (k, x) in Matching.normalized(o.embedding).enumerated() { sum[k] += x } }
                c.embeddingAvg = Matching.normalized(sum)
                c.embeddingCount = min(remaining.count, Matching.countCap)
            }
        }
    }

    /// Reads one episode's map for a re-write: a map of this series and episode, derived from the
    /// store's observations as this change leaves them — the rule every reading of a map follows
    /// (`CharacterMap.following`), so a map another reviewer's change left behind, or one edited by
    /// hand, says what the store says. Anything else (no map, another episode's, a link) is left as
    /// it is, with the reason.
    func planMap(_ plan: MapPlan, series: String) -> MapPlan {
        var p = plan
        guard !p.job.isEmpty else { p.reason = "no job directory recorded"; return p }
        do {
            guard let map = try CharacterMap.read(p.path) else { p.reason = "no characters.map.json"; return p }
            guard map.series == series, map.episode == p.episode else {
                p.reason = "the map is not this series' \(Sanitizer.display(p.episode))"
                return p
            }
            p.document = map.following(episodeView(series: series, episode: p.episode).labels) { character($0) != nil }
        } catch {
            p.reason = (error as? DubdeckError)?.message ?? "\(error)"
        }
        return p
    }

    /// The map as this commit leaves it: its generation, and which reconcile wrote it (nil: none).
    func stamp(_ map: CharacterMap, reconcile id: String?, at: String) -> CharacterMap {
        var m = map
        m.storeGeneration = generation
        m.extra["reconciled"] = id.map { .object(JSONObject([("id", .string($0)), ("at", .string(at))])) }
        return m
    }

    static func writeMaps(_ plans: [MapPlan]) throws {
        for p in plans { if let d = p.document { try d.write(p.path) } }
    }

    /// Undoes the series' newest reconcile: the characters it touched as they were, the characters it
    /// created gone, the observations and the maps back. Refused when a touched character changed
    /// since (undoing would lose that); the maps follow the observations put back.
    func undoReconcile(series: String) throws -> (id: String, plans: [MapPlan]) {
        guard var log = reconcileLog[series], let last = log.applied.last?.objectValue, let id = last["id"]?.stringValue else {
            throw DubdeckError(.usage, "no reconcile to undo in series \(Sanitizer.display(series))")
        }
        let shown = shownPath
        let after = last["characters_after"]?.objectValue ?? JSONObject()
        for (cid, v) in after.members {
            // A version, never a time: a record that holds a time (older dubdeck) proves nothing and is refused.
            guard let version = v.intValue else {
                throw DubdeckError.conflict("reconcile \(Sanitizer.display(id)) was recorded without versions: it cannot be proven that nothing changed since")
            }
            guard let c = character(cid), c.version == version else {
                throw DubdeckError.conflict("\(Sanitizer.display(cid)) changed since reconcile \(Sanitizer.display(id)): undoing it would lose that")
            }
        }
        let created = (last["created"]?.arrayValue ?? []).compactMap(\.stringValue)
        for (cid, json) in last["characters_before"]?.objectValue?.members ?? [] {
            guard index[cid] != nil else { throw DubdeckError.data(shown, "reconcile \(Sanitizer.display(id)) names an unknown character") }
            try restore(cid, to: json)
        }
        for cid in created { removeCharacter(cid) }
        var list = observations(series: series)
        var plans: [MapPlan] = []
        for ch in (last["observations"]?.arrayValue ?? []).compactMap(\.objectValue) {
            guard let e = ch["episode"]?.stringValue, let l = ch["label"]?.stringValue, let b = ch["before"]?.stringValue,
                  let a = ch["after"]?.stringValue else { continue }
            try SafeName.check(b, file: shownPath, field: "reconcile observation")
            if let i = list.firstIndex(where: { $0.episode == e && $0.label == l && $0.characterID == a }) { list[i].characterID = b }
        }
        setObservations(list, series: series)
        for m in (last["maps"]?.arrayValue ?? []).compactMap(\.objectValue) where m["written"]?.boolValue == true {
            guard let job = m["job"]?.stringValue, job.hasPrefix("/"), !job.split(separator: "/").contains(".."),
                  let episode = m["episode"]?.stringValue else { continue }
            let changes: [(label: String, before: String, after: String)] = (m["labels"]?.objectValue?.members ?? []).compactMap { l, v in
                guard let b = v.objectValue?["before"]?.stringValue, let a = v.objectValue?["after"]?.stringValue else { return nil }
                return (l, a, b)  // the other way round
            }
            plans.append(planMap(MapPlan(job: job, episode: episode, path: job + "/characters.map.json", changes: changes, document: nil, reason: nil),
                                 series: series))
        }
        log.applied.removeLast()
        setReconcileLog(log, series: series)
        matrixCache = nil
        return (id, plans.map { p in
            var p = p
            p.document = p.document.map { stamp($0, reconcile: nil, at: "") }
            return p
        })
    }

    func removeCharacter(_ id: String) {
        guard let i = index[id] else { return }
        backend.forget(id)
        characters.remove(at: i)
        raw.remove(at: i)
        index = [:]
        for (k, c) in characters.enumerated() { index[c.id] = k }
        matrixCache = nil
    }

    // MARK: The log in the store

    func parseReconcileLog(_ v: JSONValue) throws {
        let shown = shownPath
        guard let o = v.objectValue else { throw DubdeckError.data(shown, "\"reconcile\" must be an object") }
        for (series, entry) in o.members {
            try SafeName.check(series, file: shownPath, field: "reconcile series")
            guard let e = entry.objectValue else { throw DubdeckError.data(shown, "reconcile of \(Sanitizer.display(series)) must be an object") }
            let applied = e["applied"]?.arrayValue ?? []
            let rejected = e["rejected"]?.arrayValue ?? []
            guard applied.count <= ReconcileLog.maxApplied, rejected.count <= ReconcileLog.maxRejected,
                  applied.allSatisfy({ $0.objectValue != nil }), rejected.allSatisfy({ $0.stringValue != nil }) else {
                throw DubdeckError.data(shown, "reconcile of \(Sanitizer.display(series)): applied must be objects, rejected strings, within their bounds")
            }
            let next = e["next"]?.intValue ?? applied.count + 1
            guard next >= 1, next <= 1_000_000_000 else { throw DubdeckError.data(shown, "reconcile of \(Sanitizer.display(series)): next out of range") }
            setReconcileLog(ReconcileLog(applied: applied, rejected: rejected.compactMap(\.stringValue), next: next), series: series)
        }
    }

    var reconcileLogJSON: JSONValue {
        .object(JSONObject(reconcileOrder.compactMap { s in
            reconcileLog[s].map { (s, $0.json) }
        }))
    }

    /// The reconciles of a series that can be undone, newest last (ID and when).
    public func reconcileHistory(series: String) -> [(id: String, at: String)] {
        (reconcileLog[series]?.applied ?? []).compactMap { $0.objectValue }.map { ($0["id"]?.stringValue ?? "", $0["at"]?.stringValue ?? "") }
    }
}

/// The command's and the desk's entry points: each under the store's lock, maps written once the
/// store is saved (a crash between leaves maps that still resolve: a merge's tombstone, or the
/// character the label had).
public enum Reconcile {
    public static func propose(_ store: CharacterStore, series: String, parameters: ReconcileParameters = ReconcileParameters()) -> ReconcileAnalysis {
        store.reconcile(series: series, parameters: parameters)
    }

    /// Applies the proposals whose keys are given (nil: every proposal not rejected), re-computed
    /// under the lock from the store as it is now.
    @discardableResult
    public static func apply(_ store: CharacterStore, series: String, keys: [String]? = nil,
                             parameters: ReconcileParameters = ReconcileParameters()) throws -> ReconcileResult? {
        var result: ReconcileResult?
        var plans: [CharacterStore.MapPlan] = []
        try store.update(then: { try CharacterStore.writeMaps(plans) }) { s in
            // A retried transaction starts from nothing: what a rolled-back try planned is not kept.
            result = nil
            plans = []
            let fresh = s.reconcile(series: series, parameters: parameters)
            let chosen: [ReconcileProposal]
            if let keys {
                chosen = try keys.map { k in
                    guard let p = fresh.proposals.first(where: { $0.key == k }) else {
                        throw DubdeckError.conflict("reconcile: the proposal \(Sanitizer.display(k)) is no longer made; run reconcile again")
                    }
                    return p
                }
            } else {
                chosen = fresh.proposals
            }
            guard !chosen.isEmpty else { return }
            (result, plans) = try s.applyReconcile(series: series, chosen)
        }
        return result
    }

    /// Applies proposals to a store in memory only (no save, no map written): the season simulator's.
    @discardableResult
    public static func applyInMemory(_ store: CharacterStore, series: String, _ proposals: [ReconcileProposal]) throws -> ReconcileResult {
        try store.applyReconcile(series: series, proposals).0
    }

    public static func reject(_ store: CharacterStore, series: String, key: String) throws {
        try store.update { s in s.rejectReconcile(series: series, key: key) }
    }

    /// Undoes the newest reconcile of the series; returns its ID and the maps put back.
    public static func undo(_ store: CharacterStore, series: String) throws -> (id: String, maps: Int) {
        var out = ("", 0)
        var plans: [CharacterStore.MapPlan] = []
        try store.update(then: { try CharacterStore.writeMaps(plans) }) { s in
            plans = []
            let (id, p) = try s.undoReconcile(series: series)
            plans = p
            out = (id, p.filter { $0.document != nil }.count)
        }
        return out
    }
}

extension ReconcileProposal {
    /// One line saying what the proposal does (IDs and episodes sanitized: the store is input).
    public var summary: String {
        let d: (String) -> String = { Sanitizer.display($0) }
        switch kind {
        case .merge: return "merge \(d(from)) into \(d(into ?? "?"))"
        case .split: return "split \(d(episodes.joined(separator: ", "))) from \(d(from)) to \(into.map(d) ?? "a new character")"
        }
    }

    /// Why: the similarities and the episodes behind it.
    public var evidence: String {
        let d: (String) -> String = { Sanitizer.display($0) }
        func list(_ e: [String]) -> String { e.count <= 6 ? e.map(d).joined(separator: " ") : e.prefix(5).map(d).joined(separator: " ") + " … (\(e.count))" }
        var out = into == nil ? "within \(similarity)" : "similarity \(similarity)"
        if let r = similarityToRest { out += ", to the rest of \(d(from)) \(r)" }
        out += "; \(d(from)): \(list(fromEpisodes))"
        if let i = into { out += "; \(d(i)): \(list(intoEpisodes))" + (kind == .merge ? "; never in one episode" : "") }
        return out
    }

    public var json: JSONValue {
        .object(JSONObject([
            ("kind", .string(kind.rawValue)), ("from", .string(from)), ("into", into.map { .string($0) } ?? .null),
            ("episodes", .array(episodes.map { .string($0) })),
            ("labels", .array(moves.map { .object(JSONObject([("episode", .string($0.episode)), ("label", .string($0.label))])) })),
            ("similarity", .number(similarity)), ("similarity_to_rest", similarityToRest.map { .number($0) } ?? .null),
            ("from_episodes", .array(fromEpisodes.map { .string($0) })), ("into_episodes", .array(intoEpisodes.map { .string($0) })),
            ("key", .string(key)),
        ]))
    }
}
