import DubdeckCore

extension Desk {
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
            // Lines with a matching or chosen take are kept; S again at once regenerates them all.
            let force = confirmed == .synthesizeApproved
            let list = SegmentSynthesizer.batchSelection(store, approvedOnly: true, force: force)
            if list.isEmpty {
                let all = SegmentSynthesizer.batchSelection(store, approvedOnly: true, force: true).count
                guard all > 0 else { setMessage("no approved line to synthesize", .warning); return .status }
                armed = .synthesizeApproved
                setMessage("every approved line has a fresh or chosen take: S again regenerates all \(all) (chosen takes too)", .warning)
                return .status
            }
            worker.batch(list)
            setMessage("synthesizing \(list.count) approved line\(list.count == 1 ? "" : "s")\(force ? ", fresh and chosen takes too" : "")… (X cancels)")
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
            playTake(n, sound.previousTake(n, count: count))
        case .playAB:
            switch sound.abTarget(n, current: PlaybackSource.currentListed(store, n)) {
            case .original: playOriginal(n)
            case .take(let k?): playTake(n, k)
            case .take(nil): setMessage("line \(n) has no take to compare (s synthesizes it)", .warning); return .status
            }
        case .playContext:
            play(label: "line \(n) in context") { try ContextMix.mix(self.store, n).pcm }
        case .keepTake:
            guard let k = sound.takeToKeep(n) else {
                setMessage("play a take of line \(n) first (p, P or b), then K keeps it", .warning)
                return .status
            }
            return keepTake(n, k)
        case .stopPlayback:
            audio.sink.stop()
            setMessage("stopped")
        default:
            return .nothing  // not a sound action
        }
        return .all
    }

    /// Listed take k (1 = newest) of line n, named "take k of N" (and "current" when it is).
    func playTake(_ n: Int, _ k: Int, announce: Bool = true) {
        let list = PlaybackSource.takes(store, n)  // read once for the count, the current one and the file
        let isCurrent = PlaybackSource.currentListed(store, n, in: list) == k
        sound.heardTake(n, k)
        play(label: "line \(n): take \(k) of \(list.count)\(isCurrent ? ", current" : "")", announce: announce) {
            if isCurrent, let cached = self.decodedTake(of: n) { return cached }
            return try PlaybackSource.listedTake(self.store, n, k, in: list)
        }
    }

    /// The decoded current take of line n, if the file is still the one decoded.
    func decodedTake(of n: Int) -> PCM16? {
        guard let file = Takes.file(job, Takes.currentName(n)) else { return nil }
        return sound.decoded(path: file.path, signature: FileIO.statSignature(file))
    }

    /// Between keys: decode the selected line's current take, so playing it starts at once.
    func prefetchSelectedTake() {
        guard audio != nil, let seg = selectedSegment else { return }
        guard let file = Takes.file(job, Takes.currentName(seg.number)), let sig = FileIO.statSignature(file), sig.size <= 64 << 20 else { return }
        if sound.decoded(path: file.path, signature: sig) != nil { return }
        if let pcm = try? AudioFile.readPCM16(file, owner: .own) { sound.decoded = (file.path, sig, pcm) }
    }

    func playOriginal(_ n: Int) {
        sound.heardOriginal(n)
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
            if !result.records.isEmpty { castModel.lastAssign = nil }
            recentHistory.append(contentsOf: result.records)
            searchCache[n - 1] = nil
            searchMatches = nil
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
            sound.playingLabel = label
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
                let clipped = r.clippedSamples > 0 ? " · the engine's audio came clipped" : ""
                setMessage("line \(r.segment) synthesized: \(DeskView.format2(r.speechS)) s speech, \(fit)\(clipped)", r.overflowS > 0 || r.clippedSamples > 0 ? .warning : .info)
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
        let sig = Desk.jobSignature(job)
        if sig == castModel.jobSignature { return .nothing }
        let translationChanged = sig.last != castModel.jobSignature.last
        castModel.jobSignature = sig
        return reloadJob(translationChanged ? "translated.json was written again outside this desk: its lines read again"
                                            : "characters of this episode changed outside this desk: names updated")
    }

    /// What says the job's files changed (a cheap poll; a writer's check under the lock is exact).
    static func jobSignature(_ job: Job) -> [FileIO.StatSignature?] {
        [FileIO.statSignature(job.mapPlace), FileIO.statSignature(job.place("translated.json"))]
    }

    /// Reads the job again (its map, its translation) and takes it as the desk's, `said` when done;
    /// a translation with another number of lines is not taken (reopen the job).
    func reloadJob(_ said: String) -> Redraw {
        do {
            let fresh = try TranscriptStore(job: try JobLoader.load(job.directory, series: job.info.seriesID), by: store.by)
            guard fresh.job.segments.count == job.segments.count else {
                setMessage("the job changed underneath (translated.json): reopen it", .warning)
                return .status
            }
            let keep = selectedSegment.map { $0.number - 1 }
            if let o = cpsOverride { fresh.cpsLimit = o }
            fresh.maxSpeedup = store.maxSpeedup
            store = fresh
            worker?.setJob(fresh.job)  // its voices follow the new map too
            if let cast { adoptCast(.success(cast)) }
            invalidateSearch()
            applyFilter(keepSegment: keep)
            setMessage(said)
            return .all
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
            return .status
        } catch { return .nothing }
    }

}
