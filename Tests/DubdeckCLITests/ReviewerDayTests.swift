import Foundation
import XCTest
import TestSupport

/// SPEC §11.9, the small refusals a reviewer ran into: a line that does not exist, a label that is
/// not the episode's.
final class ReviewerDayRefusalTests: XCTestCase {
    func testALineThatDoesNotExistAndALabelThatIsNotTheEpisodesAreRefused() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        var r = DubdeckBinary.run(["history", job, "99"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("no segment 99 (the job has 5)"), r.stderr)
        XCTAssertEqual(DubdeckBinary.run(["history", job, "0"]).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["history", job, "5"]).status, 0)
        let before = dir.read("ep01/transcript_store.json")
        r = DubdeckBinary.run(["set", job, "2", "--speaker", "NOPE"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("no label NOPE") && r.stderr.contains("SPEAKER_00"), r.stderr)
        XCTAssertEqual(dir.read("ep01/transcript_store.json"), before, "nothing written")
        r = DubdeckBinary.run(["set", job, "2", "--speaker", "SPEAKER_02"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}

/// SPEC §11.9: a named character speaks by its name in the subtitle files (ASS Name, WebVTT <v>).
final class ExportNamesTests: XCTestCase {
    func testANamedCharacterIsTheSpeakerInAssAndWebVTT() throws {
        let dir = TempDir()
        let e = ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("data/characters.json")]
        let job = dir.file("ep01")
        XCTAssertEqual(DubdeckBinary.run(["demo", job, "--no-tui"], env: e).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", job], env: e).status, 0)
        let rows = try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["segments", job, "--json"], env: e).stdout.utf8)) as! [[String: Any]]
        let id = try XCTUnwrap(rows[0]["character"] as? String)
        let label = try XCTUnwrap(rows[0]["speaker"] as? String)
        XCTAssertEqual(DubdeckBinary.run(["characters", "rename", id, "Hana"], env: e).status, 0)
        var r = DubdeckBinary.run(["export", job, "--format", "ass", "--out", "-"], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        let first = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("Dialogue:") })
        XCTAssertEqual(first.split(separator: ",")[4], "Hana", String(first))
        r = DubdeckBinary.run(["export", job, "--format", "vtt", "--out", "-"], env: e)
        XCTAssertTrue(r.stdout.contains("<v Hana>"), r.stdout)
        // An unnamed character's lines keep the label.
        let other = try XCTUnwrap(rows.first { ($0["character"] as? String) != id && ($0["speaker"] as? String) != label })
        XCTAssertTrue(r.stdout.contains("<v \(other["speaker"] as! String)>"), r.stdout)
    }
}
