import Foundation
import TestSupport
import XCTest
@testable import DubdeckCore

/// Every human-readable output of every command passes the sanitizer: a job full of escape
/// sequences, C1 and bidi controls (texts, labels, store fields, history fields, character names)
/// run through each command, and no output byte is ESC, BEL, another C0 control, a C1 control or a
/// bidi control (SPEC §10.1).
final class OutputScanTests: XCTestCase {
    static let hostile = "\u{1b}]0;title\u{07}\u{1b}[2J\u{9b}31m\u{9d}52;c;x\u{9c}\u{202e}rev\u{2066}\u{200f}\u{061c}\u{7f}\u{08}"

    /// The first forbidden scalar in the output, or nil.
    static func forbidden(_ text: String) -> String? {
        for u in text.unicodeScalars {
            let v = u.value
            if (v < 0x20 && v != 0x0A && v != 0x09) || (0x7F...0x9F).contains(v) || Sanitizer.isBidiControl(v) {
                return "U+" + String(v, radix: 16, uppercase: true)
            }
        }
        return nil
    }

    func testNoCommandPrintsAControlCharacter() throws {
        let dir = TempDir()
        let h = OutputScanTests.hostile
        let lines = [
            Fixtures.Line(0, 2, "SPEAKER_00" + h, "src " + h, "text " + h),
            Fixtures.Line(3, 5, "SPEAKER_01", "src", "plain"),
        ]
        let job = Fixtures.job(in: dir, lines: lines)
        let env = ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("data/characters.json"), "USER": "rev" + h]
        func run(_ args: [String]) -> DubdeckBinary.Result {
            DubdeckBinary.run(args, env: env, cwd: dir.path)
        }
        // Changes by the CLI (by a hostile user name), a store field and history fields another tool wrote.
        XCTAssertEqual(run(["set", job, "1", "--text", "edited " + h, "--flag", "mine" + h.filter { !$0.isWhitespace }]).status, 0)
        XCTAssertEqual(run(["set", job, "2", "--approve"]).status, 0)
        var store = dir.read("ep01/transcript_store.json")!
        store = store.replacingOccurrences(of: "\"audio_status\":\"none\"", with: "\"audio_status\":\"none\\u001b[31m\\u009b\\u202e\"")
        dir.write("ep01/transcript_store.json", store)
        var history = dir.read("ep01/transcript_versions.jsonl")!
        history = history.replacingOccurrences(of: "\"action\":\"approve\"", with: "\"action\":\"approve\\u001b]0;x\\u0007\\u009d\"")
        history = history.replacingOccurrences(of: "\"ts\":\"", with: "\"ts\":\"\\u001b[2J\\u202e")
        dir.write("ep01/transcript_versions.jsonl", history)
        // A character store whose names and notes are hostile.
        XCTAssertEqual(run(["demo", dir.file("demo"), "--no-tui"]).status, 0)
        XCTAssertEqual(run(["characters", "identify", dir.file("demo")]).status, 0)
        XCTAssertEqual(run(["characters", "rename", "SPEAKER_01", "Hana" + h]).status, 0)

        let commands: [[String]] = [
            ["status", job], ["status", job, "--json"], ["segments", job], ["segments", job, "--json"],
            ["segments", job, "--filter", "flagged"], ["history", job], ["history", job, "1"], ["history", job, "--json"],
            ["set", job, "2", "--text", "again " + h], ["undo", job], ["redo", job], ["undo", job, "--any"],
            ["apply", job, "--out", dir.file("out")], ["export", job, "--format", "srt", "--out", dir.file("x.srt")],
            ["characters", "list"], ["characters", "list", "--json"], ["characters", "show", "SPEAKER_01"],
            ["characters", "show", "SPEAKER_01", "--json"], ["segments", dir.file("demo")], ["status", dir.file("demo")],
            ["synth", dir.file("demo"), "1"], ["take", dir.file("demo"), "1", "1"], ["history", dir.file("demo")],
            ["play", job, "1", "--original"], ["take", job, "1", "2"],
            ["review", job, "--script", dir.file("nope" + h)], ["status", dir.file("missing" + h)],
            ["set", job, "9", "--approve"], ["status", job, "--x" + h], ["characters", "show", "ID" + h],
            ["import", dir.file("x.srt"), "--out", dir.file("imported")], ["segments", dir.file("imported")],
            ["characters", "rename", "SPEAKER_02", "Ken" + h], ["merge-mt", job, dir.file("missing" + h)],
        ]
        var ran = 0
        for args in commands {
            let r = run(args)
            ran += 1
            XCTAssertNil(OutputScanTests.forbidden(r.stdout), "\(args.prefix(2)): stdout \(OutputScanTests.forbidden(r.stdout) ?? ""): \(r.stdout.prefix(300))")
            XCTAssertNil(OutputScanTests.forbidden(r.stderr), "\(args.prefix(2)): stderr \(OutputScanTests.forbidden(r.stderr) ?? ""): \(r.stderr.prefix(300))")
            XCTAssertNotEqual(r.status, -1)
        }
        XCTAssertEqual(ran, commands.count)
        // The placeholders are visible and distinct, never U+FFFD.
        let seg = run(["segments", job]).stdout
        XCTAssertTrue(seg.contains("\u{241B}]0;title\u{2407}"), seg)
        XCTAssertTrue(seg.contains("\u{27E8}U+009B\u{27E9}31m"), seg)
        XCTAssertTrue(seg.contains("\u{27E8}U+202E\u{27E9}rev"), seg)
        XCTAssertFalse(seg.contains("\u{FFFD}"), seg)
        // JSON keeps the value (as \u escapes), the terminal never sees the raw byte.
        let json = try JSONSerialization.jsonObject(with: Data(run(["segments", job, "--json"]).stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(json[0]["src_text"] as? String, "src " + h)
    }
}
