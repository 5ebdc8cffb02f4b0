import CCrypto
#if canImport(Glibc)
import Glibc
#endif

/// What a file looked like when it was read, to tell whether someone else wrote it since.
public struct FileFingerprint: Equatable, Sendable {
    public var size: Int
    public var mtimeNs: Int
    public var sha256: [UInt8]

    public static let missing = FileFingerprint(size: -1, mtimeNs: 0, sha256: [])
}

public enum SHA256 {
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 32
        bytes.withUnsafeBufferPointer { buf in
            _ = EVP_Digest(buf.baseAddress, buf.count, &out, &len, EVP_sha256(), nil)
        }
        return out
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in digest(bytes) {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// Injected failures for the durable-write layer (tests only): lets a test make an fsync,
/// a write or a rename fail without needing a full disk.
public struct FileFaults: Sendable {
    /// write(2) fails at once (ENOSPC: a full disk).
    public var failWrite = false
    /// write(2) stores half of the bytes, then fails (ENOSPC): a short write.
    public var shortWrite = false
    /// Opening a file for writing fails (EROFS: a read-only file system).
    public var readOnly = false
    public var failFsync = false
    public var failRename = false
    public init() {}
}

public enum FileIO {
    nonisolated(unsafe) public static var faults = FileFaults()

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Reads a whole file; nil when it does not exist.
    public static func readIfExists(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw DubdeckError.io(path, "cannot open: \(errnoText())")
        }
        defer { close(fd) }
        return try readAll(fd: fd, path: path)
    }

    public static func read(_ path: String) throws -> [UInt8] {
        guard let bytes = try readIfExists(path) else {
            throw DubdeckError(.noInput, "\(path): no such file")
        }
        return bytes
    }

    static func readAll(fd: Int32, path: String) throws -> [UInt8] {
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw DubdeckError.io(path, "is a directory")
        }
        var capacity = max(Int(st.st_size), 0) + 1
        var out = [UInt8](repeating: 0, count: capacity)
        var count = 0
        while true {
            if count == capacity {
                capacity *= 2
                out.append(contentsOf: repeatElement(0, count: capacity - out.count))
            }
            let n = out.withUnsafeMutableBufferPointer { buf in
                Glibc.read(fd, buf.baseAddress! + count, capacity - count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw DubdeckError.io(path, "read failed: \(errnoText())")
            }
            if n == 0 { break }
            count += n
        }
        out.removeSubrange(count...)
        return out
    }

    public static func fingerprint(path: String, bytes: [UInt8]?) -> FileFingerprint {
        var st = stat()
        guard stat(path, &st) == 0, let bytes else { return .missing }
        return FileFingerprint(
            size: Int(st.st_size), mtimeNs: Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec),
            sha256: SHA256.digest(bytes))
    }

    /// size and mtime only: the cheap poll the desk runs to notice outside changes.
    public static func statSignature(_ path: String) -> (size: Int, mtimeNs: Int)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int(st.st_size), Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec))
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws {
        if faults.failWrite { throw DubdeckError.io(path, "write failed: \(errnoText(ENOSPC))") }
        if faults.shortWrite {
            let half = bytes.count / 2
            _ = bytes.withUnsafeBufferPointer { write(fd, $0.baseAddress!, half) }
            throw DubdeckError.io(path, "short write (\(half) of \(bytes.count) bytes): \(errnoText(ENOSPC))")
        }
        var done = 0
        try bytes.withUnsafeBufferPointer { buf in
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DubdeckError.io(path, "write failed: \(errnoText())")
                }
                done += n
            }
        }
    }

    static func sync(fd: Int32, path: String) throws {
        if faults.failFsync || fsync(fd) != 0 {
            throw DubdeckError.io(path, "fsync failed: \(errnoText(faults.failFsync ? EIO : errno))")
        }
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    public static func fsyncDirectory(_ dir: String) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw DubdeckError.io(dir, "cannot open directory: \(errnoText())") }
        defer { close(fd) }
        try sync(fd: fd, path: dir)
    }

    /// Whole-file replacement that survives a crash at any point: NAME.tmp-<pid> in the same
    /// directory, fsync, rename over NAME, fsync the directory. On any failure the old file stays.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let tmp = "\(path).tmp-\(getpid())"
        let fd = faults.readOnly ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if faults.readOnly { errno = EROFS }
        guard fd >= 0 else { throw DubdeckError(.cannotCreate, "\(tmp): cannot create: \(errnoText())") }
        do {
            try writeAll(fd: fd, bytes, path: tmp)
            try sync(fd: fd, path: tmp)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        if faults.failRename || rename(tmp, path) != 0 {
            let code = faults.failRename ? EXDEV : errno
            unlink(tmp)
            throw DubdeckError.io(path, "rename failed: \(errnoText(code))")
        }
        try fsyncDirectory(directory(of: path))
    }

    /// One write(2) with O_APPEND, then fsync: a record is either all there or a torn last line.
    public static func appendDurably(_ path: String, _ bytes: [UInt8]) throws {
        let fd = faults.readOnly ? -1 : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if faults.readOnly { errno = EROFS }
        guard fd >= 0 else { throw DubdeckError(.cannotCreate, "\(path): cannot open for append: \(errnoText())") }
        defer { close(fd) }
        try writeAll(fd: fd, bytes, path: path)
        try sync(fd: fd, path: path)
    }

    public static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw DubdeckError(.cannotCreate, "\(current): cannot create directory: \(errnoText())")
            }
        }
    }
}
