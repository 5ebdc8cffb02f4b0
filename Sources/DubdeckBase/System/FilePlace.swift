#if canImport(Glibc)
import Glibc
#endif

/// Where a file is: a name inside a directory opened once (a job: every access relative to its
/// descriptor, SPEC §11.2), or a plain path (a file named on the command line). FileIO reaches both
/// through the same `*at()` calls — `AT_FDCWD` for a path — so there is one implementation of each
/// durable operation.
public struct FilePlace: Sendable {
    /// nil: `name` is a path.
    public let directory: DirectoryHandle?
    public let name: String

    public init(path: String) {
        directory = nil
        name = path
    }

    /// `name` must be one entry (no slash): it is reached relative to `directory`'s descriptor.
    public init(_ name: String, in directory: DirectoryHandle) {
        precondition(!name.contains("/") && !name.isEmpty && name != "." && name != "..", "a file place is one entry")
        self.directory = directory
        self.name = name
    }

    var dirfd: Int32 { directory?.fd ?? AT_FDCWD }
    /// For messages only.
    public var path: String { directory.map { $0.path + "/" + name } ?? name }
    public var shown: String { Sanitizer.display(path) }

    package func open(_ flags: Int32, mode: mode_t = 0) -> Int32 { openat(dirfd, name, flags, mode) }

    /// The entry itself (a link is not followed), or nil when there is none.
    public func status() -> stat? {
        var st = stat()
        return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st : nil
    }

    public var exists: Bool { status() != nil }

    @discardableResult
    public func unlink() -> Bool { unlinkat(dirfd, name, 0) == 0 }

    /// Another entry of the same directory.
    public func sibling(_ other: String) -> FilePlace {
        if let directory { return FilePlace(other, in: directory) }
        guard let slash = name.lastIndex(of: "/") else { return FilePlace(path: other) }
        return FilePlace(path: String(name[...slash]) + other)
    }

    /// The last component of the name.
    public var baseName: String { String(name.split(separator: "/").last ?? Substring(name)) }

    /// An unpredictable temporary beside it: NAME.tmp-<pid>-<random>. The pid lets a later writer
    /// remove what a killed one left; the random part defeats a link planted in advance.
    func temporary() -> FilePlace {
        let suffix = ".tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        return directory.map { FilePlace(name + suffix, in: $0) } ?? FilePlace(path: name + suffix)
    }

    /// rename(2) of `from` (in the same directory) over this entry.
    func replace(with from: FilePlace) -> Bool { renameat(from.dirfd, from.name, dirfd, name) == 0 }

    /// fsync of the directory the entry is in (a rename or a creation made durable).
    func syncDirectory() throws {
        if let directory { return try directory.sync() }
        try FileIO.fsyncDirectory(FileIO.directory(of: name))
    }

    /// The names in the directory the entry is in.
    func directoryNames() -> [String] {
        directory?.names() ?? DirectoryListing.names(FileIO.directory(of: name))
    }
}
