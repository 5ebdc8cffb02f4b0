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

/// The canonical reference recording of a character: a normalized copy under
/// `<store dir>/voices/<ID>/ref.wav`, first in `speaker_wavs`.
public enum ReferenceVoice {
    public static func path(store: CharacterStore, id: String) -> String {
        store.directory + "/voices/" + id + "/ref.wav"
    }

    /// Mono, peak-normalized to −1 dBFS, 16-bit WAV at the audio's own rate.
    public static func normalized(_ audio: AudioBuffer) -> AudioBuffer {
        var mono = audio.mono()
        let peak = mono.peak
        if peak > 0 {
            let gain = Float(pow(10, -1.0 / 20)) / peak
            mono.samples = mono.samples.map { $0 * gain }
        }
        return mono
    }

    /// Stores `audio` as the character's reference (call inside `CharacterStore.update`).
    public static func set(_ audio: AudioBuffer, for id: String, in store: CharacterStore) throws {
        guard let c = store.resolve(id) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(id))") }
        try SafeName.check(c.id, file: store.path, field: "character ID")  // it becomes a directory name
        let target = path(store: store, id: c.id)
        try FileIO.ensureDirectory(store.directory + "/voices")
        try FileIO.ensureDirectory(FileIO.directory(of: target))
        try AudioFile.writeWAV16Atomically(normalized(audio), to: target)
        store.modify(c.id) { r in
            r.speakerWavs.removeAll { $0 == target }
            r.speakerWavs.insert(target, at: 0)
        }
    }
}

/// `characters import-legacy DIR`: the legacy plaintext registry (voices/registry.json and
/// voices/embeddings/*.npy) into the store, all or nothing.
public enum LegacyImport {
    public struct Report {
        public var imported: [(label: String, id: String)] = []
        public var refused: [(label: String, why: String)] = []
        public var skipped: [String] = []
    }

    public static func run(dir: String, store: CharacterStore) throws -> Report {
        let registryPath = dir + "/voices/registry.json"
        guard let bytes = try FileIO.readIfExists(registryPath) else {
            throw DubdeckError(.noInput, "\(Sanitizer.display(registryPath)): no such file")
        }
        let root = try JobLoader.parseFile(registryPath, bytes: bytes)
        guard let speakers = root.objectValue?["speakers"]?.objectValue else {
            throw DubdeckError.data(Sanitizer.display(registryPath), "expected {\"speakers\": {…}}")
        }
        // Read and check everything before the store is touched.
        var accepted: [(label: String, name: String, embedding: [Float], wavs: [String], show: String?)] = []
        var report = Report()
        var dim = store.dim
        for (label, v) in speakers.members {
            guard let o = v.objectValue else { report.refused.append((label, "not an object")); continue }
            if store.characters.contains(where: { $0.extra["legacy_label"]?.stringValue == label }) {
                report.skipped.append(label)
                continue
            }
            let rel = o["embedding"]?.stringValue ?? "embeddings/\(label).npy"
            let npyPath = rel.hasPrefix("/") ? rel : dir + "/voices/" + rel
            let embedding: [Float]
            do {
                embedding = try NPY.readMean(npyPath)
            } catch let e as DubdeckError {
                report.refused.append((label, e.message))
                continue
            }
            if let d = dim, d != embedding.count {
                report.refused.append((label, "embedding has \(embedding.count) values, the store's dim is \(d)"))
                continue
            }
            dim = embedding.count
            let wavs = (o["wavs"]?.arrayValue ?? []).compactMap { $0.stringValue }.map { $0.hasPrefix("/") ? $0 : dir + "/voices/" + $0 }
            accepted.append((label, o["name"]?.stringValue ?? label, embedding, wavs, o["show"]?.stringValue))
        }
        guard !accepted.isEmpty else { return report }
        try store.update { s in
            try s.checkEmbedding(type: s.embeddingType ?? "ecapa", dim: dim!, model: nil, file: registryPath)
            for a in accepted {
                let id = s.create(name: a.name)
                var reference: String? = nil
                if let first = a.wavs.first(where: { FileIO.exists($0) }), let audio = try? AudioFile.read(first) {
                    let target = ReferenceVoice.path(store: s, id: id)
                    try FileIO.makeDirectories(FileIO.directory(of: target))
                    try AudioFile.writeWAV16Atomically(ReferenceVoice.normalized(audio), to: target)
                    reference = target
                }
                s.modify(id) { c in
                    c.embeddingAvg = a.embedding
                    c.embeddingCount = 1
                    c.speakerWavs = (reference.map { [$0] } ?? []) + a.wavs
                    if let show = a.show { c.setSeries(show, SeriesInfo(episodes: [], lastSeenAt: nil, lastEpisode: nil)) }
                    c.notes = "imported from the legacy registry"
                    c.extra["legacy_label"] = .string(a.label)
                }
                report.imported.append((a.label, id))
            }
        }
        return report
    }
}

/// NumPy .npy files (format versions 1–3), dtypes <f4 <f8 >f4 >f8, shapes (D,), (1,D), (N,D) → mean.
public enum NPY {
    public static func readMean(_ path: String) throws -> [Float] {
        let shown = Sanitizer.display(path)
        guard let b = try FileIO.readIfExists(path) else { throw DubdeckError(.noInput, "\(shown): no such file") }
        guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else { throw DubdeckError.data(shown, "not a .npy file") }
        let major = b[6]
        var headerLen = 0, start = 0
        switch major {
        case 1: headerLen = Int(b[8]) | Int(b[9]) << 8; start = 10
        case 2, 3:
            guard b.count >= 12 else { throw DubdeckError.data(shown, "truncated .npy header") }
            headerLen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12
        default: throw DubdeckError.data(shown, "unsupported .npy version \(major)")
        }
        guard start + headerLen <= b.count else { throw DubdeckError.data(shown, "truncated .npy header") }
        let header = String(decoding: b[start..<(start + headerLen)], as: UTF8.self)
        func field(_ key: String) -> String? {
            let needle = Array("'\(key)':".utf8)
            let h = Array(header.utf8)
            guard h.count >= needle.count else { return nil }
            for i in 0...(h.count - needle.count) where Array(h[i..<(i + needle.count)]) == needle {
                return String(decoding: h[(i + needle.count)...], as: UTF8.self).trimmingWhitespace()
            }
            return nil
        }
        guard let descr = field("descr"), let q1 = descr.dropFirst().firstIndex(of: "'") else { throw DubdeckError.data(shown, "no dtype in .npy header") }
        let dtype = String(descr[descr.index(after: descr.startIndex)..<q1])
        guard ["<f4", "<f8", ">f4", ">f8"].contains(dtype) else { throw DubdeckError.data(shown, "unsupported dtype \(Sanitizer.display(dtype))") }
        if let fo = field("fortran_order"), fo.hasPrefix("True") { throw DubdeckError.data(shown, "Fortran-ordered arrays are not supported") }
        guard let shapeText = field("shape"), let open = shapeText.firstIndex(of: "("),
              let close = shapeText[open...].firstIndex(of: ")") else {  // the ")" after the "(" (found by make fuzz)
            throw DubdeckError.data(shown, "no shape in .npy header")
        }
        let dims = shapeText[shapeText.index(after: open)..<close].split(separator: ",").compactMap { Int(String($0).trimmingWhitespace()) }
        let (rows, cols): (Int, Int)
        switch dims.count {
        case 1: (rows, cols) = (1, dims[0])
        case 2: (rows, cols) = (dims[0], dims[1])
        default: throw DubdeckError.data(shown, "shape \(dims) is not (D,), (1,D) or (N,D)")
        }
        guard rows >= 1, cols >= 1 else { throw DubdeckError.data(shown, "empty array") }
        let size = dtype.hasSuffix("8") ? 8 : 4
        let big = dtype.hasPrefix(">")
        let data = start + headerLen
        // Every product used for a size is overflow-checked: a header may claim 2^62 rows.
        let (cells, o1) = rows.multipliedReportingOverflow(by: cols)
        let (bytes, o2) = cells.multipliedReportingOverflow(by: size)
        let (end, o3) = data.addingReportingOverflow(bytes)
        guard !o1, !o2, !o3, end <= b.count else { throw DubdeckError.data(shown, "truncated .npy data (shape \(rows)×\(cols))") }
        var mean = [Double](repeating: 0, count: cols)
        for r in 0..<rows {
            for c in 0..<cols {
                let at = data + (r * cols + c) * size
                var bits: UInt64 = 0
                for k in 0..<size { bits |= UInt64(b[at + (big ? size - 1 - k : k)]) << (8 * UInt64(k)) }
                let v = size == 8 ? Double(bitPattern: bits) : Double(Float(bitPattern: UInt32(bits)))
                guard v.isFinite else { throw DubdeckError.data(shown, "NaN or infinite value") }
                mean[c] += v / Double(rows)
            }
        }
        return mean.map { Float($0) }
    }
}
