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
}
