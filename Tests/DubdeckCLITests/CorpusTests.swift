import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Every hostile file of Tests/Corpus: the documented exit code, one clear error line naming the
/// file and the cause, no escape sequence echoed, and no file modified.
final class CorpusTests: XCTestCase {
    struct Case: Decodable {
        var args: [String]
        var exit: Int32
        var stderr: String
        var env: [String: String]
        var base: String
        /// Made by the test: ["symlink", PATH, TARGET], ["fifo", PATH], ["sparse", PATH, SIZE], ["mkdir", PATH].
        var setup: [[SetupArg]]?
    }

    enum SetupArg: Decodable {
        case text(String), number(Int)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Int.self) { self = .number(n) } else { self = .text(try c.decode(String.self)) }
        }
        var text: String { if case .text(let s) = self { return s } else { return "" } }
        var number: Int { if case .number(let n) = self { return n } else { return 0 } }
    }

    static let root = DubdeckBinary.packageRoot + "/Tests/Corpus"

    /// Every entry below `dir`, without following a link or opening a FIFO: regular files by
    /// content (large sparse ones by size), links by target, others by kind.
    func snapshot(_ dir: String) -> [String: String] {
        var out: [String: String] = [:]
        guard let e = FileManager.default.enumerator(atPath: dir) else { return out }
        for case let rel as String in e where !rel.hasSuffix(".lock") {
            let path = dir + "/" + rel
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                if st.st_size > 1 << 20 {
                    out[rel] = "size \(st.st_size) mtime \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
                } else {
                    out[rel] = FileManager.default.contents(atPath: path).map { $0.base64EncodedString() } ?? "?"
                }
            case S_IFLNK: out[rel] = "link " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")
            case S_IFDIR: out[rel] = "dir"
            default: out[rel] = "kind \(st.st_mode & S_IFMT)"
            }
        }
        return out
    }

    func setUp(_ steps: [[SetupArg]], in dir: TempDir) throws {
        for step in steps {
            let path = dir.file(step[1].text)
            switch step[0].text {
            case "symlink":
                let target = step[2].text.replacingOccurrences(of: "{tmp}", with: dir.path)
                try? FileManager.default.removeItem(atPath: path)
                if target.hasPrefix(dir.path), !target.contains("nowhere"), !FileManager.default.fileExists(atPath: target) {
                    _ = FileManager.default.createFile(atPath: target, contents: Data("keep\n".utf8))
                }
                XCTAssertEqual(symlink(target, path), 0)
            case "fifo":
                try? FileManager.default.removeItem(atPath: path)
                XCTAssertEqual(mkfifo(path, 0o644), 0)
            case "sparse":
                try? FileManager.default.removeItem(atPath: path)
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                XCTAssertEqual(truncate(path, off_t(step[2].number)), 0)
            case "mkdir":
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            default:
                XCTFail("unknown setup step \(step[0].text)")
            }
        }
    }

    func testEveryHostileInput() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: CorpusTests.root).filter {
            FileManager.default.fileExists(atPath: CorpusTests.root + "/" + $0 + "/case.json")
        }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 150)
        for name in names {
            let dir = TempDir()
            let c = try JSONDecoder().decode(Case.self, from: Data(contentsOf: URL(fileURLWithPath: CorpusTests.root + "/\(name)/case.json")))
            try FileManager.default.copyItem(atPath: CorpusTests.root + "/" + name, toPath: dir.file("case"))
            let job = dir.file("job")
            switch c.base {
            case "sample": Fixtures.job(in: dir, name: "job")
            case "empty": try FileManager.default.createDirectory(atPath: job, withIntermediateDirectories: true)
            default: break
            }
            if FileManager.default.fileExists(atPath: dir.file("case/job")) {
                for rel in try FileManager.default.contentsOfDirectory(atPath: dir.file("case/job")) {
                    try? FileManager.default.removeItem(atPath: job + "/" + rel)
                    try FileManager.default.copyItem(atPath: dir.file("case/job/" + rel), toPath: job + "/" + rel)
                }
            }
            try setUp(c.setup ?? [], in: dir)
            let before = (snapshot(job), snapshot(dir.file("case")), snapshot(dir.path))
            let args = c.args.map {
                $0.replacingOccurrences(of: "{job}", with: job).replacingOccurrences(of: "{case}", with: dir.file("case"))
                    .replacingOccurrences(of: "{tmp}", with: dir.path)
            }
            var env = ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("no-store.json")]
            for (k, v) in c.env { env[k] = v }
            let r = DubdeckBinary.run(args, env: env, cwd: dir.path)
            XCTAssertEqual(r.status, c.exit, "\(name): \(r.stderr)")
            let said = c.exit == 0 ? r.stderr + r.stdout : r.stderr
            XCTAssertTrue(said.contains(c.stderr), "\(name): output lacks \"\(c.stderr)\": \(r.stderr)")
            if c.exit != 0 {
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(name): one error line: \(r.stderr)")
                XCTAssertTrue(r.stderr.hasPrefix("dubdeck: ") || r.stderr.hasPrefix("Error: "), "\(name): \(r.stderr)")
            }
            XCTAssertFalse(r.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || (0x80...0x9F).contains($0.value) },
                           "\(name): a control character reached stderr")
            XCTAssertEqual(snapshot(job).keys.sorted(), before.0.keys.sorted(), "\(name): files added or removed in the job")
            XCTAssertTrue(snapshot(job) == before.0, "\(name): a job file was modified")
            XCTAssertTrue(snapshot(dir.file("case")) == before.1, "\(name): an input file was modified")
            let after = snapshot(dir.path).filter { !$0.key.hasPrefix("config") }
            XCTAssertEqual(after.keys.sorted(), before.2.filter { !$0.key.hasPrefix("config") }.keys.sorted(), "\(name): something was written")
            XCTAssertTrue(after == before.2.filter { !$0.key.hasPrefix("config") }, "\(name): a file was changed")
        }
    }
}
