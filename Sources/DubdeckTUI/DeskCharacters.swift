import Dispatch
import DubdeckCore
import Synchronization

/// The characters screen and the character names in the list.
extension Desk {
    /// The names read (without embeddings: the desk holds none) become the desk's. A store that
    /// cannot be opened (no key, damaged) leaves the desk working, with a message.
    func adoptCast(_ result: Result<CharacterStore, Error>) {
        switch result {
        case .success(let c):
            castModel.names = c
            invalidateSearch()  // the names are searched too
            // The episode's map as the store has it now (a reconcile or assignment made elsewhere).
            do { try CharacterIdentifier.followStore(store, cast: c) } catch let e as DubdeckError {
                setMessage("characters.map.json not brought up to date: \(e.message)", .warning)
            } catch {}
            let voices = c.voices()
            store.characterVoices = voices
            worker?.setVoices(voices, references: c.referenceWavs())
        case .failure(let e):
            castModel.names = nil
            setMessage("characters unavailable: \(Desk.text(of: e))", .warning)
        }
    }

    static func text(of e: Error) -> String { (e as? DubdeckError)?.message ?? "\(e)" }

    /// At open, the names load in the background: the first screen does not wait for the
    /// decryption of a large store (a job without characters never reads it).
    /// Another process changed the character store (rename, merge, identify): load it again.
    func reloadCastIfChanged() -> Redraw {
        guard let path = characterStorePath, !castModel.busy else { return .nothing }
        if CharacterStore.isDatabaseURL(path) { return pollDatabaseCast(path) }
        if FileIO.statSignature(path) == castModel.signature { return .nothing }
        startLoadingCast()
        return .nothing
    }

    /// Every 2 s at most, a background query of the rows' versions; a change loads the store again.
    /// A server that is down costs a background thread its connect timeout, never a key.
    func pollDatabaseCast(_ path: String) -> Redraw {
        let work = castModel.work
        let (changed, start): (Bool, Bool) = work.state.withLock { s in
            let c = s.changed
            s.changed = false
            let now = Clock.monotonic()
            guard !s.checking, now - s.lastCheck >= 2 else { return (c, false) }
            s.checking = true
            s.lastCheck = now
            return (c, true)
        }
        if changed { startLoadingCast() }
        if start {
            DispatchQueue.global().async {
                let signature = CharacterStore.databaseSignature(path)
                work.state.withLock { s in
                    if let signature, signature != s.databaseSignature {
                        if s.databaseSignature != nil { s.changed = true }
                        s.databaseSignature = signature
                    }
                    s.checking = false
                }
            }
        }
        return .nothing
    }

    /// The names read again in the background (a job none of whose lines has a character never
    /// reads the store); `then` follows once they are the desk's.
    func startLoadingCast(force: Bool = false, then: ((Desk) -> Redraw)? = nil) {
        castModel.signature = characterStorePath.flatMap { FileIO.statSignature($0) }
        guard let path = characterStorePath, CharacterStore.mayExist(path),
              force || job.segments.contains(where: { store.characterID($0.number) != nil }) else { return }
        let work = castModel.work
        castModel.run({ path in
            // A database's rows' versions as of this read: the poll compares with them (taken first,
            // so a change during the read is noticed next time, never missed).
            let signature = CharacterStore.isDatabaseURL(path) ? CharacterStore.databaseSignature(path) : nil
            let outcome = try CastOutcome.names(path)
            if let signature { work.state.withLock { $0.databaseSignature = signature } }
            return outcome
        }) { [unowned self] r in
            adoptCast(r.map { $0.names! })
            invalidateSearch()
            return max(.all, then?(self) ?? .nothing)
        }
    }

    /// Between keys: start the voice match of the selected line when it is not cached yet.
    func prepareVoiceMatch() -> Redraw {
        let work = castModel.voiceMatch
        if work.state.withLock({ s in let d = s.done; s.done = false; return d }) { return .all }
        guard let seg = selectedSegment, let files = VoiceMatch.inputs(store, seg.number, cast: cast),
              VoiceMatch.score(store, seg.number, cast: cast, encoder: { nil }, compute: false) == nil,
              FileIO.exists(SpeakerEncoder.defaultModelPath) else { return .nothing }
        let key = files.take + "|" + files.reference
        let start: Bool = work.state.withLock { s in
            guard s.running == nil, s.failed.contains(key) == false else { return false }
            s.running = key
            return true
        }
        guard start else { return .nothing }
        DispatchQueue.global().async {
            VoiceMatch.prepare([files.take, files.reference], encoder: { work.sharedEncoder() })
            let ok = VoiceMatch.cachedBoth(files.take, files.reference)
            work.state.withLock { s in
                s.running = nil
                s.done = true
                if !ok { s.failed.insert(key) }
            }
        }
        return .nothing
    }

    /// The name shown for a line's speaker: the character's name, else its ID, else the label.
    /// Who speaks line `seg` in the list: the character's name, else `unnamed 07` — never the bare
    /// character ID, which looks like a diarization label; a line without a character shows its label.
    func speakerName(_ seg: Segment) -> String {
        guard let id = store.characterID(seg.number) else {
            let label = store.segment(seg.number).speaker
            return label.isEmpty ? "?" : label
        }
        return characterShown(id)
    }

    /// A character as the desk names it: `Hana`, `unnamed 07`, or `character 07` while the names
    /// are not read yet.
    func characterShown(_ id: String) -> String {
        guard let cast else { return "character " + CharacterRecord.number(of: id) }
        guard let c = cast.resolve(id) else { return "character " + CharacterRecord.number(of: id) }
        return c.displayName
    }

    /// `Hana (character 07)`: a character beside a diarization label, never alike.
    func characterWithNumber(_ id: String) -> String {
        let resolved = cast?.resolve(id)?.id ?? id
        let shown = characterShown(id)
        return shown.hasPrefix("character ") ? shown : "\(shown) (character \(CharacterRecord.number(of: resolved)))"
    }

    /// Characters of a series (nil: all), the job's characters first.
    func castRows(series: String?) -> [CharacterRecord] {
        guard let cast else { return [] }
        let rows = cast.active.filter { series == nil || $0.seriesInfo(series!) != nil }
        let here = Set(job.segments.compactMap { store.characterID($0.number) }.compactMap { cast.resolve($0)?.id })
        return rows.filter { here.contains($0.id) } + rows.filter { !here.contains($0.id) }
    }

    /// Lines of this episode spoken by a character (through old, merged IDs too).
    func linesInEpisode(_ id: String) -> Int {
        job.segments.filter { seg in store.characterID(seg.number).flatMap { cast?.resolve($0)?.id } == id }.count
    }

    var allSeries: [String] {
        var out: [String] = []
        if let s = job.info.seriesID { out.append(s) }
        for c in cast?.active ?? [] { for s in c.series where !out.contains(s.id) { out.append(s.id) } }
        return out
    }

    /// The character selected on the characters screen, when it shows.
    var selectedCharacter: CharacterRecord? {
        if case .characters(let s) = mode { return s.selected(self) }
        return nil
    }

    func openCharacters() -> Redraw {
        guard let path = characterStorePath else { setMessage("no character store", .warning); return .status }
        if cast != nil {
            mode = .characters(CharactersScreen(series: job.info.seriesID))
            return .all
        }
        guard CharacterStore.mayExist(path) else { setMessage("no character store yet: run `dubdeck characters identify JOB`", .warning); return .status }
        // Read in the background; the screen opens once the names are here (if the list still shows).
        startLoadingCast(force: true) { desk in
            guard desk.cast != nil, case .list = desk.mode else { return .nothing }
            return desk.openCharacters()
        }
        setMessage("reading the characters…")
        return .status
    }

    /// A change of the character store (one transaction on the whole store), in the background.
    func changeCast(_ done: String, then: ((Desk) -> Void)? = nil, _ body: @escaping @Sendable (CharacterStore) throws -> Void) -> Redraw {
        withFullCast(done, then: then) { full in
            try full.update(body)
            return nil
        }
    }

    /// Runs `body` on the whole store (embeddings too) on the cast's queue, then reads the store
    /// again as the desk holds it; between keys the desk takes the names and the episode's map
    /// (reconcile re-writes it) and says `done` (or what `body` said), or the error.
    @discardableResult
    func withFullCast(_ done: String, then: ((Desk) -> Void)? = nil, _ body: @escaping @Sendable (CharacterStore) throws -> String?) -> Redraw {
        guard characterStorePath != nil else { return .nothing }
        castModel.run({ path in
            let said = try body(try CharacterStore.open(path))
            let outcome = try CastOutcome.names(path)
            outcome.note = said ?? ""
            return outcome
        }) { [unowned self] r in
            switch r {
            case .success(let o):
                adoptCast(.success(o.names!))
                _ = reloadMapIfChanged()
                invalidateSearch()
                setMessage(o.note.isEmpty ? done : o.note)
                then?(self)
            case .failure(let e):
                setMessage(Desk.text(of: e), .error)
            }
            return .all
        }
        setMessage("saving to the character store…")
        return .status
    }

    /// Folds one character into another for good (the screen asked for confirmation); U undoes it.
    func mergeCharacter(_ id: String, into: String) -> Redraw {
        changeCast("\(id) merged into \(into) (U undoes it)", then: { $0.castModel.lastMerge = (id, into) }) { try $0.merge(id, into: into) }
    }

    func undoLastMerge() -> Redraw {
        guard let (from, into) = castModel.lastMerge else { setMessage("no merge to undo here", .warning); return .status }
        return changeCast("\(from) is a character again (merge into \(into) undone)", then: { $0.castModel.lastMerge = nil }) { try $0.unmerge(from) }
    }

    // MARK: Reconcile

    /// The series' proposals, from the store as it is on disk now, read in the background: the
    /// characters screen shows them when they are here (an error is the message).
    func requestProposals(series: String) -> Redraw {
        guard let path = characterStorePath, CharacterStore.mayExist(path) else {
            setMessage("no character store yet: run `dubdeck characters identify JOB`", .warning)
            return .status
        }
        castModel.run({ path in
            let o = CastOutcome()
            o.proposals = Reconcile.propose(try CharacterStore.open(path), series: series)
            return o
        }) { [unowned self] r in
            switch r {
            case .success(let o):
                guard case .characters(var screen) = mode, let analysis = o.proposals else { return .nothing }
                screen.showProposals(analysis)
                mode = .characters(screen)
            case .failure(let e):
                setMessage("characters unavailable: \(Desk.text(of: e))", .error)
            }
            return .all
        }
        return .status
    }

    /// A proposal applied (one reconcile, undoable), then the proposals read again.
    func acceptProposal(_ p: ReconcileProposal, series: String) {
        withFullCast("applied: \(p.summary) (U undoes it)", then: { _ = $0.requestProposals(series: series) }) { full in
            guard try Reconcile.apply(full, series: series, keys: [p.key]) != nil else {
                throw DubdeckError.conflict("the proposal is no longer made")
            }
            return nil
        }
    }

    func rejectProposal(_ p: ReconcileProposal, series: String) {
        withFullCast("rejected: \(p.summary) (not proposed again)", then: { _ = $0.requestProposals(series: series) }) { full in
            try Reconcile.reject(full, series: series, key: p.key)
            return nil
        }
    }

    func undoReconcile(series: String) {
        withFullCast("", then: { _ = $0.requestProposals(series: series) }) { full in
            let (id, maps) = try Reconcile.undo(full, series: series)
            return "reconcile \(id) undone (\(maps) map\(maps == 1 ? "" : "s") put back)"
        }
    }

    // MARK: Speaker fixes

    /// Picks the selected line's diarization label from the episode's labels.
    func openSpeakerPicker() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        if let reason = store.readOnlyReason { setMessage("read-only: \(reason)", .error); return .status }
        let current = store.segment(seg.number).speaker
        let choices = CharacterIdentifier.episodeLabels(store).map { label -> PickerScreen.Choice in
            let id = job.characterMap[label]
            let who = id.map { characterWithNumber($0) } ?? "no character"
            let marks = (label == current ? "  ← now" : "") + (label == seg.speaker && label != current ? "  ← the pipeline's" : "")
            return .init(value: label, text: DeskView.pad(label, 16) + " " + who + marks)
        }
        guard !choices.isEmpty else { setMessage("this episode has no diarization labels", .warning); return .status }
        mode = .picker(PickerScreen(purpose: .lineSpeaker(seg.number), title: "label of line \(seg.number) — this line only (W sets a label's character)", choices: choices, selected: current))
        return .all
    }

    /// Picks the character of the selected line's label from the series' characters.
    func openCharacterPicker() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        guard let path = characterStorePath, job.info.seriesID != nil else { setMessage("no character store or no series for this job", .warning); return .status }
        if cast == nil {
            guard CharacterStore.mayExist(path) else { setMessage("no character store yet: run `dubdeck characters identify JOB`", .warning); return .status }
            // The picker opens once the names are here (if the same line is still selected in the list).
            startLoadingCast(force: true) { desk in
                guard desk.cast != nil, case .list = desk.mode, desk.selectedSegment?.number == seg.number else { return .nothing }
                return desk.openCharacterPicker()
            }
            setMessage("reading the characters…")
            return .status
        }
        let label = store.segment(seg.number).speaker
        guard !label.isEmpty else { setMessage("line \(seg.number) has no diarization label (w gives it one)", .warning); return .status }
        let now = store.characterID(seg.number).flatMap { cast?.resolve($0)?.id }
        let choices = castRows(series: nil).map { c in
            PickerScreen.Choice(value: c.id, text: DeskView.pad(c.displayName, 20) + " character " + DeskView.pad(CharacterRecord.number(of: c.id), 6)
                                + (c.id == now ? "  ← now" : ""))
        }
        // A label's character is the character of every line of the label: the title says how many.
        let lines = job.segments.filter { store.segment($0.number).speaker == label }.count
        mode = .picker(PickerScreen(purpose: .labelCharacter(label),
                                    title: "character of label \(label) — applies to all \(lines) line\(lines == 1 ? "" : "s") of the label in this episode",
                                    choices: choices, selected: now))
        return .all
    }

    /// The episode's 3 characters closest to the selected line's original audio (GE2E), as a
    /// picker of the labels mapped to them: Enter moves the line there (a speaker fix, undoable).
    func openSuggestions() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        if let reason = store.readOnlyReason { setMessage("read-only: \(reason)", .error); return .status }
        guard characterStorePath != nil else { setMessage("no character store", .warning); return .status }
        let job = self.job, by = store.by, n = seg.number, voiceMatch = castModel.voiceMatch
        // The store opened whole and the line's audio embedded on the cast's queue, with a review
        // store of its own on the same job (what is on disk, as this desk's).
        castModel.run({ path in
            let o = CastOutcome()
            let review = try TranscriptStore(job: job, by: by)
            o.suggestions = try CharacterIdentifier.suggest(review, n, cast: try CharacterStore.open(path), encoder: voiceMatch.sharedEncoder() ?? SpeakerEncoder())
            return o
        }) { [unowned self] r in
            switch r {
            case .success(let o):
                // Shown if the list still shows that line.
                guard case .list = mode, selectedSegment?.number == n else { return .nothing }
                let choices = (o.suggestions ?? []).compactMap { s -> PickerScreen.Choice? in
                    guard let label = s.labels.first else { return nil }
                    return .init(value: label, text: DeskView.pad(CharacterRecord.shownName(id: s.characterID, name: s.name), 20)
                                 + " character " + DeskView.pad(CharacterRecord.number(of: s.characterID), 6)
                                 + " " + DeskView.format2(s.similarity) + "  label " + s.labels.joined(separator: ", "))
                }
                guard !choices.isEmpty else { setMessage("no character of this episode to compare with", .warning); return .status }
                setMessage("")
                mode = .picker(PickerScreen(purpose: .lineSpeaker(n), title: "closest voices to line \(n)", choices: choices, selected: choices.first?.value))
            case .failure(let e):
                setMessage(Desk.text(of: e), .error)
            }
            return .all
        }
        setMessage("comparing line \(n)'s voice with the characters…")
        return .status
    }

    func picked(_ purpose: PickerScreen.Purpose, _ value: String) -> Redraw {
        switch purpose {
        case .lineSpeaker(let n):
            if store.segment(n).speaker == value { setMessage("line \(n) is already \(value)"); return .all }
            return change(store.speakerChange(n, value))
        case .labelCharacter(let label):
            return assign(label, to: value, restoring: nil)
        case .retranslation(let n, let current):
            return change(Translation.change(n, value, replacing: current))
        }
    }

    /// Writes the episode's label → character map (one transaction on the whole store, on the
    /// cast's queue), then reads the job again so names and voices follow.
    func assign(_ label: String, to id: String?, restoring previous: LabelAssignment?) -> Redraw {
        guard characterStorePath != nil else { return .nothing }
        let job = self.job, by = store.by
        castModel.run({ path in
            let o = CastOutcome()
            o.assignment = try CharacterIdentifier.assign(try TranscriptStore(job: job, by: by), label: label, to: id,
                                                          in: try CharacterStore.open(path), restoring: previous)
            return o
        }) { [unowned self] r in
            switch r {
            case .success(let o):
                _ = reloadMapIfChanged()
                let a = o.assignment!
                if id != nil {
                    castModel.lastAssign = (label, a.previous)
                    setMessage("\(label) → \(a.characterID) in this episode (was \(a.previous?.characterID ?? "none")) · u undoes it")
                } else {
                    castModel.lastAssign = nil
                    setMessage("\(label) is \(previous?.characterID ?? "without a character") again (assignment undone)")
                }
            case .failure(let e):
                setMessage(Desk.text(of: e), .error)
            }
            return .all
        }
        setMessage("saving to the character store…")
        return .status
    }

    func undoAssign() -> Redraw {
        guard let (label, previous) = castModel.lastAssign else { return .nothing }
        return assign(label, to: nil, restoring: previous)
    }

    /// The selected list line's original audio becomes the reference of THAT LINE's character
    /// (never of whichever character happens to be selected on this screen).
    func useLineAudio() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        guard let id = store.characterID(seg.number), let c = cast?.resolve(id) else {
            setMessage("line \(seg.number) has no character yet (run `dubdeck characters identify`)", .warning)
            return .status
        }
        let audio: PCM16
        do {
            audio = try PlaybackSource.original(store, seg.number)
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
            return .status
        } catch { return .nothing }
        let buffer = AudioBuffer(samples: audio.samples.map { Float($0) / 32768 }, rate: audio.rate, channels: audio.channels)
        return changeCast("line \(seg.number)'s original audio is now the reference of \(c.displayName)") { s in
            try ReferenceVoice.set(buffer, for: c.id, in: s)
        }
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
