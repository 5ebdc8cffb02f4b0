import CCrypto
#if canImport(Glibc)
import Glibc
#endif

/// What a file looked like when it was read, to tell whether someone else wrote it since.
public struct FileFingerprint: Equatable, Sendable {
    public var size: Int
    public var mtimeNs: Int
    public var sha256: [UInt8]
    /// The inode: an atomic save by anyone gives the file a new one.
    public var inode: UInt64 = 0
    /// Modified within the last second when read: a write in the same timestamp tick with the same
    /// size (and a reused inode) would look unchanged, so the poll compares bytes until it is older
    /// (git's "racily clean"). Not part of the identity.
    public var racy = false

    package init(size: Int, mtimeNs: Int, sha256: [UInt8], inode: UInt64 = 0, racy: Bool = false) {
        self.size = size
        self.mtimeNs = mtimeNs
        self.sha256 = sha256
        self.inode = inode
        self.racy = racy
    }

    public static func == (a: FileFingerprint, b: FileFingerprint) -> Bool {
        a.size == b.size && a.mtimeNs == b.mtimeNs && a.sha256 == b.sha256 && a.inode == b.inode
    }

    public static let missing = FileFingerprint(size: -1, mtimeNs: 0, sha256: [])

    /// Hex of the SHA-256, or "none" for a missing file (history records name the store they
    /// were applied to with it).
    public var shaHex: String {
        if sha256.isEmpty { return "none" }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in sha256 { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

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
    /// Cutting an appended history record off again fails (the worst case of a failed commit).
    public var failTruncate = false
    /// link(2) fails (re-pointing the current take).
    public var failLink = false
    /// The store write fails (ENOSPC) but other writes work: the realistic full disk where a short
    /// history append fits and a large store rewrite does not.
    public var failStoreWrite = false
    /// The history append fails (ENOSPC) but other writes work.
    public var failAppend = false
    /// The character store's save fails (ENOSPC) but other writes work (the files that follow the store).
    public var failCharacterStoreWrite = false
    public init() {}
}

public enum FileIO {
    /// Injected failures, bound by a test around the operation it checks
    /// (`FileIO.$faults.withValue(f) { … }`); everywhere else the default: no fault.
    @TaskLocal public static var faults = FileFaults()

    /// Byte equality with memcmp (Array's == compares element by element).
    public static func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in a.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Size caps on what dubdeck reads (SPEC §10.1): no input may cost more than a few hundred MB.
    public static let jsonLimit = 512 << 20
    public static let subtitleLimit = 64 << 20
    public static let engineAudioLimit = 1 << 30

    /// Who wrote a file decides what an unexpected kind means: a pipeline input that is a FIFO or
    /// a device is a missing input (66); a file dubdeck itself writes (store, history, map, take,
    /// lock, key) that is a link, FIFO or device was planted, and is refused (65), never followed.
    /// `input`: another program's file (links followed); `own`: a file of dubdeck's (never through a
    /// link, never with a second hard link); `ownReadOnly`: ours and only ever read after it was made
    /// (the key file: linked into place, so it has a second name for a moment).
    public enum Owner: Sendable {
        case input, own, ownReadOnly
        package var isOurs: Bool { self != .input }
    }

    /// Reads a whole file; nil when it does not exist. Never blocks on a FIFO, never reads past `limit`.
    public static func readIfExists(_ path: String, limit: Int = jsonLimit, owner: Owner = .input) throws -> [UInt8]? {
        try readIfExists(FilePlace(path: path), limit: limit, owner: owner)
    }

    public static func readIfExists(_ place: FilePlace, limit: Int = jsonLimit, owner: Owner = .input) throws -> [UInt8]? {
        let flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (owner.isOurs ? O_NOFOLLOW : 0)
        let fd = place.open(flags)
        if fd < 0 {
            if errno == ENOENT {
                // A link to nothing is not a missing file: it names something that is not there.
                if let st = place.status(), (st.st_mode & S_IFMT) == S_IFLNK {
                    throw DubdeckError(.noInput, "\(place.shown): a symbolic link to nothing")
                }
                return nil
            }
            if errno == ELOOP, owner.isOurs {
                throw DubdeckError.data(place.shown, "is a symbolic link; refusing to follow it")
            }
            if errno == ELOOP {
                // Links that lead back to themselves name no file, as a link to nothing does.
                throw DubdeckError(.noInput, "\(place.shown): a loop of symbolic links")
            }
            throw DubdeckError.io(place.shown, "cannot open: \(errnoText())")
        }
        defer { close(fd) }
        try requireRegular(fd: fd, path: place.path, owner: owner)
        return try readAll(fd: fd, path: place.path, limit: limit)
    }

    public static func read(_ path: String, limit: Int = jsonLimit, owner: Owner = .input) throws -> [UInt8] {
        try read(FilePlace(path: path), limit: limit, owner: owner)
    }

    public static func read(_ place: FilePlace, limit: Int = jsonLimit, owner: Owner = .input) throws -> [UInt8] {
        guard let bytes = try readIfExists(place, limit: limit, owner: owner) else {
            throw DubdeckError(.noInput, "\(place.shown): no such file")
        }
        return bytes
    }

    package static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    package static func requireRegular(fd: Int32, path: String, owner: Owner) throws {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DubdeckError.io(Sanitizer.display(path), "cannot stat: \(errnoText())") }
        if (st.st_mode & S_IFMT) == S_IFREG {
            // A file of ours with a second name is shared with something else: appending to it or
            // cutting it would change that too (SPEC §11.2).
            if owner == .own, st.st_nlink > 1 {
                throw DubdeckError.data(Sanitizer.display(path), "has \(st.st_nlink) hard links; a file of dubdeck's is never shared — refusing to use it")
            }
            return
        }
        // A directory, FIFO or device where a file should be: ours, bad data (65); an input, missing (66).
        let cause = "not a regular file (\(kindName(st.st_mode)))"
        throw owner.isOurs ? DubdeckError.data(Sanitizer.display(path), cause + "; refusing to use it")
                            : DubdeckError(.noInput, "\(Sanitizer.display(path)): \(cause)")
    }

    /// An input path that a library (libsndfile) will open: it must be a regular file (following
    /// links is fine for inputs), so a FIFO cannot hang the reader and a device cannot feed it forever.
    public static func requireRegularInput(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw DubdeckError(.noInput, "\(Sanitizer.display(path)): no such file") }
            throw DubdeckError.io(Sanitizer.display(path), "cannot stat: \(errnoText())")
        }
        if (st.st_mode & S_IFMT) != S_IFREG {
            throw DubdeckError(.noInput, "\(Sanitizer.display(path)): not a regular file (\(kindName(st.st_mode)))")
        }
    }

    /// A file dubdeck is about to replace or append to must be a regular file or absent: a planted
    /// link, FIFO or device is refused (65), never followed, truncated or replaced.
    public static func refuseIfNotRegular(_ path: String) throws { try refuseIfNotRegular(FilePlace(path: path)) }

    public static func refuseIfNotRegular(_ place: FilePlace) throws {
        guard let st = place.status(), (st.st_mode & S_IFMT) != S_IFREG else { return }
        throw DubdeckError.data(place.shown, "is \(kindName(st.st_mode)), not a regular file; refusing to replace it")
    }

    static func readAll(fd: Int32, path: String, limit: Int = jsonLimit) throws -> [UInt8] {
        var st = stat()
        _ = fstat(fd, &st)
        if Int(st.st_size) > limit {
            throw DubdeckError.data(Sanitizer.display(path), "too large (\(st.st_size) bytes; the limit is \(limit))")
        }
        var capacity = max(Int(st.st_size), 0) + 1
        // The file's size read straight into uninitialised memory (no zeroing pass over a megabyte
        // first); a file that grows meanwhile is read on below.
        var failure: Int32 = 0
        var out = [UInt8](unsafeUninitializedCapacity: capacity) { buf, initialized in
            var filled = 0
            while filled < capacity {
                let n = Glibc.read(fd, buf.baseAddress! + filled, capacity - filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }
                filled += n
            }
            initialized = filled
        }
        if failure != 0 { throw DubdeckError.io(Sanitizer.display(path), "read failed: \(errnoText(failure))") }
        var count = out.count
        // Filled: the file is longer than its size said (it grew): read on, growing the buffer.
        while count == capacity || count < out.count {
            if count == capacity {
                if count > limit {
                    throw DubdeckError.data(Sanitizer.display(path), "too large (more than \(limit) bytes)")
                }
                capacity *= 2
                out.append(contentsOf: repeatElement(0, count: capacity - out.count))
            }
            let n = out.withUnsafeMutableBufferPointer { buf in
                Glibc.read(fd, buf.baseAddress! + count, capacity - count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw DubdeckError.io(Sanitizer.display(path), "read failed: \(errnoText())")
            }
            if n == 0 { break }
            count += n
        }
        if count > limit { throw DubdeckError.data(Sanitizer.display(path), "too large (more than \(limit) bytes)") }
        out.removeSubrange(count...)
        return out
    }

    public static func fingerprint(path: String, bytes: [UInt8]?, sha256 known: [UInt8]? = nil) -> FileFingerprint {
        fingerprint(FilePlace(path: path), bytes: bytes, sha256: known)
    }

    public static func fingerprint(_ place: FilePlace, bytes: [UInt8]?, sha256 known: [UInt8]? = nil) -> FileFingerprint {
        guard let st = place.status(), let bytes else { return .missing }
        let mtimeNs = Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
        return FileFingerprint(size: Int(st.st_size), mtimeNs: mtimeNs, sha256: known ?? SHA256.digest(bytes), inode: UInt64(st.st_ino),
                               racy: isRacy(mtimeNs: mtimeNs))
    }

    /// A modification time this recent cannot tell two changes apart (file systems stamp with a
    /// coarse clock): what was derived from the file must be checked again, not trusted.
    public static func isRacy(mtimeNs: Int) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return mtimeNs > Int(now.tv_sec) * 1_000_000_000 + Int(now.tv_nsec) - 1_000_000_000
    }

    /// size, mtime and inode only: the cheap poll the desk runs to notice outside changes.
    public struct StatSignature: Equatable, Sendable {
        public var size: Int
        public var mtimeNs: Int
        public var inode: UInt64
    }

    public static func statSignature(_ path: String) -> StatSignature? { statSignature(FilePlace(path: path)) }

    public static func statSignature(_ place: FilePlace) -> StatSignature? {
        guard let st = place.status() else { return nil }
        return StatSignature(size: Int(st.st_size), mtimeNs: Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec),
                             inode: UInt64(st.st_ino))
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

    /// An unpredictable temporary name beside `path`: NAME.tmp-<pid>-<random>. The pid lets a later
    /// writer remove what a killed one left; the random part defeats a link planted in advance.
    public static func temporaryName(for path: String) -> String { FilePlace(path: path).temporary().name }

    /// Creates a new file that did not exist (O_EXCL), never through a link (O_NOFOLLOW).
    public static func createExclusive(_ path: String, mode: mode_t) throws -> Int32 {
        try createExclusive(FilePlace(path: path), mode: mode)
    }

    public static func createExclusive(_ place: FilePlace, mode: mode_t) throws -> Int32 {
        let fd = faults.readOnly ? -1 : place.open(O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: mode)
        if faults.readOnly { errno = EROFS }
        guard fd >= 0 else { throw DubdeckError(.cannotCreate, "\(place.shown): cannot create: \(errnoText())") }
        return fd
    }

    /// Removes temporary files of `path` left by a process that no longer runs (a kill -9 during a
    /// save). Files of a live process are its own business.
    public static func removeStaleTemporaries(of path: String) { removeStaleTemporaries(of: FilePlace(path: path)) }

    public static func removeStaleTemporaries(of place: FilePlace) {
        let prefix = place.baseName + ".tmp-"
        _ = removeStaleTemporaries(beside: place) { $0.hasPrefix(prefix) }
    }

    /// The same for every temporary name (`*.tmp-<pid>-<random>`) in `dir` that `matching` accepts.
    /// Returns how many were removed.
    @discardableResult
    public static func removeStaleTemporaries(in dir: String, matching: (String) -> Bool = { _ in true }) -> Int {
        removeStaleTemporaries(beside: FilePlace(path: dir + "/."), matching: matching)
    }

    @discardableResult
    public static func removeStaleTemporaries(in dir: DirectoryHandle, matching: (String) -> Bool = { _ in true }) -> Int {
        removeStaleTemporaries(beside: FilePlace(".dubdeck", in: dir), matching: matching)
    }

    /// The process that named a temporary (its PID in the name) is gone: no process has that PID
    /// (never this one). The one rule for a take temporary and an engine folder a kill left.
    package static func isGone(_ pid: Int32) -> Bool {
        pid > 0 && pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH
    }

    /// The stale temporaries among the entries of the directory `place` is in.
    static func removeStaleTemporaries(beside place: FilePlace, matching: (String) -> Bool) -> Int {
        var removed = 0
        for name in place.directoryNames() where matching(name) {
            guard let mark = name.firstRange(of: ".tmp-") else { continue }
            let rest = name[mark.upperBound...]
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0 else { continue }
            if !isGone(pid) { continue }
            let entry = place.sibling(name)
            if let st = entry.status(), (st.st_mode & S_IFMT) == S_IFREG, entry.unlink() { removed += 1 }
        }
        return removed
    }

    /// Whole-file replacement that survives a crash at any point: a new temporary file in the same
    /// directory (exclusive, no-follow, `mode`), fsync, rename over NAME, fsync the directory. On any
    /// failure the old file stays. NAME itself must be a regular file or absent.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
        try writeAtomically(FilePlace(path: path), bytes, mode: mode)
    }

    public static func writeAtomically(_ place: FilePlace, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
        try refuseIfNotRegular(place)
        removeStaleTemporaries(of: place)
        let tmp = place.temporary()
        try Interrupt.removingOnInterrupt(tmp.path) {
            let fd = try createExclusive(tmp, mode: mode)
            do {
                try writeAll(fd: fd, bytes, path: tmp.path)
                try sync(fd: fd, path: tmp.path)
            } catch {
                close(fd)
                tmp.unlink()
                throw error
            }
            close(fd)
            try renameDurably(tmp, over: place)
        }
    }

    /// rename(2) then fsync of the directory; the temporary is removed when the rename fails.
    public static func renameDurably(_ tmp: String, over path: String) throws {
        try renameDurably(FilePlace(path: tmp), over: FilePlace(path: path))
    }

    public static func renameDurably(_ tmp: FilePlace, over place: FilePlace) throws {
        if faults.failRename || !place.replace(with: tmp) {
            let code = faults.failRename ? EXDEV : errno
            tmp.unlink()
            throw DubdeckError.io(place.shown, "rename failed: \(errnoText(code))")
        }
        try place.syncDirectory()
    }

    /// An explicit `--out`: "-" is standard output; an existing path that is not a regular file (a
    /// FIFO, a device, a link such as /dev/stdout) is written through, never renamed over; a regular
    /// file (or a new one) is replaced atomically.
    /// `terminalText`: what is written instead when the output turns out to be a terminal (a data
    /// stream's escape sequences would run there: shown sanitized, SPEC §11.7).
    public static func writeOutput(_ path: String, _ bytes: [UInt8], terminalText: String? = nil) throws {
        func writeThrough(_ fd: Int32, shown: String) throws {
            if let text = terminalText, isatty(fd) == 1 {
                try writeAll(fd: fd, Array(Sanitizer.displayKeepingLayout(text).utf8), path: shown)
            } else {
                try writeAll(fd: fd, bytes, path: shown)
            }
        }
        if path == "-" {
            try writeThrough(1, shown: "standard output")
            return
        }
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            if (st.st_mode & S_IFMT) == S_IFDIR { throw DubdeckError(.cannotCreate, "\(Sanitizer.display(path)): is a directory") }
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw DubdeckError(.cannotCreate, "\(Sanitizer.display(path)): cannot open: \(errnoText())") }
            defer { close(fd) }
            var target = stat()
            if fstat(fd, &target) == 0, (target.st_mode & S_IFMT) == S_IFREG { _ = ftruncate(fd, 0) }
            try writeThrough(fd, shown: path)
            return
        }
        try writeAtomically(path, bytes, mode: 0o644)
    }

    /// One write(2) with O_APPEND, then fsync: a record is either all there or a torn last line.
    /// Returns the file's length before the append (to cut the record off again on a later failure).
    @discardableResult
    public static func appendDurably(_ path: String, _ bytes: [UInt8]) throws -> Int {
        try appendDurably(FilePlace(path: path), bytes)
    }

    @discardableResult
    public static func appendDurably(_ place: FilePlace, _ bytes: [UInt8]) throws -> Int {
        let path = place.path
        let fd = faults.readOnly ? -1 : place.open(O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode: 0o600)
        if faults.readOnly { errno = EROFS }
        guard fd >= 0 else {
            if errno == ELOOP { throw DubdeckError.data(place.shown, "is a symbolic link; refusing to follow it") }
            throw DubdeckError(.cannotCreate, "\(place.shown): cannot open for append: \(errnoText())")
        }
        defer { close(fd) }
        try requireRegular(fd: fd, path: path, owner: .own)
        var st = stat()
        _ = fstat(fd, &st)
        let oldSize = Int(st.st_size)
        do {
            if faults.failAppend { throw DubdeckError.io(Sanitizer.display(path), "write failed: \(errnoText(ENOSPC))") }
            try writeAll(fd: fd, bytes, path: path)
            try sync(fd: fd, path: path)
        } catch {
            // A short write leaves part of a record: cut it at once when we can (else the next
            // writer cuts the torn tail).
            _ = ftruncate(fd, off_t(oldSize))
            _ = fsync(fd)
            throw error
        }
        return oldSize
    }

    /// Cuts a file back to `size` bytes and fsyncs it (undoes an append whose transaction failed).
    public static func truncateDurably(_ path: String, to size: Int) throws {
        try truncateDurably(FilePlace(path: path), to: size)
    }

    public static func truncateDurably(_ place: FilePlace, to size: Int) throws {
        let path = place.path
        let fd = place.open(O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw DubdeckError.io(Sanitizer.display(path), "cannot open to cut: \(errnoText())") }
        defer { close(fd) }
        try requireRegular(fd: fd, path: path, owner: .own)
        if faults.failTruncate || ftruncate(fd, off_t(size)) != 0 {
            throw DubdeckError.io(Sanitizer.display(path), "cannot cut back to \(size) bytes: \(errnoText(faults.failTruncate ? EIO : errno))")
        }
        try sync(fd: fd, path: path)
    }

    /// A directory dubdeck writes into (segments_preview, data/voices/<ID>): created when missing;
    /// one that is a link or not a directory is refused (65).
    public static func ensureDirectory(_ path: String) throws {
        try makeDirectories(path)
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR {
            throw DubdeckError.data(Sanitizer.display(path), "is \(kindName(st.st_mode)), not a directory; refusing to write into it")
        }
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
