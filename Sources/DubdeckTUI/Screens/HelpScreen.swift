import DubdeckCore

/// The keys of every screen, generated from the action table and the keymap in force.
public struct HelpScreen: DeskScreen {
    var keyContext: KeyContext { .help }
    public var scroll = 0

    public init() {}

    mutating func handle(_ action: Action, desk: Desk) -> Redraw? {
        let lines = DeskView.helpLines(keymap: desk.keymap).count
        let page = max(1, desk.height - 3)
        let maxScroll = max(0, lines - page)
        switch action {
        case .back, .help: desk.mode = desk.helpReturn; return .all
        case .moveDown: scroll += 1
        case .moveUp: scroll -= 1
        case .pageDown: scroll += page
        case .pageUp: scroll -= page
        case .top: scroll = 0
        case .bottom: scroll = maxScroll
        default: return nil
        }
        scroll = max(0, min(scroll, maxScroll))
        return .all
    }

    func draw(_ desk: Desk, into grid: inout CellGrid) {
        let lines = DeskView.helpLines(keymap: desk.keymap)
        grid.fill(row: 0, style: .header)
        grid.put(" dubdeck help", row: 0, col: 0, style: .title)
        let rows = grid.height - 2
        for r in 0..<rows {
            let i = scroll + r
            guard i < lines.count else { break }
            let line = lines[i]
            grid.put(line, row: r + 1, col: 0, style: line.hasPrefix("[") ? .columns : .normal)
        }
        grid.fill(row: grid.height - 1, style: .status)
        grid.put(" lines \(scroll + 1)–\(min(lines.count, scroll + rows)) of \(lines.count)", row: grid.height - 1, col: 0, style: .status)
    }
}
