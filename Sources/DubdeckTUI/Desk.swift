import DubdeckCore

/// What an action needs repainted. Actions change state and say this; they never draw.
public enum Redraw: Comparable, Sendable {
    case nothing, status, all
}

/// The review desk's state and behaviour, with no terminal in it: keys in (canonical key
/// notation), state changes and durable commits out; `DeskView` draws it into a grid.
public final class Desk {
    /// The screen showing, with its own state; each kind is a `DeskScreen` type.
    public enum Mode: Equatable {
        case list(ListScreen)
        case editor(EditorScreen)
        case help(HelpScreen)
        case characters(CharactersScreen)
        /// The change history of one line, newest first.
        case history(HistoryScreen)
        /// A line's speaker label or a label's character, picked from a list.
        case picker(PickerScreen)

        public enum Kind: Sendable { case list, editor, help, characters, history, picker }

        public var kind: Kind {
            switch self {
            case .list: return .list
            case .editor: return .editor
            case .help: return .help
            case .characters: return .characters
            case .history: return .history
            case .picker: return .picker
            }
        }
    }

    public enum MessageKind { case info, warning, error }

    /// Replaced when characters.map.json changes underneath (`characters identify` elsewhere).
    public internal(set) var store: TranscriptStore
    public var job: Job { store.job }
    public let keymap: Keymap
    public internal(set) var mode: Mode = .list(ListScreen())
    /// The filter, the lines it shows, the cursor and the scroll (Models/Selection).
    public internal(set) var selection = Selection()
    public var filter: SegmentFilter { selection.filter }
    public var visible: [Int] { selection.visible }
    public var cursor: Int { selection.cursor }
    public var top: Int { selection.top }
    public internal(set) var message = ""
    public internal(set) var messageKind: MessageKind = .info
    /// Warnings that stay until their cause goes (read-only job, a change waiting for the lock).
    public var banner: String? {
        if let reason = store.readOnlyReason { return "READ-ONLY: \(reason)" }
        return pendingCommits.banner
    }
    public internal(set) var lastSearch: String?
    public internal(set) var quitRequested = false
    /// An action that asked to be pressed again to confirm (S to regenerate everything, q to stop a
    /// batch and leave): armed by that key, confirmed by the next one if it is the same action.
    var armed: Action?
    /// The armed action the key being handled confirms (nil: none).
    var confirmed: Action?
    /// Said when the desk closes (after the terminal is restored): a batch stopped by q, what it did.
    public internal(set) var exitNote: String?
    /// Changes that could not take the job lock yet; retried when idle, in order (Models/PendingCommits).
    public internal(set) var pendingCommits = PendingCommits()
    public var pending: [SegmentChange] { pendingCommits.changes }
    public var width = 100
    public var height = 30
    /// How much of the history the desk reads at open (the detail pane's "last changes"): enough
    /// for the recent records, never the whole file.
    public static let historyTailBytes = 96 * 1024
    /// Recent history (the tail read at open), newest last, for the detail pane.
    var recentHistory: [HistoryRecord] = []
    /// True when `recentHistory` reaches the start of the file (no older record can exist).
    var recentHistoryComplete = true
    /// What was heard last, the decoded take, playback at the last tick (Models/SoundState).
    var sound = SoundState()
    var detailRowsCache: (key: [Int], rows: Int)?
    var stripCache: (key: [Int], strip: TimingStrip)?
    var takePositionCache: (key: [Int], position: (k: Int, of: Int)?)?
    var searchCache: [String?] = []
    /// The last search's matches (DeskHistory.matches), nil when a text it read changed.
    var searchMatches: (needle: String, visible: [Int], positions: [Int])?
    /// Passes the search made over the lines (the tests check `n` makes none).
    var searchPasses = 0
    var lastPoll = 0.0
    /// The command line's reading-speed limit (kept when the store is read again).
    public var cpsOverride: Double? {
        didSet {
            guard cpsOverride != oldValue else { return }
            store.cpsLimit = cpsOverride ?? ReadingSpeed.limit(job)
            invalidateSearch()
            applyFilter(keepSegment: selectedSegment.map { $0.number - 1 })
        }
    }
    /// Sound: nil when the desk runs without an audio setup.
    public let audio: DeskAudio?
    let worker: SynthWorker?

    /// Before the process exits: work in progress stops cleanly (see `SynthWorker.stopForExit`).
    public func stopForExit() { worker?.stopForExit() }
    /// The characters and the work on the character store (Models/Cast).
    let castModel: Cast
    /// Re-translation of one line, in the background (Models/Retranslation; `review --mt-engine`).
    private(set) var retranslation = Retranslation(engineName: nil, command: [], srcLang: nil)
    /// The machine translation engine the desk asks (`review --mt-engine`, `DUBDECK_MT_COMMAND`).
    public func useTranslation(engine: String?, command: [String], srcLang: String?) {
        retranslation = Retranslation(engineName: engine, command: command, srcLang: srcLang)
    }
    /// The character store's path (nil: the desk shows no characters).
    public var characterStorePath: String? { castModel.path }
    /// The characters (names, series, voices; never embeddings), nil without a readable store.
    public var cast: CharacterStore? { castModel.names }
    var helpReturn: Mode = .list(ListScreen())
    /// How long the lines on screen and the text being typed will be spoken (Models/Forecast).
    let forecast: Forecast

    /// `predictor`: how long texts will be spoken (espeak-ng's count; nil: no prediction).
    public init(store: TranscriptStore, keymap: Keymap, audio: DeskAudio? = nil, characterStorePath: String? = nil,
                predictor: (any SpeechLengthPredicting)? = try? SpokenLength()) {
        self.store = store
        forecast = Forecast(predictor: predictor)
        self.keymap = keymap
        self.audio = audio
        castModel = Cast(path: characterStorePath)
        // An engine that can say how long it would speak (a server's `predict`) answers the desk's
        // predicted fit once the synthesis made it.
        let engineAware = predictor as? EngineLengthPredictor
        worker = audio.map { SynthWorker(job: store.job, by: store.by, maxSpeedup: $0.maxSpeedup, makeEngine: $0.makeEngine,
                                         engineMade: { engineAware?.adopt($0) }) }
        if let audio { store.maxSpeedup = audio.maxSpeedup }
        castModel.jobSignature = Desk.jobSignature(store.job)
        // The names are read once the first screen is out (the first tick): a second thread
        // decrypting 20 MB while the first frame is drawn slows that frame on two cores.
        castModel.loadDue = true
        searchCache = Array(repeating: nil, count: store.job.segments.count)
        applyFilter(keepSegment: nil)
        let help = (keymap.keys(for: .help, in: .list) + keymap.keys(for: .help, in: .generic)).first ?? "?"
        let quit = (keymap.keys(for: .quit, in: .list) + keymap.keys(for: .quit, in: .generic)).first ?? "q"
        setMessage("\(help) help · \(quit) quit")
        do {
            try readRecentHistory()
        } catch let e as DubdeckError {
            setMessage(e.message, .warning)
        } catch {}
    }

    /// The tail of the history for the detail pane's "last changes".
    func readRecentHistory() throws {
        let tail = try store.recentHistory(maxBytes: Desk.historyTailBytes)
        recentHistory = tail.records
        recentHistoryComplete = !tail.partial
        if let w = tail.warning { setMessage(w, .warning) }
    }

    /// The keymap context the keys are read in now.
    public var context: KeyContext {
        switch mode {
        case .list(let s): return s.keyContext
        case .editor(let s): return s.keyContext
        case .help(let s): return s.keyContext
        case .characters(let s): return s.keyContext
        case .history(let s): return s.keyContext
        case .picker(let s): return s.keyContext
        }
    }

    /// The one-line prompt open in the status line (search, rename, merge), if any.
    var statusPrompt: (label: String, editor: LineEditor)? {
        switch mode {
        case .list(let s): return s.prompt
        case .editor(let s): return s.prompt
        case .help(let s): return s.prompt
        case .characters(let s): return s.prompt
        case .history(let s): return s.prompt
        case .picker(let s): return s.prompt
        }
    }

    public var selectedSegment: Segment? { selection.selected.map { job.segments[$0] } }

    /// A line another library printed on standard error while the desk ran (never drawn raw).
    public func showOutsideOutput(_ line: String) {
        setMessage("stderr: " + line, .warning)
    }

    func setMessage(_ text: String, _ kind: MessageKind = .info) {
        message = text
        messageKind = kind
    }

    // MARK: Layout numbers the actions need

    public var layout: DeskLayout { DeskLayout(width: width, height: height, detailRows: detailRowsNeeded) }

    /// Rows the detail pane needs for the selected line (source, text or editor, timing, changes):
    /// the list takes all the others, so no blank band is left above the status line.
    var detailRowsNeeded: Int {
        let cap = max(4, min(12, height / 2))
        guard let seg = detailSegment else { return 4 }
        // While editing: wrapped no further than the pane can show (bounded work at every key,
        // whatever the length of the text; no cache to key on the whole buffer).
        if case .editor = mode { return computeDetailRows(seg, cap: cap) }
        // Asked several times per keypress: the wrap is computed once per line, size and text.
        let key = [seg.number, width, height, -1, store.state(seg.number).text.utf8.count, store.state(seg.number).edited ? 1 : 0]
        if let c = detailRowsCache, c.key == key { return c.rows }
        let rows = computeDetailRows(seg, cap: cap)
        detailRowsCache = (key, rows)
        return rows
    }

    /// The timing strip of line n, computed once per line, width and take file (it reads audio).
    func timingStrip(_ n: Int, columns: Int) -> TimingStrip? {
        guard job.sourceAudioPath != nil || store.state(n).preview != nil else { return nil }
        let take = Takes.file(job, Takes.currentName(n)).flatMap { FileIO.statSignature($0) }
        let slot = store.segment(n)  // the dub's times: a nudge redraws the strip
        let key = [n, columns, Int(take?.inode ?? 0), take?.mtimeNs ?? 0, take?.size ?? -1, Int(slot.start * 1000), Int(slot.end * 1000)]
        if let c = stripCache, c.key == key { return c.strip }
        let strip = TimingStrip.build(store, n, columns: columns)
        stripCache = (key, strip)
        return strip
    }

    /// Which of line n's takes is the current one ("take 2 of 4"), listed once per line, take and
    /// state of segments_preview/ (a directory of thousands of takes is not read at every key).
    func takePosition(_ n: Int) -> (k: Int, of: Int)? {
        guard let preview = store.state(n).preview else { return nil }
        let dir = FileIO.statSignature(job.place(Takes.directoryName))
        let key = [n, dir?.mtimeNs ?? -1, Int(truncatingIfNeeded: dir?.inode ?? 0), dir?.size ?? -1, preview.take?.hashValue ?? 0]
        if let c = takePositionCache, c.key == key { return c.position }
        let list = PlaybackSource.takes(store, n)
        let position = PlaybackSource.currentListed(store, n, in: list).map { (k: $0, of: list.count) }
        // A directory changed in the last second may change again under the same stamp: not kept.
        takePositionCache = dir.map { FileIO.isRacy(mtimeNs: $0.mtimeNs) } == false ? (key, position) : nil
        return position
    }

    /// The line the detail pane shows: the one being edited, else the selected one.
    var detailSegment: Segment? {
        if case .editor(let e) = mode { return job.segments[e.segment - 1] }
        return selectedSegment
    }

    func computeDetailRows(_ seg: Segment, cap: Int) -> Int {
        let w = max(10, width - 6)
        let src = min(2, TextWidth.wrap(seg.srcText.isEmpty ? "(no source text)" : seg.srcText, columns: w).count)
        let text: Int
        if case .editor(let e) = mode { text = DeskView.editorRows(e.editor, width: w, upTo: cap).count } else { text = TextWidth.wrap(store.state(seg.number).text, columns: w).count }
        let strip = job.sourceAudioPath != nil || store.state(seg.number).preview != nil ? 3 : 0  // ruler, orig, take
        let machine = store.state(seg.number).edited ? 1 : 0  // the mt row beside an edited line
        return max(4, min(cap, src + machine + max(1, text) + 2 + strip))
    }

    var pageSize: Int { max(1, layout.listRows) }

    func keepCursorVisible() { selection.keepCursorVisible(rows: pageSize) }

    /// The filter applied to the store's states again, staying on line index `keepSegment`.
    func applyFilter(keepSegment: Int?) { selection.apply(store.states, keep: keepSegment, rows: pageSize) }

    // MARK: Keys

    /// Handles one key in canonical notation (see `KeyNotation`).
    @discardableResult
    public func handle(key: String) -> Redraw {
        // A confirmation lasts one key.
        confirmed = armed
        armed = nil
        defer { confirmed = nil }
        if layout.tooSmall {
            // Nothing is visible: only quit works (a key typed now must not land in a hidden editor).
            if keymap.action(for: key, in: .list) == .quit || keymap.action(for: key, in: .generic) == .quit {
                quitRequested = true
            }
            return .nothing
        }
        // Typing into the editor changes its buffer in place: the screen is taken out of `mode`
        // first (else the buffer, shared with it, is copied at every key, and a pasted text costs
        // the square of its length).
        if case .editor(var screen) = mode, keymap.action(for: key, in: screen.keyContext) == nil, let text = typedText(key) {
            mode = .list(ListScreen())
            let redraw = screen.type(text, desk: self) ?? .nothing
            mode = .editor(screen)
            return redraw
        }
        switch mode {
        case .list(let s): return dispatch(key, to: s) { .list($0) }
        case .editor(let s): return dispatch(key, to: s) { .editor($0) }
        case .help(let s): return dispatch(key, to: s) { .help($0) }
        case .characters(let s): return dispatch(key, to: s) { .characters($0) }
        case .history(let s): return dispatch(key, to: s) { .history($0) }
        case .picker(let s): return dispatch(key, to: s) { .picker($0) }
        }
    }

    /// One key to the screen showing: its action in the screen's context, else the text it types.
    /// The changed screen is kept when the screen stayed (it left if `mode` is of another kind now).
    func dispatch<S: DeskScreen>(_ key: String, to screen: S, as wrap: (S) -> Mode) -> Redraw {
        var screen = screen
        let kind = mode.kind
        let context = screen.keyContext
        let redraw: Redraw
        if let action = keymap.action(for: key, in: context) {
            redraw = screen.handle(action, desk: self) ?? commonAction(action)
        } else if let text = typedText(key), let r = screen.type(text, desk: self) {
            redraw = r
        } else if screen.prompt != nil {
            return .nothing  // a prompt ignores what it cannot type
        } else {
            setMessage(context == .editor ? "\(key) does nothing in the editor" : "\(key) is not bound here (? for help)", .warning)
            return .status
        }
        if mode.kind == kind { mode = wrap(screen) }
        return redraw
    }

    /// The text a key types in the editor, if it is a printable key.
    func typedText(_ key: String) -> String? {
        if key == "<Space>" { return " " }
        if key == "<lt>" { return "<" }
        if key.hasPrefix("<"), key.count > 1 { return nil }
        return key
    }

    /// What an action does on a screen that does not handle it: the same everywhere.
    func commonAction(_ action: Action) -> Redraw {
        switch action {
        case .quit: return quit()
        case .help: return openHelp()
        case .redraw: return .all
        default: return .nothing
        }
    }

    /// Performs a named action from the action table (the list's, and the actions every screen shares).
    @discardableResult
    public func perform(_ action: Action) -> Redraw {
        switch action {
        case .quit, .help, .redraw: return commonAction(action)
        case .moveDown: return move(to: cursor + 1)
        case .moveUp: return move(to: cursor - 1)
        case .pageDown, .pageUp: return moved(selection.page(forward: action == .pageDown, rows: pageSize))
        case .top: return move(to: 0)
        case .bottom: return move(to: visible.count - 1)
        case .nextUnapproved: return jumpUnapproved(forward: true)
        case .prevUnapproved: return jumpUnapproved(forward: false)
        case .nextProblem: return jumpProblem(forward: true)
        case .prevProblem: return jumpProblem(forward: false)
        case .setSpeaker: return openSpeakerPicker()
        case .assignCharacter: return openCharacterPicker()
        case .suggestCharacter: return openSuggestions()
        case .edit: return startEditing()
        case .approve:
            guard let seg = selectedSegment else { return .nothing }
            return change(.approve(seg.number, !store.state(seg.number).approved))
        case .approveNext:
            guard let seg = selectedSegment else { return .nothing }
            let r = store.state(seg.number).approved ? .nothing : change(.approve(seg.number, true))
            if messageKind == .error { return r }
            let (said, kind) = (message, messageKind)
            _ = move(to: cursor + 1)
            setMessage(said, kind)  // what was saved stays said on the next line
            return .all
        case .lock:
            guard let seg = selectedSegment else { return .nothing }
            return change(.lock(seg.number, !store.state(seg.number).locked, by: store.by))
        case .flagRetranslate:
            guard let seg = selectedSegment else { return .nothing }
            let on = !store.state(seg.number).flaggedForRetranslation
            return change(.flag(seg.number, ReviewState.needsRetranslate, on))
        case .retranslate: return askRetranslation()
        case .synthesize, .synthesizeApproved, .cancelBatch, .playTake, .playOriginal, .playPreviousTake, .stopPlayback,
             .playContext, .playAB, .keepTake:
            return soundAction(action)
        case .characters: return openCharacters()
        case .nudgeStartEarlier, .nudgeStartLater, .nudgeEndEarlier, .nudgeEndLater,
             .nudgeStartEarlierFine, .nudgeStartLaterFine, .nudgeEndEarlierFine, .nudgeEndLaterFine:
            return nudge(action)
        case .undo: return castModel.lastAssign != nil ? undoAssign() : undoRedo(.undo)
        case .redo: return undoRedo(.redo)
        case .history: return openHistory()
        case .searchNext: return searchAgain(forward: true)
        case .searchPrev: return searchAgain(forward: false)
        case .filterNext, .filterPrev, .filterAll:
            let all = SegmentFilter.allCases
            let i = all.firstIndex(of: filter)!
            let next = action == .filterNext ? all[(i + 1) % all.count] : action == .filterPrev ? all[(i + all.count - 1) % all.count] : .all
            selection.setFilter(next, store.states, rows: pageSize)
            setMessage("filter: \(filter.rawValue) (\(visible.count) line\(visible.count == 1 ? "" : "s"))")
            return .all
        default:
            setMessage("\(action) does nothing here", .warning)
            return .status
        }
    }

    /// Help remembers the screen it was opened from and goes back there.
    func openHelp() -> Redraw {
        if case .help = mode {} else { helpReturn = mode }
        mode = .help(HelpScreen())
        return .all
    }

    func move(to position: Int) -> Redraw { moved(selection.move(to: position, rows: pageSize)) }

    /// After the selection moved (or not): an info message belonged to the line left.
    func moved(_ did: Bool) -> Redraw {
        guard did else { return .nothing }
        if messageKind == .info { message = "" }
        return .all
    }

    /// The next line (in the filter's order) that needs attention, wrapping; says why it does.
    func jumpProblem(forward: Bool) -> Redraw {
        guard !visible.isEmpty else { return .nothing }
        if let (p, wrapped) = selection.nextProblem(store.states, forward: forward) {
            let st = store.states[visible[p]]
            _ = move(to: p)
            var why: [String] = []
            if !st.approved { why.append("unapproved") }
            if !st.flags.isEmpty { why.append("flagged") }
            if st.audioStatus == TakeStatus.stale.rawValue || st.audioStatus == TakeStatus.overflow.rawValue { why.append(st.audioStatus) }
            if st.willNotFit, let predicted = st.predictedS {
                why.append("will not fit (\(SpokenPrediction.format(predicted)) for a \(DeskView.format1(store.segment(visible[p] + 1).duration)) s slot)")
            }
            setMessage("line \(visible[p] + 1): \(why.joined(separator: ", "))\(wrapped ? " (wrapped)" : "")")
            return .all
        }
        setMessage("no line needs attention\(filter == .all ? "" : " in this filter")")
        return .status
    }

    /// `:N`: line N, shown even when the filter hid it (the filter is then cleared).
    func goToLine(_ text: String) -> Redraw {
        let t = text.trimmingCharacters()
        guard !t.isEmpty else { setMessage(""); return .all }
        guard let n = Int(t), n >= 1, n <= job.segments.count else {
            setMessage("no line \(t) (1 … \(job.segments.count))", .warning)
            return .all
        }
        let cleared = selection.show(n - 1, store.states, rows: pageSize)
        setMessage(cleared ? "line \(n) (the filter is cleared to show it)" : "line \(n)")
        return .all
    }

    func jumpUnapproved(forward: Bool) -> Redraw {
        if let p = selection.nextUnapproved(store.states, forward: forward) { return move(to: p) }
        setMessage(forward ? "no unapproved line below" : "no unapproved line above", .warning)
        return .status
    }


}

/// Where things go on a screen of a given size.
public struct DeskLayout: Equatable {
    public let width: Int
    public let height: Int
    public static let minWidth = 60
    public static let minHeight = 12

    public var tooSmall: Bool { width < DeskLayout.minWidth || height < DeskLayout.minHeight }
    public let detailRows: Int

    public init(width: Int, height: Int, detailRows: Int? = nil) {
        self.width = width
        self.height = height
        self.detailRows = detailRows ?? max(4, min(10, height / 3))
    }
    /// Rows: 0 header, 1 column titles, list, separator, detail, status.
    public var listTop: Int { 2 }
    public var listRows: Int { max(1, height - 2 - 1 - detailRows - 1) }
    public var separatorRow: Int { listTop + listRows }
    public var detailTop: Int { separatorRow + 1 }
    public var statusRow: Int { height - 1 }
}
