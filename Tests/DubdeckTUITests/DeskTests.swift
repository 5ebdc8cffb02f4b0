import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore
@testable import DubdeckTUI

final class DeskTests: XCTestCase {
    var dir: TempDir!
    var runner: ScriptRunner!
    var desk: Desk { runner.desk }

    override func setUp() {
        dir = TempDir()
        let jobDir = Fixtures.job(in: dir, lines: Fixtures.sample + [.init(12, 14, "SPEAKER_03", "にほんご", "日本語のテキスト 😀 wide")])
        let store = try! TranscriptStore(job: try! JobLoader.load(jobDir), by: "tester")
        runner = ScriptRunner(desk: Desk(store: store, keymap: .builtIn()), width: 90, height: 24)
    }

    func keys(_ ks: String...) { for k in ks { runner.key(KeyNotation.canonical(k)!) } }
    func type(_ s: String) { for ch in s { runner.key(KeyNotation.canonical(String(ch))!) } }
    func screen() -> String { runner.grid.text() }
    func reopen() throws -> TranscriptStore { try TranscriptStore(job: try JobLoader.load(dir.file("ep01"))) }

    /// A key that changes nothing makes no pass over every line: the header's counts and the search's
    /// matches are found once (P2 flat in the job's size); an edit makes one new pass of each.
    func testKeysMakeNoPassOverEveryLine() throws {
        let lines = (0..<2000).map { i in Fixtures.Line(Double(i) * 2 + 1, Double(i) * 2 + 2, "SPEAKER_00", "x", i % 100 == 0 ? "treasure \(i)" : "line \(i)") }
        let store = try TranscriptStore(job: try JobLoader.load(Fixtures.job(in: dir, name: "big", lines: lines)), by: "tester")
        var r = ScriptRunner(desk: Desk(store: store, keymap: .builtIn()), width: 90, height: 24)
        r.key("/")
        for ch in "treasure" { r.key(String(ch)) }
        r.key("<Enter>")
        let before = (store.countsPasses, r.desk.searchPasses)
        for _ in 0..<50 { r.key("n") }
        XCTAssertTrue(r.grid.text().contains("match 11/20"), String(r.grid.text().split(separator: "\n").suffix(3).joined(separator: "|")))
        r.key("j")
        r.key("k")
        XCTAssertEqual(store.countsPasses, before.0, "the header's counts kept")
        XCTAssertEqual(r.desk.searchPasses, before.1, "the matches kept")
        XCTAssertEqual(r.desk.selectedSegment?.number, 1001)
        for _ in 0..<3 { r.key("N") }
        XCTAssertEqual(r.desk.selectedSegment?.number, 701, "backwards too")
        // An edit: one new pass of each; the new text is found.
        _ = try store.commit([SegmentChange(segment: 5, action: "edit", fields: ["tgt_text"]) { e in e["tgt_text"] = .string("treasure found") }])
        r.desk.invalidateSearch()
        r.key("g")
        r.key("n")
        XCTAssertEqual(r.desk.selectedSegment?.number, 5)
        XCTAssertTrue(r.grid.text().contains("match 2/21"), r.grid.text())
        XCTAssertEqual(store.countsPasses, before.0 + 1)
        XCTAssertEqual(r.desk.searchPasses, before.1 + 1)
    }

    func testMovingAndPaging() {
        XCTAssertEqual(desk.selectedSegment?.number, 1)
        keys("j", "j")
        XCTAssertEqual(desk.selectedSegment?.number, 3)
        keys("k")
        XCTAssertEqual(desk.selectedSegment?.number, 2)
        keys("G")
        XCTAssertEqual(desk.selectedSegment?.number, 6)
        keys("g")
        XCTAssertEqual(desk.selectedSegment?.number, 1)
        keys("k")
        XCTAssertEqual(desk.selectedSegment?.number, 1, "stops at the top")
    }

    func testEditCommitIsDurableAndRecorded() throws {
        keys("j", "e", "<C-u>")
        type("Hi, Kenta")
        keys("<Left>", "<Left>", "<Left>", "<Left>", "<Left>", "<Left>", "<BS>", "<C-e>")
        type("!")
        keys("<Enter>")
        XCTAssertEqual(desk.mode.kind, .list)
        XCTAssertEqual(try reopen().state(2).text, "Hi Kenta!")
        let records = try HistoryLog(path: desk.job.historyPath).readAll().records
        XCTAssertEqual(records.count, 1, "one commit, one record")
        XCTAssertEqual(records[0].action, "edit")
        XCTAssertTrue(screen().contains("Hi Kenta!"))
        XCTAssertTrue(desk.message.hasPrefix("saved"))
    }

    func testEscCancelsWithoutWriting() throws {
        keys("e")
        type("xyz")
        keys("<Esc>")
        XCTAssertEqual(desk.mode.kind, .list)
        XCTAssertFalse(FileIO.exists(desk.job.storePath))
        XCTAssertEqual(desk.store.state(1).text, "Good morning")
    }

    /// A pasted page: every key lands in the buffer, the pane is wrapped no further than it shows
    /// (bounded work at each key), and the text is saved whole.
    func testAPastedLongTextIsTypedWhole() throws {
        let long = String(repeating: "word ", count: 1_000)
        XCTAssertLessThanOrEqual(DeskView.editorRows(LineEditor(long), width: 80, upTo: 12).count, 13)
        runner.key("e")
        runner.key("<C-u>")
        try runner.perform(":type " + long + "end", file: "t", line: 1)
        guard case .editor(let e) = runner.desk.mode else { return XCTFail("still editing") }
        XCTAssertEqual(e.editor.text, long + "end")
        runner.key("<Enter>")
        XCTAssertEqual(runner.desk.store.state(1).text, long + "end")
    }

    func testLineBreakKeyMakesTwoLineSubtitles() throws {
        keys("e", "<C-a>", "<C-k>")
        type("Line one")
        keys("<C-j>")
        type("Line two")
        keys("<Enter>")
        XCTAssertEqual(try reopen().state(1).text, "Line one\nLine two")
        XCTAssertTrue(screen().contains("Line one ⏎ Line two"))
    }

    func testLockRefusesEditAndApproveToggles() throws {
        keys("L")
        XCTAssertTrue(desk.store.state(1).locked)
        keys("e")
        XCTAssertEqual(desk.mode.kind, .list, "a locked line does not open the editor")
        XCTAssertTrue(desk.message.contains("unlock first"))
        keys("a")
        XCTAssertTrue(try reopen().state(1).approved)
        keys("a")
        XCTAssertFalse(try reopen().state(1).approved)
        keys("L", "e")
        XCTAssertNotEqual(desk.mode.kind, .list)
    }

    func testFiltersAndNextUnapproved() throws {
        keys("a", "j", "r")
        keys("f")  // unapproved
        XCTAssertEqual(desk.filter, .unapproved)
        XCTAssertEqual(desk.visible.map { $0 + 1 }, [2, 3, 4, 5, 6])
        keys("f", "f", "f")  // unlocked, locked, flagged
        XCTAssertEqual(desk.filter, .flagged)
        XCTAssertEqual(desk.visible.map { $0 + 1 }, [2])
        keys("0")
        XCTAssertEqual(desk.filter, .all)
        keys("g", "<Tab>")
        XCTAssertEqual(desk.selectedSegment?.number, 2)
        keys("<S-Tab>")
        XCTAssertEqual(desk.selectedSegment?.number, 2, "no unapproved line above")
        XCTAssertTrue(desk.message.contains("no unapproved"))
        // ] and [ find problems and wrap: line 1 is approved, the others need attention.
        keys("[")
        XCTAssertEqual(desk.selectedSegment?.number, 6, "wrapped to the last problem")
        XCTAssertTrue(desk.message.contains("(wrapped)"), desk.message)
        keys("]")
        XCTAssertEqual(desk.selectedSegment?.number, 2, "wrapped past the approved line 1")
    }

    func testSearchNextPreviousAndWrap() {
        keys("/")
        type("bye")
        keys("<Enter>")
        XCTAssertEqual(desk.selectedSegment?.number, 3)
        keys("/")
        type("speaker_01")
        keys("<Enter>")
        XCTAssertEqual(desk.selectedSegment?.number, 5, "searches the speaker too, from the current line")
        keys("n")
        XCTAssertEqual(desk.selectedSegment?.number, 2, "wraps around")
        keys("N")
        XCTAssertEqual(desk.selectedSegment?.number, 5)
        keys("/")
        type("にほん")
        keys("<Enter>")
        XCTAssertEqual(desk.selectedSegment?.number, 6, "source text is searched")
        keys("/")
        type("zzz")
        keys("<Enter>")
        XCTAssertTrue(desk.message.contains("not found"))
    }

    func testWideCharactersTakeTwoColumns() {
        keys("G")
        let row = runner.grid.text().split(separator: "\n").first { $0.contains("日本語") }!
        XCTAssertTrue(row.contains("日本語のテキスト 😀 wide"))
        // Every row of the dump is at most the grid's width in columns.
        for line in screen().split(separator: "\n") {
            XCTAssertLessThanOrEqual(TextWidth.width(of: String(line)), 90, String(line))
        }
    }

    func testHelpIsGeneratedFromTheActionTable() {
        runner.resize(width: 120, height: 70)
        keys("?")
        let s = screen()
        XCTAssertTrue(s.contains("[list]"))
        for a in ["move-down", "approve", "lock", "flag-retranslate", "search"] {
            XCTAssertTrue(s.contains(a), a)
        }
        XCTAssertTrue(s.contains(Action.approve.description))
        keys("q")
        XCTAssertEqual(desk.mode.kind, .list)
        XCTAssertFalse(desk.quitRequested, "q in help closes help")
    }

    /// A screen answers the actions it knows and returns nil for the rest; the desk then does what
    /// every screen shares (help, redraw, quit) and nothing else.
    func testAScreenFallsBackToTheDesksCommonActions() throws {
        let k = desk.keymap
        func key(_ a: Action, _ c: KeyContext) throws -> String { try XCTUnwrap((k.keys(for: a, in: c) + k.keys(for: a, in: .generic)).first, "\(a)") }
        for (name, make) in [("history", { Desk.Mode.history(HistoryScreen(segment: 1, records: [], machineText: "Good morning")) }),
                             ("picker", { Desk.Mode.picker(PickerScreen(purpose: .lineSpeaker(1), title: "t", choices: [], selected: nil)) })] {
            desk.mode = make()
            let context: KeyContext = name == "history" ? .history : .picker
            XCTAssertEqual(desk.handle(key: try key(.redraw, context)), .all, "\(name): redraw")
            let text = try reopen().state(1).text
            _ = desk.handle(key: try key(.approve, .list))  // the list's, not this screen's: nothing happens
            XCTAssertEqual(try reopen().state(1).text, text)
            XCTAssertFalse(try reopen().state(1).approved, "\(name): approve is not this screen's")
            _ = desk.handle(key: try key(.help, context))
            XCTAssertEqual(desk.mode.kind, .help, "\(name): help from the common handling")
            desk.mode = .list(ListScreen())
        }
    }

    func testResizeAndTooSmall() {
        runner.resize(width: 40, height: 10)
        XCTAssertTrue(screen().contains("Terminal too small"))
        runner.resize(width: 120, height: 40)
        XCTAssertFalse(screen().contains("too small"))
        XCTAssertEqual(runner.grid.width, 120)
        XCTAssertTrue(screen().contains("Good morning"))
    }

    func testHostileTextIsSanitizedWhenDrawnNotWhenStored() throws {
        let d = TempDir()
        let jobDir = Fixtures.job(in: d, lines: [.init(0, 1, "S\u{1b}]0;owned\u{07}", "\u{202e}evil", "clear\u{1b}[2J\u{9b}1m")])
        let store = try TranscriptStore(job: try JobLoader.load(jobDir), by: "t")
        var r = ScriptRunner(desk: Desk(store: store, keymap: .builtIn()), width: 80, height: 20)
        r.key("e")
        r.key("<Enter>")
        for cell in r.grid.cells {
            for u in cell.ch.unicodeScalars {
                XCTAssertFalse(u.value < 0x20 || (0x7F...0x9F).contains(u.value) || Sanitizer.isBidiControl(u.value))
            }
        }
        XCTAssertTrue(r.grid.text().contains("clear␛[2J"))
        XCTAssertEqual(store.state(1).text, "clear\u{1b}[2J\u{9b}1m", "stored as is")
    }

    func testBusyLockKeepsTheChangePendingThenSavesIt() throws {
        desk.store.lockTimeout = 0.05
        let held = try JobLock.acquire(desk.job.lockPath)
        keys("a")
        XCTAssertFalse(desk.isIdle)
        XCTAssertNotNil(desk.banner)
        XCTAssertFalse(FileIO.exists(desk.job.storePath))
        held.release()
        runner.waitIdle()
        XCTAssertTrue(desk.isIdle)
        XCTAssertNil(desk.banner)
        XCTAssertTrue(try reopen().state(1).approved)
    }

    func testOutsideChangesAreReloaded() throws {
        let other = try reopen()
        try other.commit([.edit(4, text: "changed by the CLI")])
        desk.tick(now: 1e9)
        XCTAssertEqual(desk.store.state(4).text, "changed by the CLI")
        XCTAssertTrue(desk.message.contains("reloaded"))
    }
}

final class DeskHistoryTests: XCTestCase {
    func testUndoRedoAndRestoreInTheDesk() throws {
        let dir = TempDir()
        let jobDir = Fixtures.job(in: dir)
        let store = try TranscriptStore(job: try JobLoader.load(jobDir), by: "t")
        var r = ScriptRunner(desk: Desk(store: store, keymap: .builtIn()), width: 100, height: 30)
        r.key("e"); r.key("<C-u>"); for ch in "First" { r.key(String(ch)) }; r.key("<Enter>")
        r.key("e"); r.key("<C-u>"); for ch in "Second" { r.key(String(ch)) }; r.key("<Enter>")
        r.key("u")
        XCTAssertEqual(store.state(1).text, "First")
        r.key("<C-r>")
        XCTAssertEqual(store.state(1).text, "Second")
        r.key("h")
        guard case .history(let screen) = r.desk.mode else { return XCTFail("no history view") }
        let records = screen.records
        XCTAssertEqual(records.map { $0.action }, ["redo", "undo", "edit", "edit"])
        XCTAssertTrue(r.grid.text().contains("history"))
        r.key("?")
        r.key("q")
        if case .history = r.desk.mode {} else { XCTFail("help returns to the screen it was opened from") }
        r.key("G")  // the machine translation, the first version of every line
        r.key("k")  // the first edit
        r.key("<Enter>")
        XCTAssertEqual(store.state(1).text, "First")
        XCTAssertEqual(try store.history.readAll().records.last?.action, "restore")
        XCTAssertEqual(r.desk.mode.kind, .list)
        r.key("h")
        r.key("G")
        r.key("<Enter>")
        XCTAssertEqual(store.state(1).text, store.job.segments[0].text, "back to the machine translation")
        XCTAssertEqual(try store.history.readAll().records.last?.action, "reset-text")
    }
}
