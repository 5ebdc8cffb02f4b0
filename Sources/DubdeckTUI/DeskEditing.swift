import DubdeckCore

extension Desk {
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

    /// Moves the selected dub line's start or end by 50 ms (10 ms: fine): a `retime` record, refused
    /// on a locked line and where it would overlap a neighbour; says the new times and the gaps.
    func nudge(_ action: Action) -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        let n = seg.number
        let now = store.segment(n)
        let fine: Set<Action> = [.nudgeStartEarlierFine, .nudgeStartLaterFine, .nudgeEndEarlierFine, .nudgeEndLaterFine]
        let step = fine.contains(action) ? 0.01 : 0.05
        var start = now.start, end = now.end
        switch action {
        case .nudgeStartEarlier, .nudgeStartEarlierFine: start -= step
        case .nudgeStartLater, .nudgeStartLaterFine: start += step
        case .nudgeEndEarlier, .nudgeEndEarlierFine: end -= step
        default: end += step
        }
        // Whole milliseconds: ten nudges of 10 ms are 0.1 s, not 0.09999.
        start = (start * 1000).rounded() / 1000
        end = (end * 1000).rounded() / 1000
        guard let slot = TimeSlot(start: start, end: end) else {
            setMessage("line \(n): \(start < 0 ? "cannot start before 0" : "cannot end before it starts")", .warning)
            return .status
        }
        let redraw = change(store.retime(n, to: slot))
        if messageKind == .info {
            setMessage("line \(n): \(Clock.formatTime(slot.start))–\(Clock.formatTime(slot.end)) (slot \(DeskView.format2(slot.duration)) s, \(DeskView.gaps(store, n)))")
        }
        return redraw
    }

    /// Leaves the desk. During a batch it asks first (q again stops the batch after its current
    /// line, every finished take already saved) and says at exit what the batch did.
    func quit() -> Redraw {
        guard let worker, let p = worker.progress else { quitRequested = true; return .nothing }
        guard confirmed == .quit else {
            armed = .quit
            setMessage("a batch is running (\(p.done) of \(p.total) done): q again stops it and leaves, any other key keeps it", .warning)
            return .status
        }
        worker.cancel()
        exitNote = "batch stopped: \(p.done) of \(p.total) lines synthesized (each one saved), \(p.total - p.done) not"
        quitRequested = true
        return .nothing
    }

    // MARK: Durable changes

    /// Commits a change (history, then store, both fsync'd) before saying it is done.
    func change(_ c: SegmentChange) -> Redraw {
        if let reason = store.readOnlyReason {
            setMessage("read-only: \(reason)", .error)
            return .status
        }
        if pendingCommits.queueBehind(c) {
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
            searchMatches = nil
            if result.reloaded { invalidateSearch() }
            if let warning = result.warnings.last {
                setMessage("saved, and repaired: \(warning)", .warning)
            } else if let last = result.records.last {
                setMessage("saved: \(describe(last))\(result.records.count > 1 ? " (+\(result.records.count - 1))" : "")")
            } else {
                setMessage("no change")
            }
            pendingCommits.settle()
            if !result.records.isEmpty { castModel.lastAssign = nil }  // u now undoes this change
        } catch let e as DubdeckError where e.reason == .lockBusy {
            pendingCommits.keep(changes)
            setMessage(e.message, .warning)
        } catch let e as DubdeckError {
            pendingCommits.settle()
            if e.status == .conflict {
                // The store took the other writer's file: the detail pane's history follows it; a
                // translation written again is read again (the poll's signature may not have seen it).
                invalidateSearch()
                try? readRecentHistory()
                if (try? job.requireTranslationUnchanged()) == nil {
                    castModel.jobSignature = Desk.jobSignature(job)
                    _ = reloadJob("")
                }
            }
            setMessage(e.message, .error)
        } catch {
            pendingCommits.settle()
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
        if castModel.loadDue {
            castModel.loadDue = false
            startLoadingCast()
        }
        if !pending.isEmpty {
            redraw = commitNow(pending, lockTimeout: 0)
        }
        redraw = max(redraw, takeInSynthesis())
        redraw = max(redraw, castModel.takeIn())
        redraw = max(redraw, takeInRetranslation())
        redraw = max(redraw, forecast.takeIn(store: store))
        forecast.want(linesOnScreen + forecast.backlog(store), editing: editingText, store: store)
        if audio != nil, let said = ALSAMessages.take() {
            // ALSA's own words, as one message instead of lines over the screen.
            setMessage("audio device: \(said) — pick one with --device or DUBDECK_AUDIO_DEVICE", .warning)
            redraw = max(redraw, .status)
        }
        let playing = audio?.sink.isPlaying == true
        if playing || worker?.progress != nil { redraw = max(redraw, .status) }
        if let ended = sound.playbackEnded(playing: playing) {
            // The progress goes with the sound; the status line says what was played.
            if messageKind == .info, message.isEmpty, let label = ended { setMessage("played \(label)") }
            redraw = max(redraw, .status)
        }
        prefetchSelectedTake()
        redraw = max(redraw, prepareVoiceMatch())
        if now - lastPoll >= 0.5 {
            lastPoll = now
            redraw = max(redraw, reloadIfChangedOutside())
        }
        return redraw
    }

    /// True when nothing is left to do in the background (`:wait-idle`).
    public var isIdle: Bool {
        pending.isEmpty && worker?.busy != true && audio?.sink.isPlaying != true && !castModel.busy && !castModel.loadDue && !forecast.busy && !retranslation.busy
    }

    /// The lines the list shows now, and the selected one.
    var linesOnScreen: [Int] {
        let rows = layout.listRows
        var lines = visible[min(top, visible.count)..<min(visible.count, top + rows)].map { $0 + 1 }
        if let s = selectedSegment?.number, !lines.contains(s) { lines.append(s) }
        return lines
    }

    /// The line being edited and the editor's text (nil: not editing).
    var editingText: (n: Int, text: String)? {
        if case .editor(let e) = mode { return (e.segment, e.editor.text) }
        return nil
    }

}
