import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// transcript_store.json (version 3): the review state of a job, saved durably and never over
/// another writer's change. Unchanged entries keep their encoded bytes across saves.
public final class TranscriptStore {
    public static let currentVersion = 3

    struct Entry {
        /// The entry as an object, once built: by a change, or by the generic reading. The direct
        /// reading builds none (a job opens without 5,000 objects); `object` builds it from `raw`.
        var parsed: JSONObject?
        /// The entry's JSON as last read or written; nil when it must be (re-)encoded from `parsed`.
        var raw: ArraySlice<UInt8>?

        init(object: JSONObject, raw: ArraySlice<UInt8>?) {
            parsed = object
            self.raw = raw
        }

        /// An entry the direct reading checked: its object is built from its bytes when asked for.
        init(checkedRaw: ArraySlice<UInt8>) {
            parsed = nil
            raw = checkedRaw
        }

        var object: JSONObject {
            if let parsed { return parsed }
            // Bytes the direct reading accepted: the generic reading of them cannot fail.
            guard case .object(let o)? = try? JSONParser.parse(Array(raw!)) else {
                preconditionFailure("a store entry read once no longer parses")
            }
            return o
        }
    }

    /// What was read from disk: the parts of the file and its fingerprint.
    struct Snapshot {
        var version: Int
        /// Top-level members other than "version", "updated_at" and "segments", in order.
        var extra: [(key: String, value: JSONValue)]
        var updatedAt: String?
        /// Index = segment number − 1.
        var entries: [Entry?]
        /// Entries whose key is not a segment number of this job (kept as they are).
        var foreign: [(key: String, value: JSONValue)]
        /// The fingerprint as taken; its SHA-256 is made from `bytes` when first asked for.
        var recordedFingerprint: FileFingerprint
        var mismatch: String?
        /// The file as last read or written (the next commit compares the disk with it).
        var bytes: [UInt8]? = nil
        /// What each line's entry says (index = segment number − 1; absent entries: translated.json's
        /// line), handed to the store's `states` when the snapshot is adopted (then emptied).
        var stored: [ReviewState] = []

        /// Hashed on first use: an open that changes nothing never hashes the file.
        var fingerprint: FileFingerprint {
            mutating get {
                if recordedFingerprint.sha256.isEmpty, recordedFingerprint != .missing, let bytes {
                    recordedFingerprint.sha256 = SHA256.digest(bytes)
                }
                return recordedFingerprint
            }
            set { recordedFingerprint = newValue }
        }
    }

    public package(set) var job: Job
    public let by: String
    var snapshot: Snapshot
    public package(set) var states: [ReviewState] { didSet { revision &+= 1 } }
    /// Counts every change of `states` (a commit, a reload, a prediction): what is derived from them
    /// (the header's counts) is kept while it stays the same.
    public private(set) var revision = 0
    var countsCache: (revision: Int, counts: Counts)?
    /// Passes counts() made over the lines (the tests check a key makes none).
    public private(set) var countsPasses = 0
    /// Why this job cannot be changed (re-segmented under its store), or nil.
    public var readOnlyReason: String? { snapshot.mismatch }
    public var history: HistoryLog { HistoryLog(job.historyPlace) }
    /// How long an operation waits for the job lock.
    public var lockTimeout: Double = 2.0

    public convenience init(job: Job, by: String? = nil) throws {
        self.init(job: job, by: by, snapshot: try TranscriptStore.read(job: job))
    }

    /// Opens a job and its store: the directory once (SPEC §11.2), translated.json, then the store.
    public static func open(_ directory: String, series: String? = nil, by: String? = nil) throws -> TranscriptStore {
        let handle = try JobLoader.openDirectory(directory)
        let loaded = try JobLoader.load(handle, series: series)
        let store = try TranscriptStore(job: loaded, by: by)
        TranscriptStore.sweepTemporaries(handle)
        return store
    }

    /// Take temporaries a killed synthesis left (its process is gone) go at the next opening of the
    /// job, off this core (SPEC §11.6); a live process's own are never touched.
    static func sweepTemporaries(_ job: DirectoryHandle) {
        BackgroundWork.start {
            if let preview = try? Takes.open(job: job) { FileIO.removeStaleTemporaries(in: preview) }
        }
    }

    /// The history's last `maxBytes`, parsed (the desk's first look at the history).
    public func recentHistory(maxBytes: Int) throws -> HistoryLog.Tail {
        try history.readTail(maxBytes: maxBytes)
    }

    init(job: Job, by: String?, snapshot: consuming Snapshot) {
        self.job = job
        self.by = UserName.resolve(by)
        var stored: [ReviewState] = []
        swap(&stored, &snapshot.stored)
        self.snapshot = snapshot
        states = []
        cpsLimit = ReadingSpeed.limit(job)
        swap(&states, &stored)  // moved, never shared: the settings apply in place
        rebuildStates()
    }

    /// Makes a freshly read snapshot the current one: its lines' states move into `states` (the
    /// array is swapped out, never shared, so the settings of the moment apply in place).
    func adopt(_ fresh: consuming Snapshot) {
        var stored: [ReviewState] = []
        swap(&stored, &fresh.stored)
        snapshot = fresh
        swap(&states, &stored)
        rebuildStates()
    }

    /// For messages only: the store is reached through the job's directory handle (`place`).
    public var path: String { job.storePath }
    var place: FilePlace { job.storePlace }
    public var fingerprint: FileFingerprint { snapshot.fingerprint }

    public func state(_ n: Int) -> ReviewState { states[n - 1] }

    /// The segment's whole store entry (a default one built from translated.json when absent).
    public func entry(_ n: Int) -> JSONObject {
        snapshot.entries[n - 1]?.object ?? TranscriptStore.defaultEntry(job.segments[n - 1])
    }

    public func hasEntry(_ n: Int) -> Bool { snapshot.entries[n - 1] != nil }

    static func defaultEntry(_ s: Segment) -> JSONObject {
        JSONObject([
            ("start", .number(s.start)), ("end", .number(s.end)), ("tgt_text", .string(s.text)),
            ("approved", .bool(false)), ("locked", .bool(false)), ("locked_at", .null), ("locked_by", .null),
            ("flags", .array([])), ("audio_status", .string(TakeStatus.none.rawValue)),
        ])
    }

    /// The settings of the moment applied to every line, in place.
    func rebuildStates() {
        // On a local array: no exclusivity check of the class's property per line.
        var all = states
        states = []
        for i in all.indices { finish(&all[i], job.segments[i], i + 1) }
        states = all
    }

    /// The characters' voices as the character store has them now (nil: not known). The stale-take
    /// rule is this store's alone: a take spoken with another voice than its line's character (or
    /// label) has now is stale; the front ends only say what the voices are.
    public var characterVoices: [String: Voice]? {
        didSet { rebuildStates() }
    }

    /// The voice line `seg` should be spoken with now, when the characters' voices are known.
    func expectedVoice(_ seg: Segment) -> Voice? {
        characterVoices.map { Voice.forSegment(seg, job: job, characterVoices: $0) }
    }

    /// The reading-speed limit in force (characters per second): the language's, job.json's
    /// `max_cps`, or a command line's `--max-cps`.
    public var cpsLimit: Double {
        // The same limit again changes no state: 5,000 lines are not rebuilt for nothing.
        didSet { if cpsLimit != oldValue { rebuildStates() } }
    }

    /// Line n as the review has it: with the reviewer's speaker label, if one was given (the
    /// pipeline's `character_id` then yields to the label's character).
    public func segment(_ n: Int) -> Segment {
        guard !states.isEmpty else { return job.segments[n - 1] }
        let seg = TranscriptStore.effective(job.segments[n - 1], states[n - 1].speakerOverride)
        return states[n - 1].slot.map { seg.at($0) } ?? seg
    }

    /// Line n's times as the pipeline cut them (the original audio is there).
    public func originalTimes(_ n: Int) -> TimeSlot { TimeSlot(start: job.segments[n - 1].start, end: job.segments[n - 1].end)! }

    /// Line n moved to `slot`: one `retime` record, refused on a locked line (75) and, unless
    /// `allowOverlap`, when it would overlap line n−1 or n+1 (as the store has them when the change
    /// commits) more than it did (75, naming the line); the take goes stale. The pipeline's own times remove the slot.
    /// `hint`: what the front end offers when an overlap is refused.
    public func retime(_ n: Int, to slot: TimeSlot, allowOverlap: Bool = false, hint: String = "") -> SegmentChange {
        let original = originalTimes(n)
        var change = SegmentChange(segment: n, action: "retime", fields: ["slot_start", "slot_end"]) { e in
            try SegmentChange.refuseIfLocked(e, n, what: "its times")
            if slot == original {
                e["slot_start"] = nil
                e["slot_end"] = nil
            } else {
                e["slot_start"] = .number(slot.start)
                e["slot_end"] = .number(slot.end)
            }
            if let s = e["audio_status"]?.stringValue.flatMap(TakeStatus.init(rawValue:)), s == .fresh || s == .overflow {
                e["audio_status"] = .string(TakeStatus.stale.rawValue)
            }
        }
        if !allowOverlap {
            change.check = { store in
                // Refused: an overlap the change makes or makes longer (the pipeline's own overlaps stay).
                func overlap(_ a: Segment, _ s: Double, _ e: Double) -> Double { min(a.end, e) - max(a.start, s) }
                let now = store.segment(n)
                for m in [n - 1, n + 1] where m >= 1 && m <= store.job.segments.count {
                    let other = store.segment(m)
                    let after = overlap(other, slot.start, slot.end)
                    if after > 0, after > overlap(other, now.start, now.end) + 1e-9 {
                        throw DubdeckError(.conflict, "line \(n) at \(JSONValue.formatNumber(slot.start))–\(JSONValue.formatNumber(slot.end)) s would overlap line \(m) (\(JSONValue.formatNumber(other.start))–\(JSONValue.formatNumber(other.end)) s)\(hint)")
                    }
                }
            }
        }
        return change
    }

    static func effective(_ seg: Segment, _ label: String?) -> Segment {
        guard let label, label != seg.speaker else { return seg }
        var s = seg
        s.speaker = label
        s.characterID = nil
        return s
    }

    /// Gives line n the diarization label `label` (the pipeline's label removes the override); its
    /// take goes stale when the voice changes (another character, or another label without one).
    public func speakerChange(_ n: Int, _ label: String) -> SegmentChange {
        let before = segment(n), after = TranscriptStore.effective(job.segments[n - 1], label)
        let (a, b) = (job.characterID(of: before), job.characterID(of: after))
        let voiceChanges = a != b || (a == nil && before.speaker != after.speaker)
        return .speaker(n, label, original: job.segments[n - 1].speaker, voiceChanges: voiceChanges)
    }

    /// The character of line n (through the reviewer's label, the pipeline's ID or the map).
    public func characterID(_ n: Int) -> String? { job.characterID(of: segment(n)) }

    /// Spoken-length predictions by line number (derived, never written): whoever can predict (the
    /// desk in the background, `segments`) records them; a line's state shows the one made for its text and voice.
    var predictions: [Int: SpokenPrediction] = [:]

    /// The speed-up a fit may use (`--max-speedup`): past it, a predicted line will not fit.
    public var maxSpeedup: Double = 1.30 {
        didSet { if maxSpeedup != oldValue { rebuildStates() } }
    }

    /// Records how long line n's text will be spoken in `prediction.voice`; its state shows it while
    /// the line keeps that text and voice.
    /// The spoken length recorded for line n's `text` in `voice` (nil: none, or for another text or voice).
    public func prediction(_ n: Int, text: String, voice: Voice) -> Double? {
        guard let p = predictions[n], p.text == text, p.voice == voice else { return nil }
        return p.seconds
    }

    public func recordPrediction(_ n: Int, _ prediction: SpokenPrediction) {
        predictions[n] = prediction
        finish(&states[n - 1], job.segments[n - 1], n)
    }

    /// The voice line n should be spoken with now (the characters' voices as known, else the label's).
    public func voice(_ n: Int) -> Voice { Voice.forSegment(segment(n), job: job, characterVoices: characterVoices ?? [:]) }

    /// A line's stored state with the settings of the moment: the reading-speed limit, the
    /// prediction made for its text and voice, and a take spoken with another voice than the line
    /// should have now is stale.
    func finish(_ st: inout ReviewState, _ pipelineSegment: Segment, _ n: Int) {
        st.tooFast = st.cps > cpsLimit + 1e-9
        st.predictedS = nil
        st.willNotFit = false
        if let p = predictions[n], p.text == st.text {
            let seg = TranscriptStore.effective(pipelineSegment, st.speakerOverride)
            if p.voice == Voice.forSegment(seg, job: job, characterVoices: characterVoices ?? [:]) {
                let slot = st.slot?.duration ?? pipelineSegment.duration
                st.predictedS = p.seconds
                st.willNotFit = p.seconds > slot * maxSpeedup + 0.001
            }
        }
        st.audioStatus = st.recordedAudioStatus
        if characterVoices != nil, st.audioStatus == TakeStatus.fresh.rawValue || st.audioStatus == TakeStatus.overflow.rawValue, let usedVoice = st.preview?.voice,
           usedVoice != expectedVoice(TranscriptStore.effective(pipelineSegment, st.speakerOverride)) {
            st.audioStatus = TakeStatus.stale.rawValue
        }
    }

    /// What a line's entry says (nil: no entry), its reading speed counted.
    static func storedState(of entry: JSONObject?, _ seg: Segment) -> ReviewState {
        var st = defaultState(seg)
        guard let e = entry else {
            complete(&st, seg)
            return st
        }
        // One pass over the members (a lookup per field was nine scans of each of 5,000 entries).
        for (key, v) in e.members {
            switch key {
            case "tgt_text": if let t = v.stringValue { st.text = t }
            case "approved": st.approved = v.boolValue ?? false
            case "locked": st.locked = v.boolValue ?? false
            case "locked_at": st.lockedAt = v.stringValue
            case "locked_by": st.lockedBy = v.stringValue
            case "flags": st.flags = (v.arrayValue ?? []).compactMap { $0.stringValue }
            case "audio_status": if let a = v.stringValue { st.audioStatus = a }
            case "speaker": st.speakerOverride = v.stringValue
            case "last_preview": st.preview = v.objectValue.map(TakePreview.init)
            default: break
            }
        }
        if let a = e["slot_start"]?.doubleValue, let b = e["slot_end"]?.doubleValue { st.slot = TimeSlot(start: a, end: b) }
        complete(&st, seg)
        return st
    }

    static func defaultState(_ seg: Segment) -> ReviewState {
        var st = ReviewState.placeholder
        st.text = seg.text
        return st
    }

    /// `edited` and the reading speed: a reviewer's label changes who speaks, never when, so the
    /// pipeline's times give the speed.
    /// `cpsCounted`: `st.cps` is already that of its text over the segment's duration.
    static func complete(_ st: inout ReviewState, _ seg: Segment, cpsCounted: Bool = false) {
        st.edited = st.text != seg.text
        if !cpsCounted { st.cps = ReadingSpeed.cps(st.text, duration: st.slot?.duration ?? seg.duration) }
        st.recordedAudioStatus = st.audioStatus
    }

    // MARK: Outside changes

    /// True when the file on disk is not the one this store last read or wrote (cheap stat check).
    public func changedOnDisk() -> Bool {
        let sig = FileIO.statSignature(place)
        let fp = snapshot.fingerprint
        if sig == nil { return fp != .missing }
        if fp.racy { return true }  // read in the tick of its last write: compare the bytes
        return sig!.size != fp.size || sig!.mtimeNs != fp.mtimeNs || (fp.inode != 0 && sig!.inode != fp.inode)
    }

    /// Re-reads the store when another writer changed it. Returns true when something changed.
    @discardableResult
    public func reloadIfChanged() throws -> Bool {
        guard changedOnDisk() else { return false }
        let bytes = try FileIO.readIfExists(place, owner: .own)
        let fp = FileIO.fingerprint(place, bytes: bytes)
        if fp.sha256 == snapshot.fingerprint.sha256, !fp.sha256.isEmpty {
            snapshot.fingerprint = fp
            return false
        }
        var fresh: Snapshot
        if let bytes {
            fresh = try TranscriptStore.parse(bytes, job: job)
            fresh.fingerprint = fp
            fresh.bytes = bytes
        } else {
            fresh = TranscriptStore.emptySnapshot(job)
        }
        adopt(fresh)
        return true
    }

    // MARK: Counts

    public struct Counts: Equatable {
        public var segments = 0, approved = 0, locked = 0, flagged = 0, stale = 0, overflow = 0, edited = 0, tooFast = 0, willNotFit = 0, predicted = 0
    }

    /// The header's counts: one pass over the lines when they changed, else kept (a key that changes
    /// nothing costs nothing here, whatever the job's size).
    public func counts() -> Counts {
        if let cached = countsCache, cached.revision == revision { return cached.counts }
        countsPasses += 1
        var c = Counts()
        c.segments = states.count
        for s in states {
            if s.approved { c.approved += 1 }
            if s.locked { c.locked += 1 }
            if !s.flags.isEmpty { c.flagged += 1 }
            if s.audioStatus == TakeStatus.stale.rawValue { c.stale += 1 }
            if s.audioStatus == TakeStatus.overflow.rawValue { c.overflow += 1 }
            if s.edited { c.edited += 1 }
            if s.tooFast { c.tooFast += 1 }
            if s.willNotFit { c.willNotFit += 1 }
            if s.predictedS != nil { c.predicted += 1 }
        }
        countsCache = (revision, c)
        return c
    }
}

/// The list filters of the desk and of `segments --filter`.
public enum SegmentFilter: String, CaseIterable, Sendable {
    case all, unapproved, unlocked, locked, flagged, stale, overflow
    /// Over the subtitle reading-speed limit (characters per second).
    case tooFast = "too-fast"
    /// Speech predicted not to fit its slot within the speed-up cap.
    case willNotFit = "will-not-fit"
    /// Lines that need attention: unapproved, flagged, stale, overflow or will not fit.
    case problems

    public func includes(_ s: ReviewState) -> Bool {
        switch self {
        case .all: return true
        case .unapproved: return !s.approved
        case .unlocked: return !s.locked
        case .locked: return s.locked
        case .flagged: return !s.flags.isEmpty
        case .stale: return s.audioStatus == TakeStatus.stale.rawValue
        case .overflow: return s.audioStatus == TakeStatus.overflow.rawValue
        case .tooFast: return s.tooFast
        case .willNotFit: return s.willNotFit
        case .problems: return s.isProblem
        }
    }
}
