import CInterrupt
#if canImport(Glibc)
import Glibc
#endif

/// The folders engines work in (a command's, a server's), in /tmp: named with the process that made
/// them — `/tmp/dubdeck-engine.PID.XXXXXX` — so that a later run can tell one a SIGKILL left behind
/// (its maker gone: no handler ran) and remove it with the line texts in it (SPEC §11.6). Every job
/// operation sweeps once (JobLoader), as does every first engine folder of a run.
package enum EngineFolders {
    /// A new folder of `kind` ("engine", "server"), 0700, after the sweep.
    package static func make(_ kind: String) throws -> String {
        sweepOnce()
        var template = Array("/tmp/dubdeck-\(kind).\(getpid()).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw DubdeckError(.cannotCreate, "cannot create a temporary directory: \(errnoText())")
        }
        return String(cString: made)
    }

    private static let swept: Void = { _ = sweep() }()

    /// Sweeps once in this process's life (later calls return at once).
    package static func sweepOnce() { _ = swept }

    /// Removes the engine folders in `directory` whose maker is gone: a directory (never a link)
    /// of this user, named `dubdeck-engine.PID.*` or `dubdeck-server.PID.*`, PID no running
    /// process. What is in it goes one level deep, links removed, never followed (as on Ctrl-C).
    /// Returns the folders removed.
    @discardableResult
    package static func sweep(in directory: String = "/tmp") -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var removed: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            let parts = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
            // The PID as dubdeck writes it: digits, no sign, no leading zero.
            guard parts.count == 3, parts[0] == "dubdeck-engine" || parts[0] == "dubdeck-server",
                  parts[1].first != "0", parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let pid = Int32(parts[1]), pid > 0, pid != getpid() else { continue }
            // Its maker still runs (or the PID is another's now): left alone.
            guard FileIO.isGone(pid) else { continue }
            let path = directory + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == getuid() else { continue }
            dd_empty_directory(path)
            if rmdir(path) == 0 { removed.append(path) }
        }
        return removed
    }
}
