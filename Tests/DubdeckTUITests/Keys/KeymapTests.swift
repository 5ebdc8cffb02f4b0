import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore
@testable import DubdeckTUI
import CNcursesw

final class KeymapTests: XCTestCase {
    func testKeyNotation() {
        XCTAssertEqual(KeyNotation.canonical("j"), "j")
        XCTAssertEqual(KeyNotation.canonical("<enter>"), "<Enter>")
        XCTAssertEqual(KeyNotation.canonical("<CR>"), "<Enter>")
        XCTAssertEqual(KeyNotation.canonical("<C-R>"), "<C-r>")
        XCTAssertEqual(KeyNotation.canonical("<C-m>"), "<Enter>")
        XCTAssertEqual(KeyNotation.canonical("<C-i>"), "<Tab>")
        XCTAssertEqual(KeyNotation.canonical("<M-x>"), "<M-x>")
        XCTAssertEqual(KeyNotation.canonical("<M-Enter>"), "<M-Enter>")
        XCTAssertEqual(KeyNotation.canonical("<M-<>"), "<M-lt>")
        XCTAssertEqual(KeyNotation.canonical("<PageDown>"), "<PgDn>")
        XCTAssertEqual(KeyNotation.canonical("<F12>"), "<F12>")
        XCTAssertEqual(KeyNotation.canonical(" "), "<Space>")
        XCTAssertEqual(KeyNotation.canonical("<"), "<lt>")
        XCTAssertEqual(KeyNotation.canonical("é"), "é")
        XCTAssertNil(KeyNotation.canonical("<F13>"))
        XCTAssertNil(KeyNotation.canonical("<C-1>"))
        XCTAssertNil(KeyNotation.canonical("<Nope>"))
        XCTAssertNil(KeyNotation.canonical("jj"))
        XCTAssertNil(KeyNotation.canonical("\u{1b}"))
    }

    func testBindingsAndContextFallback() throws {
        var k = Keymap.builtIn()
        XCTAssertEqual(k.action(for: "j", in: .list), Action(rawValue: "move-down"))
        XCTAssertEqual(k.action(for: "q", in: .list), Action(rawValue: "quit"), "generic bindings apply in the list")
        XCTAssertNil(k.action(for: "q", in: .editor), "in the editor q types q")
        XCTAssertEqual(k.action(for: "<C-j>", in: .editor), Action(rawValue: "insert-newline"))
        try k.load("# mine\nbind list x approve   # trailing comment\nbind generic <F2> help\n", file: "mine.keys")
        XCTAssertEqual(k.action(for: "x", in: .list), Action(rawValue: "approve"))
        XCTAssertEqual(k.action(for: "<F2>", in: .help), Action(rawValue: "help"))
        XCTAssertEqual(k.action(for: "a", in: .list), Action(rawValue: "approve"), "the built-in keys stay")
    }

    func testErrorsNameFileAndLineAndApplyNothing() {
        let cases: [(String, Int, String)] = [
            ("bind list j move-down\nbind lst j move-down\n", 2, "unknown context"),
            ("\n\nbind list <Nope> approve\n", 3, "bad key"),
            ("bind list j fly\n", 1, "unknown action 'fly'"),
            ("bind editor j approve\n", 1, "does not apply"),
            ("bind editor q quit\n", 1, "does not apply"),  // a typed q would leave the desk
            ("bind list j\n", 1, "expected 'bind"),
            ("map list j approve\n", 1, "unknown command"),
        ]
        for (text, line, cause) in cases {
            var k = Keymap.builtIn()
            XCTAssertThrowsError(try k.load(text, file: "/x/my.keys")) { e in
                let e = e as! KeymapError
                XCTAssertEqual(e.line, line, text)
                XCTAssertTrue(e.description.hasPrefix("/x/my.keys:\(line): "), e.description)
                XCTAssertTrue(e.message.contains(cause), e.message)
            }
            XCTAssertEqual(k.action(for: "j", in: .list), Action(rawValue: "move-down"), "a bad file applies nothing")
        }
    }

    func testShippedKeymapsMatchAndParse() throws {
        let root = DubdeckBinary.packageRoot
        let shipped = try String(contentsOfFile: root + "/keymaps/default.keys", encoding: .utf8)
        XCTAssertEqual(shipped, DefaultKeymap.text, "keymaps/default.keys must equal the built-in keymap")
        var k = Keymap.builtIn()
        try k.load(try String(contentsOfFile: root + "/keymaps/emacs.keys", encoding: .utf8), file: "emacs.keys")
        XCTAssertEqual(k.action(for: "<C-n>", in: .list), Action(rawValue: "move-down"))
        XCTAssertEqual(k.action(for: "<M-lt>", in: .list), Action(rawValue: "top"))
    }

    func testEveryActionHasADefaultKeyAndTheDocsShowTheTable() throws {
        let k = Keymap.builtIn()
        for a in Action.allCases {
            let keys = a.contexts.flatMap { k.keys(for: a, in: $0) }
            XCTAssertFalse(keys.isEmpty, "\(a.name) has no default key")
        }
        let docs = try String(contentsOfFile: DubdeckBinary.packageRoot + "/docs/KEYMAPS.md", encoding: .utf8)
        XCTAssertTrue(docs.contains(Action.markdown(keymap: k)),
                      "docs/KEYMAPS.md is out of date: paste the output of `dubdeck actions`")
    }

    /// keymaps/emacs.keys takes <C-r> for search: redo must keep a key all the same.
    func testTheEmacsKeymapKeepsUndoAndRedo() throws {
        var k = Keymap.builtIn()
        let path = DubdeckBinary.packageRoot + "/keymaps/emacs.keys"
        try k.load(try String(contentsOfFile: path, encoding: .utf8), file: path)
        for action in [Action.undo, .redo, .help, .quit, .edit, .approve, .lock] {
            XCTAssertFalse(k.keys(for: action, in: .list).isEmpty && k.keys(for: action, in: .generic).isEmpty, "\(action) has no key with emacs.keys")
        }
        // Its <C-_> fires: the terminal's code 31 is that key (it used to be dropped).
        XCTAssertEqual(KeyDecoder.decode(.char(31), next: { nil }).flatMap { k.action(for: $0, in: .list) }, .undo)
    }

    /// A keymap saved with CRLF line ends reads as the same lines (it used to be one long line: Swift
    /// counts "\r\n" as one character), and a bad line in it is named by its number.
    func testCRLFKeymapsReadLineByLine() throws {
        var keymap = Keymap.builtIn()
        try keymap.load("# mine\r\nbind list J move-down\r\n\r\nbind list K move-up # up\r\n", file: "k")
        XCTAssertEqual(keymap.action(for: "J", in: .list), .moveDown)
        XCTAssertEqual(keymap.action(for: "K", in: .list), .moveUp)
        XCTAssertThrowsError(try keymap.load("bind list J move-down\r\nbind list K nope\r\n", file: "k")) { e in
            XCTAssertTrue("\(e)".contains("k:2"), "\(e)")
        }
    }
}

final class ScreenActionTests: XCTestCase {
    /// Every screen answers the generic actions: <C-l> (redraw) repaints the history view too.
    func testRedrawAndHelpWorkOnEveryScreen() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let store = try TranscriptStore(job: try JobLoader.load(job), by: "t")
        try store.commit([.edit(1, text: "changed")])
        let desk = Desk(store: store, keymap: .builtIn())
        desk.handle(key: "h")
        guard case .history = desk.mode else { return XCTFail("not in the history view") }
        XCTAssertEqual(desk.handle(key: "<C-l>"), .all)
        desk.handle(key: "?")
        guard case .help = desk.mode else { return XCTFail("help did not open from the history view") }
        XCTAssertEqual(desk.handle(key: "<C-l>"), .all)
    }
}

/// The terminal key decoder: what curses delivers → the canonical notation keymaps use.
final class KeyDecoderTests: XCTestCase {
    func decode(_ seq: [KeyDecoder.Raw]) -> String? {
        var rest = Array(seq.dropFirst())
        return KeyDecoder.decode(seq[0]) { rest.isEmpty ? nil : rest.removeFirst() }
    }

    func testKeysDecodeToTheirCanonicalNotation() {
        let cases: [([KeyDecoder.Raw], String?)] = [
            ([.char(106)], "j"), ([.char(71)], "G"), ([.char(13)], "<Enter>"), ([.char(10)], "<C-j>"),
            ([.char(9)], "<Tab>"), ([.char(127)], "<BS>"), ([.char(8)], "<BS>"), ([.char(32)], "<Space>"),
            ([.char(60)], "<lt>"), ([.char(1)], "<C-a>"), ([.char(18)], "<C-r>"), ([.char(0x3042)], "あ"),
            ([.char(27)], "<Esc>"), ([.char(27), .char(120)], "<M-x>"), ([.char(27), .char(60)], "<M-lt>"),
            ([.char(27), .char(13)], "<M-Enter>"), ([.char(27), .function(KEY_DOWN)], "<M-Down>"),
            ([.function(KEY_NPAGE)], "<PgDn>"), ([.function(KEY_F0 + 5)], "<F5>"), ([.function(KEY_BTAB)], "<S-Tab>"),
            ([.function(KEY_DC)], "<Del>"), ([.char(0)], "<C-@>"), ([.char(28)], "<C-\\>"), ([.char(29)], "<C-]>"), ([.char(30)], "<C-^>"), ([.char(31)], "<C-_>"), ([.function(99999)], nil),
            ([.char(27), .char(0)], "<M-C-@>"),
        ]
        for (seq, want) in cases {
            let got = decode(seq)
            XCTAssertEqual(got, want, "\(seq)")
            if let got { XCTAssertEqual(KeyNotation.canonical(got), got, "\(got) is canonical") }
        }
    }
}
