#if canImport(Glibc)
import Glibc
#endif

/// The encrypted file format of the character store (byte layout in docs/FORMATS.md):
///
///     0  8  magic "DDCHARS\0"
///     8  1  format version (1)
///     9  1  KDF id: 0 raw key, 1 scrypt
///    10  1  scrypt log2(N) (0 for a raw key)
///    11  1  reserved (0)
///    12  4  scrypt r, u32 little-endian (0 for a raw key)
///    16  4  scrypt p, u32 little-endian (0 for a raw key)
///    20 16  salt (zeros for a raw key)
///    36 16  key check: HMAC-SHA256(key, "dubdeck-key-check")[0..<16]
///    52 12  nonce (random per save)
///    64  …  AES-256-GCM ciphertext of the UTF-8 JSON
///   end 16  GCM tag
///
/// The 64-byte header is the GCM additional authenticated data.
public enum Envelope {
    public static let magic: [UInt8] = Array("DDCHARS".utf8) + [0]
    public static let version: UInt8 = 1
    public static let headerSize = 64
    public static let tagSize = 16

    public enum KDF: Equatable, Sendable {
        case raw
        case scrypt(log2N: Int, r: Int, p: Int, salt: [UInt8])
    }

    /// Limits accepted when reading (a file cannot make us spend unbounded memory or time).
    public static let maxLog2N = 20, maxR = 16, maxP = 4
    /// What new passphrase stores use.
    public static let defaultScrypt = (log2N: 17, r: 8, p: 1)

    public static func keyCheck(_ key: [UInt8]) -> [UInt8] {
        Array(Crypto.hmacSHA256(key: key, Array("dubdeck-key-check".utf8)).prefix(16))
    }

    public struct Header: Equatable {
        public var kdf: KDF
        public var keyCheck: [UInt8]
        public var nonce: [UInt8]
    }

    static func u32(_ b: [UInt8], _ at: Int) -> Int {
        Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24
    }

    static func putU32(_ v: Int, into b: inout [UInt8]) {
        for k in 0..<4 { b.append(UInt8((v >> (8 * k)) & 0xFF)) }
    }

    /// Reads and checks the header (no key needed). Errors are exit 65.
    public static func header(_ bytes: [UInt8], file: String) throws -> Header {
        func bad(_ why: String) -> DubdeckError { .data(Sanitizer.display(file), why) }
        guard bytes.count >= headerSize + tagSize else {
            if bytes.count >= magic.count, Array(bytes.prefix(magic.count)) != magic { throw bad("not a dubdeck character store (bad magic)") }
            throw bad("truncated character store (\(bytes.count) bytes)")
        }
        guard Array(bytes[0..<8]) == magic else {
            if bytes.first == UInt8(ascii: "{") { throw bad("a plaintext file where the encrypted character store should be; refusing to read or replace it") }
            throw bad("not a dubdeck character store (bad magic)")
        }
        guard bytes[8] == version else { throw bad("unknown character store format version \(bytes[8]) (this dubdeck knows \(version))") }
        guard bytes[11] == 0 else { throw bad("corrupt header (reserved byte)") }
        let kdf: KDF
        switch bytes[9] {
        case 0:
            guard bytes[10] == 0, u32(bytes, 12) == 0, u32(bytes, 16) == 0, bytes[20..<36].allSatisfy({ $0 == 0 }) else {
                throw bad("corrupt header (raw-key store with KDF parameters)")
            }
            kdf = .raw
        case 1:
            let log2N = Int(bytes[10]), r = u32(bytes, 12), p = u32(bytes, 16)
            guard log2N >= 10, log2N <= maxLog2N, r >= 1, r <= maxR, p >= 1, p <= maxP else {
                throw bad("scrypt parameters out of bounds (N=2^\(log2N), r=\(r), p=\(p); at most N=2^\(maxLog2N), r=\(maxR), p=\(maxP))")
            }
            kdf = .scrypt(log2N: log2N, r: r, p: p, salt: Array(bytes[20..<36]))
        default:
            throw bad("unknown key derivation id \(bytes[9])")
        }
        return Header(kdf: kdf, keyCheck: Array(bytes[36..<52]), nonce: Array(bytes[52..<64]))
    }

    static func headerBytes(kdf: KDF, key: [UInt8], nonce: [UInt8]) -> [UInt8] {
        var h = magic
        h.append(version)
        switch kdf {
        case .raw:
            h += [0, 0, 0]
            putU32(0, into: &h)
            putU32(0, into: &h)
            h += [UInt8](repeating: 0, count: 16)
        case .scrypt(let log2N, let r, let p, let salt):
            h += [1, UInt8(log2N), 0]
            putU32(r, into: &h)
            putU32(p, into: &h)
            h += salt
        }
        h += keyCheck(key)
        h += nonce
        return h
    }

    /// Encrypts plaintext JSON into a whole file image (the plaintext buffer is consumed).
    public static func seal(_ plaintext: [UInt8], key: [UInt8], kdf: KDF) throws -> [UInt8] {
        let nonce = try Crypto.randomBytes(12)
        let header = headerBytes(kdf: kdf, key: key, nonce: nonce)
        var out = header
        out.reserveCapacity(header.count + plaintext.count + tagSize)
        out += plaintext
        let tag = try Crypto.sealInPlace(&out, range: headerSize..<out.count, key: key, nonce: nonce, aad: header)
        out += tag
        return out
    }

    /// Verifies and decrypts a file image in place; returns the plaintext range of `bytes`.
    /// The tag is verified before anyone may parse the plaintext.
    public static func open(_ bytes: inout [UInt8], key: [UInt8], file: String) throws -> Range<Int> {
        let h = try header(bytes, file: file)
        guard keyCheck(key) == h.keyCheck else {
            throw DubdeckError(.keyError, "\(Sanitizer.display(file)): the key does not open this store (key check mismatch)")
        }
        let aad = Array(bytes[0..<headerSize])
        let tag = Array(bytes[(bytes.count - tagSize)...])
        let range = headerSize..<(bytes.count - tagSize)
        guard Crypto.openInPlace(&bytes, range: range, key: key, nonce: h.nonce, aad: aad, tag: tag) else {
            // Undo nothing: the caller's buffer is a copy of the file, which stays untouched.
            throw DubdeckError.data(Sanitizer.display(file), "authentication failed: the character store was modified or damaged")
        }
        return range
    }
}

/// Where the store key comes from (first found wins): DUBDECK_STORE_KEY, DUBDECK_STORE_PASSPHRASE,
/// the key file (DUBDECK_KEY_FILE, default $XDG_CONFIG_HOME/dubdeck/store.key).
public struct KeySource {
    public enum Kind: Equatable { case environmentKey, passphrase, keyFile(String) }
    public var kind: Kind
    /// The raw key, or the passphrase bytes.
    var secret: [UInt8]

    public static func keyFilePath() -> String {
        if let p = Environment.get("DUBDECK_KEY_FILE"), !p.isEmpty { return p }
        let config = Environment.get("XDG_CONFIG_HOME").flatMap { $0.isEmpty ? nil : $0 } ?? ((Environment.get("HOME") ?? ".") + "/.config")
        return config + "/dubdeck/store.key"
    }

    public var fromEnvironment: Bool { kind == .environmentKey || kind == .passphrase }

    /// The key source in force; nil when there is none (no variable, no key file).
    public static func find() throws -> KeySource? {
        if let k = Environment.get("DUBDECK_STORE_KEY"), !k.isEmpty {
            guard let key = Base64.decode(k.trimmingWhitespace()), key.count == 32 else {
                throw DubdeckError(.keyError, "DUBDECK_STORE_KEY must be base64 of 32 bytes")
            }
            return KeySource(kind: .environmentKey, secret: key)
        }
        if let p = Environment.get("DUBDECK_STORE_PASSPHRASE"), !p.isEmpty {
            return KeySource(kind: .passphrase, secret: Array(p.utf8))
        }
        let path = keyFilePath()
        guard let key = try readKeyFile(path) else { return nil }
        return KeySource(kind: .keyFile(path), secret: key)
    }

    /// A key file: base64 of 32 bytes and a newline, mode 0600; refused when group or others can read it.
    public static func readKeyFile(_ path: String) throws -> [UInt8]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        if st.st_mode & 0o077 != 0 {
            throw DubdeckError(.keyError, "\(Sanitizer.display(path)): key file is readable by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        guard let bytes = try FileIO.readIfExists(path, limit: 4096, owner: .ownReadOnly) else { return nil }
        guard let key = Base64.decode(Array(String(decoding: bytes, as: UTF8.self).trimmingWhitespace().utf8)), key.count == 32 else {
            throw DubdeckError(.keyError, "\(Sanitizer.display(path)): not a key file (base64 of 32 bytes expected)")
        }
        return key
    }

    /// Writes a new key file (0600, fsync'd, never over an existing one unless `replace`).
    public static func writeKeyFile(_ path: String, key: [UInt8]) throws {
        try FileIO.makeDirectories(FileIO.directory(of: path))
        try FileIO.writeAtomically(path, Array((Base64.encode(key) + "\n").utf8), mode: 0o600)
        chmod(path, 0o600)
    }

    /// A new key file — unless another process made one first (two reviewers' first identify at
    /// the same moment): then its key. Linked into place, so it is never replaced.
    static func createKeyFile(_ path: String) throws -> (key: [UInt8], created: Bool) {
        try FileIO.makeDirectories(FileIO.directory(of: path))
        let key = try Crypto.randomBytes(32)
        let tmp = FileIO.temporaryName(for: path)
        try FileIO.writeAtomically(tmp, Array((Base64.encode(key) + "\n").utf8), mode: 0o600)
        defer { unlink(tmp) }
        if link(tmp, path) == 0 {
            try FileIO.fsyncDirectory(FileIO.directory(of: path))
            return (key, true)
        }
        let why = errno
        if why == EEXIST, let existing = try readKeyFile(path) { return (existing, false) }
        throw DubdeckError.io(Sanitizer.display(path), "cannot create the key file: \(String(cString: strerror(why)))")
    }

    /// The AES key for a store with this header (a passphrase is derived with the header's salt).
    func key(for kdf: Envelope.KDF) throws -> [UInt8] {
        switch (kind, kdf) {
        case (.passphrase, .scrypt(let log2N, let r, let p, let salt)):
            return try Crypto.scrypt(passphrase: secret, salt: salt, log2N: log2N, r: r, p: p)
        case (.passphrase, .raw):
            throw DubdeckError(.keyError, "this character store was made with a key, not a passphrase (unset DUBDECK_STORE_PASSPHRASE)")
        case (_, .scrypt):
            throw DubdeckError(.keyError, "this character store needs its passphrase (DUBDECK_STORE_PASSPHRASE)")
        default:
            return secret
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
