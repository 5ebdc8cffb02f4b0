import Foundation
import TestSupport
import XCTest

final class RoundTripCommandTests: XCTestCase {
    func testUndoRedoAcrossProcessesAndMergeApplyImportExport() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "1", "--text", "One", "--approve"]).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--lock"]).status, 0)
        var r = DubdeckBinary.run(["undo", job])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("undo: 1 change (line 2)"), r.stdout)
        r = DubdeckBinary.run(["undo", job])
        XCTAssertTrue(r.stdout.contains("undo: 2 changes (line 1)"), "a batch as one: \(r.stdout)")
        XCTAssertEqual(DubdeckBinary.run(["undo", job]).status, 64, "nothing to undo")
        XCTAssertEqual(DubdeckBinary.run(["redo", job]).status, 0)
        let rows = try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["segments", job, "--json"]).stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows[0]["tgt_text"] as? String, "One")
        XCTAssertEqual(rows[1]["locked"] as? Bool, false)

        var lines = Fixtures.sample
        lines[0].text = "New MT"
        lines[2].text = "New MT 3"
        dir.write("new.json", Fixtures.translatedJSON(lines))
        XCTAssertEqual(DubdeckBinary.run(["set", job, "3", "--lock"]).status, 0)
        r = DubdeckBinary.run(["merge-mt", job, dir.file("new.json")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("changed 1, skipped-locked 1"), r.stdout)
        dir.write("bad.json", "{\"segments\": []}")
        XCTAssertEqual(DubdeckBinary.run(["merge-mt", job, dir.file("bad.json")]).status, 65)

        r = DubdeckBinary.run(["apply", job, "--approved-only", "--out", dir.file("out")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("out/ep01.edited.srt")))

        r = DubdeckBinary.run(["export", job, "--format", "vtt"])
        XCTAssertTrue(r.stdout.hasPrefix("WEBVTT"), r.stdout)
        XCTAssertEqual(DubdeckBinary.run(["export", job, "--format", "doc"]).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["export", job, "--format", "ass", "--out", dir.file("x.ass")]).status, 0)
        r = DubdeckBinary.run(["import", dir.file("x.ass"), "--out", dir.file("fromass"), "--series", "s9"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("imported 5 subtitles"), r.stdout)
        dir.write("broken.vtt", "WEBVTT\n\n00:01.000 --> 00:00.500\nbackwards\n")
        r = DubdeckBinary.run(["import", dir.file("broken.vtt"), "--out", dir.file("j")])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("broken.vtt: line 3"), r.stderr)
    }

    /// Subtitles as people have them, through the real binary: a guessed code page named in a
    /// warning, skipped cues named, --strict refusing, a file written back in its own format
    /// unchanged but for an edited line, and --encoding/--crlf/--bom on the way out.
    func testImportEncodingsToleranceAndLosslessExport() throws {
        let dir = TempDir()
        let fixtures = DubdeckBinary.packageRoot + "/Tests/Fixtures/subtitles"
        var r = DubdeckBinary.run(["import", fixtures + "/enc-cp1251.srt", "--out", dir.file("ru")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "dubdeck: warning: \(fixtures)/enc-cp1251.srt: not UTF-8: decoded as WINDOWS-1251 (a guess; --encoding NAME to be sure)\n")
        r = DubdeckBinary.run(["export", dir.file("ru"), "--format", "srt", "--encoding", "WINDOWS-1251", "--out", dir.file("ru.srt")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(dir.bytes("ru.srt"), Array(FileManager.default.contents(atPath: fixtures + "/enc-cp1251.srt")!), "the same file back, in its code page")
        r = DubdeckBinary.run(["export", dir.file("ru"), "--format", "srt", "--crlf", "--bom"])
        XCTAssertTrue(r.stdout.hasPrefix("\u{FEFF}1\r\n00:00:01,000 --> 00:00:03,000\r\n"), r.stdout.debugDescription)
        XCTAssertEqual(DubdeckBinary.run(["export", dir.file("ru"), "--format", "srt", "--encoding", "ASCII"]).status, 65, "Cyrillic is not ASCII")
        XCTAssertEqual(DubdeckBinary.run(["export", dir.file("ru"), "--format", "srt", "--encoding", "NOPE"]).status, 64)

        r = DubdeckBinary.run(["import", fixtures + "/srt-malformed.srt", "--out", dir.file("bad")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 2, "one warning per skipped cue: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("srt-malformed.srt: line 6: expected 'start --> end' (cue skipped)"), r.stderr)
        r = DubdeckBinary.run(["import", fixtures + "/srt-malformed.srt", "--out", dir.file("strict"), "--strict"])
        XCTAssertEqual(r.status, 65)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("strict")), "a refused import writes nothing")

        // ASS → job → ASS: byte for byte, but for the edited line.
        XCTAssertEqual(DubdeckBinary.run(["import", fixtures + "/ass-full.ass", "--out", dir.file("ass")]).status, 0)
        let original = String(decoding: FileManager.default.contents(atPath: fixtures + "/ass-full.ass")!, as: UTF8.self)
        XCTAssertEqual(DubdeckBinary.run(["export", dir.file("ass"), "--format", "ass"]).stdout, original)
        XCTAssertEqual(DubdeckBinary.run(["set", dir.file("ass"), "3", "--text", "Where are they?\nNo idea."]).status, 0)
        let edited = DubdeckBinary.run(["export", dir.file("ass"), "--format", "ass"]).stdout
        XCTAssertEqual(edited, original.replacingOccurrences(of: "{\\c}\u{20}we?", with: "{\\c} they?"))
        // VTT → job → VTT keeps every block and id; apply's SRT reads back.
        XCTAssertEqual(DubdeckBinary.run(["import", fixtures + "/vtt-headers.vtt", "--out", dir.file("vtt")]).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["export", dir.file("vtt"), "--format", "vtt"]).stdout,
                       String(decoding: FileManager.default.contents(atPath: fixtures + "/vtt-headers.vtt")!, as: UTF8.self))
        XCTAssertEqual(DubdeckBinary.run(["apply", dir.file("vtt")]).status, 0)
        r = DubdeckBinary.run(["import", dir.file("vtt/vtt-headers.edited.srt"), "--out", dir.file("again"), "--strict"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(DubdeckBinary.run(["segments", dir.file("again")]).stdout.split(separator: "\n").count, 4)
    }
}
