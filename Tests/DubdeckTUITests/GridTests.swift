import XCTest
@testable import DubdeckTUI

final class GridTests: XCTestCase {
    func testPutClipsAndKeepsWideCharsWhole() {
        var g = CellGrid(width: 5, height: 1)
        let end = g.put("ab日本", row: 0, col: 0, style: .normal)
        XCTAssertEqual(end, 5)
        XCTAssertEqual(g.rowText(0), "ab日", "the second wide char does not fit and is not split")
        XCTAssertTrue(g[0, 3].continuation)
    }

    func testEditorBuffer() {
        var e = LineEditor("hello big world")
        e.wordLeft()
        XCTAssertEqual(e.cursor, 10)
        e.deleteWordBack()
        XCTAssertEqual(e.text, "hello world")
        e.home()
        e.wordRight()
        XCTAssertEqual(e.cursor, 5)
        e.killLine()
        XCTAssertEqual(e.text, "hello")
        e.insert("\nnext")
        e.home()
        XCTAssertEqual(e.cursor, 6)
        e.killToStart()
        XCTAssertEqual(e.text, "hello\nnext")
        e.left()
        e.killLine()
        XCTAssertEqual(e.text, "hellonext", "kill at end of line joins lines")
    }
}
