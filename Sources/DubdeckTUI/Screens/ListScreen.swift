import DubdeckCore

/// The lines of the episode with the detail pane of the selected one; `/` (search) and `:` (go to
/// line) ask in a prompt in the status line. The selection itself (cursor, filter) is the desk's:
/// the editor, the history, the pickers and the characters screen work on it too.
public struct ListScreen: DeskScreen {
    /// What the status-line prompt asks for.
    public enum Ask: Equatable, Sendable {
        case search, goto

        var label: String { self == .search ? "/" : ":" }
    }

    /// The open prompt, if any, and what is typed in it.
    public var asking: Ask?
    var answer = LineEditor("")

    public init(asking: Ask? = nil) { self.asking = asking }

    /// The search being typed, while the search prompt is open.
    public var search: LineEditor? { asking == .search ? answer : nil }

    var keyContext: KeyContext { asking == nil ? .list : .editor }

    var prompt: (label: String, editor: LineEditor)? { asking.map { ($0.label, answer) } }

    mutating func type(_ text: String, desk: Desk) -> Redraw? {
        guard asking != nil else { return nil }
        answer.insert(text)
        return .status
    }

    mutating func handle(_ action: Action, desk: Desk) -> Redraw? {
        if let ask = asking {
            if action == .commit {
                asking = nil
                return ask == .search ? desk.runSearch(answer.text) : desk.goToLine(answer.text)
            }
            if action == .cancel {
                asking = nil
                desk.setMessage("")
                return .all
            }
            return answer.apply(action, multiline: false) ? .status : .nothing
        }
        if action == .search || action == .gotoLine {
            asking = action == .search ? .search : .goto
            answer = LineEditor("")
            return .all
        }
        return desk.perform(action)
    }

    func draw(_ desk: Desk, into grid: inout CellGrid) {
        DeskView.drawHeader(desk, into: &grid)
        DeskView.drawList(desk, into: &grid)
        DeskView.drawDetail(desk, segment: desk.selectedSegment?.number, editor: nil, into: &grid)
        DeskView.drawStatus(desk, into: &grid)
    }
}
