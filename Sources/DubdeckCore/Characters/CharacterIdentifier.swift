#if canImport(Glibc)
import Glibc
#endif

/// `characters identify`: the episode's diarization labels → characters, written to
/// JOB/characters.map.json and recorded in the store.
public enum CharacterIdentifier {
    public struct Outcome {
        public var assignments: [LabelAssignment]
        public var reused: Bool
        public var series: String
        public var episode: String
    }

    public static func labels(of job: Job) throws -> (labels: [(String, [Float])], type: String, dim: Int, model: String?) {
        let path = job.directory + "/diarization.json"
        guard let bytes = try FileIO.readIfExists(path) else {
            throw DubdeckError(.noInput, "\(Sanitizer.display(path)): no such file (identify needs the episode's speaker embeddings)")
        }
        let root = try JobLoader.parseFile(path, bytes: bytes)
        guard let table = root.objectValue?["speaker_embeddings"]?.objectValue, !table.members.isEmpty else {
            throw DubdeckError.data(Sanitizer.display(path), "no \"speaker_embeddings\"")
        }
        var labels: [(String, [Float])] = []
        for (label, v) in table.members {
            guard let values = v.arrayValue?.compactMap({ $0.doubleValue }), values.count == v.arrayValue?.count, !values.isEmpty else {
                throw DubdeckError.data(Sanitizer.display(path), "speaker_embeddings.\(Sanitizer.display(label)): expected an array of numbers")
            }
            labels.append((label, values.map { Float($0) }))
        }
        let dim = labels[0].1.count
        for (label, v) in labels where v.count != dim {
            throw DubdeckError.data(Sanitizer.display(path), "speaker_embeddings.\(Sanitizer.display(label)): \(v.count) values, the others have \(dim)")
        }
        let meta = root.objectValue?["embedding"]?.objectValue
        if let declared = meta?["dim"]?.intValue, declared != dim {
            throw DubdeckError.data(Sanitizer.display(path), "embedding.dim is \(declared) but the vectors have \(dim) values")
        }
        return (labels, meta?["type"]?.stringValue ?? "ecapa", dim, meta?["model"]?.stringValue)
    }

    public static func identify(job: Job, store: CharacterStore, threshold: Double, force: Bool) throws -> Outcome {
        guard let series = job.info.seriesID else {
            throw DubdeckError(.usage, "\(Sanitizer.display(job.directory)): no series (give --series or set series_id in job.json; a file name is never a series)")
        }
        let episode = job.info.episode
        let (labels, type, dim, model) = try labels(of: job)
        let mapPath = job.directory + "/characters.map.json"
        var outcome = Outcome(assignments: [], reused: false, series: series, episode: episode)
        // Already identified: reuse the map, count nothing twice, move nothing.
        if !force, store.episodeIdentified(series: series, episode: episode), let existing = try readMap(mapPath) {
            outcome.assignments = existing
            outcome.reused = true
            return outcome
        }
        // A reviewer's assignment stands: its label is neither matched nor counted again.
        let overrides = (try readMap(mapPath) ?? []).filter(\.override)
        let matched = labels.filter { l in !overrides.contains { $0.label == l.0 } }
        try store.update { s in
            try s.checkEmbedding(type: type, dim: dim, model: model, file: job.directory + "/diarization.json")
            let again = s.episodeIdentified(series: series, episode: episode)
            outcome.assignments = s.identify(labels: matched, series: series, episode: episode, threshold: threshold,
                                             update: !again || force) + overrides
            try writeMap(mapPath, outcome.assignments, series: series, episode: episode, type: type, dim: dim)
        }
        return outcome
    }

    static func writeMap(_ path: String, _ a: [LabelAssignment], series: String, episode: String, type: String, dim: Int) throws {
        let labels = JSONObject(a.map { x in
            (x.label, JSONValue.object(JSONObject([("character_id", .string(x.characterID)), ("similarity", .number(x.similarity)),
                                                    ("created", .bool(x.created))] + (x.override ? [("override", .bool(true))] : []))))
        })
        let doc = JSONValue.object(JSONObject([
            ("series_id", .string(series)), ("episode", .string(episode)),
            ("embedding", .object(JSONObject([("type", .string(type)), ("dim", .number(dim))]))), ("labels", .object(labels)),
        ]))
        try FileIO.writeAtomically(path, JSONWriter.encodePretty(doc))
    }

    static func readMap(_ path: String) throws -> [LabelAssignment]? {
        guard let bytes = try FileIO.readIfExists(path, owner: .own) else { return nil }
        let root = try JobLoader.parseFile(path, bytes: bytes)
        return (root.objectValue?["labels"]?.objectValue?.members ?? []).map { label, v in
            LabelAssignment(label: label, characterID: v.objectValue?["character_id"]?.stringValue ?? "",
                            similarity: v.objectValue?["similarity"]?.doubleValue ?? 0, created: v.objectValue?["created"]?.boolValue ?? false,
                            override: v.objectValue?["override"]?.boolValue ?? false)
        }
    }

    /// The labels a line of this episode can be given: the diarization labels and every line's
    /// label (the pipeline's and the reviewers'), in first-seen order.
    public static func episodeLabels(_ store: TranscriptStore) -> [String] {
        var out: [String] = []
        for l in store.job.diarizationLabels + store.job.segments.map({ store.segment($0.number).speaker }) where !l.isEmpty && !out.contains(l) {
            out.append(l)
        }
        return out
    }

    public struct Assignment: Equatable {
        public var label: String
        public var characterID: String
        /// What the label had before (nil: no character), to say so and to undo.
        public var previous: LabelAssignment?
    }

    /// `characters assign`: this episode's LABEL is character ID, as a reviewer's override that
    /// re-identify keeps (`"override": true` in characters.map.json). `nil` removes the label's entry
    /// (the desk's undo of an assignment that had none). Serialized with identify by the store's lock.
    @discardableResult
    public static func assign(_ store: TranscriptStore, label: String, to id: String?, in cast: CharacterStore,
                              restoring previous: LabelAssignment? = nil) throws -> Assignment {
        let job = store.job
        guard let series = job.info.seriesID else {
            throw DubdeckError(.usage, "\(Sanitizer.display(job.directory)): no series (set series_id in job.json)")
        }
        guard episodeLabels(store).contains(label) else {
            throw DubdeckError(.usage, "no label \(Sanitizer.display(label)) in \(Sanitizer.display(job.info.episode)) (its labels: \(episodeLabels(store).joined(separator: ", ")))")
        }
        let mapPath = job.directory + "/characters.map.json"
        var result = Assignment(label: label, characterID: id ?? "", previous: nil)
        try cast.update { s in
            var target: String? = nil
            if let id {
                guard let c = s.resolve(id) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(id)) in the store") }
                target = c.id
            }
            let (meta, existing) = try readMapDocument(mapPath)
            var list = existing
            let old = list.firstIndex { $0.label == label }
            result.previous = old.map { list[$0] }
            if let old { list.remove(at: old) }
            if let previous { list.append(previous) } else if let target {
                list.append(LabelAssignment(label: label, characterID: target, similarity: result.previous?.similarity ?? 0, created: false, override: true))
            }
            result.characterID = target ?? previous?.characterID ?? ""
            try writeMap(mapPath, list, series: series, episode: job.info.episode, type: meta.type, dim: meta.dim)
        }
        return result
    }

    /// The map's assignments and its embedding description (type, dim), or defaults for a new map.
    static func readMapDocument(_ path: String) throws -> (meta: (type: String, dim: Int), list: [LabelAssignment]) {
        guard let list = try readMap(path) else { return (("none", 0), []) }
        let root = try JobLoader.parseFile(path, bytes: try FileIO.read(path))
        let e = root.objectValue?["embedding"]?.objectValue
        return ((e?["type"]?.stringValue ?? "none", e?["dim"]?.intValue ?? 0), list)
    }

    /// `voice_map.json` for the pipeline's TTS: every label of the episode → its character, name,
    /// voice and reference recording (SPEC §10.6).
    public static func voiceMap(_ store: TranscriptStore, cast: CharacterStore?) -> JSONValue {
        let job = store.job
        let voices = cast?.voices() ?? [:]
        var out = JSONObject()
        for label in episodeLabels(store) {
            let id = job.characterMap[label]
            let c = id.flatMap { cast?.resolve($0) }
            let voice = id.flatMap { voices[$0] } ?? Voice.deterministic(for: id ?? label)
            out[label] = .object(JSONObject([
                ("character_id", (c?.id ?? id).map { .string($0) } ?? .null),
                ("name", c.map { .string($0.name) } ?? .null),
                ("voice", voice.json),
                ("speaker_wav", c?.speakerWavs.first.map { .string($0) } ?? .null),
            ]))
        }
        return .object(out)
    }
}
