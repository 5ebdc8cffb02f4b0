#if canImport(Glibc)
import Glibc
#endif

/// The take files of a job (SPEC §10.3). Each synthesis writes an immutable
/// `segments_preview/NNNN.take-<seq>.wav` (seq of its `synth` history record); `last_preview.take`
/// names the current one, and `NNNN.wav`, the file the pipeline reads, is a hard link to it,
/// re-pointed atomically whenever the current take changes.
///
/// The first edition rotated `NNNN.wav` → `NNNN.take-2.wav` … `take-5`. Such a segment (its
/// `last_preview` has no `take`) is converted on its next synthesis: `NNNN.wav` becomes
/// `NNNN.take-0.wav` and the old `take-K` become `NNNN.take-0-K.wav`, older than every new take.
public enum Takes {
    public static let kept = 5
    public static let directoryName = "segments_preview"

    /// `JOB/segments_preview` when it is a real directory (or absent); a link or anything else there
    /// is refused (65): every take operation would otherwise act wherever it points.
    public static func directory(job: String) throws -> String {
        let dir = job + "/" + directoryName
        var st = stat()
        if lstat(dir, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR {
            throw DubdeckError.data(Sanitizer.display(dir), "is \(FileIO.kindName(st.st_mode)), not a directory; refusing to use it")
        }
        return dir
    }

    /// `JOB/segments_preview` opened once (made when `create`): every take operation reaches its files
    /// through this descriptor, so a link swapped in for the directory meanwhile changes nothing
    /// (SPEC §11.2). nil when it is absent and not to be made; a link or anything else there: 65.
    public static func open(job: String, create: Bool = false) throws -> DirectoryHandle? {
        try open(job: DirectoryHandle(path: job), create: create)
    }

    /// A file of the job's takes, reached through `segments_preview` opened from the job's handle;
    /// nil when there is no such directory (or it cannot be used).
    public static func file(_ job: Job, _ name: String) -> FilePlace? {
        ((try? open(job: job.handle)) ?? nil)?.place(name)
    }

    public static func open(job jobDir: DirectoryHandle, create: Bool = false) throws -> DirectoryHandle? {
        if !create, jobDir.status(directoryName) == nil { return nil }
        return try DirectoryHandle(in: jobDir, directoryName, create: create)
    }

    /// The file name inside segments_preview of a take the store names (`segments_preview/NAME`).
    static func name(of relative: String) throws -> String {
        let prefix = directoryName + "/"
        let name = relative.hasPrefix(prefix) ? String(relative.dropFirst(prefix.count)) : ""
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw DubdeckError.data(Sanitizer.display(relative), "is not a take inside \(directoryName)/")
        }
        return name
    }

    public static func padded(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// `NNNN.wav`: the current take, for the pipeline.
    public static func currentName(_ n: Int) -> String { "\(padded(n)).wav" }
    /// `NNNN.take-<seq>.wav`.
    public static func takeName(_ n: Int, seq: Int) -> String { "\(padded(n)).take-\(seq).wav" }

    /// One take file on disk; ordered newest first by (seq, then legacy rank).
    public struct Take: Equatable, Sendable {
        public var name: String
        public var seq: Int
        /// 0 for a take of this edition; 2…5 for a converted first-edition rank.
        public var legacyRank: Int
        public var relativePath: String { directoryName + "/" + name }
    }

    /// Parses `NNNN.take-<seq>.wav` or `NNNN.take-0-K.wav` for segment n.
    static func parse(_ name: String, n: Int) -> Take? {
        let prefix = "\(padded(n)).take-"
        guard name.hasPrefix(prefix), name.hasSuffix(".wav") else { return nil }
        let middle = name.dropFirst(prefix.count).dropLast(4)
        let parts = middle.split(separator: "-", omittingEmptySubsequences: false)
        guard let seq = Int(parts[0]), seq >= 0, String(seq) == parts[0] else { return nil }
        if parts.count == 1 { return Take(name: name, seq: seq, legacyRank: 0) }
        guard parts.count == 2, seq == 0, let k = Int(parts[1]), (2...kept).contains(k) else { return nil }
        return Take(name: name, seq: 0, legacyRank: k)
    }

    /// The take a store entry names as current: `last_preview.take`; a first-edition entry (a
    /// `last_preview` without `take`) names its converted current take; no preview, no take.
    public static func current(of entry: JSONObject?, _ n: Int) -> String? {
        guard let preview = entry?["last_preview"]?.objectValue else { return nil }
        if let take = preview["take"]?.stringValue { return take }
        return directoryName + "/" + takeName(n, seq: 0)
    }

    /// True when the entry is of the first edition's layout (its files need converting).
    public static func isLegacy(_ entry: JSONObject?) -> Bool {
        guard let preview = entry?["last_preview"]?.objectValue else { return false }
        return preview["take"] == nil
    }

    /// Takes of segment n, newest first. A first-edition segment not yet converted lists its
    /// `NNNN.wav` and rank files in their old order.
    public static func list(job: DirectoryHandle, _ n: Int, legacy: Bool = false) -> [Take] {
        guard let dir = (try? open(job: job)) ?? nil else { return [] }
        let names = dir.names()
        if legacy {
            var out: [Take] = []
            if names.contains(currentName(n)) { out.append(Take(name: currentName(n), seq: 0, legacyRank: 1)) }
            for k in 2...kept where names.contains("\(padded(n)).take-\(k).wav") {
                out.append(Take(name: "\(padded(n)).take-\(k).wav", seq: 0, legacyRank: k))
            }
            return out
        }
        return newestFirst(names, n)
    }

    /// Segment n's takes among `names`, newest first (by seq, then legacy rank).
    static func newestFirst(_ names: [String], _ n: Int) -> [Take] {
        names.compactMap { parse($0, n: n) }.sorted { a, b in a.seq != b.seq ? a.seq > b.seq : a.legacyRank < b.legacyRank }
    }

    /// Converts a first-edition segment's files (call under the job lock, before its synthesis).
    public static func convertLegacy(_ dir: DirectoryHandle, _ n: Int) throws {
        for k in 2...kept {
            let old = "\(padded(n)).take-\(k).wav"
            guard dir.isRegular(old) else { continue }
            try dir.rename(old, "\(padded(n)).take-0-\(k).wav")
        }
        let current = currentName(n)
        if dir.isRegular(current) {
            let target = takeName(n, seq: 0)
            dir.unlink(target)
            try dir.link(current, target)
        }
        try dir.sync()
    }

    /// Makes `NNNN.wav` the take `relative` names (a hard link under a temporary name, renamed over
    /// it), or removes it when there is no take. A planted link or FIFO is refused, never followed.
    public static func repoint(_ dir: DirectoryHandle, _ n: Int, to relative: String?) throws {
        let current = currentName(n)
        try dir.refuseIfNotRegular(current)
        guard let relative else {
            if !dir.unlink(current), errno != ENOENT {
                throw DubdeckError.io(dir.shown(current), "cannot remove: \(errnoText())")
            }
            try dir.sync()
            return
        }
        let source = try name(of: relative)
        try dir.refuseIfNotRegular(source)  // a planted link, FIFO or directory: 65, never "missing"
        guard dir.isRegular(source) else { throw DubdeckError.io(dir.shown(source), "the take is missing") }
        let tmp = FileIO.temporaryName(for: current)
        try dir.link(source, tmp)
        do {
            try dir.rename(tmp, current)
        } catch {
            dir.unlink(tmp)
            throw error
        }
        try dir.sync()
    }

    /// Re-points `NNNN.wav` only when it is not already the take `relative` names (the same file).
    public static func ensureCurrent(_ dir: DirectoryHandle, _ n: Int, _ relative: String?) throws {
        let current = currentName(n)
        let a = dir.status(current)
        if let relative {
            if let a, let b = dir.status(try name(of: relative)), a.st_dev == b.st_dev, a.st_ino == b.st_ino { return }
        } else if a == nil {
            return
        }
        try repoint(dir, n, to: relative)
    }

    /// Deletes all but the newest `kept` takes of segment n, never the current one.
    public static func prune(_ dir: DirectoryHandle, _ n: Int, keepingCurrent current: String?) {
        for take in newestFirst(dir.names(), n).dropFirst(kept) where take.relativePath != current {
            dir.unlink(take.name)
            dir.unlink(take.name + ".ge2e")  // its voice-match embedding, if made
        }
    }

    /// The take is a regular file inside segments_preview (a name from a store or a history is
    /// untrusted: it must be one of ours).
    public static func isTakePath(_ relative: String, _ n: Int) -> Bool {
        guard relative.hasPrefix(directoryName + "/") else { return false }
        return parse(String(relative.dropFirst(directoryName.count + 1)), n: n) != nil
    }
}
