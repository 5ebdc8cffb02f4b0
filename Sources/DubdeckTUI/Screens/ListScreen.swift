import DubdeckCore

/// The lines of the episode with the detail pane of the selected one; `/` opens a search prompt
/// in the status line. The selection itself (cursor, filter) is the desk's: the editor, the
/// history and the characters screen's "use line audio" work on it too.
public struct ListScreen: DeskScreen {
    /// The search being typed, while the prompt is open.
    public var search: LineEditor?

    public init(search: LineEditor? = nil) { self.search = search }

    var keyContext: KeyContext { search == nil ? .list : .editor }

    var prompt: (label: String, editor: LineEditor)? { search.map { ("/", $0) } }

    mutating func type(_ text: String, desk: Desk) -> Redraw? {
        guard search != nil else { return nil }
        search?.insert(text)
        return .status
    }

    mutating func handle(_ action: Action, desk: Desk) -> Redraw {
        if var line = search {
            if action == .commit {
                search = nil
                return desk.runSearch(line.text)
            }
            if action == .cancel {
                search = nil
                desk.setMessage("")
                return .all
            }
            guard line.apply(action, multiline: false) else { return .nothing }
            search = line
            return .status
        }
        if action == .search {
            search = LineEditor("")
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
