#if canImport(Glibc)
import Glibc
#endif

/// Copies the store's JSON with every `"embedding_avg"` and `"embedding"` string value replaced by
/// `null`, byte by byte across chunk boundaries: what a reader of names and voices (the desk)
/// keeps of a 20 MB store is a few hundred kilobytes.
struct EmbeddingStripper {
    private(set) var output: [UInt8] = []
    private var inString = false
    private var escaped = false
    private var stripping = false
    private var current: [UInt8] = []
    private var currentTooLong = false
    /// The last string closed, when short (a key candidate), and whether a `:` followed it.
    private var lastKey: [UInt8]? = nil
    private var keyThenColon = false

    static let keys: [[UInt8]] = [Array("embedding_avg".utf8), Array("embedding".utf8)]

    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) {
        output.reserveCapacity(output.count + bytes.count / 16)
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") {
                    inString = false
                    if stripping {
                        stripping = false
                        output += Array("null".utf8)
                        continue
                    }
                    output.append(b)
                    lastKey = currentTooLong ? nil : current
                    keyThenColon = false
                    continue
                }
                if stripping { continue }
                output.append(b)
                if !currentTooLong {
                    if current.count < 16 { current.append(b) } else { currentTooLong = true }
                }
                continue
            }
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                output.append(b)
            case UInt8(ascii: ":"):
                keyThenColon = lastKey != nil
                output.append(b)
            case UInt8(ascii: "\""):
                inString = true
                current.removeAll(keepingCapacity: true)
                currentTooLong = false
                if keyThenColon, let k = lastKey, EmbeddingStripper.keys.contains(k) {
                    stripping = true
                } else {
                    output.append(b)
                }
                lastKey = nil
                keyThenColon = false
            default:
                lastKey = nil
                keyThenColon = false
                output.append(b)
            }
        }
    }
}

extension FileCharacterBackend {
    /// The file store read for names and voices only (withEmbeddings false): in 1 MB chunks,
    /// decrypted and stripped of embeddings on the way, parsed only once the tag verified.
    func loadSkimming() throws {
        let shown = store.shownPath
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { store.reset(); fingerprint = .missing; return }
            if errno == ELOOP { throw DubdeckError.data(shown, "is a symbolic link; refusing to follow it") }
            throw DubdeckError.io(shown, "cannot open: \(errnoText())")
        }
        defer { close(fd) }
        try FileIO.requireRegular(fd: fd, path: path, owner: .own)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DubdeckError.io(shown, "cannot stat: \(errnoText())") }
        let size = Int(st.st_size)
        guard size <= FileIO.jsonLimit else { throw DubdeckError.data(shown, "larger than \(FileIO.jsonLimit >> 20) MB") }
        func read(_ offset: Int, _ count: Int, into buffer: inout [UInt8]) throws {
            var done = 0
            while done < count {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw DubdeckError.io(shown, "read failed: \(n < 0 ? errnoText() : "the file shrank")") }
                done += n
            }
        }
        var head = [UInt8](repeating: 0, count: min(size, Envelope.headerSize))
        try read(0, head.count, into: &head)
        var tag = [UInt8](repeating: 0, count: Envelope.tagSize)
        if size >= Envelope.headerSize + Envelope.tagSize { try read(size - Envelope.tagSize, Envelope.tagSize, into: &tag) }
        // The header's own checks (magic, version, KDF bounds, truncation) as for a whole read.
        let header = try Envelope.header(size >= Envelope.headerSize + Envelope.tagSize ? head + tag : head, file: shown)
        let (k, source) = try store.resolveKey(header)
        guard let stream = GCMDecryptStream(key: k, nonce: header.nonce, aad: head) else { throw DubdeckError(.keyError, "decryption failed") }
        var stripper = EmbeddingStripper()
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        var offset = Envelope.headerSize
        let end = size - Envelope.tagSize
        while offset < end {
            let n = min(chunk, end - offset)
            try read(offset, n, into: &buffer)
            stream.update(&buffer, count: n)
            buffer.withUnsafeBufferPointer { stripper.feed(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            offset += n
        }
        guard stream.finish(tag: tag) else {
            throw DubdeckError.data(shown, "authentication failed: the character store was modified or damaged")
        }
        let plain = stripper.output
        try store.parse(plain, 0..<plain.count)
        store.sealed(key: k, kdf: header.kdf)
        fingerprint = FileFingerprint(size: size, mtimeNs: Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec), sha256: [], inode: UInt64(st.st_ino))
        if case .keyFile(let p) = source.kind, p.hasSuffix(".new") { finishRotation(p) }
    }
}
