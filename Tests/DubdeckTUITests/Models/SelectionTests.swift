import XCTest
@testable import DubdeckJob
@testable import DubdeckTUI

/// The list's selection as a model of its own: the filter, the lines it shows, the cursor and the
/// scroll, from lines' states alone.
final class SelectionTests: XCTestCase {
    /// Ten lines; lines 3, 6 and 9 (indices 2, 5, 8) approved.
    func states() -> [ReviewState] {
        (0..<10).map { i in
            var s = ReviewState.placeholder
            s.approved = i % 3 == 2
            return s
        }
    }

    func testAFilterKeepsTheCursorOnTheLineOrTheNextItShows() {
        var s = Selection()
        s.apply(states(), keep: nil, rows: 4)
        XCTAssertEqual(s.visible.count, 10)
        XCTAssertTrue(s.move(to: 3, rows: 4))
        XCTAssertEqual(s.selected, 3)
        s.setFilter(.unapproved, states(), rows: 4)
        XCTAssertEqual(s.visible, [0, 1, 3, 4, 6, 7, 9])
        XCTAssertEqual(s.selected, 3, "the line stays selected when the filter shows it")
        s.setFilter(.all, states(), rows: 4)
        XCTAssertTrue(s.move(to: 2, rows: 4))
        s.setFilter(.unapproved, states(), rows: 4)
        XCTAssertEqual(s.selected, 3, "an approved line hidden by the filter gives way to the next one shown")
        XCTAssertFalse(s.move(to: s.cursor, rows: 4), "no move, no redraw")
    }

    func testPagesScrollAndTheCursorStaysOnScreen() {
        var s = Selection()
        s.apply(states(), keep: nil, rows: 4)
        XCTAssertTrue(s.page(forward: true, rows: 4))
        XCTAssertEqual([s.cursor, s.top], [4, 4])
        XCTAssertTrue(s.page(forward: true, rows: 4))
        XCTAssertEqual([s.cursor, s.top], [8, 6], "the last page is full: the view stops at the end")
        XCTAssertTrue(s.move(to: 100, rows: 4))
        XCTAssertEqual(s.cursor, 9, "clamped")
        XCTAssertTrue(s.page(forward: false, rows: 4))
        XCTAssertEqual([s.cursor, s.top], [5, 2])
        XCTAssertTrue(s.move(to: 0, rows: 4))
        XCTAssertEqual(s.top, 0)
    }

    func testJumpsFindTheNextLineThatNeedsWork() {
        var s = Selection()
        s.apply(states(), keep: nil, rows: 4)
        XCTAssertEqual(s.nextUnapproved(states(), forward: true), 1)
        _ = s.move(to: 9, rows: 4)
        XCTAssertNil(s.nextUnapproved(states(), forward: true), "no wrap below the last line")
        XCTAssertEqual(s.nextUnapproved(states(), forward: false), 7)
        let problem = s.nextProblem(states(), forward: true)
        XCTAssertEqual(problem?.position, 0)
        XCTAssertEqual(problem?.wrapped, true, "problems wrap around")
        var none = states()
        for i in none.indices { none[i].approved = true }
        XCTAssertNil(s.nextProblem(none, forward: true))
    }

    func testShowingAHiddenLineClearsTheFilter() {
        var s = Selection()
        s.apply(states(), keep: nil, rows: 4)
        s.setFilter(.unapproved, states(), rows: 4)
        XCTAssertFalse(s.show(4, states(), rows: 4), "shown already: the filter stays")
        XCTAssertEqual(s.filter, .unapproved)
        XCTAssertTrue(s.show(5, states(), rows: 4))
        XCTAssertEqual(s.filter, .all)
        XCTAssertEqual(s.selected, 5)
        XCTAssertGreaterThanOrEqual(s.cursor, s.top)
        XCTAssertLessThan(s.cursor, s.top + 4)
    }
}
