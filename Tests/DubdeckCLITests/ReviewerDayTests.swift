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
