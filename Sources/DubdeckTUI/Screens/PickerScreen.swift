import DubdeckCore

/// A list to pick one entry from: the label of a line (a diarization error fixed) or the character
/// of a label. Enter takes the selected entry; q or Esc returns to the list unchanged.
public struct PickerScreen: DeskScreen {
    public enum Purpose: Equatable, Sendable {
        /// The diarization label of line N.
        case lineSpeaker(Int)
        /// The character of this episode's label.
        case labelCharacter(String)
        /// Line N's text: one of the engine's proposals taken or left, in place of the text they
        /// were shown against.
        case retranslation(Int, against: String)
    }

    public struct Choice: Equatable, Sendable {
        /// What is picked (a label, a character ID, a proposed text).
        public var value: String
        /// How the row reads, in runs: a proposal's changed words marked.
        var runs: [DeskView.TextRun]
        public var text: String { runs.map(\.text).joined() }

        init(value: String, text: String) {
            self.value = value
            runs = [DeskView.TextRun(text: text, changed: false)]
        }

        init(value: String, runs: [DeskView.TextRun]) {
            self.value = value
            self.runs = runs
        }
    }

    public let purpose: Purpose
    public let title: String
    public let choices: [Choice]
    public var selection: Int

    init(purpose: Purpose, title: String, choices: [Choice], selected: String?) {
        self.purpose = purpose
        self.title = title
        self.choices = choices
        selection = choices.firstIndex { $0.value == selected } ?? 0
    }

    var keyContext: KeyContext { .picker }

    mutating func handle(_ action: Action, desk: Desk) -> Redraw? {
        let last = max(0, choices.count - 1)
        switch action {
        case .back: desk.mode = .list(ListScreen()); return .all
        case .moveDown: selection = min(selection + 1, last)
        case .moveUp: selection = max(0, selection - 1)
        case .top: selection = 0
        case .bottom: selection = last
        case .pick:
            guard selection < choices.count else { return .nothing }
            desk.mode = .list(ListScreen())
            return desk.picked(purpose, choices[selection].value)
        default: return nil
        }
        return .all
    }

    func draw(_ desk: Desk, into grid: inout CellGrid) {
        DeskView.drawMarkedTable(title: " pick ", info: " " + title + " · Enter takes it · q returns", columns: "", count: choices.count,
                           selection: selection, empty: "  nothing to pick from", into: &grid) { [DeskView.TextRun(text: "  ", changed: false)] + choices[$0].runs }
        DeskView.drawStatus(desk, into: &grid)
    }
}
