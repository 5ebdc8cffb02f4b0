#if canImport(Glibc)
import Glibc
#endif

/// A directory opened once as a descriptor, every file in it reached relative to that descriptor
/// (`openat`, `renameat`, `linkat`, `unlinkat`, `fstatat`): swapping the directory's path for a link
/// while an operation runs cannot move what it writes elsewhere (SPEC §11.2).
public final class DirectoryHandle: Sendable {
    public let fd: Int32
    /// For messages only: never used to reach a file.
    public let path: String

    /// `path` itself as given (a job directory named by the user may be a link to it).
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw DubdeckError(.noInput, "\(Sanitizer.display(path)): no such directory") }
            throw DubdeckError.io(Sanitizer.display(path), "cannot open the directory: \(errnoText())")
        }
        self.fd = fd
        self.path = path
    }

    /// `name` inside `parent`, made when `create` and absent; a link, FIFO or file there is refused (65).
    public init(in parent: DirectoryHandle, _ name: String, create: Bool) throws {
        let shown = parent.path + "/" + name
        if create, mkdirat(parent.fd, name, 0o755) == 0 { try parent.sync() }
        let fd = openat(parent.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw DubdeckError(.noInput, "\(Sanitizer.display(shown)): no such directory") }
            var st = stat()
            if fstatat(parent.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) != S_IFDIR {
                throw DubdeckError.data(Sanitizer.display(shown), "is \(FileIO.kindName(st.st_mode)), not a directory; refusing to use it")
            }
            throw DubdeckError.io(Sanitizer.display(shown), "cannot open the directory: \(errnoText(e))")
        }
        self.fd = fd
        self.path = shown
    }

    deinit { close(fd) }

    public func shown(_ name: String) -> String { Sanitizer.display(path + "/" + name) }

    /// A file of this directory.
    public func place(_ name: String) -> FilePlace { FilePlace(name, in: self) }

    /// The entry itself (a link is not followed), or nil when there is none.
    public func status(_ name: String) -> stat? { place(name).status() }

    public func isRegular(_ name: String) -> Bool { status(name).map { ($0.st_mode & S_IFMT) == S_IFREG } ?? false }

    /// An entry about to be replaced must be a regular file or absent: a planted link, FIFO or
    /// device is refused (65), never followed or replaced.
    public func refuseIfNotRegular(_ name: String) throws { try FileIO.refuseIfNotRegular(place(name)) }

    /// A new file that was not there (O_EXCL), never through a link.
    public func createExclusive(_ name: String, mode: mode_t) throws -> Int32 { try FileIO.createExclusive(place(name), mode: mode) }

    public func rename(_ from: String, _ to: String) throws {
        if FileIO.faults.failRename || renameat(fd, from, fd, to) != 0 {
            throw DubdeckError.io(shown(to), "rename failed: \(errnoText(FileIO.faults.failRename ? EXDEV : errno))")
        }
    }

    /// A second name for the file `from` (never following a link at `from`).
    public func link(_ from: String, _ to: String) throws {
        if FileIO.faults.failLink || linkat(fd, from, fd, to, 0) != 0 {
            throw DubdeckError.io(shown(to), "cannot point at \(Sanitizer.display(from)): \(errnoText(FileIO.faults.failLink ? EIO : errno))")
        }
    }

    @discardableResult
    public func unlink(_ name: String) -> Bool { place(name).unlink() }

    public func sync() throws {
        if FileIO.faults.failFsync || fsync(fd) != 0 {
            throw DubdeckError.io(Sanitizer.display(path), "fsync failed: \(errnoText(FileIO.faults.failFsync ? EIO : errno))")
        }
    }

    /// The names in it (not . and ..).
    public func names() -> [String] {
        let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0, let d = fdopendir(copy) else { if copy >= 0 { close(copy) }; return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }
}
