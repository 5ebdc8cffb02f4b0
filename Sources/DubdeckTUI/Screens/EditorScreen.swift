import DubdeckCore

/// The target text of one line being edited in the detail pane, word-wrapped.
public struct EditorScreen: DeskScreen {
    /// The line being edited.
    public let segment: Int
    public var editor: LineEditor
    /// The text on disk the editing started from: a commit finding another text keeps the editor
    /// open with the reviewer's words and says what changed (SPEC §10.5).
    public var base: String

    public init(segment: Int, text: String) {
        self.segment = segment
        editor = LineEditor(text)
        base = text
    }

    var keyContext: KeyContext { .editor }

    mutating func type(_ text: String, desk: Desk) -> Redraw? {
        editor.insert(text)
        return .all
    }

    mutating func handle(_ action: Action, desk: Desk) -> Redraw? {
        if action == .commit { return commit(desk) }
        if action == .cancel {
            desk.mode = .list(ListScreen())
            desk.setMessage("edit cancelled")
            return .all
        }
        // Every other action is the buffer's to take or refuse (LineEditor.apply's exhaustive switch).
        return editor.apply(action, multiline: true) ? .all : .nothing
    }

    /// Saves the text, unless the line changed underneath since the editing started: then the
    /// reviewer's words stay in the editor and the message says who changed it and to what.
    mutating func commit(_ desk: Desk) -> Redraw {
        let n = segment
        let store = desk.store
        if (try? store.reloadIfChanged()) == true { try? desk.readRecentHistory() }
        let now = store.state(n)
        if now.text != base || now.locked {
            let who = (try? store.history.scanEnd { older, _ in older.segment != n }.records.last { $0.segment == n }?.by) ?? nil
            let quoted = String(now.text.prefix(40)) + (now.text.count > 40 ? "…" : "")
            base = now.text
            if now.locked {
                desk.setMessage("line \(n) was locked\(who.map { " by \($0)" } ?? "") meanwhile: Esc discards your text (it cannot be saved while locked)", .warning)
            } else {
                desk.setMessage("line \(n) was changed\(who.map { " by \($0)" } ?? "") to \"\(quoted)\": Enter saves yours over it (theirs stays in the history), Esc discards yours", .warning)
            }
            desk.invalidateSearch()
            desk.applyFilter(keepSegment: n - 1)
            return .all
        }
        desk.mode = .list(ListScreen())
        if editor.text == now.text {
            desk.setMessage("no change")
            return .all
        }
        return desk.change(.edit(n, text: editor.text))
    }

    func draw(_ desk: Desk, into grid: inout CellGrid) {
        DeskView.drawHeader(desk, into: &grid)
        DeskView.drawList(desk, into: &grid)
        DeskView.drawDetail(desk, segment: segment, editor: editor, into: &grid)
        DeskView.drawStatus(desk, into: &grid)
    }
}
