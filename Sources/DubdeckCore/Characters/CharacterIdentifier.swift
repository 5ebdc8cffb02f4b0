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
        try store.update { s in
            try s.checkEmbedding(type: type, dim: dim, model: model, file: job.directory + "/diarization.json")
            let again = s.episodeIdentified(series: series, episode: episode)
            outcome.assignments = s.identify(labels: labels, series: series, episode: episode, threshold: threshold,
                                             update: !again || force)
            try writeMap(mapPath, outcome.assignments, series: series, episode: episode, type: type, dim: dim)
        }
        return outcome
    }

    static func writeMap(_ path: String, _ a: [LabelAssignment], series: String, episode: String, type: String, dim: Int) throws {
        let labels = JSONObject(a.map { x in
            (x.label, JSONValue.object(JSONObject([("character_id", .string(x.characterID)), ("similarity", .number(x.similarity)),
                                                    ("created", .bool(x.created))])))
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
                            similarity: v.objectValue?["similarity"]?.doubleValue ?? 0, created: v.objectValue?["created"]?.boolValue ?? false)
        }
    }
}
