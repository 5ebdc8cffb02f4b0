import Dispatch
import DubdeckCore
import Synchronization

/// A background load of the character store, handed over between keys.
/// Sendable (unchecked, one proof): every field is used only under `state`. Not a Mutex<State>: the
/// loaded `CharacterStore` is not Sendable and the region checker will not take it into one.
final class CastLoad: @unchecked Sendable {
    let state = Mutex()
    var pending = false
    var result: Result<CharacterStore, Error>?
    /// A database store is polled in the background: the last rows' signature seen, whether a
    /// check runs, whether one saw a change, and when the last one started.
    var databaseSignature: String?
    var checking = false
    var changed = false
    var lastCheck = -1e9
}

/// The voice match of the selected line, computed in the background (the encoder takes tens of
/// milliseconds; keys never wait for it).
final class VoiceMatchWork: Sendable {
    struct State {
        var running: String?
        var done = false
        /// Pairs that could not be embedded (damaged audio): not tried again and again.
        var failed = Swift.Set<String>()
        var encoder: SpeakerEncoder?
        var encoderTried = false
    }
    let state = Synchronization.Mutex(State())

    func sharedEncoder() -> SpeakerEncoder? {
        state.withLock { s in
            if !s.encoderTried { s.encoderTried = true; s.encoder = try? SpeakerEncoder() }
            return s.encoder
        }
    }
}

/// The characters screen and the character names in the list.
extension Desk {
    /// Reads the character store without embeddings (the desk holds none). A store that cannot be
    /// opened (no key, damaged) leaves the desk working, with a message.
    func loadCast() {
        guard let path = characterStorePath, CharacterStore.mayExist(path) else { cast = nil; return }
        adoptCast(Result { try CharacterStore.open(path, withEmbeddings: false) })
    }

    func adoptCast(_ result: Result<CharacterStore, Error>) {
        switch result {
        case .success(let c):
            cast = c
            // The episode's map as the store has it now (a reconcile or assignment made elsewhere).
            do { try CharacterIdentifier.followStore(store, cast: c) } catch let e as DubdeckError {
                setMessage("characters.map.json not brought up to date: \(e.message)", .warning)
            } catch {}
            let voices = c.voices()
            let job = store.job
            store.expectedVoice = { seg in Voice.forSegment(seg, job: job, characterVoices: voices) }
            worker?.setVoices(voices, references: c.referenceWavs())
        case .failure(let e):
            cast = nil
            setMessage("characters unavailable: \((e as? DubdeckError)?.message ?? "\(e)")", .warning)
        }
    }

    /// At open, the names load in the background: the first screen does not wait for the
    /// decryption of a large store (a job without characters never reads it).
    /// Another process changed the character store (rename, merge, identify): load it again.
    func reloadCastIfChanged() -> Redraw {
        guard let path = characterStorePath, !castLoading else { return .nothing }
        if CharacterStore.isDatabaseURL(path) { return pollDatabaseCast(path) }
        if FileIO.statSignature(path) == castSignature { return .nothing }
        startLoadingCast()
        return .nothing
    }

    /// Every 2 s at most, a background query of the rows' versions; a change loads the store again.
    /// A server that is down costs a background thread its connect timeout, never a key.
    func pollDatabaseCast(_ path: String) -> Redraw {
        let box = castLoad
        let (changed, start): (Bool, Bool) = box.state.locked {
            let c = box.changed
            box.changed = false
            let now = Clock.monotonic()
            guard !box.checking, now - box.lastCheck >= 2 else { return (c, false) }
            box.checking = true
            box.lastCheck = now
            return (c, true)
        }
        if changed { startLoadingCast() }
        if start {
            DispatchQueue.global().async {
                let signature = CharacterStore.databaseSignature(path)
                box.state.locked {
                    if let signature, signature != box.databaseSignature {
                        if box.databaseSignature != nil { box.changed = true }
                        box.databaseSignature = signature
                    }
                    box.checking = false
                }
            }
        }
        return .nothing
    }

    func startLoadingCast() {
        castSignature = characterStorePath.flatMap { FileIO.statSignature($0) }
        guard let path = characterStorePath, CharacterStore.mayExist(path),
              job.segments.contains(where: { store.characterID($0.number) != nil }) else { return }
        let box = castLoad
        box.state.locked { box.pending = true }
        DispatchQueue.global().async {
            // A database's rows' versions as of this read: the poll compares with them (taken first,
            // so a change during the read is noticed next time, never missed).
            let signature = CharacterStore.isDatabaseURL(path) ? CharacterStore.databaseSignature(path) : nil
            let r = Result { try CharacterStore.open(path, withEmbeddings: false) }
            box.state.locked {
                box.result = r
                if let signature { box.databaseSignature = signature }
            }
        }
    }

    /// Takes in a background load that finished.
    func takeInCast() -> Redraw {
        let box = castLoad
        guard let r: Result<CharacterStore, Error> = box.state.locked({
            let r = box.result
            if r != nil { box.result = nil; box.pending = false }
            return r
        }) else { return .nothing }
        adoptCast(r)
        invalidateSearch()
        return .all
    }

    var castLoading: Bool { castLoad.state.locked { castLoad.pending } }

    /// Between keys: start the voice match of the selected line when it is not cached yet.
    func prepareVoiceMatch() -> Redraw {
        let work = voiceMatchWork
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
    /// A character without a name shows its ID marked `◆`, so it is never taken for a diarization label.
    func speakerName(_ seg: Segment) -> String {
        guard let id = store.characterID(seg.number) else {
            let label = store.segment(seg.number).speaker
            return label.isEmpty ? "?" : label
        }
        if let c = cast?.resolve(id) { return c.name.isEmpty ? "◆" + c.id : c.name }
        return "◆" + id
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
        guard characterStorePath != nil else { setMessage("no character store", .warning); return .status }
        loadCast()
        guard cast != nil else {
            if messageKind == .info { setMessage("no character store yet: run `dubdeck characters identify JOB`", .warning) }
            return .status
        }
        mode = .characters(CharactersScreen(series: job.info.seriesID))
        return .all
    }

    /// Writes to the character store (opened whole for the change, then read again without embeddings).
    func changeCast(_ done: String, _ body: (CharacterStore) throws -> Void) -> Redraw {
        withFullCast(done) { try $0.update(body) }
    }

    /// Runs `body` on the whole store (embeddings too), then reads it again as the desk holds it
    /// and the episode's map (reconcile re-writes it); an error is the message.
    @discardableResult
    func withFullCast(_ done: String, _ body: (CharacterStore) throws -> Void) -> Redraw {
        guard let path = characterStorePath else { return .nothing }
        do {
            let full = try CharacterStore.open(path)
            try body(full)
            loadCast()
            _ = reloadMapIfChanged()
            setMessage(done)
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
        } catch {
            setMessage("\(error)", .error)
        }
        return .all
    }

    /// Folds one character into another for good (the screen asked for confirmation); U undoes it.
    func mergeCharacter(_ id: String, into: String) -> Redraw {
        let r = changeCast("\(id) merged into \(into) (U undoes it)") { try $0.merge(id, into: into) }
        if messageKind != .error { lastMerge = (id, into) }
        return r
    }

    func undoLastMerge() -> Redraw {
        guard let (from, into) = lastMerge else { setMessage("no merge to undo here", .warning); return .status }
        let r = changeCast("\(from) is a character again (merge into \(into) undone)") { try $0.unmerge(from) }
        if messageKind != .error { lastMerge = nil }
        return r
    }

    // MARK: Reconcile

    /// The series' proposals, from the store as it is on disk now (nil: it could not be read; the message says why).
    func reconcileProposals(series: String) -> ReconcileAnalysis? {
        guard let path = characterStorePath, CharacterStore.mayExist(path) else {
            setMessage("no character store yet: run `dubdeck characters identify JOB`", .warning)
            return nil
        }
        do {
            return Reconcile.propose(try CharacterStore.open(path), series: series)
        } catch {
            setMessage("characters unavailable: \((error as? DubdeckError)?.message ?? "\(error)")", .error)
            return nil
        }
    }

    func acceptProposal(_ p: ReconcileProposal, series: String) {
        withFullCast("applied: \(p.summary) (U undoes it)") { full in
            guard try Reconcile.apply(full, series: series, keys: [p.key]) != nil else {
                throw DubdeckError.conflict("the proposal is no longer made")
            }
        }
    }

    func rejectProposal(_ p: ReconcileProposal, series: String) {
        withFullCast("rejected: \(p.summary) (not proposed again)") { try Reconcile.reject($0, series: series, key: p.key) }
    }

    func undoReconcile(series: String) {
        var done = ""
        withFullCast("") { full in
            let (id, maps) = try Reconcile.undo(full, series: series)
            done = "reconcile \(id) undone (\(maps) map\(maps == 1 ? "" : "s") put back)"
        }
        if messageKind != .error { setMessage(done) }
    }

    // MARK: Speaker fixes

    /// Picks the selected line's diarization label from the episode's labels.
    func openSpeakerPicker() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        if let reason = store.readOnlyReason { setMessage("read-only: \(reason)", .error); return .status }
        let current = store.segment(seg.number).speaker
        let choices = CharacterIdentifier.episodeLabels(store).map { label -> PickerScreen.Choice in
            let id = job.characterMap[label]
            let who = id.map { id in cast?.resolve(id).map { $0.name.isEmpty ? "◆" + $0.id : "\($0.name) (\($0.id))" } ?? "◆" + id } ?? "no character"
            let marks = (label == current ? "  ← now" : "") + (label == seg.speaker && label != current ? "  ← the pipeline's" : "")
            return .init(value: label, text: DeskView.pad(label, 16) + " " + who + marks)
        }
        guard !choices.isEmpty else { setMessage("this episode has no diarization labels", .warning); return .status }
        mode = .picker(PickerScreen(purpose: .lineSpeaker(seg.number), title: "speaker of line \(seg.number)", choices: choices, selected: current))
        return .all
    }

    /// Picks the character of the selected line's label from the series' characters.
    func openCharacterPicker() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        guard characterStorePath != nil, job.info.seriesID != nil else { setMessage("no character store or no series for this job", .warning); return .status }
        if cast == nil { loadCast() }
        guard cast != nil else {
            if messageKind == .info { setMessage("no character store yet: run `dubdeck characters identify JOB`", .warning) }
            return .status
        }
        let label = store.segment(seg.number).speaker
        guard !label.isEmpty else { setMessage("line \(seg.number) has no diarization label (w gives it one)", .warning); return .status }
        let choices = castRows(series: nil).map { c in
            PickerScreen.Choice(value: c.id, text: DeskView.pad(c.id, 14) + " " + (c.name.isEmpty ? "(unnamed)" : c.name))
        }
        mode = .picker(PickerScreen(purpose: .labelCharacter(label), title: "character of \(label) in this episode", choices: choices,
                                    selected: store.characterID(seg.number).flatMap { cast?.resolve($0)?.id }))
        return .all
    }

    /// The episode's 3 characters closest to the selected line's original audio (GE2E), as a
    /// picker of the labels mapped to them: Enter moves the line there (a speaker fix, undoable).
    func openSuggestions() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        if let reason = store.readOnlyReason { setMessage("read-only: \(reason)", .error); return .status }
        guard let path = characterStorePath else { setMessage("no character store", .warning); return .status }
        do {
            let full = try CharacterStore.open(path)
            let list = try CharacterIdentifier.suggest(store, seg.number, cast: full, encoder: voiceMatchWork.sharedEncoder() ?? SpeakerEncoder())
            let choices = list.compactMap { s -> PickerScreen.Choice? in
                guard let label = s.labels.first else { return nil }
                return .init(value: label, text: DeskView.pad(s.characterID, 14) + " " + DeskView.pad(s.name.isEmpty ? "(unnamed)" : s.name, 18)
                             + " " + DeskView.format2(s.similarity) + "  label " + s.labels.joined(separator: ", "))
            }
            guard !choices.isEmpty else { setMessage("no character of this episode to compare with", .warning); return .status }
            mode = .picker(PickerScreen(purpose: .lineSpeaker(seg.number), title: "closest voices to line \(seg.number)", choices: choices,
                                        selected: choices.first?.value))
            return .all
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
            return .status
        } catch {
            setMessage("\(error)", .error)
            return .status
        }
    }

    func picked(_ purpose: PickerScreen.Purpose, _ value: String) -> Redraw {
        switch purpose {
        case .lineSpeaker(let n):
            if store.segment(n).speaker == value { setMessage("line \(n) is already \(value)"); return .all }
            return change(store.speakerChange(n, value))
        case .labelCharacter(let label):
            return assign(label, to: value, restoring: nil)
        }
    }

    /// Writes the episode's label → character map (opening the whole store for its lock), then
    /// reads the job again so names and voices follow at once.
    func assign(_ label: String, to id: String?, restoring previous: LabelAssignment?) -> Redraw {
        guard let path = characterStorePath else { return .nothing }
        do {
            let full = try CharacterStore.open(path)
            let r = try CharacterIdentifier.assign(store, label: label, to: id, in: full, restoring: previous)
            _ = reloadMapIfChanged()
            if id != nil {
                lastAssign = (label, r.previous)
                setMessage("\(label) → \(r.characterID) in this episode (was \(r.previous?.characterID ?? "none")) · u undoes it")
            } else {
                lastAssign = nil
                setMessage("\(label) is \(previous?.characterID ?? "without a character") again (assignment undone)")
            }
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
        } catch {
            setMessage("\(error)", .error)
        }
        return .all
    }

    func undoAssign() -> Redraw {
        guard let (label, previous) = lastAssign else { return .nothing }
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
