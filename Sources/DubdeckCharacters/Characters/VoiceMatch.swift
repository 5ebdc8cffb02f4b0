/// How close a line's current take sounds to its character's reference recording (SPEC §10.8):
/// the cosine of their GE2E embeddings. A take is immutable, so its embedding is kept beside it
/// (`NNNN.take-<seq>.wav.ge2e`); the file is read as untrusted (exact size, header, finite values)
/// and made again when it is not right.
public enum VoiceMatch {
    static let magic = Array("DDGE2EV1".utf8)

    /// The score of line n, or nil when it cannot be known (no take, no character, no reference,
    /// no model). `compute` false: only what is cached (never runs the encoder).
    public static func score(_ store: TranscriptStore, _ n: Int, cast: CharacterStore?, encoder: () throws -> SpeakerEncoder?,
                             compute: Bool = true) -> Double? {
        guard let (take, reference) = inputs(store, n, cast: cast), FileIO.exists(take), FileIO.exists(reference) else { return nil }
        guard let t = embedding(of: take, compute: compute, encoder: encoder),
              let r = embedding(of: reference, compute: compute, encoder: encoder) else { return nil }
        return (Double(Matching.cosine(t, r)) * 1000).rounded() / 1000
    }

    /// The audio files line n's score needs (its take, its character's reference), or nil.
    public static func inputs(_ store: TranscriptStore, _ n: Int, cast: CharacterStore?) -> (take: String, reference: String)? {
        guard let cast, let id = store.characterID(n), let c = cast.resolve(id), let reference = c.speakerWavs.first,
              let takeRelative = Takes.current(of: store.entry(n), n) else { return nil }
        return (store.job.directory + "/" + takeRelative, reference)
    }

    /// Makes the cached embeddings of these files (off the main thread: it runs the encoder).
    public static func prepare(_ files: [String], encoder: () throws -> SpeakerEncoder?) {
        for f in files where FileIO.exists(f) { _ = embedding(of: f, compute: true, encoder: encoder) }
    }

    public static func cachedBoth(_ a: String, _ b: String) -> Bool {
        embedding(of: a, compute: false, encoder: { nil }) != nil && embedding(of: b, compute: false, encoder: { nil }) != nil
    }

    /// The file's embedding from its cache, else computed (and cached) when `compute`.
    static func embedding(of audio: String, compute: Bool, encoder: () throws -> SpeakerEncoder?) -> [Float]? {
        let cachePath = audio + ".ge2e"
        let sig = FileIO.statSignature(audio)
        if let bytes = try? FileIO.readIfExists(cachePath, limit: 4096), let v = decode(bytes, signature: sig) { return v }
        guard compute, let enc = try? encoder(), let buffer = try? AudioFile.read(audio, mono: true), let v = try? enc.embed(buffer) else { return nil }
        try? FileIO.writeAtomically(cachePath, encode(v, signature: sig))
        return v
    }

    /// magic | size, mtime, inode of the audio it was made from (8 bytes each) | 256 float32.
    static func encode(_ v: [Float], signature: FileIO.StatSignature?) -> [UInt8] {
        var out = magic
        for x in [signature?.size ?? -1, signature?.mtimeNs ?? 0, Int(truncatingIfNeeded: signature?.inode ?? 0)] {
            withUnsafeBytes(of: Int64(x).littleEndian) { out += $0 }
        }
        for f in v { withUnsafeBytes(of: f.bitPattern.littleEndian) { out += $0 } }
        return out
    }

    static func decode(_ bytes: [UInt8], signature: FileIO.StatSignature?) -> [Float]? {
        guard bytes.count == 8 + 24 + 4 * SpeakerEncoder.dim, Array(bytes.prefix(8)) == magic, let sig = signature else { return nil }
        func i64(_ at: Int) -> Int { Int(Int64(littleEndian: bytes[at..<(at + 8)].withUnsafeBytes { $0.loadUnaligned(as: Int64.self) })) }
        // Made from this very file (a reference rewritten since is embedded again).
        guard i64(8) == sig.size, i64(16) == sig.mtimeNs, i64(24) == Int(truncatingIfNeeded: sig.inode) else { return nil }
        var v: [Float] = []
        for k in 0..<SpeakerEncoder.dim {
            let at = 32 + 4 * k
            let bits = UInt32(littleEndian: bytes[at..<(at + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            let f = Float(bitPattern: bits)
            guard f.isFinite else { return nil }
            v.append(f)
        }
        return v
    }
}
