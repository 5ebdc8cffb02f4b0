import DubdeckCore
#if canImport(Glibc)
import Glibc
#endif

/// Seasons of synthetic speaker embeddings whose statistics match real 256-d speaker embeddings of
/// labels (same speaker: cosine mean ≈ 0.87, rarely below 0.70; different speakers: mean ≈ 0.53,
/// rarely above 0.74; equal-error threshold ≈ 0.72), with what diarization really does: cast sizes
/// 4–7 of a pool of 10–30, recurring minor speakers, guests seen once, a speaker split into two
/// labels, two speakers merged into one label, thin labels (one short utterance, noisier).
public struct SeasonSimulator {
    public struct Label {
        public var name: String
        public var embedding: [Float]
        /// The real speaker (for a merged label: the one who speaks most).
        public var speaker: Int
        public var utterances: Int
        public var seconds: Double
        /// How clearly it was heard (nil: not measured).
        public var quality: Double?
        public init(name: String, embedding: [Float], speaker: Int, utterances: Int, seconds: Double, quality: Double? = nil) {
            self.name = name
            self.embedding = embedding
            self.speaker = speaker
            self.utterances = utterances
            self.seconds = seconds
            self.quality = quality
        }
    }

    public struct Figures: Equatable {
        public var stability: Double
        public var sharedPerSeason: Double
        public var sameMean: Double, sameMin: Double, differentMean: Double, differentMax: Double
        /// Labels left without a character (thin evidence that matched nothing), per season.
        public var unassignedPerSeason: Double = 0
        /// With one store for every season (each season its own series and its own people): the
        /// characters given to speakers of two seasons, per season — each one a mistake.
        public var crossSeriesPerSeason: Double = 0
    }

    var rng: UInt64
    public let dim = 256

    public init(seed: UInt64) { rng = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func gaussian() -> Double {
        let u = max(1e-12, uniform()), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

    mutating func unit() -> [Double] {
        let v = (0..<dim).map { _ in gaussian() }
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / n }
    }

    static func normalized(_ v: [Double]) -> [Double] {
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / n }
    }

    /// Speaker centres: a direction all speech shares, a voice-type cluster, and the speaker's own.
    mutating func speakers(_ count: Int, shared: [Double], clusters: [[Double]]) -> [[Double]] {
        (0..<count).map { _ in
            let cluster = clusters[int(0...(clusters.count - 1))], own = unit()
            return Self.normalized((0..<dim).map { 0.75 * shared[$0] + 0.34 * cluster[$0] + 0.57 * own[$0] })
        }
    }

    /// One label's embedding of a speaker: the centre plus noise (more for thin evidence).
    mutating func observe(_ centre: [Double], noise: Double) -> [Double] {
        Self.normalized(centre.map { $0 + noise * gaussian() / Double(dim).squareRoot() })
    }

    static let noise = 0.36

    /// One season: 10 episodes, each a list of labels (in a shuffled order).
    /// `space`: the direction all speech shares and the voice-type clusters (one embedding model's:
    /// the same for every season kept in one store); nil: drawn for this season.
    public mutating func season(space: ([Double], [[Double]])? = nil) -> [[Label]] {
        let shared = space?.0 ?? unit(), clusters = space?.1 ?? (0..<3).map { _ in unit() }
        let pool = int(10...30)
        let centres = speakers(pool + 20, shared: shared, clusters: clusters)  // the last 20: guests
        let cast = Array(0..<int(4...7))
        let minor = Array(cast.count..<pool)
        var nextGuest = pool
        var episodes: [[Label]] = []
        for _ in 0..<10 {
            var present: [Int] = cast.filter { _ in uniform() < 0.85 }
            for m in minor where uniform() < 0.12 { present.append(m) }
            for _ in 0..<int(0...2) where nextGuest < centres.count { present.append(nextGuest); nextGuest += 1 }
            var labels: [Label] = []
            for s in present {
                let thin = uniform() < 0.08
                let e = observe(centres[s], noise: Self.noise * (thin ? 1.6 : 1) * (0.8 + 0.45 * uniform()))
                labels.append(Label(name: "", embedding: e.map(Float.init), speaker: s, utterances: thin ? 1 : int(3...40), seconds: thin ? 1.5 : 5 + 60 * uniform()))
            }
            // Diarization errors: a speaker split into two labels; two speakers in one label.
            if uniform() < 0.10, let k = labels.indices.randomElement(using: &self) {
                var twin = labels[k]
                twin.embedding = observe(centres[twin.speaker], noise: Self.noise * 1.2).map(Float.init)
                twin.utterances = max(1, twin.utterances / 2)
                twin.seconds /= 2
                labels.append(twin)
            }
            if uniform() < 0.05, labels.count >= 3 {
                let a = labels.removeLast(), b = labels.removeLast()
                let mixed = Self.normalized(zip(a.embedding, b.embedding).map { 0.7 * Double($0) + 0.3 * Double($1) })
                labels.append(Label(name: "", embedding: mixed.map(Float.init), speaker: a.speaker, utterances: a.utterances + b.utterances, seconds: a.seconds + b.seconds))
            }
            labels.shuffle(using: &self)
            for k in labels.indices { labels[k].name = "SPEAKER_" + (k < 10 ? "0" : "") + String(k) }
            episodes.append(labels)
        }
        return episodes
    }

    /// Identity stability and shared characters over `seasons` seasons, identifying every episode
    /// with `identify` (labels → character per label name; an empty ID: left without a character),
    /// then, when given, `reconcile` on the season's series: the figures count the characters the
    /// store's observations say after it (merges followed).
    public mutating func measure(seasons: Int, identify: (CharacterStore, [Label], String, String) -> [String: String],
                                 reconcile: ((CharacterStore, String) throws -> Void)? = nil, oneStore: Bool = false) throws -> Figures {
        let space = oneStore ? (unit(), (0..<3).map { _ in unit() }) : nil
        var all: [[[Label]]] = []
        for _ in 0..<seasons { all.append(season(space: space)) }
        return try Self.measure(all, dim: dim, identify: identify, reconcile: reconcile, oneStore: oneStore)
    }

    /// The same figures for seasons made elsewhere (labels whose embeddings come from audio, say):
    /// `all[s][k]` is episode k + 1 of season s, each label with its real speaker (numbered per season).
    public static func measure(_ all: [[[Label]]], dim: Int, type: String = "sim", identify: (CharacterStore, [Label], String, String) -> [String: String],
                               reconcile: ((CharacterStore, String) throws -> Void)? = nil, oneStore: Bool = false) throws -> Figures {
        let seasons = all.count
        var stability = 0.0, shared = 0.0, unassigned = 0.0
        var same: [Double] = [], different: [Double] = []
        var seasonsOf: [String: Swift.Set<Int>] = [:]
        let common = try CharacterStore.open("/nonexistent/dubdeck-sim-all.json")
        try common.checkEmbedding(type: type, dim: dim, model: nil, file: "simulator")
        for s in 0..<seasons {
            let store = oneStore ? common : try CharacterStore.open("/nonexistent/dubdeck-sim-\(s).json")
            try store.checkEmbedding(type: type, dim: dim, model: nil, file: "simulator")
            let episodes = all[s]
            let series = "sim\(s)"
            var maps: [[String: String]] = []
            for (k, labels) in episodes.enumerated() { maps.append(identify(store, labels, series, "ep\(k + 1)")) }
            if let reconcile {
                try reconcile(store, series)
                for o in store.observations(series: series) {
                    if let k = Int(o.episode.dropFirst(2)), k >= 1, k <= maps.count { maps[k - 1][o.label] = o.characterID }
                }
            }
            var seen: [Int: [String]] = [:]  // speaker → character per appearance
            var owners: [String: Swift.Set<Int>] = [:]
            var firstEmbedding: [Int: [Float]] = [:]
            for (k, labels) in episodes.enumerated() {
                for l in labels {
                    let raw = maps[k][l.name] ?? ""
                    let id = raw.isEmpty ? "" : (store.resolve(raw)?.id ?? raw)
                    if id.isEmpty { unassigned += 1 }
                    seen[l.speaker, default: []].append(id)
                    if !id.isEmpty { owners[id, default: []].insert(l.speaker); if oneStore { seasonsOf[id, default: []].insert(s) } }
                    if let f = firstEmbedding[l.speaker] { same.append(Double(Matching.cosine(f, l.embedding))) } else { firstEmbedding[l.speaker] = l.embedding }
                }
            }
            let speakers = Array(firstEmbedding.keys)
            for i in speakers.indices { for j in speakers.indices where j > i && different.count < 20_000 {
                different.append(Double(Matching.cosine(firstEmbedding[speakers[i]]!, firstEmbedding[speakers[j]]!)))
            } }
            var total = 0.0, counted = 0
            for (_, ids) in seen where ids.count >= 2 {
                var counts: [String: Int] = [:]
                for id in ids where !id.isEmpty { counts[id, default: 0] += 1 }
                total += Double(counts.values.max() ?? 0) / Double(ids.count)
                counted += 1
            }
            stability += counted > 0 ? total / Double(counted) : 1
            shared += Double(owners.values.filter { $0.count >= 2 }.count)
        }
        return Figures(stability: stability / Double(seasons), sharedPerSeason: shared / Double(seasons),
                       sameMean: same.reduce(0, +) / Double(max(1, same.count)), sameMin: same.min() ?? 0,
                       differentMean: different.reduce(0, +) / Double(max(1, different.count)), differentMax: different.max() ?? 0,
                       unassignedPerSeason: unassigned / Double(seasons),
                       crossSeriesPerSeason: Double(seasonsOf.values.filter { $0.count >= 2 }.count) / Double(seasons))
    }
}

extension SeasonSimulator: RandomNumberGenerator {}
