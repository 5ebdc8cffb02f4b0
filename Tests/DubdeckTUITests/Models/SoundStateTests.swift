import XCTest
@testable import DubdeckTUI

/// What the desk remembers of the sound: the next older take, A/B, the take K keeps, the end of
/// playback said once.
final class SoundStateTests: XCTestCase {
    func testPreviousTakesCycleAndABAlternates() {
        var s = SoundState()
        XCTAssertEqual(s.previousTake(4, count: 3), 1, "nothing heard yet: the newest")
        s.heardTake(4, 1)
        XCTAssertEqual(s.previousTake(4, count: 3), 2)
        s.heardTake(4, 3)
        XCTAssertEqual(s.previousTake(4, count: 3), 1, "after the oldest, the newest again")
        XCTAssertEqual(s.previousTake(5, count: 3), 1, "another line starts at its newest")
        XCTAssertEqual(s.takeToKeep(4), 3)
        XCTAssertNil(s.takeToKeep(5))
        XCTAssertEqual(s.abTarget(4, current: 1), .original, "A/B begins with the original")
        s.heardOriginal(4)
        XCTAssertEqual(s.abTarget(4, current: 1), .take(3), "then the take heard before it")
        XCTAssertEqual(s.previousTake(4, count: 3), 1, "after the original, the newest")
        var t = SoundState()
        t.heardOriginal(7)
        XCTAssertEqual(t.abTarget(7, current: nil), .take(nil), "no take to compare")
        XCTAssertEqual(t.abTarget(7, current: 2), .take(2), "the current take")
    }

    func testTheEndOfPlaybackIsSaidOnce() {
        var s = SoundState()
        XCTAssertTrue(s.playbackEnded(playing: false) == nil)
        s.playingLabel = "line 2: take 1 of 1"
        XCTAssertTrue(s.playbackEnded(playing: true) == nil)
        XCTAssertEqual(s.playbackEnded(playing: false), .some("line 2: take 1 of 1"))
        XCTAssertTrue(s.playbackEnded(playing: false) == nil, "said once")
        XCTAssertNil(s.playingLabel)
    }
}
