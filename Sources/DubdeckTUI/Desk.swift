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
    public private(set) var store: TranscriptStore
    public var job: Job { store.job }
    public let keymap: Keymap
    public internal(set) var mode: Mode = .list(ListScreen())
    public internal(set) var filter: SegmentFilter = .all
    /// Indices (0-based) of the segments the filter shows, in order.
    public internal(set) var visible: [Int] = []
    /// Position in `visible` of the selected line.
    public internal(set) var cursor = 0
    /// Position in `visible` of the first row on screen.
    public internal(set) var top = 0
    public internal(set) var message = ""
    public internal(set) var messageKind: MessageKind = .info
    /// Warnings that stay until their cause goes (read-only job, a change waiting for the lock).
    public var banner: String? {
        if let reason = store.readOnlyReason { return "READ-ONLY: \(reason)" }
        if !pending.isEmpty { return "WAITING: another dubdeck is writing this job; \(pending.count) change(s) kept, retrying" }
        return nil
    }
    public internal(set) var lastSearch: String?
    public internal(set) var quitRequested = false
    /// Changes that could not take the job lock yet; retried when idle, in order.
    public internal(set) var pending: [SegmentChange] = []
    public var width = 100
    public var height = 30
    /// How much of the history the desk reads at open (the detail pane's "last changes"): enough
    /// for the recent records, never the whole file.
    public static let historyTailBytes = 96 * 1024
    /// Recent history (the tail read at open), newest last, for the detail pane.
    var recentHistory: [HistoryRecord] = []
    /// True when `recentHistory` reaches the start of the file (no older record can exist).
    var recentHistoryComplete = true
    /// Playback was running at the last tick (its end clears the progress).
    var wasPlaying = false
    var playingLabel: String?
    /// The character store file as last loaded (size, mtime, inode): a change reloads the names.
    var castSignature: FileIO.StatSignature?
    var detailRowsCache: (key: [Int], rows: Int)?
    var stripCache: (key: [Int], strip: TimingStrip)?
    /// characters.map.json as last read (size, mtime, inode).
    var mapSignature: FileIO.StatSignature?
    /// The last label → character assignment made here, with what the label had before: `u` undoes
    /// it while no other change was made since.
    var lastAssign: (label: String, previous: LabelAssignment?)?
    /// The last merge made on the characters screen (U undoes it).
    var lastMerge: (from: String, into: String)?
    var searchCache: [String?] = []
    var lastPoll = 0.0
    /// The character store is to be read in the background at the next tick.
    var castLoadDue = false
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
    /// The selected line's current take, decoded between keys (path, file signature, samples), so
    /// `p` hands it to the sink without reading the disk (SPEC §10.10 P7).
    var decodedTake: (path: String, signature: FileIO.StatSignature, pcm: PCM16)?
    /// The take of a line heard last (segment, listed take k, 1 = newest): the next older one, the
    /// take A/B returns to and the one `keep-take` keeps.
    var lastTakeHeard: (segment: Int, k: Int)?
    /// True when the last thing heard of `lastTakeHeard`'s line… was its original (A/B alternates).
    var lastHeardOriginal: Int?
    /// The character store's path (nil: the desk shows no characters).
    public let characterStorePath: String?
    /// The characters (names, series, voices; never embeddings), nil without a readable store.
    public internal(set) var cast: CharacterStore?
    let castLoad = CastLoad()
    let voiceMatchWork = VoiceMatchWork()
    var helpReturn: Mode = .list(ListScreen())

    public init(store: TranscriptStore, keymap: Keymap, audio: DeskAudio? = nil, characterStorePath: String? = nil) {
        self.store = store
        self.keymap = keymap
        self.audio = audio
        self.characterStorePath = characterStorePath
        worker = audio.map { SynthWorker(job: store.job, by: store.by, maxSpeedup: $0.maxSpeedup, makeEngine: $0.makeEngine) }
        mapSignature = FileIO.statSignature(store.job.mapPlace)
        // The names are read once the first screen is out (the first tick): a second thread
        // decrypting 20 MB while the first frame is drawn slows that frame on two cores.
        castLoadDue = true
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

    public var selectedSegment: Segment? {
        guard cursor >= 0, cursor < visible.count else { return nil }
        return job.segments[visible[cursor]]
    }

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
        // Asked several times per keypress: the wrap is computed once per line, size and text.
        var editing = -1
        if case .editor(let e) = mode { var h = Hasher(); h.combine(e.editor); editing = h.finalize() }
        let key = [seg.number, width, height, editing, store.state(seg.number).text.utf8.count]
        if let c = detailRowsCache, c.key == key { return c.rows }
        let rows = computeDetailRows(seg, cap: cap)
        detailRowsCache = (key, rows)
        return rows
    }

    /// The timing strip of line n, computed once per line, width and take file (it reads audio).
    func timingStrip(_ n: Int, columns: Int) -> TimingStrip? {
        guard job.sourceAudioPath != nil || store.state(n).preview != nil else { return nil }
        let take = Takes.file(job, Takes.currentName(n)).flatMap { FileIO.statSignature($0) }
        let key = [n, columns, Int(take?.inode ?? 0), take?.mtimeNs ?? 0, take?.size ?? -1]
        if let c = stripCache, c.key == key { return c.strip }
        let strip = TimingStrip.build(store, n, columns: columns)
        stripCache = (key, strip)
        return strip
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
        if case .editor(let e) = mode { text = DeskView.editorRows(e.editor, width: w).count } else { text = TextWidth.wrap(store.state(seg.number).text, columns: w).count }
        let strip = job.sourceAudioPath != nil || store.state(seg.number).preview != nil ? 2 : 0
        return max(4, min(cap, src + max(1, text) + 2 + strip))
    }

    var pageSize: Int { max(1, layout.listRows) }

    func keepCursorVisible() {
        let rows = pageSize
        if cursor < top { top = cursor }
        if cursor >= top + rows { top = cursor - rows + 1 }
        top = max(0, min(top, max(0, visible.count - rows)))
    }

    func applyFilter(keepSegment: Int?) {
        let states = store.states
        if filter == .all {
            visible = Array(states.indices)
        } else {
            visible = states.indices.filter { filter.includes(states[$0]) }
        }
        if let keep = keepSegment {
            // Stay on that line, or on the next one the filter shows.
            cursor = visible.firstIndex(where: { $0 >= keep }) ?? max(0, visible.count - 1)
        }
        cursor = max(0, min(cursor, visible.count - 1))
        keepCursorVisible()
    }

    // MARK: Keys

    /// Handles one key in canonical notation (see `KeyNotation`).
    @discardableResult
    public func handle(key: String) -> Redraw {
        if layout.tooSmall {
            // Nothing is visible: only quit works (a key typed now must not land in a hidden editor).
            if keymap.action(for: key, in: .list) == .quit || keymap.action(for: key, in: .generic) == .quit {
                quitRequested = true
            }
            return .nothing
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
            redraw = screen.handle(action, desk: self)
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

    /// Performs a named action from the action table.
    @discardableResult
    public func perform(_ action: Action) -> Redraw {
        switch action {
        case .quit: quitRequested = true; return .nothing
        case .help: return openHelp()
        case .redraw: return .all
        case .moveDown: return move(to: cursor + 1)
        case .moveUp: return move(to: cursor - 1)
        case .pageDown: top = min(top + pageSize, max(0, visible.count - pageSize)); return move(to: cursor + pageSize)
        case .pageUp: top = max(0, top - pageSize); return move(to: cursor - pageSize)
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
        case .lock:
            guard let seg = selectedSegment else { return .nothing }
            return change(.lock(seg.number, !store.state(seg.number).locked, by: store.by))
        case .flagRetranslate:
            guard let seg = selectedSegment else { return .nothing }
            let on = !store.state(seg.number).flaggedForRetranslation
            return change(.flag(seg.number, ReviewState.needsRetranslate, on))
        case .synthesize, .synthesizeApproved, .cancelBatch, .playTake, .playOriginal, .playPreviousTake, .stopPlayback,
             .playContext, .playAB, .keepTake:
            return soundAction(action)
        case .characters: return openCharacters()
        case .undo: return lastAssign != nil ? undoAssign() : undoRedo(.undo)
        case .redo: return undoRedo(.redo)
        case .history: return openHistory()
        case .searchNext: return searchAgain(forward: true)
        case .searchPrev: return searchAgain(forward: false)
        case .filterNext, .filterPrev, .filterAll:
            let all = SegmentFilter.allCases
            let i = all.firstIndex(of: filter)!
            let keep = selectedSegment.map { $0.number - 1 }
            if action == .filterNext {
                filter = all[(i + 1) % all.count]
            } else if action == .filterPrev {
                filter = all[(i + all.count - 1) % all.count]
            } else {
                filter = .all
            }
            applyFilter(keepSegment: keep)
            setMessage("filter: \(filter.rawValue) (\(visible.count) line\(visible.count == 1 ? "" : "s"))")
            return .all
        // Not this screen's: decided here, not dropped silently.
        case .search, .gotoLine, .pick, .back, .restoreVersion, .seriesNext, .playReference, .renameCharacter, .mergeCharacter,
             .useLineAudio, .undoMerge, .reconcile, .acceptProposal, .rejectProposal, .commit, .cancel, .cursorLeft, .cursorRight, .wordLeft, .wordRight, .lineStart,
             .lineEnd, .deleteBack, .deleteForward, .deleteWordBack, .killLine, .killToStart,
             .insertNewline:
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

    func move(to position: Int) -> Redraw {
        guard !visible.isEmpty else { return .nothing }
        let p = max(0, min(position, visible.count - 1))
        if p == cursor { return .nothing }
        cursor = p
        keepCursorVisible()
        if messageKind == .info { message = "" }
        return .all
    }

    /// The next line (in the filter's order) that needs attention, wrapping; says why it does.
    func jumpProblem(forward: Bool) -> Redraw {
        let states = store.states, n = visible.count
        guard n > 0 else { return .nothing }
        for step in 1...n {
            let p = ((forward ? cursor + step : cursor - step) % n + n) % n
            let st = states[visible[p]]
            guard st.isProblem else { continue }
            let wrapped = forward ? p <= cursor : p >= cursor
            _ = move(to: p)
            var why: [String] = []
            if !st.approved { why.append("unapproved") }
            if !st.flags.isEmpty { why.append("flagged") }
            if st.audioStatus == "stale" || st.audioStatus == "overflow" { why.append(st.audioStatus) }
            if st.tooFast { why.append("too fast (\(DeskView.format1(st.cps)) chars/s)") }
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
        if !visible.contains(n - 1) {
            filter = .all
            applyFilter(keepSegment: n - 1)
            setMessage("line \(n) (the filter is cleared to show it)")
        } else {
            setMessage("line \(n)")
        }
        cursor = visible.firstIndex(of: n - 1) ?? cursor
        keepCursorVisible()
        return .all
    }

    func jumpUnapproved(forward: Bool) -> Redraw {
        let states = store.states
        var p = cursor
        for _ in 0..<visible.count {
            p = forward ? p + 1 : p - 1
            if p < 0 || p >= visible.count { break }
            if !states[visible[p]].approved { return move(to: p) }
        }
        setMessage(forward ? "no unapproved line below" : "no unapproved line above", .warning)
        return .status
    }


    // MARK: Editing

    func startEditing() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        if let reason = store.readOnlyReason {
            setMessage("read-only: \(reason)", .error)
            return .status
        }
        if store.state(seg.number).locked {
            setMessage("line \(seg.number) is locked: unlock first (L)", .error)
            return .status
        }
        mode = .editor(EditorScreen(segment: seg.number, text: store.state(seg.number).text))
        setMessage("editing line \(seg.number): Enter saves, Esc cancels")
        return .all
    }

    // MARK: Durable changes

    /// Commits a change (history, then store, both fsync'd) before saying it is done.
    func change(_ c: SegmentChange) -> Redraw {
        if let reason = store.readOnlyReason {
            setMessage("read-only: \(reason)", .error)
            return .status
        }
        if !pending.isEmpty {
            pending.append(c)
            setMessage("waiting for the job lock: \(pending.count) change(s) pending", .warning)
            return .all
        }
        return commitNow([c], lockTimeout: Desk.lockTry)
    }

    /// How long a keypress may wait for the job lock before its change is kept pending (and retried
    /// between keys): short, so keys never freeze.
    static let lockTry = 0.05

    func commitNow(_ changes: [SegmentChange], lockTimeout: Double) -> Redraw {
        let keep = selectedSegment.map { $0.number - 1 }
        let saved = store.lockTimeout
        store.lockTimeout = lockTimeout
        defer { store.lockTimeout = saved }
        do {
            let result = try store.commit(changes)
            if !result.warnings.isEmpty {
                try? readRecentHistory()  // records of an interrupted save were cut: read what is there
            } else {
                recentHistory.append(contentsOf: result.records)
            }
            if recentHistory.count > 4096 { recentHistory.removeFirst(recentHistory.count - 4096) }
            for r in result.records { searchCache[r.segment - 1] = nil }
            if result.reloaded { invalidateSearch() }
            if let warning = result.warnings.last {
                setMessage("saved, and repaired: \(warning)", .warning)
            } else if let last = result.records.last {
                setMessage("saved: \(describe(last))\(result.records.count > 1 ? " (+\(result.records.count - 1))" : "")")
            } else {
                setMessage("no change")
            }
            pending.removeAll()
            if !result.records.isEmpty { lastAssign = nil }  // u now undoes this change
        } catch let e as DubdeckError where e.reason == .lockBusy {
            if pending.isEmpty { pending = changes }
            setMessage(e.message, .warning)
        } catch let e as DubdeckError {
            pending.removeAll()
            setMessage(e.message, .error)
        } catch {
            pending.removeAll()
            setMessage("\(error)", .error)
        }
        applyFilter(keepSegment: keep)
        return .all
    }

    /// How many takes line n has on disk (the current one counts).
    func takeCount(_ n: Int) -> Int { PlaybackSource.takes(store, n).count }

    func describe(_ r: HistoryRecord) -> String {
        "line \(r.segment) \(r.action)"
    }

    /// Background duties between keys: retry pending changes, take in finished synthesis, notice
    /// outside changes, keep the playback and batch progress moving.
    @discardableResult
    public func tick(now: Double = Clock.monotonic()) -> Redraw {
        var redraw = Redraw.nothing
        if castLoadDue {
            castLoadDue = false
            startLoadingCast()
        }
        if !pending.isEmpty {
            redraw = commitNow(pending, lockTimeout: 0)
        }
        redraw = max(redraw, takeInSynthesis())
        redraw = max(redraw, takeInCast())
        if audio != nil, let said = ALSAMessages.take() {
            // ALSA's own words, as one message instead of lines over the screen.
            setMessage("audio device: \(said) — pick one with --device or DUBDECK_AUDIO_DEVICE", .warning)
            redraw = max(redraw, .status)
        }
        let playing = audio?.sink.isPlaying == true
        if playing || worker?.progress != nil { redraw = max(redraw, .status) }
        if wasPlaying && !playing {
            // The progress goes with the sound; the status line says what was played.
            if messageKind == .info, message.isEmpty, let label = playingLabel { setMessage("played \(label)") }
            playingLabel = nil
            redraw = max(redraw, .status)
        }
        wasPlaying = playing
        prefetchSelectedTake()
        redraw = max(redraw, prepareVoiceMatch())
        if now - lastPoll >= 0.5 {
            lastPoll = now
            redraw = max(redraw, reloadIfChangedOutside())
        }
        return redraw
    }

    /// True when nothing is left to do in the background (`:wait-idle`).
    public var isIdle: Bool { pending.isEmpty && worker?.busy != true && audio?.sink.isPlaying != true && !castLoading && !castLoadDue }

    // MARK: Sound

    func soundAction(_ action: Action) -> Redraw {
        guard let audio, let worker else {
            setMessage("no audio in this desk", .warning)
            return .status
        }
        guard let seg = selectedSegment else { return .nothing }
        let n = seg.number
        switch action {
        case .synthesize:
            worker.synthesize(n)
            setMessage("synthesizing line \(n)…")
        case .synthesizeApproved:
            if worker.progress != nil {
                setMessage("a batch is running (X cancels it)", .warning)
                return .status
            }
            let list = SegmentSynthesizer.batchSelection(store, approvedOnly: true)
            if list.isEmpty {
                setMessage("no approved line needs synthesis", .warning)
                return .status
            }
            worker.batch(list)
            setMessage("synthesizing \(list.count) approved line\(list.count == 1 ? "" : "s")… (X cancels)")
        case .cancelBatch:
            guard worker.progress != nil else { setMessage("no batch is running", .warning); return .status }
            worker.cancel()
            setMessage("cancelling the batch after the current line…")
        case .playTake:
            guard let k = PlaybackSource.currentListed(store, n) else { setMessage("line \(n) has no take yet (s synthesizes it)", .warning); return .status }
            playTake(n, k)
        case .playOriginal:
            playOriginal(n)
        case .playPreviousTake:
            // Newest → oldest: after take k of this line comes k+1, after the oldest the newest.
            let count = takeCount(n)
            guard count >= 1 else { setMessage("line \(n) has no take yet (s synthesizes it)", .warning); return .status }
            var k = 1
            if let last = lastTakeHeard, last.segment == n, lastHeardOriginal != n { k = last.k >= count ? 1 : last.k + 1 }
            playTake(n, k)
        case .playAB:
            if lastHeardOriginal == n {
                let k = lastTakeHeard.flatMap { $0.segment == n ? $0.k : nil } ?? PlaybackSource.currentListed(store, n)
                guard let k else { setMessage("line \(n) has no take to compare (s synthesizes it)", .warning); return .status }
                playTake(n, k)
            } else {
                playOriginal(n)
            }
        case .playContext:
            play(label: "line \(n) in context") { try ContextMix.mix(self.store, n).pcm }
        case .keepTake:
            guard let last = lastTakeHeard, last.segment == n else {
                setMessage("play a take of line \(n) first (p, P or b), then K keeps it", .warning)
                return .status
            }
            return keepTake(n, last.k)
        case .stopPlayback:
            audio.sink.stop()
            setMessage("stopped")
        // Not this screen's: decided here, not dropped silently.
        case .quit, .help, .redraw, .back, .characters, .moveDown, .moveUp, .pageDown, .pageUp, .top,
             .bottom, .nextUnapproved, .prevUnapproved, .edit, .approve, .lock, .flagRetranslate, .undo,
             .redo, .history, .restoreVersion, .seriesNext, .playReference, .renameCharacter,
             .mergeCharacter, .useLineAudio, .undoMerge, .reconcile, .acceptProposal, .rejectProposal, .search, .searchNext, .searchPrev, .filterNext, .filterPrev,
             .filterAll, .commit, .cancel, .cursorLeft, .cursorRight, .wordLeft, .wordRight, .lineStart,
             .lineEnd, .deleteBack, .deleteForward, .deleteWordBack, .killLine, .killToStart,
             .nextProblem, .prevProblem, .gotoLine, .setSpeaker, .assignCharacter, .pick,
             .suggestCharacter,
             .insertNewline:
            return .nothing
        }
        return .all
    }

    /// Listed take k (1 = newest) of line n, named "take k of N" (and "current" when it is).
    func playTake(_ n: Int, _ k: Int, announce: Bool = true) {
        let list = PlaybackSource.takes(store, n)  // read once for the count, the current one and the file
        let isCurrent = PlaybackSource.currentListed(store, n, in: list) == k
        lastTakeHeard = (n, k)
        lastHeardOriginal = nil
        play(label: "line \(n): take \(k) of \(list.count)\(isCurrent ? ", current" : "")", announce: announce) {
            if isCurrent, let cached = self.decodedTake(of: n) { return cached }
            return try PlaybackSource.listedTake(self.store, n, k, in: list)
        }
    }

    /// The decoded current take of line n, if the file is still the one decoded.
    func decodedTake(of n: Int) -> PCM16? {
        guard let file = Takes.file(job, Takes.currentName(n)), let d = decodedTake, d.path == file.path,
              FileIO.statSignature(file) == d.signature else { return nil }
        return d.pcm
    }

    /// Between keys: decode the selected line's current take, so playing it starts at once.
    func prefetchSelectedTake() {
        guard audio != nil, let seg = selectedSegment else { return }
        guard let file = Takes.file(job, Takes.currentName(seg.number)), let sig = FileIO.statSignature(file), sig.size <= 64 << 20 else { return }
        if let d = decodedTake, d.path == file.path, d.signature == sig { return }
        if let pcm = try? AudioFile.readPCM16(file, owner: .own) { decodedTake = (file.path, sig, pcm) }
    }

    func playOriginal(_ n: Int) {
        lastHeardOriginal = n
        play(label: "original \(n)") { try PlaybackSource.original(self.store, n) }
    }

    /// Makes listed take k the current one: a `take` record, undoable, under the job lock (tried
    /// briefly: a busy lock says so and the key can be pressed again).
    func keepTake(_ n: Int, _ k: Int) -> Redraw {
        if let reason = store.readOnlyReason { setMessage("read-only: \(reason)", .error); return .status }
        let keep = selectedSegment.map { $0.number - 1 }
        let saved = store.lockTimeout
        store.lockTimeout = Desk.lockTry
        defer { store.lockTimeout = saved }
        do {
            let result = try TakeChoice.choose(store, n, k)
            if !result.records.isEmpty { lastAssign = nil }
            recentHistory.append(contentsOf: result.records)
            searchCache[n - 1] = nil
            setMessage(result.records.isEmpty ? "line \(n): take \(k) is already the current one" : "line \(n): take \(k) of \(takeCount(n)) is now the current one (u undoes it)")
        } catch let e as DubdeckError {
            setMessage(e.message, e.reason == .lockBusy ? .warning : .error)
        } catch {
            setMessage("\(error)", .error)
        }
        applyFilter(keepSegment: keep)
        return .all
    }

    func play(label: String, announce: Bool = true, _ load: () throws -> PCM16) {
        guard let audio else { return }
        do {
            try audio.sink.play(try load(), label: label)
            // The status line's progress names what plays; its end says what was played.
            playingLabel = label
            if announce { setMessage("") }
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
        } catch {
            setMessage("\(error)", .error)
        }
    }

    /// Results of the synthesis worker: reload the store it wrote, report, play a single new take.
    func takeInSynthesis() -> Redraw {
        guard let worker else { return .nothing }
        let events = worker.drain()
        guard !events.isEmpty else { return .nothing }
        let keep = selectedSegment.map { $0.number - 1 }
        _ = try? store.reloadIfChanged()
        try? readRecentHistory()
        invalidateSearch()
        applyFilter(keepSegment: keep)
        for e in events {
            switch e {
            case .done(let r, let autoplay):
                let fit = r.overflowS > 0 ? "overflow +\(DeskView.format2(r.overflowS)) s" : "fits (×\(DeskView.format2(r.stretch)))"
                setMessage("line \(r.segment) synthesized: \(DeskView.format2(r.speechS)) s speech, \(fit)", r.overflowS > 0 ? .warning : .info)
                if autoplay {
                    let n = r.segment
                    playTake(n, PlaybackSource.currentListed(store, n) ?? 1, announce: false)
                }
            case .failed(let n, let why):
                setMessage(n > 0 ? "line \(n): synthesis failed: \(why)" : "synthesis failed: \(why)", .error)
            case .batchFinished(let s):
                setMessage("batch: \(s.done) lines, \(s.fresh) fresh, \(s.overflow) overflow, \(s.failed) failed\(s.cancelled ? " (cancelled)" : "")",
                           s.failed > 0 ? .warning : .info)
            }
        }
        return .all
    }

    public func reloadIfChangedOutside() -> Redraw {
        // Every screen shows the disk; the editor keeps the reviewer's words (its commit checks).
        if case .editor = mode { return .nothing }
        if case .list(let s) = mode, s.search != nil { return .nothing }
        var redraw = reloadCastIfChanged()
        redraw = max(redraw, reloadMapIfChanged())
        do {
            if try store.reloadIfChanged() {
                let keep = selectedSegment.map { $0.number - 1 }
                invalidateSearch()
                try? readRecentHistory()
                applyFilter(keepSegment: keep)
                if case .history(var h) = mode {
                    let records = ((try? store.history.readAll().records) ?? []).filter { $0.segment == h.segment }
                    h.records = records.reversed()
                    h.selection = min(h.selection, max(0, records.count - 1))
                    mode = .history(h)
                }
                // The desk's own batch writes through its worker: that is not another writer.
                if worker?.busy != true { setMessage("reloaded: the store was changed outside this desk") }
                return .all
            }
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
            return .status
        } catch {}
        return redraw
    }

    /// `characters identify` (or an assign) in another process rewrote this episode's label →
    /// character map: the job is read again so the speaker column and the detail pane follow.
    func reloadMapIfChanged() -> Redraw {
        let sig = FileIO.statSignature(job.mapPlace)
        if sig == mapSignature { return .nothing }
        mapSignature = sig
        do {
            let fresh = try TranscriptStore(job: try JobLoader.load(job.directory, series: job.info.seriesID), by: store.by)
            guard fresh.job.segments.count == job.segments.count else {
                setMessage("the job changed underneath (translated.json): reopen it", .warning)
                return .status
            }
            let keep = selectedSegment.map { $0.number - 1 }
            if let o = cpsOverride { fresh.cpsLimit = o }
            store = fresh
            worker?.setJob(fresh.job)  // its voices follow the new map too
            if let cast { adoptCast(.success(cast)) }
            invalidateSearch()
            applyFilter(keepSegment: keep)
            setMessage("characters of this episode changed outside this desk: names updated")
            return .all
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
            return .status
        } catch { return .nothing }
    }

    // MARK: Undo, redo, history

    func undoRedo(_ d: UndoRedo.Direction) -> Redraw {
        if let reason = store.readOnlyReason { setMessage("read-only: \(reason)", .error); return .status }
        let keep = selectedSegment.map { $0.number - 1 }
        do {
            _ = try store.reloadIfChanged()
            let result = try UndoRedo.runWithResult(d, store: store)
            lastAssign = nil
            let records = result.records
            if !result.warnings.isEmpty {
                try? readRecentHistory()
            } else {
                recentHistory.append(contentsOf: records)
            }
            invalidateSearch()
            let lines = Array(Swift.Set(records.map { $0.segment })).sorted()
            setMessage("\(d.rawValue): line\(lines.count == 1 ? "" : "s") \(lines.map(String.init).joined(separator: ", "))")
            if let first = lines.first { applyFilter(keepSegment: first - 1); return .all }
        } catch let e as DubdeckError {
            setMessage(e.message, e.status == .usage ? .warning : .error)
        } catch {
            setMessage("\(error)", .error)
        }
        applyFilter(keepSegment: keep)
        return .all
    }

    func openHistory() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        do {
            let records = try store.history.readAll().records.filter { $0.segment == seg.number }
            mode = .history(HistoryScreen(segment: seg.number, records: records.reversed()))
            if records.isEmpty { setMessage("line \(seg.number) has no recorded change") }
            return .all
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
            return .status
        } catch { return .nothing }
    }

    /// Gives line n the text of a history record (the history screen's restore): the segment is the
    /// record's own.
    func restoreVersion(_ record: HistoryRecord, line n: Int) -> Redraw {
        guard record.segment == n else { setMessage("record #\(record.seq) is not of line \(n)", .error); return .status }
        do {
            let done = try UndoRedo.restore(record: record, store: store)
            recentHistory.append(contentsOf: done)
            searchCache[n - 1] = nil
            setMessage(done.isEmpty ? "line \(n) already has that text" : "line \(n): restored the text of #\(record.seq)")
            mode = .list(ListScreen())
            applyFilter(keepSegment: n - 1)
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
        } catch {}
        return .all
    }

    // MARK: Search

    func invalidateSearch() {
        for i in searchCache.indices { searchCache[i] = nil }
    }

    func haystack(_ i: Int) -> String {
        if let h = searchCache[i] { return h }
        let seg = job.segments[i]
        let h = (store.states[i].text + "\u{1}" + seg.srcText + "\u{1}" + store.segment(i + 1).speaker + "\u{1}"
            + (store.characterID(seg.number) ?? "")).lowercased()
        searchCache[i] = h
        return h
    }

    func runSearch(_ text: String) -> Redraw {
        guard !text.isEmpty else { setMessage(""); return .all }
        lastSearch = text
        return find(text.lowercased(), from: cursor, forward: true, includeCurrent: true)
    }

    func searchAgain(forward: Bool) -> Redraw {
        guard let s = lastSearch else {
            setMessage("no search yet (/)", .warning)
            return .status
        }
        return find(s.lowercased(), from: cursor, forward: forward, includeCurrent: false)
    }

    func find(_ needle: String, from: Int, forward: Bool, includeCurrent: Bool) -> Redraw {
        let n = visible.count
        guard n > 0 else { return .nothing }
        for step in (includeCurrent ? 0 : 1)...n {
            let p = ((forward ? from + step : from - step) % n + n) % n
            if haystack(visible[p]).contains(needle) {
                let wrapped = forward ? p < from : p > from
                _ = move(to: p)
                // match k/n among the lines the filter shows.
                var k = 0, total = 0
                for q in 0..<n where haystack(visible[q]).contains(needle) {
                    total += 1
                    if q == p { k = total }
                }
                setMessage("/\(lastSearch ?? needle)  match \(k)/\(total)\(wrapped ? " (wrapped)" : "")")
                return .all
            }
        }
        setMessage("not found: \(lastSearch ?? needle)", .warning)
        return .all
    }

    // MARK: History for the detail pane

    func lastChanges(of segment: Int, limit: Int) -> [HistoryRecord] {
        var out: [HistoryRecord] = []
        for r in recentHistory.reversed() where r.segment == segment {
            out.append(r)
            if out.count == limit { break }
        }
        return out
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
