import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
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

final class StderrCaptureTests: XCTestCase {
    /// While the desk runs, what a library prints on stderr becomes a message, never raw output on
    /// the terminal; afterwards stderr is what it was.
    func testLinesPrintedOnStderrAreTakenAndStderrIsRestored() throws {
        var before = stat(), after = stat()
        fstat(2, &before)
        let capture = StderrCapture()
        _ = Console.write(fd: 2, Array("ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM x\n\u{1b}[2Jsecond line\n".utf8))
        XCTAssertEqual(capture.take(), "\u{1b}[2Jsecond line")
        XCTAssertNil(capture.take(), "each line is taken once")
        _ = Console.write(fd: 2, Array("no newline yet".utf8))
        XCTAssertNil(capture.take(), "a line is shown once it is complete")
        capture.restore()
        fstat(2, &after)
        XCTAssertEqual(before.st_ino, after.st_ino)
        XCTAssertEqual(before.st_dev, after.st_dev)
        // The message goes through the grid's sanitizer like any text.
        let dir = TempDir()
        let desk = Desk(store: try TranscriptStore(job: try JobLoader.load(Fixtures.job(in: dir))), keymap: .builtIn())
        desk.showOutsideOutput("\u{1b}[2Jboom")
        var grid = CellGrid(width: 100, height: 30)
        DeskView.draw(desk, into: &grid)
        XCTAssertTrue(grid.text().contains("stderr: ␛[2Jboom"), grid.text())
    }
}
