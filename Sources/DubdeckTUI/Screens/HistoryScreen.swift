import DubdeckCore

/// The change history of one line, newest first, with restore; its last row is the first version
/// of every line, the machine translation (translated.json's text).
public struct HistoryScreen: DeskScreen {
    var keyContext: KeyContext { .history }
    public let segment: Int
    public var records: [HistoryRecord]
    /// The machine translation of the line.
    public let machineText: String
    /// The highlighted row (records.count: the machine translation).
    public var selection = 0

    public init(segment: Int, records: [HistoryRecord], machineText: String) {
        self.segment = segment
        self.records = records
        self.machineText = machineText
    }

    mutating func handle(_ action: Action, desk: Desk) -> Redraw? {
        let last = records.count
        switch action {
        case .back: desk.mode = .list(ListScreen()); return .all
        case .moveDown: selection = min(selection + 1, last)
        case .moveUp: selection = max(0, selection - 1)
        case .top: selection = 0
        case .bottom: selection = last
        case .restoreVersion:
            guard selection < records.count else { return desk.resetText(segment) }
            return desk.restoreVersion(records[selection], line: segment)
        default: return nil
        }
        return .all
    }

    func draw(_ desk: Desk, into grid: inout CellGrid) {
        let pad = DeskView.pad, padLeft = DeskView.padLeft
        let n = segment
        DeskView.drawTable(title: " history ",
                           info: " line \(n) · \(records.count) change\(records.count == 1 ? "" : "s") · Enter restores the selected text · q returns",
                           columns: pad("   #", 7) + " " + pad("when", 20) + " " + pad("who", 10) + " " + pad("action", 10) + " text after",
                           count: records.count + 1, selection: selection, empty: "", into: &grid) { k in
            guard k < records.count else {
                return padLeft("MT", 7) + " " + pad("", 20) + " " + pad("pipeline", 10) + " " + pad("machine", 10) + " "
                    + machineText.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ⏎ ")
            }
            let r = records[k]
            var what = r.textAfter.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ⏎ ")
            if !r.changesText {
                let flags: [String] = [r.approvedAfter ? "approved" : "", r.lockedAfter ? "locked" : ""].filter { !$0.isEmpty }
                what = "[" + (flags.isEmpty ? "-" : flags.joined(separator: ", ")) + "] " + what
            }
            return padLeft(String(r.seq), 7) + " " + pad(r.ts, 20) + " " + pad(r.by, 10) + " " + pad(r.action, 10) + " " + what
        }
        DeskView.drawStatus(desk, into: &grid)
    }
}
