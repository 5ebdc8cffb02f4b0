import XCTest
@testable import DubdeckCore
@testable import DubdeckTUI

final class GridTests: XCTestCase {
    func testPutClipsAndKeepsWideCharsWhole() {
        var g = CellGrid(width: 5, height: 1)
        let end = g.put("ab日本", row: 0, col: 0, style: .normal)
        XCTAssertEqual(end, 5)
        XCTAssertEqual(g.rowText(0), "ab日…", "the second wide char does not fit, is not split, and the cut is marked")
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

final class HelpTests: XCTestCase {
    /// The help lists every action of every screen; one without a key says "(no key)", never drops it.
    func testHelpNeverDropsAnAction() throws {
        var k = Keymap.builtIn()
        k.bind(.list, "x", .approve)
        // An action that lost its only key in a context is still listed.
        for key in k.keys(for: .redo, in: .list) { k.bind(.list, key, .searchPrev) }
        let lines = DeskView.helpLines(keymap: k)
        for a in Action.allCases {
            XCTAssertTrue(lines.contains { $0.contains(" " + a.name + " ") }, "\(a.name) is missing from the help")
        }
        XCTAssertTrue(lines.contains { $0.contains("(no key)") && $0.contains(" redo ") }, lines.joined(separator: "\n"))
    }
}
