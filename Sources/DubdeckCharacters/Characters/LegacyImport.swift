#if canImport(Glibc)
import Glibc
#endif

/// `characters import-legacy DIR`: the legacy plaintext registry (voices/registry.json and
/// voices/embeddings/*.npy) into the store, all or nothing.
public enum LegacyImport {
    public struct Report {
        public var imported: [(label: String, id: String)] = []
        public var refused: [(label: String, why: String)] = []
        public var skipped: [String] = []
        /// Reference recordings listed but not taken (not a readable audio file): said, not dropped silently.
        public var unusedWavs: [(label: String, path: String)] = []
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
            let wavs = (o["wavs"]?.arrayValue ?? []).compactMap { $0.stringValue }.map { $0.hasPrefix("/") ? $0 : dir + "/voices/" + $0 }
            // The store reader's own rules, checked before anything is written (SPEC §11.1).
            if let show = o["show"]?.stringValue, !SafeName.isValid(show) {
                report.refused.append((label, "show \"\(Sanitizer.display(String(show.prefix(80))))\" is not a safe name (\(SafeName.rule))"))
                continue
            }
            if let bad = wavs.first(where: { !CharacterRecord.isSafeSpeakerWav($0) }) {
                report.refused.append((label, "wav path \"\(Sanitizer.display(String(bad.prefix(120))))\" is not one the store can hold (no .., no control characters)"))
                continue
            }
            dim = embedding.count
            accepted.append((label, o["name"]?.stringValue ?? label, embedding, wavs, o["show"]?.stringValue))
        }
        guard !accepted.isEmpty else { return report }
        var unused: [(label: String, path: String)] = []
        try store.update { s in
            unused = []
            try s.checkEmbedding(type: s.embeddingType ?? "ecapa", dim: dim!, model: nil, file: registryPath)
            for a in accepted {
                let id = s.create(name: a.name)
                var reference: String? = nil
                // The first listed file that is a regular, readable audio file becomes the reference copy.
                var used: String?
                for w in a.wavs where used == nil {
                    guard (try? FileIO.requireRegularInput(w)) != nil, let audio = try? AudioFile.read(w, mono: true) else { continue }
                    let target = ReferenceVoice.path(store: s, id: id)
                    try FileIO.makeDirectories(FileIO.directory(of: target))
                    try AudioFile.writeWAV16Atomically(ReferenceVoice.normalized(audio), to: target)
                    reference = target
                    used = w
                }
                for w in a.wavs where w != used { unused.append((a.label, w)) }
                s.modify(id) { c in
                    c.embeddingAvg = a.embedding
                    c.embeddingCount = 1
                    // Only the normalized copy made here: a legacy path (outside the store, maybe not
                    // audio at all) would be handed to voice-cloning engines as it is.
                    c.speakerWavs = reference.map { [$0] } ?? []
                    if let show = a.show { c.setSeries(show, SeriesInfo(episodes: [], lastSeenAt: nil, lastEpisode: nil)) }
                    c.notes = "imported from the legacy registry"
                    c.extra["legacy_label"] = .string(a.label)
                }
                report.imported.append((a.label, id))
            }
        }
        report.unusedWavs = unused
        return report
    }
}
