import Foundation

/// A private PostgreSQL server for the tests (scripts/pg_cluster.sh): its own directory, a Unix
/// socket there, a random port, no TCP; stopped by `stop()`. One per test class; each test makes
/// its own database.
public final class PostgresCluster: @unchecked Sendable {
    public let directory: String
    public let url: String

    public init() throws {
        directory = NSTemporaryDirectory() + "dubdeck-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let r = PostgresCluster.script(["start", directory])
        guard r.status == 0, r.stdout.hasPrefix("postgresql://") else {
            throw NSError(domain: "PostgresCluster", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: "cannot start PostgreSQL: \(r.stderr)\(r.stdout)"])
        }
        url = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var port: String { (try? String(contentsOfFile: directory + "/port", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" }

    /// A new, empty database; its URL.
    public func database(_ name: String) -> String {
        _ = psql("DROP DATABASE IF EXISTS \(name)")
        _ = psql("CREATE DATABASE \(name)")
        return "postgresql://postgres@/\(name)?host=\(directory)&port=\(port)"
    }

    /// Runs SQL with psql (as a reader from outside would); its output, tab-separated, unaligned.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") -> String {
        let r = PostgresCluster.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                                     "postgresql://postgres@/\(database)?host=\(directory)&port=\(port)", "-c", sql])
        return r.stdout + (r.status == 0 ? "" : "ERROR(\(r.status)): " + r.stderr)
    }

    public func restart() { _ = PostgresCluster.script(["restart", directory]) }
    public func stop() { _ = PostgresCluster.script(["stop", directory]) }
    public func start() { _ = PostgresCluster.script(["restart", directory]) }

    public func remove() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func script(_ args: [String]) -> (status: Int32, stdout: String, stderr: String) {
        run(["sh", DubdeckBinary.packageRoot + "/scripts/pg_cluster.sh"] + args)
    }

    /// Runs a program (no shell) with its output in files, and waits for it with waitpid: a
    /// program that leaves a daemon behind (pg_ctl start) must not keep a pipe, or a Foundation
    /// process monitor, waiting.
    public static func run(_ argv: [String]) -> (status: Int32, stdout: String, stderr: String) {
        let base = NSTemporaryDirectory() + "dubdeck-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let outPath = base + ".out", errPath = base + ".err"
        defer { unlink(outPath); unlink(errPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let full = ["/usr/bin/env"] + argv
        var cargs: [UnsafeMutablePointer<CChar>?] = full.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/usr/bin/env", &actions, nil, &cargs, environ) == 0 else { return (-1, "", "cannot run \(argv)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "", (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}
