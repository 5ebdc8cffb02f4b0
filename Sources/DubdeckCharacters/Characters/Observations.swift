#if canImport(Glibc)
import Glibc
#endif

/// One (episode, label) of a series as identify saw it: its embedding, how much speech stands
/// behind it and the character it was given. Reconcile clusters these (SPEC §10.8); they live in the
/// encrypted store (top-level `observations`, by series), never in a job.
public struct Observation: Equatable, Sendable {
    public var episode: String
    public var label: String
    public var characterID: String
    public var embedding: [Float]
    public var utterances: Int?
    public var seconds: Double?
    /// How clearly the label was heard, 0…1 (nil: not measured — the pipeline's embedding).
    public var quality: Double?
    /// A reviewer's assignment (`characters assign`): reconcile never moves it.
    public var override: Bool
    /// The job directory identify read (absolute): where reconcile re-writes the map.
    public var job: String?
    public var at: String
    /// The store generation of this observation's last change (its character or override).
    public var gen = 0

    public init(episode: String, label: String, characterID: String, embedding: [Float], utterances: Int? = nil, seconds: Double? = nil,
                quality: Double? = nil, override: Bool = false, job: String? = nil, at: String = Clock.isoNow()) {
        self.episode = episode
        self.label = label
        self.characterID = characterID
        self.embedding = embedding
        self.utterances = utterances
        self.seconds = seconds
        self.quality = quality
        self.override = override
        self.job = job
        self.at = at
    }

    /// How clearly a label was heard is a number in [0, 1]: the one rule the reader and the writer
    /// (`CharacterStore.validateChanged`) apply.
    static func checkQuality(_ q: Double?, _ shown: String, _ episode: String) throws {
        if let q, !(q >= 0 && q <= 1) { throw badQuality(shown, episode) }
    }

    static func badQuality(_ shown: String, _ episode: String) -> DubdeckError {
        DubdeckError.data(shown, "observation \(Sanitizer.display(episode)): quality must be a number in [0, 1]")
    }

    /// Too little speech to move a character (the same rule as identify's).
    public var thin: Bool { evidence.thin }
    /// Heard too poorly to be sure of (the same rule as identify's).
    public var poorAudio: Bool { evidence.poorAudio }
    var evidence: LabelEvidence { LabelEvidence(label: label, embedding: [], utterances: utterances, seconds: seconds, quality: quality) }

    /// A series keeps at most this many (the oldest go first): reconcile stays quadratic in a bound.
    public static let maxPerSeries = 4000

    var json: JSONValue {
        .object(JSONObject([
            ("episode", .string(episode)), ("label", .string(label)), ("character_id", .string(characterID)),
            ("embedding", .string(Base64.encodeFloats(embedding))),
            ("utterances", utterances.map { .number($0) } ?? .null), ("seconds", seconds.map { .number($0) } ?? .null),
            ("quality", quality.map { .number($0) } ?? .null),
            ("override", .bool(override)), ("job", job.map { .string($0) } ?? .null), ("at", .string(at)), ("gen", .number(gen)),
        ]))
    }

    /// Every field checked: the store is our own output, but still input.
    /// `withEmbedding` false (a reader of names: the embedding was stripped to null): no embedding.
    init(json v: JSONValue, file: String, dim: Int?, withEmbedding: Bool = true) throws {
        let shown = file
        guard let o = v.objectValue, let episode = o["episode"]?.stringValue, let label = o["label"]?.stringValue,
              let id = o["character_id"]?.stringValue, let embeddingValue = o["embedding"], withEmbedding ? embeddingValue.stringValue != nil : true else {
            throw DubdeckError.data(shown, "an observation needs episode, label, character_id and embedding")
        }
        try SafeName.check(id, file: file, field: "observation character_id")
        var floats: [Float] = []
        if withEmbedding {
            guard let e = embeddingValue.stringValue, let f = Base64.decodeFloats(Array(e.utf8)[...]), !f.isEmpty, f.allSatisfy({ $0.isFinite }) else {
                throw DubdeckError.data(shown, "observation \(Sanitizer.display(episode))/\(Sanitizer.display(label)): embedding is not base64 of finite float32")
            }
            floats = f
        }
        if withEmbedding, let d = dim, floats.count != d {
            throw DubdeckError.data(shown, "observation \(Sanitizer.display(episode))/\(Sanitizer.display(label)): \(floats.count) values, the store's dim is \(d)")
        }
        let utterances = o["utterances"]?.intValue, seconds = o["seconds"]?.doubleValue
        if let u = utterances, u < 0 { throw DubdeckError.data(shown, "observation utterances must not be negative") }
        if let s = seconds, !(s >= 0 && s <= 1e7) { throw DubdeckError.data(shown, "observation seconds out of range") }
        var quality: Double?
        if let q = o["quality"], !q.isNull {
            guard let x = q.doubleValue else { throw Self.badQuality(shown, episode) }
            try Self.checkQuality(x, shown, episode)
            quality = x
        }
        let job = o["job"]?.stringValue
        if let j = job, !j.hasPrefix("/") || j.utf8.contains(0) || j.split(separator: "/").contains("..") {
            throw DubdeckError.data(shown, "observation \(Sanitizer.display(episode)): job is not an absolute path without ..")
        }
        var gen = 0
        if let g = o["gen"], !g.isNull {
            guard let n = g.intValue, n >= 0 else { throw DubdeckError.data(shown, "observation \(Sanitizer.display(episode)): gen must be an integer from 0") }
            gen = n
        }
        self.init(episode: episode, label: label, characterID: id, embedding: floats, utterances: utterances, seconds: seconds,
                  quality: quality, override: o["override"]?.boolValue ?? false, job: job, at: o["at"]?.stringValue ?? "")
        self.gen = gen
    }
}

extension CharacterStore {
    /// Parses the top-level `observations` member: {"SERIES": [observation, …]}.
    func parseObservations(_ v: JSONValue) throws {
        guard let o = v.objectValue else { throw DubdeckError.data(shownPath, "\"observations\" must be an object") }
        for (series, list) in o.members {
            try SafeName.check(series, file: shownPath, field: "observations series")
            guard let items = list.arrayValue else { throw DubdeckError.data(shownPath, "observations of \(Sanitizer.display(series)) must be an array") }
            guard items.count <= Observation.maxPerSeries else {
                throw DubdeckError.data(shownPath, "observations of \(Sanitizer.display(series)): \(items.count), at most \(Observation.maxPerSeries)")
            }
            observations[series] = try items.map { try Observation(json: $0, file: shownPath, dim: dim, withEmbedding: withEmbeddings) }
            observationOrder.append(series)
        }
    }

    var observationsJSON: JSONValue {
        .object(JSONObject(observationOrder.compactMap { s in observations[s].map { (s, JSONValue.array($0.map(\.json))) } }))
    }

    public func observations(series: String) -> [Observation] { observations[series] ?? [] }

    /// The matches of character `id` (merges followed) that rest on poor audio (SPEC §11.13): its
    /// observations heard under `Matching.poorQuality`, per series in the order recorded.
    public func poorlyHeard(_ id: String) -> [(series: String, observation: Observation)] {
        guard let target = resolve(id)?.id else { return [] }
        return observationOrder.flatMap { series in
            (observations[series] ?? []).filter { $0.poorAudio && resolve($0.characterID)?.id == target }.map { (series, $0) }
        }
    }

    /// How clearly an episode's label was heard when its match rests on poor audio (nil: it does not,
    /// or was never heard here).
    public func poorAudio(series: String, episode: String, label: String) -> Double? {
        (observations[series] ?? []).last { $0.episode == episode && $0.label == label && $0.poorAudio }?.quality
    }

    /// The one place observations change: each one whose character or override is new since the
    /// list before gets this commit's generation (what a map of its episode is compared with).
    func setObservations(_ list: [Observation], series: String) {
        var before: [String: Observation] = [:]
        for o in observations[series] ?? [] { before[o.episode + "\u{0}" + o.label] = o }
        if observations[series] == nil { observationOrder.append(series) }
        observations[series] = list.suffix(Observation.maxPerSeries).map { o in
            var o = o
            if let old = before[o.episode + "\u{0}" + o.label], old.characterID == o.characterID, old.override == o.override {
                o.gen = old.gen
            } else {
                o.gen = generation
            }
            return o
        }
    }

    /// What the store says of an episode's labels: each observed label's character as recorded (a
    /// merge is followed where the ID is used, so an unmerge needs no map change) and the generation
    /// of the last change among them (0: none recorded).
    public func episodeView(series: String, episode: String) -> (generation: Int, labels: [String: String]) {
        var g = 0
        var labels: [String: String] = [:]
        for o in observations[series] ?? [] where o.episode == episode {
            g = max(g, o.gen)
            labels[o.label] = o.characterID
        }
        return (g, labels)
    }

    /// What identify decided for one episode: the episode's earlier observations (an identify with
    /// --force) are replaced, a reviewer's assignment kept as it is unless `entries` names its label.
    func recordObservations(series: String, episode: String, _ entries: [Observation], replace: Bool) {
        var list = observations(series: series)
        if replace { list.removeAll { $0.episode == episode && !$0.override } }
        for e in entries {
            list.removeAll { $0.episode == episode && $0.label == e.label }
            list.append(e)
        }
        setObservations(list, series: series)
    }

    /// A reviewer's assignment of an episode's label (nil character: the label's entry removed).
    func noteAssignment(series: String, episode: String, label: String, characterID: String?, override: Bool) {
        guard var list = observations[series], let i = list.firstIndex(where: { $0.episode == episode && $0.label == label }) else { return }
        if let id = characterID {
            list[i].characterID = id
            list[i].override = override
        }
        setObservations(list, series: series)
    }

    /// The absolute form of a job directory (as recorded in an observation).
    static func absoluteDirectory(_ dir: String) -> String? {
        guard let p = realpath(dir, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
