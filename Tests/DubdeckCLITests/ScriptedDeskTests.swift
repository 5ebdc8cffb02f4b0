import Foundation
import TestSupport
import Testing
import XCTest

/// Headless TUI scripts: keys in (Scripts/NAME.keys), screen dumps out, each compared with the
/// expected Scripts/NAME-K.ref. Run with DUBDECK_UPDATE_REFS=1 to rewrite the refs (the differences are still reported; review them).
final class ScriptedDeskTests: XCTestCase {
    static let scripts = DubdeckBinary.packageRoot + "/Tests/DubdeckCLITests/Scripts"

    /// The job every script runs on: the sample lines plus wide and hostile text.
    static func makeJob(in dir: TempDir) -> String {
        Fixtures.job(in: dir, lines: Fixtures.sample + [
            .init(12, 14.5, "SPEAKER_03", "にほんご です", "日本語のテキスト 😀 wide"),
            .init(15, 16, "SPEAKER_04\u{1b}]0;title\u{07}", "\u{202e}reversed", "clear\u{1b}[2J osc\u{1b}]52;c;aGk=\u{07} c1\u{9b}1m"),
        ])
    }

    /// Runs Scripts/NAME.keys through the real binary; what did not hold, one line each.
    static func runScript(_ name: String) throws -> [String] {
        var problems: [String] = []
        let dir = TempDir()
        let job = ScriptedDeskTests.makeJob(in: dir)
        let keys = ScriptedDeskTests.scripts + "/\(name).keys"
        let r = DubdeckBinary.run(["review", job, "--script", keys], cwd: dir.path)
        if r.status != 0 { problems.append("\(name).keys: exit \(r.status): \(r.stderr)") }
        let refs = try FileManager.default.contentsOfDirectory(atPath: ScriptedDeskTests.scripts)
            .filter { $0.hasPrefix(name + "-") && $0.hasSuffix(".ref") }.sorted()
        let dumps = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasPrefix(name + "-") && $0.hasSuffix(".txt") }.sorted()
        if refs.isEmpty { problems.append("no .ref files for \(name)") }
        let expectedNames = refs.map { $0.replacingOccurrences(of: ".ref", with: "") }, dumped = dumps.map { $0.replacingOccurrences(of: ".txt", with: "") }
        if expectedNames != dumped { problems.append("\(name): screens \(dumped), refs \(expectedNames)") }
        for ref in refs {
            let expected = try String(contentsOfFile: ScriptedDeskTests.scripts + "/" + ref, encoding: .utf8)
            let got = dir.read(ref.replacingOccurrences(of: ".ref", with: ".txt")) ?? ""
            if got != expected { problems.append("\(ref) differs:\n\(got)") }
        }
        // Compared in both modes: an update rewrites the refs and still says which ones changed.
        if ProcessInfo.processInfo.environment["DUBDECK_UPDATE_REFS"] != nil {
            for d in dumps {
                let ref = ScriptedDeskTests.scripts + "/" + d.replacingOccurrences(of: ".txt", with: ".ref")
                try? FileManager.default.removeItem(atPath: ref)
                try FileManager.default.copyItem(atPath: dir.file(d), toPath: ref)
            }
        }
        return problems
    }

    func testScriptErrorsNameTheLine() {
        let dir = TempDir()
        let job = ScriptedDeskTests.makeJob(in: dir)
        dir.write("bad.keys", "j\n<Bogus>\n")
        let r = DubdeckBinary.run(["review", job, "--script", dir.file("bad.keys")])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("bad.keys:2"), r.stderr)
    }

    func testScriptEditsAreOnDisk() throws {
        let dir = TempDir()
        let job = ScriptedDeskTests.makeJob(in: dir)
        dir.write("s.keys", "j\ne\n<C-u>\n:type Scripted\n<Enter>\nL\n:quit\n")
        let r = DubdeckBinary.run(["review", job, "--script", dir.file("s.keys")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let seg = DubdeckBinary.run(["segments", job, "--json"])
        let list = try JSONSerialization.jsonObject(with: Data(seg.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(list[1]["tgt_text"] as? String, "Scripted")
        XCTAssertEqual(list[1]["locked"] as? Bool, true)
    }

    func testKeymapOptionAndUserKeymap() throws {
        let dir = TempDir()
        let job = ScriptedDeskTests.makeJob(in: dir)
        dir.write("config/dubdeck/keys", "bind list x approve\n")
        dir.write("extra.keys", "bind list y lock\n")
        dir.write("s.keys", "x\ny\n:quit\n")
        let r = DubdeckBinary.run(["review", job, "--keymap", dir.file("extra.keys"), "--script", dir.file("s.keys")],
                                  env: ["XDG_CONFIG_HOME": dir.file("config")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let st = DubdeckBinary.run(["status", job, "--json"])
        let o = try JSONSerialization.jsonObject(with: Data(st.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(o["approved"] as? Int, 1)
        XCTAssertEqual(o["locked"] as? Int, 1)
        dir.write("broken.keys", "bind list x approve\nbind list y explode\n")
        let bad = DubdeckBinary.run(["review", job, "--keymap", dir.file("broken.keys"), "--script", dir.file("s.keys")])
        XCTAssertEqual(bad.status, 65)
        XCTAssertTrue(bad.stderr.contains("broken.keys:2: unknown action 'explode'"), bad.stderr)
    }
}

/// Every Scripts/NAME.keys, found by glob, each its own case (`swift test --filter KeyScripts`).
@Suite struct KeyScripts {
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: ScriptedDeskTests.scripts)) ?? [])
        .filter { $0.hasSuffix(".keys") }.map { String($0.dropLast(5)) }.sorted()

    @Test func theScriptsAreFound() { #expect(KeyScripts.names.count >= 7) }

    @Test(arguments: KeyScripts.names)
    func script(_ name: String) throws {
        for problem in try ScriptedDeskTests.runScript(name) { Issue.record(Comment(rawValue: problem)) }
    }
}
