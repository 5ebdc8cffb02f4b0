import DubdeckCore

/// The characters of the series (names, episodes, lines here, reference, voice), with rename,
/// merge (confirmed, undoable), reference playback and "use line audio". Rename and merge ask in a
/// prompt in the status line; the screen stays under it. `c` shows the series' reconcile proposals
/// instead (accept, reject, undo the last reconcile), read from the store on disk each time.
public struct CharactersScreen: DeskScreen {
    /// What the status-line prompt asks.
    public enum Question: Equatable {
        case rename(String)
        case merge(String)
        case confirmMerge(String, String)

        var label: String {
            switch self {
            case .rename(let id): return "name for \(id): "
            case .merge(let id): return "merge \(id) into (ID): "
            case .confirmMerge(let id, let into): return "merge \(id) into \(into)? (y/n) "
            }
        }
    }

    /// The selected row.
    public var selection = 0
    /// The series shown (nil: all).
    public var series: String?
    /// The open prompt and what is typed in it.
    var question: (Question, LineEditor)? {
        get { asked.map { ($0, answer) } }
        set { asked = newValue?.0; answer = newValue?.1 ?? LineEditor("") }
    }
    var asked: Question?
    var answer = LineEditor("")
    /// The reconcile proposals, while shown (nil: the characters).
    var proposals: ReconcileAnalysis?
    var proposalSelection = 0

    public init(series: String?) { self.series = series }

    var keyContext: KeyContext { asked == nil ? .characters : .editor }

    var prompt: (label: String, editor: LineEditor)? { asked.map { ($0.label, answer) } }

    func rows(_ desk: Desk) -> [CharacterRecord] { desk.castRows(series: series) }

    func selected(_ desk: Desk) -> CharacterRecord? {
        let rows = rows(desk)
        return selection >= 0 && selection < rows.count ? rows[selection] : nil
    }

    mutating func type(_ text: String, desk: Desk) -> Redraw? {
        guard asked != nil else { return nil }
        answer.insert(text)
        return .status
    }

    mutating func handle(_ action: Action, desk: Desk) -> Redraw? {
        if let q = asked { return answer(q, action, desk) }
        if proposals != nil { return handleProposals(action, desk) }
        let count = rows(desk).count
        switch action {
        case .back: desk.mode = .list(ListScreen()); return .all
        case .moveDown: selection = min(selection + 1, max(0, count - 1))
        case .moveUp: selection = max(0, selection - 1)
        case .top: selection = 0
        case .bottom: selection = max(0, count - 1)
        case .seriesNext:
            let all: [String?] = desk.allSeries.map { Optional($0) } + [nil]
            let i = all.firstIndex(where: { $0 == series }) ?? 0
            series = all[(i + 1) % all.count]
            selection = 0
            desk.setMessage("series: \(series ?? "all")")
        case .playReference:
            guard let c = selected(desk) else { return .nothing }
            guard let wav = c.speakerWavs.first else { desk.setMessage("\(c.displayName) has no reference recording", .warning); return .status }
            desk.play(label: "reference of \(c.displayName)") { PCM16(try AudioFile.read(wav)) }
        case .renameCharacter:
            guard let c = selected(desk) else { return .nothing }
            question = (.rename(c.id), LineEditor(c.name))
        case .mergeCharacter:
            guard let c = selected(desk) else { return .nothing }
            question = (.merge(c.id), LineEditor(""))
        case .useLineAudio:
            return desk.useLineAudio()
        case .undoMerge:
            return desk.undoLastMerge()
        case .reconcile:
            return showProposals(desk)
        case .acceptProposal, .rejectProposal:
            desk.setMessage("c shows the series' reconcile proposals", .warning)
            return .status
        default: return nil
        }
        return .all
    }

    /// The series the proposals are of: the one shown, else the job's.
    func proposalSeries(_ desk: Desk) -> String? { series ?? desk.job.info.seriesID }

    mutating func showProposals(_ desk: Desk) -> Redraw {
        guard let s = proposalSeries(desk) else {
            desk.setMessage("no series: reconcile looks at one series (set series_id in job.json)", .warning)
            return .status
        }
        return desk.requestProposals(series: s)
    }

    /// The proposals read in the background arrived.
    mutating func showProposals(_ analysis: ReconcileAnalysis) {
        proposals = analysis
        proposalSelection = min(proposalSelection, max(0, analysis.proposals.count - 1))
    }

    mutating func handleProposals(_ action: Action, _ desk: Desk) -> Redraw? {
        let list = proposals?.proposals ?? []
        let selected = proposalSelection < list.count ? list[proposalSelection] : nil
        switch action {
        case .back, .cancel: proposals = nil; return .all
        case .moveDown: proposalSelection = min(proposalSelection + 1, max(0, list.count - 1))
        case .moveUp: proposalSelection = max(0, proposalSelection - 1)
        case .top: proposalSelection = 0
        case .bottom: proposalSelection = max(0, list.count - 1)
        case .reconcile: return showProposals(desk)
        case .acceptProposal:
            guard let p = selected, let s = proposalSeries(desk) else { return .nothing }
            desk.acceptProposal(p, series: s)
            return .status  // the proposals follow once the change is made
        case .rejectProposal:
            guard let p = selected, let s = proposalSeries(desk) else { return .nothing }
            desk.rejectProposal(p, series: s)
            return .status  // the proposals follow once the change is made
        case .undoMerge:
            guard let s = proposalSeries(desk) else { return .nothing }
            desk.undoReconcile(series: s)
            return .status  // the proposals follow once the change is made
        default:
            return nil
        }
        return .all
    }

    /// Keys while the prompt is open: Enter answers, Esc closes it, the rest edits the answer.
    mutating func answer(_ q: Question, _ action: Action, _ desk: Desk) -> Redraw {
        if action == .cancel {
            asked = nil
            desk.setMessage("")
            return .all
        }
        guard action == .commit else { return answer.apply(action, multiline: false) ? .status : .nothing }
        let text = answer.text.trimmingCharacters()
        switch q {
        case .rename(let id):
            guard (try? CharacterStore.checkedName(text)) != nil else {
                desk.setMessage("a name cannot be empty (Esc keeps \(id)'s name)", .warning)
                return .all
            }
            asked = nil
            return desk.changeCast("character \(CharacterRecord.number(of: id)) is now \(text)") { try $0.rename(id, to: text) }
        case .merge(let id):
            // First the target, then a confirmation: a merge folds one character into another.
            guard !text.isEmpty else { asked = nil; return .all }
            guard let to = desk.cast?.resolve(text) else {
                desk.setMessage("no character \(text)", .warning)
                return .all
            }
            question = (.confirmMerge(id, to.id), LineEditor(""))
            desk.setMessage("merge \(id) into \(to.id) \(to.displayName)? type y and Enter (Esc keeps both)", .warning)
            return .all
        case .confirmMerge(let id, let into):
            asked = nil
            guard text.lowercased() == "y" else {
                desk.setMessage("not merged")
                return .all
            }
            selection = 0
            return desk.mergeCharacter(id, into: into)
        }
    }

    func draw(_ desk: Desk, into grid: inout CellGrid) {
        if let analysis = proposals { return drawProposals(analysis, desk, into: &grid) }
        let pad = DeskView.pad, padLeft = DeskView.padLeft
        let rows = rows(desk)
        let titles = pad("ID", 12) + " " + pad("name", 18) + " " + padLeft("eps", 4) + " " + pad("last seen", 12) + " "
            + padLeft("lines", 5) + "  ref  voice"
        // The screen's keys as the keymap in force binds them.
        let keys: [(Action, String)] = [(.renameCharacter, "rename"), (.mergeCharacter, "merge"), (.undoMerge, "undo merge"),
                                        (.useLineAudio, "line audio as reference"), (.playReference, "play reference"), (.reconcile, "proposals")]
        let legend = keys.compactMap { a, what in desk.keymap.keys(for: a, in: .characters).first.map { "\($0) \(what)" } }.joined(separator: " · ")
        DeskView.drawTable(title: " characters ", info: " series: \(series ?? "all") (Tab switches) · \(rows.count) characters · \(legend)",
                           columns: titles, count: rows.count, selection: selection,
                           empty: "  no characters in this series (Tab shows the others)", into: &grid) { k in
            let c = rows[k]
            let info = series.flatMap { c.seriesInfo($0) }
            let episodes = info?.seen ?? c.series.reduce(0) { $0 + $1.info.seen }
            let last = info?.lastEpisode ?? c.series.last?.info.lastEpisode ?? "-"
            let voice = c.voice.map { "\($0.variant) p\($0.pitch) r\($0.rate)" } ?? "-"
            return pad(c.id, 12) + " " + pad(c.name.isEmpty ? "(unnamed)" : c.name, 18) + " " + padLeft(String(episodes), 4) + " "
                + pad(last, 12) + " " + padLeft(String(desk.linesInEpisode(c.id)), 5) + "  " + (c.speakerWavs.isEmpty ? " -   " : "yes  ") + voice
        }
        DeskView.drawStatus(desk, into: &grid)
    }

    func drawProposals(_ a: ReconcileAnalysis, _ desk: Desk, into grid: inout CellGrid) {
        let rejected = a.rejected.isEmpty ? "" : " (\(a.rejected.count) rejected)"
        let list = a.proposals
        // Two rows a proposal would halve what fits: what it does, then its evidence after it.
        DeskView.drawTable(title: " reconcile ", info: " series: \(Sanitizer.display(a.series)) · \(a.units) clustered · \(list.count) proposal\(list.count == 1 ? "" : "s")\(rejected) · a accepts, x rejects, U undoes the last, Esc: characters",
                           columns: "  # proposal · evidence", count: list.count, selection: proposalSelection,
                           empty: "  nothing to reconcile: the characters agree with the whole series", into: &grid) { k in
            DeskView.padLeft(String(k + 1), 3) + " " + list[k].summary + " · " + list[k].evidence
        }
        DeskView.drawStatus(desk, into: &grid)
    }
}
