import Foundation
import TestSupport
import XCTest

/// Every hostile file of Tests/Corpus: the documented exit code, one clear error line naming the
/// file and the cause, no escape sequence echoed, and no file modified.
final class CorpusTests: XCTestCase {
    struct Case: Decodable {
        var args: [String]
        var exit: Int32
        var stderr: String
        var env: [String: String]
        var base: String
    }

    static let root = DubdeckBinary.packageRoot + "/Tests/Corpus"

    func snapshot(_ dir: String) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let e = FileManager.default.enumerator(atPath: dir) else { return out }
        for case let rel as String in e where !rel.hasSuffix(".lock") {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
                out[rel] = FileManager.default.contents(atPath: dir + "/" + rel)
            }
        }
        return out
    }

    func testEveryHostileInput() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: CorpusTests.root).filter {
            FileManager.default.fileExists(atPath: CorpusTests.root + "/" + $0 + "/case.json")
        }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 50)
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
            let before = (snapshot(job), snapshot(dir.file("case")))
            let args = c.args.map {
                $0.replacingOccurrences(of: "{job}", with: job).replacingOccurrences(of: "{case}", with: dir.file("case"))
                    .replacingOccurrences(of: "{tmp}", with: dir.path)
            }
            var env = ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("no-store.json")]
            for (k, v) in c.env { env[k] = v }
            let r = DubdeckBinary.run(args, env: env, cwd: dir.path)
            XCTAssertEqual(r.status, c.exit, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(c.stderr), "\(name): stderr lacks \"\(c.stderr)\": \(r.stderr)")
            if c.exit != 0 {
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(name): one error line: \(r.stderr)")
                XCTAssertTrue(r.stderr.hasPrefix("dubdeck: ") || r.stderr.hasPrefix("Error: "), "\(name): \(r.stderr)")
            }
            XCTAssertFalse(r.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || (0x80...0x9F).contains($0.value) },
                           "\(name): a control character reached stderr")
            XCTAssertEqual(snapshot(job).keys.sorted(), before.0.keys.sorted(), "\(name): files added or removed in the job")
            XCTAssertTrue(snapshot(job) == before.0, "\(name): a job file was modified")
            XCTAssertTrue(snapshot(dir.file("case")) == before.1, "\(name): an input file was modified")
        }
    }
}
