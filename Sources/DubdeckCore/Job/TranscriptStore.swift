import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The review state of one segment, as the desk and the CLI see it.
public struct ReviewState: Equatable, Sendable {
    public var text: String
    public var approved: Bool
    public var locked: Bool
    public var lockedAt: String?
    public var lockedBy: String?
    public var flags: [String]
    /// The take's state as the line should be shown now: a take spoken with another voice than
    /// the line has now is stale whatever the entry records.
    public var audioStatus: String
    /// `audio_status` as the entry records it.
    var recordedAudioStatus = "none"
    /// True when the target text differs from the machine translation.
    public var edited: Bool

    /// The diarization label a reviewer gave this line (`set --speaker`), nil: the pipeline's.
    public var speakerOverride: String? = nil

    /// The current take as the views need it (nil: no take), typed: no view reads store JSON.
    public var preview: TakePreview? = nil

    /// Characters per second of slot (spaces and line breaks not counted), and over the limit?
    public var cps: Double = 0
    public var tooFast = false

    /// Needs a reviewer: unapproved, flagged, a stale or overflowing take, or read too fast.
    public var isProblem: Bool { !approved || !flags.isEmpty || audioStatus == "stale" || audioStatus == "overflow" || tooFast }

    /// A line with no entry and no text yet (filled in as the store is read).
    static let placeholder = ReviewState(text: "", approved: false, locked: false, lockedAt: nil, lockedBy: nil, flags: [],
                                         audioStatus: "none", edited: false)

    public var flaggedForRetranslation: Bool { flags.contains(ReviewState.needsRetranslate) }
    public static let needsRetranslate = "needs_retranslate"
    public var takeStatus: TakeStatus { TakeStatus(rawValue: audioStatus) ?? .unknown }
}

/// `audio_status`, typed (a value another tool wrote that we do not know is `unknown`).
public enum TakeStatus: String, Sendable {
    case none, fresh, stale, overflow, failed, unknown
}

/// What `last_preview` says of the current take. A class: a line's state holds a reference, not
/// a hundred bytes that 5,000 lines would copy about.
public final class TakePreview: Equatable, Sendable {
    public let durationS: Double?
    public let speechS: Double?
    public let overflowS: Double
    public let voiceEngine: String?
    public let voiceVariant: String?
    /// The immutable take file (`segments_preview/NNNN.take-<seq>.wav`), nil for a first-edition take.
    public let take: String?
    /// The voice the take was spoken with (nil when the record has none a voice can be read from).
    public let voice: Voice?

    public static func == (a: TakePreview, b: TakePreview) -> Bool {
        a === b || (a.durationS == b.durationS && a.speechS == b.speechS && a.overflowS == b.overflowS && a.voiceEngine == b.voiceEngine
                    && a.voiceVariant == b.voiceVariant && a.take == b.take && a.voice == b.voice)
    }

    init(_ p: JSONObject) {
        durationS = p["duration_s"]?.doubleValue
        speechS = p["speech_s"]?.doubleValue
        overflowS = p["overflow_s"]?.doubleValue ?? 0
        voiceEngine = p["voice"]?.objectValue?["engine"]?.stringValue
        voiceVariant = p["voice"]?.objectValue?["variant"]?.stringValue
        take = p["take"]?.stringValue
        voice = Voice(json: p["voice"])
    }
}

/// A history record as the views show it.
public extension HistoryRecord {
    /// The line's text after the change ("" when the record holds none).
    var textAfter: String { after.objectValue?["tgt_text"]?.stringValue ?? "" }
    var approvedAfter: Bool { after.objectValue?["approved"]?.boolValue == true }
    var lockedAfter: Bool { after.objectValue?["locked"]?.boolValue == true }
}

/// What one operation does to one segment's store entry.
public struct SegmentChange {
    public var segment: Int
    public var action: String
    /// The entry fields this change means to set. When another writer changed the same segment
    /// meanwhile, the change still applies on top unless that writer changed one of these fields.
    /// Derived fields (a take going stale) are recomputed by applying the change to the fresh entry.
    public var fields: [String]
    public var apply: (inout JSONObject) throws -> Void

    public init(segment: Int, action: String, fields: [String] = [], apply: @escaping (inout JSONObject) throws -> Void) {
        self.segment = segment
        self.action = action
        self.fields = fields
        self.apply = apply
    }

    /// New target text (refused on a locked line); `action` is "edit", or "restore" from the history.
    public static func edit(_ n: Int, text: String, action: String = "edit") -> SegmentChange {
        SegmentChange(segment: n, action: action, fields: ["tgt_text"]) { e in
            try refuseIfLocked(e, n)
            e["tgt_text"] = .string(text)
            markTakeAgainstText(&e, text)
        }
    }

    /// A take made from other text is stale; editing back to the take's text makes it current again.
    public static func markTakeAgainstText(_ e: inout JSONObject, _ text: String) {
        guard let preview = e["last_preview"]?.objectValue, let sha = preview["text_sha256"]?.stringValue,
              let status = e["audio_status"]?.stringValue, ["fresh", "stale", "overflow"].contains(status) else { return }
        if SHA256.hex(Array(text.utf8)) != sha {
            e["audio_status"] = .string("stale")
        } else {
            e["audio_status"] = .string((preview["overflow_s"]?.doubleValue ?? 0) > 0 ? "overflow" : "fresh")
        }
    }
    /// The line's diarization label (a reviewer fixing diarization); the pipeline's label removes
    /// the override. `voiceChanges`: the take was spoken by another voice, so it goes stale.
    public static func speaker(_ n: Int, _ label: String, original: String, voiceChanges: Bool) -> SegmentChange {
        SegmentChange(segment: n, action: "speaker", fields: ["speaker"]) { e in
            e["speaker"] = label == original ? nil : .string(label)
            if voiceChanges, let s = e["audio_status"]?.stringValue, s == "fresh" || s == "overflow" { e["audio_status"] = .string("stale") }
        }
    }

    public static func approve(_ n: Int, _ on: Bool) -> SegmentChange {
        SegmentChange(segment: n, action: on ? "approve" : "unapprove", fields: ["approved"]) { e in e["approved"] = .bool(on) }
    }
    public static func lock(_ n: Int, _ on: Bool, by: String) -> SegmentChange {
        SegmentChange(segment: n, action: on ? "lock" : "unlock", fields: ["locked"]) { e in
            e["locked"] = .bool(on)
            e["locked_at"] = on ? .string(Clock.isoNow()) : .null
            e["locked_by"] = on ? .string(by) : .null
        }
    }
    public static func flag(_ n: Int, _ flag: String, _ on: Bool) -> SegmentChange {
        SegmentChange(segment: n, action: on ? "flag" : "unflag", fields: ["flags"]) { e in
            var flags = e["flags"]?.arrayValue ?? []
            let has = flags.contains(.string(flag))
            if on, !has { flags.append(.string(flag)) }
            if !on { flags.removeAll { $0 == .string(flag) } }
            e["flags"] = .array(flags)
        }
    }

    public static func refuseIfLocked(_ e: JSONObject, _ n: Int) throws {
        if e["locked"]?.boolValue == true {
            throw DubdeckError.conflict("segment \(n) is locked: unlock first")
        }
    }
}

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
        /// The fingerprint as taken; its SHA-256 may still be computed on the other core (`pendingHash`).
        var recordedFingerprint: FileFingerprint
        var mismatch: String?
        /// The file as last read or written (the next commit compares the disk with it).
        var bytes: [UInt8]? = nil
        /// What each line's entry says (index = segment number − 1; absent entries: translated.json's
        /// line), handed to the store's `states` when the snapshot is adopted (then emptied).
        var stored: [ReviewState] = []
        /// The file's SHA-256 while the other core computes it (a store opens while it is hashed).
        var pendingHash: BackgroundHash? = nil

        var fingerprint: FileFingerprint {
            get {
                guard let pendingHash else { return recordedFingerprint }
                var fp = recordedFingerprint
                fp.sha256 = pendingHash.value
                return fp
            }
            set {
                recordedFingerprint = newValue
                pendingHash = nil
            }
        }
    }

    public internal(set) var job: Job
    public let by: String
    var snapshot: Snapshot
    public private(set) var states: [ReviewState]
    /// Why this job cannot be changed (re-segmented under its store), or nil.
    public var readOnlyReason: String? { snapshot.mismatch }
    public var history: HistoryLog { HistoryLog(job.historyPlace) }
    /// How long an operation waits for the job lock.
    public var lockTimeout: Double = 2.0

    public convenience init(job: Job, by: String? = nil) throws {
        self.init(job: job, by: by, snapshot: try TranscriptStore.read(job: job))
    }

    /// Opens a job and its store on both cores: the store is read, fingerprinted and scanned on
    /// the other core while this one reads translated.json (the scan needs the job's lines only at
    /// its end). The same checks and the same errors, in the same order, as `JobLoader.load` then
    /// `init(job:)`: a bad job is reported before anything about its store.
    /// `historyTail`: the history's last bytes are read (and parsed) on another core too, for
    /// `recentHistory` (the desk's first look at the history).
    public static func open(_ directory: String, series: String? = nil, by: String? = nil, historyTail: Int? = nil) throws -> TranscriptStore {
        // The directory opened once; the early reads and the job's own go through it (SPEC §11.2).
        let handle = try JobLoader.openDirectory(directory)
        let early = EarlyStoreRead(handle.place(Job.storeFileName))
        let tail = historyTail.map { EarlyHistoryTail(HistoryLog(handle.place(Job.historyFileName)), maxBytes: $0) }
        let loaded = try JobLoader.load(handle, series: series)
        let store = TranscriptStore(job: loaded, by: by, snapshot: try TranscriptStore.read(job: loaded, early: early))
        store.earlyHistoryTail = tail
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

    var earlyHistoryTail: EarlyHistoryTail?

    /// The history's last `maxBytes`, parsed (what was read while the job opened, the first time).
    public func recentHistory(maxBytes: Int) throws -> HistoryLog.Tail {
        if let early = earlyHistoryTail, early.maxBytes == maxBytes {
            earlyHistoryTail = nil
            return try early.take()
        }
        return try history.readTail(maxBytes: maxBytes)
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
            ("flags", .array([])), ("audio_status", .string("none")),
        ])
    }

    /// The settings of the moment applied to every line, in place.
    func rebuildStates() {
        // On a local array: no exclusivity check of the class's property per line.
        var all = states
        states = []
        for i in all.indices { finish(&all[i], job.segments[i]) }
        states = all
    }

    /// The voice each line should be spoken with now (set when the character voices are known):
    /// a take made with another voice is stale.
    public var expectedVoice: ((Segment) -> Voice)? {
        didSet { rebuildStates() }
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
        TranscriptStore.effective(job.segments[n - 1], states.isEmpty ? nil : states[n - 1].speakerOverride)
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

    /// A line's stored state with the settings of the moment: the reading-speed limit, and a take
    /// spoken with another voice than the line should have now is stale.
    func finish(_ st: inout ReviewState, _ pipelineSegment: Segment) {
        st.tooFast = st.cps > cpsLimit + 1e-9
        st.audioStatus = st.recordedAudioStatus
        if let expectedVoice, st.audioStatus == "fresh" || st.audioStatus == "overflow", let usedVoice = st.preview?.voice,
           usedVoice != expectedVoice(TranscriptStore.effective(pipelineSegment, st.speakerOverride)) {
            st.audioStatus = "stale"
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
        if !cpsCounted { st.cps = ReadingSpeed.cps(st.text, duration: seg.duration) }
        st.recordedAudioStatus = st.audioStatus
    }

    // MARK: Reading

    /// The state of a job with no store file yet.
    static func emptySnapshot(_ job: Job) -> Snapshot {
        var snap = Snapshot(version: currentVersion, extra: [], updatedAt: nil, entries: Array(repeating: nil, count: job.segments.count),
                            foreign: [], recordedFingerprint: .missing, mismatch: nil)
        snap.stored = job.segments.map { storedState(of: nil, $0) }
        return snap
    }

    static func read(job: Job, early: EarlyStoreRead) throws -> Snapshot {
        guard early.place.directory === job.handle else { return try read(job: job) }
        guard let (bytes, fingerprint, scan) = try early.take() else { return emptySnapshot(job) }
        var direct: Snapshot? = nil
        if let scan { direct = finishDirect(scan, job: job) }
        var snap = try direct ?? parseGeneric(bytes, job: job)
        snap.fingerprint = fingerprint
        snap.pendingHash = early.hash
        snap.bytes = bytes
        return snap
    }

    static func read(job: Job) throws -> Snapshot {
        let place = job.storePlace
        guard let bytes = try FileIO.readIfExists(place, owner: .own) else {
            return emptySnapshot(job)
        }
        // Hashed on the other core while this one parses: the hash is first needed by a commit.
        let hash = BackgroundHash(hashing: bytes)
        var snap = try parse(bytes, job: job)
        snap.fingerprint = FileIO.fingerprint(place, bytes: bytes, sha256: [])
        snap.pendingHash = hash
        snap.bytes = bytes
        return snap
    }

    static func parse(_ bytes: [UInt8], job: Job) throws -> Snapshot {
        // The common case straight into states; anything unusual is read again the generic way,
        // which gives the exact error (the direct reading is never less strict: it gives up instead).
        if let direct = parseDirect(bytes, job: job) { return direct }
        return try parseGeneric(bytes, job: job)
    }

    static func parseGeneric(_ bytes: [UInt8], job: Job) throws -> Snapshot {
        let shown = Sanitizer.display(job.storePath)
        var snap = Snapshot(version: 0, extra: [], updatedAt: nil, entries: Array(repeating: nil, count: job.segments.count),
                            foreign: [], recordedFingerprint: .missing, mismatch: nil)
        var parser = JSONParser(bytes: bytes)
        parser.skipBOM()
        var sawVersion = false
        do {
            try parser.parseObjectMembers(depth: 0) { key, p in
                switch key {
                case "version":
                    let v = try p.parseValue(depth: 1)
                    guard let n = v.intValue, n >= 1 else {
                        throw DubdeckError.data(shown, "\"version\" must be a positive integer")
                    }
                    snap.version = n
                    sawVersion = true
                    if n > currentVersion {
                        throw DubdeckError.data(shown, "store version \(n) is newer than this dubdeck knows (\(currentVersion)); refusing to touch it")
                    }
                case "updated_at":
                    snap.updatedAt = try p.parseValue(depth: 1).stringValue
                case "segments":
                    try p.parseObjectMembers(depth: 1) { segKey, q in
                        q.skipWhitespace()
                        let start = q.offset
                        let value = try q.parseValue(depth: 2)
                        let raw = bytes[start..<q.offset]
                        guard case .object(let obj) = value else {
                            throw DubdeckError.data(shown, "segment \(Sanitizer.display(segKey)): expected an object, not \(value.typeName)")
                        }
                        // A line number written plainly (as dubdeck writes it): "01", "1.0", "0" or
                        // "-0" would be an entry no line shows, silently.
                        guard let n = Int(segKey), n >= 1, n <= Int(JSONValue.maxExactInteger), String(n) == segKey else {
                            throw DubdeckError.data(shown, "segment key \"\(Sanitizer.display(String(segKey.prefix(40))))\" is not a line number (1, 2, … written plainly)")
                        }
                        if n <= job.segments.count {
                            snap.entries[n - 1] = Entry(object: obj, raw: raw)
                        } else {
                            snap.foreign.append((segKey, value))
                            if snap.mismatch == nil {
                                snap.mismatch = "transcript_store.json has segment \(n) but translated.json has \(job.segments.count) segments (re-segmented?)"
                            }
                        }
                    }
                default:
                    snap.extra.append((key, try p.parseValue(depth: 1)))
                }
            }
            parser.skipWhitespace()
            if parser.offset != bytes.count { throw parser.error("unexpected data after the JSON value") }
        } catch let e as JSONParseError {
            let seg = e.key(under: "segments").map { "segment \(Sanitizer.display($0)): " } ?? ""
            throw DubdeckError.data(shown, "\(seg)line \(e.line): \(e.message)")
        }
        if !sawVersion { snap.version = 1 }
        try validate(&snap, job: job, shown: shown)
        snap.stored = job.segments.indices.map { storedState(of: snap.entries[$0]?.parsed, job.segments[$0]) }
        return snap
    }

    /// Why entry n's times say it belongs to another line than translated.json's line n (nil: it does not).
    static func timesMismatch(_ n: Int, _ start: Double, _ end: Double, _ seg: Segment) -> String? {
        guard abs(start - seg.start) > 0.0005 || abs(end - seg.end) > 0.0005 else { return nil }
        return "segment \(n) is \(JSONValue.formatNumber(start))–\(JSONValue.formatNumber(end)) s in transcript_store.json but \(JSONValue.formatNumber(seg.start))–\(JSONValue.formatNumber(seg.end)) s in translated.json (re-segmented?)"
    }

    /// A `last_preview` without a take, or whose take is one of segment n's take files (a take name
    /// becomes a path).
    static func takeIsOwn(_ preview: JSONObject, _ n: Int) -> Bool {
        guard let take = preview["take"] else { return true }
        return take.stringValue.map { Takes.isTakePath($0, n) } ?? false
    }

    static let entryFields: [StaticString] = ["start", "end", "tgt_text", "approved", "locked", "locked_at", "locked_by", "flags",
                                              "audio_status", "speaker", "last_preview"]

    /// A current (version 3) store read straight into its lines' states: each entry is checked
    /// field by field and kept as its bytes, no object built (one is built when a change needs it).
    /// nil whenever anything is unusual — a wrong type, an old version, an entry without times, a
    /// foreign key, a name with an escape — so the generic reading decides and says why.
    static func parseDirect(_ bytes: [UInt8], job: Job) -> Snapshot? {
        guard let scan = scanDirect(bytes) else { return nil }
        return finishDirect(scan, job: job)
    }

    /// What the direct reading takes from the bytes alone (it needs no job: it can run while
    /// translated.json is read on the other core).
    struct DirectScan: @unchecked Sendable {
        // Sendable: values only; the slices share the file's immutable buffer.
        struct Line {
            var n: Int
            var start: Double, end: Double
            var raw: ArraySlice<UInt8>
            /// False: the entry has no text of its own (translated.json's line is its text).
            var ownText: Bool
        }
        var lines: [Line] = []
        /// What each entry says, by the index of its line in `lines` (moved out when finishing).
        var states: [ReviewState] = []
        var updatedAt: String?
        var extra: [(key: String, value: JSONValue)] = []
    }

    static func scanDirect(_ bytes: [UInt8]) -> DirectScan? {
        struct GiveUp: Error {}
        var scan = DirectScan()
        // Room for an entry per ~150 bytes: no regrowth copies (untouched room costs nothing).
        scan.lines.reserveCapacity(bytes.count / 150 + 1)
        scan.states.reserveCapacity(bytes.count / 150 + 1)
        var sawVersion = false
        var parser = JSONParser(bytes: bytes)
        parser.skipBOM()
        do {
            try parser.parseObjectMembersRaw(depth: 0) { key, p in
                guard key.plain else { throw GiveUp() }
                if p.key(key, is: "version") {
                    guard case .number(let v)? = try p.parseScalar(depth: 1), v == Double(currentVersion) else { throw GiveUp() }
                    sawVersion = true
                } else if p.key(key, is: "updated_at") {
                    scan.updatedAt = try p.parseValue(depth: 1).stringValue
                } else if p.key(key, is: "segments") {
                    try p.parseObjectMembersRaw(depth: 1) { segKey, q in
                        guard let n = q.decimalKey(segKey), n >= 1, q.peek() == UInt8(ascii: "{") else { throw GiveUp() }
                        let start = q.offset
                        var st = ReviewState.placeholder  // its text comes from the entry, or translated.json's
                        var ownText = false
                        var times: (Double?, Double?) = (nil, nil)
                        try q.parseObjectValueRaw(depth: 2, known: entryFields) { field, f in
                            guard field.plain else { throw GiveUp() }
                            let k = field.index
                            guard let v = try f.parseScalar(depth: 3) else {
                                switch k {
                                case 7:  // flags: an array of strings
                                    var flags: [String] = []
                                    try f.parseArrayElements(depth: 3) { r in
                                        guard case .string(let flag)? = try r.parseScalar(depth: 4) else { throw GiveUp() }
                                        flags.append(flag)
                                    }
                                    st.flags = flags
                                case 10:  // last_preview: its take must be one of this line's take files
                                    guard case .object(let preview) = try f.parseValue(depth: 3) else { throw GiveUp() }
                                    guard takeIsOwn(preview, n) else { throw GiveUp() }
                                    st.preview = TakePreview(preview)
                                case 5, 6, nil:  // locked_at/by are read as strings only; others are kept as they are
                                    _ = try f.parseValue(depth: 3)
                                default: throw GiveUp()
                                }
                                return
                            }
                            switch (k, v) {
                            case (_, .null) where k != 5 && k != 6: break  // a null is as good as absent
                            case (0, .number(let t)): times.0 = t
                            case (1, .number(let t)): times.1 = t
                            case (2, .string(let t)): st.text = t; ownText = true
                            case (3, .bool(let b)): st.approved = b
                            case (4, .bool(let b)): st.locked = b
                            case (5, _): st.lockedAt = v.stringValue
                            case (6, _): st.lockedBy = v.stringValue
                            case (8, .string(let a)): st.audioStatus = a
                            case (9, .string(let label)) where SafeName.isValid(label): st.speakerOverride = label
                            case (nil, _): break
                            default: throw GiveUp()
                            }
                        }
                        guard let s = times.0, let e = times.1 else { throw GiveUp() }  // the generic reading adds them
                        // Its reading speed counted here, on this core: kept if translated.json's
                        // times are these (a line's duration is end − start, the same bits).
                        if ownText { st.cps = ReadingSpeed.cps(st.text, duration: e - s) }
                        scan.lines.append(DirectScan.Line(n: n, start: s, end: e, raw: bytes[start..<q.offset], ownText: ownText))
                        scan.states.append(st)
                    }
                } else {
                    scan.extra.append((try key.string ?? p.makeString(key.span), try p.parseValue(depth: 1)))
                }
            }
            parser.skipWhitespace()
            guard parser.offset == bytes.count, sawVersion else { return nil }
        } catch {
            return nil
        }
        return scan
    }

    /// The scan put against the job's lines: each entry at its line (one this job does not have:
    /// nil), translated.json's text where the entry has none, the reading speeds, the first line
    /// whose times are another line's.
    static func finishDirect(_ scan: consuming DirectScan, job: Job) -> Snapshot? {
        let count = job.segments.count
        var snap = Snapshot(version: currentVersion, extra: scan.extra, updatedAt: scan.updatedAt, entries: Array(repeating: nil, count: count),
                            foreign: [], recordedFingerprint: .missing, mismatch: nil)
        // Every line's state, in one array: an entry for every line in order (a store a review went
        // through) hands its states over whole; otherwise placeholders, each entry's state swapped in
        // (a move, not a copy). Then completed in place; lines without an entry get translated.json's.
        let inOrder = scan.lines.count == count && scan.lines.indices.allSatisfy { scan.lines[$0].n == $0 + 1 }
        if inOrder {
            swap(&snap.stored, &scan.states)
        } else {
            snap.stored = Array(repeating: ReviewState.placeholder, count: count)
        }
        var firstMismatch: (index: Int, reason: String)?
        for k in scan.lines.indices {
            let n = scan.lines[k].n
            guard n <= count else { return nil }
            let i = n - 1
            if let reason = timesMismatch(n, scan.lines[k].start, scan.lines[k].end, job.segments[i]), firstMismatch == nil || i < firstMismatch!.index {
                firstMismatch = (i, reason)
            }
            snap.entries[i] = Entry(checkedRaw: scan.lines[k].raw)
            if !inOrder { swap(&snap.stored[i], &scan.states[k]) }
            if !scan.lines[k].ownText { snap.stored[i].text = job.segments[i].text }
            let counted = scan.lines[k].ownText && scan.lines[k].start == job.segments[i].start && scan.lines[k].end == job.segments[i].end
            complete(&snap.stored[i], job.segments[i], cpsCounted: counted)
        }
        snap.mismatch = firstMismatch?.reason
        for i in snap.entries.indices where snap.entries[i] == nil { snap.stored[i] = storedState(of: nil, job.segments[i]) }
        return snap
    }

    /// Types, times against translated.json, and the upgrade of versions 1–2.
    static func validate(_ snap: inout Snapshot, job: Job, shown: String) throws {
        let upgrading = snap.version < currentVersion
        for i in snap.entries.indices where snap.entries[i] != nil {
            let n = i + 1
            let o = snap.entries[i]!.parsed!
            // One pass over the entry's members (not a lookup per field: 5,000 entries at open).
            var start: Double?, end: Double?
            for (key, v) in o.members where !v.isNull {
                func want(_ ok: Bool, _ what: String) throws {
                    if !ok { throw DubdeckError.data(shown, "segment \(n): \"\(key)\" must be \(what), not \(v.typeName)") }
                }
                switch key {
                case "tgt_text", "audio_status": try want(v.stringValue != nil, "a string")
                case "approved", "locked": try want(v.boolValue != nil, "a boolean")
                case "flags": try want(v.arrayValue?.allSatisfy { $0.stringValue != nil } == true, "an array of strings")
                case "speaker":
                    // A label becomes a key of voice_map.json and selects a voice: a safe name only.
                    guard let label = v.stringValue else { throw DubdeckError.data(shown, "segment \(n): \"speaker\" must be a string, not \(v.typeName)") }
                    _ = try SafeName.check(label, file: shown, field: "segment \(n) speaker")
                case "start":
                    start = v.doubleValue
                    try want(start != nil, "a number")
                case "end":
                    end = v.doubleValue
                    try want(end != nil, "a number")
                case "last_preview":
                    guard let p = v.objectValue else {
                        throw DubdeckError.data(shown, "segment \(n): \"last_preview\" must be an object, not \(v.typeName)")
                    }
                    // A take name becomes a path: only one of this segment's take files.
                    if !takeIsOwn(p, n) {
                        throw DubdeckError.data(shown, "segment \(n): last_preview.take is not a take file of this segment")
                    }
                default: break
                }
            }
            let seg = job.segments[i]
            if let s = start, let e = end {
                if snap.mismatch == nil { snap.mismatch = timesMismatch(n, s, e, seg) }
            } else {
                // Written by another tool without times: taken as matching, times added on the next save.
                snap.entries[i]!.parsed!["start"] = .number(seg.start)
                snap.entries[i]!.parsed!["end"] = .number(seg.end)
                snap.entries[i]!.raw = nil
            }
            if upgrading {
                for (key, value) in [("locked", JSONValue.bool(false)), ("locked_at", .null), ("locked_by", .null),
                                     ("flags", .array([])), ("audio_status", .string("none"))] where snap.entries[i]!.parsed![key] == nil {
                    snap.entries[i]!.parsed![key] = value
                }
                snap.entries[i]!.raw = nil
            }
        }
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

    // MARK: Committing

    public struct CommitResult {
        public var records: [HistoryRecord]
        /// True when the store was re-read from disk first (another writer had changed it).
        public var reloaded: Bool
        /// Repairs made on the way (a torn history tail cut, records of an interrupted save cut).
        public var warnings: [String] = []
    }

    /// The history field naming the store file a record's change was applied to (hex SHA-256, or
    /// "none"): a trailing record whose base is still the store on disk never reached the store.
    public static let baseField = "base_sha256"
    /// On the newest record of a commit: the segments whose current take the commit re-points.
    public static let repointField = "repoint"

    /// One change = one transaction (SPEC §10.2), under the job lock: check for outside changes
    /// (merge or refuse) → repair the history's end → apply → `prepare` (synthesis installs its
    /// immutable take) → append the history records (fsync) → write the store (atomic) → re-point
    /// the current takes → release. A failure after the append cuts the records off again, so the
    /// history never holds a change the store does not show. Changes that change nothing are dropped.
    /// `prepare` gets the first seq and returns what undoes it.
    @discardableResult
    public func commit(_ changes: [SegmentChange], batch: String? = nil, extraFields: [String: JSONValue] = [:],
                       prepare: ((_ firstSeq: Int) throws -> (() -> Void))? = nil) throws -> CommitResult {
        if let reason = readOnlyReason {
            throw DubdeckError(.dataError, "\(Sanitizer.display(path)): read-only: \(reason)")
        }
        for c in changes where c.segment < 1 || c.segment > job.segments.count {
            throw DubdeckError(.usage, "no segment \(c.segment) (the job has \(job.segments.count))")
        }
        let lock = try JobLock.acquire(job.lockPlace, timeout: lockTimeout)
        defer { lock.release() }

        let reloaded = try takeOutsideChanges(changes)
        var warnings: [String] = []
        let base = snapshot.fingerprint.shaHex
        let historyEnd = try repairHistoryEnd(storeBase: base, warnings: &warnings)

        let firstSeq = historyEnd.lastSeq + 1
        let undoPrepare = try prepare?(firstSeq)
        var prepared = undoPrepare != nil

        // Apply to copies first: a refused change leaves nothing half-done.
        var updated: [Int: JSONObject] = [:]
        var original: [Int: JSONObject] = [:]
        var records: [HistoryRecord] = []
        let ts = Clock.isoNow()
        do {
            for c in changes {
                let before = updated[c.segment] ?? entry(c.segment)
                if original[c.segment] == nil { original[c.segment] = before }
                var after = before
                try c.apply(&after)
                let seg = job.segments[c.segment - 1]
                after["start"] = .number(seg.start)
                after["end"] = .number(seg.end)
                if after == before { continue }
                updated[c.segment] = after
                records.append(HistoryRecord(ts: ts, seq: 0, batch: nil, segment: c.segment, action: c.action,
                                             before: .object(before), after: .object(after), by: by))
            }
        } catch {
            undoPrepare?()
            throw error
        }
        if records.isEmpty {
            undoPrepare?()
            prepared = false
            return CommitResult(records: [], reloaded: reloaded, warnings: warnings)
        }
        _ = prepared
        let batchID = batch ?? (records.count > 1 ? "b\(firstSeq)" : nil)
        // Seqs stop at 2^53 (what every reader holds); a change keeps room for the undo of itself,
        // so none is made that could never be undone (an undo or redo needs only its own).
        let room = records.allSatisfy { $0.action == "undo" } ? records.count : 2 * records.count
        guard firstSeq + room - 1 <= HistoryRecord.maxSeq else {
            undoPrepare?()
            throw DubdeckError.data(Sanitizer.display(history.path), "seq \(firstSeq + room - 1) would pass 2^53: no record past it could be read back")
        }
        for i in records.indices {
            records[i].seq = firstSeq + i
            records[i].batch = batchID
            records[i].extra = extraFields
            records[i].extra[TranscriptStore.baseField] = .string(base)
        }
        let repoints = updated.keys.sorted().filter { Takes.current(of: original[$0], $0) != Takes.current(of: updated[$0], $0) }
        records[records.count - 1].extra[TranscriptStore.repointField] = .array(repoints.map { .number($0) })

        let oldLength: Int
        do {
            oldLength = try history.append(records, after: historyEnd)
        } catch {
            undoPrepare?()
            throw error
        }
        /// Cuts the appended records off again; a failure to do so is reported with the cause.
        func rollBack(_ cause: Error) -> Error {
            undoPrepare?()
            do {
                if oldLength == 0, historyEnd.size == 0, historyEnd.records.isEmpty, historyEnd.tornOffset == nil {
                    history.place.unlink()  // this append created it
                    try job.handle.sync()
                } else {
                    try FileIO.truncateDurably(history.place, to: oldLength)
                }
            } catch let e as DubdeckError {
                return DubdeckError(.ioError, "\(Sanitizer.display(String(describing: cause))); and the history record could not be cut off again (\(e.message)): the next writer will cut it")
            } catch {}
            return cause
        }

        // The snapshot is changed in place (a copy of its 5,000 entries per commit was most of a
        // commit's time); what the changed entries were is kept to put back on a failure.
        let kept = (entries: updated.keys.map { ($0, snapshot.entries[$0 - 1]) }, version: snapshot.version, updatedAt: snapshot.updatedAt)
        func putBack() {
            for (n, e) in kept.entries { snapshot.entries[n - 1] = e }
            snapshot.version = kept.version
            snapshot.updatedAt = kept.updatedAt
        }
        for (n, obj) in updated { snapshot.entries[n - 1] = Entry(object: obj, raw: nil) }
        snapshot.version = TranscriptStore.currentVersion
        snapshot.updatedAt = ts
        let bytes = TranscriptStore.encode(&snapshot)
        // The file's hash (the next commit's base) is computed on the other core while this one
        // writes and waits for the disk: the same one hash per commit, off the commit's path.
        let hashed = BackgroundHash(hashing: bytes)
        do {
            if FileIO.faults.failStoreWrite {
                throw DubdeckError.io(Sanitizer.display(path), "write failed: \(errnoText(ENOSPC))")
            }
            try FileIO.writeAtomically(place, bytes)
        } catch {
            putBack()
            throw rollBack(error)
        }

        // Re-point NNNN.wav wherever the current take changed (segments_preview opened once for all).
        var repointed: [Int] = []
        var takes: DirectoryHandle?
        do {
            for n in updated.keys.sorted() {
                let was = Takes.current(of: original[n], n), now = Takes.current(of: updated[n], n)
                if was != now {
                    if takes == nil { takes = try Takes.open(job: job.handle, create: now != nil) }
                    if let takes { try Takes.repoint(takes, n, to: now) }
                    repointed.append(n)
                }
            }
        } catch {
            // Put the store and the takes back as they were, then cut the records.
            putBack()
            if snapshot.fingerprint == .missing {
                place.unlink()
                try? job.handle.sync()
            } else {
                let oldBytes = TranscriptStore.encode(&snapshot)
                try? FileIO.writeAtomically(place, oldBytes)
                snapshot.fingerprint = FileIO.fingerprint(place, bytes: oldBytes)
                snapshot.bytes = oldBytes
            }
            if let takes { for n in repointed { try? Takes.repoint(takes, n, to: Takes.current(of: original[n], n)) } }
            throw rollBack(error)
        }

        snapshot.fingerprint = FileIO.fingerprint(place, bytes: bytes, sha256: hashed.value)
        snapshot.bytes = bytes
        for n in updated.keys {
            states[n - 1] = TranscriptStore.storedState(of: updated[n], job.segments[n - 1])
            finish(&states[n - 1], job.segments[n - 1])
        }
        return CommitResult(records: records, reloaded: reloaded, warnings: warnings)
    }

    /// Repairs the history's end now (under the lock), for readers that act on the history
    /// (undo, redo, take choice): they must never act on a record the store never got.
    @discardableResult
    public func repairHistory() throws -> [String] {
        if readOnlyReason != nil { return [] }
        let lock = try JobLock.acquire(job.lockPlace, timeout: lockTimeout)
        defer { lock.release() }
        _ = try takeOutsideChanges([])
        var warnings: [String] = []
        _ = try repairHistoryEnd(storeBase: snapshot.fingerprint.shaHex, warnings: &warnings)
        return warnings
    }

    /// Under the lock: the store as it is on disk now. Unchanged since this store read or wrote it
    /// (same size, mtime and inode): nothing to read. Otherwise it is read and hashed once; another
    /// writer's change is taken and ours goes on top, or refused (75) when both changed the same thing.
    func takeOutsideChanges(_ changes: [SegmentChange]) throws -> Bool {
        let fp = snapshot.fingerprint
        // Always read: size, mtime and inode cannot prove a file unchanged (timestamps are coarse,
        // inodes are reused). The same bytes as last read or written need no hash.
        let diskBytes = try FileIO.readIfExists(place, owner: .own)
        if diskBytes == nil, fp == .missing { return false }
        if let diskBytes, let known = snapshot.bytes, FileIO.sameBytes(diskBytes, known) { return false }
        let diskFingerprint = FileIO.fingerprint(place, bytes: diskBytes)
        if diskFingerprint.sha256 == fp.sha256, diskFingerprint.size == fp.size {
            snapshot.fingerprint = diskFingerprint
            snapshot.bytes = diskBytes
            return false
        }
        // Another writer saved since we read: take its file and put our change on top.
        var fresh: Snapshot
        if let diskBytes {
            fresh = try TranscriptStore.parse(diskBytes, job: job)
        } else {
            fresh = TranscriptStore.emptySnapshot(job)
        }
        fresh.fingerprint = diskFingerprint
        fresh.bytes = diskBytes
        let old = snapshot
        let mismatch = fresh.mismatch
        adopt(fresh)
        if let reason = mismatch {
            throw DubdeckError(.dataError, "\(Sanitizer.display(path)): read-only: \(reason)")
        }
        for c in changes {
            let n = c.segment
            let mine = old.entries[n - 1]?.object ?? TranscriptStore.defaultEntry(job.segments[n - 1])
            let theirs = fresh.entries[n - 1]?.object ?? TranscriptStore.defaultEntry(job.segments[n - 1])
            // A change without declared fields conflicts with any change to its segment.
            let clash = c.fields.isEmpty
                ? !TranscriptStore.sameEntry(mine, theirs)
                : c.fields.contains { !TranscriptStore.semanticallyEqual(mine[$0] ?? .null, theirs[$0] ?? .null) }
            if clash {
                throw DubdeckError.conflict("segment \(n) was changed by another writer meanwhile; reloaded, change not applied")
            }
        }
        return true
    }

    /// Under the lock, the history's end read once: a torn tail is cut, and so are the records of
    /// a save that was interrupted between its append and its store write (their base is still the
    /// store on disk). The takes of the last commit are then made what the store names (a kill may
    /// have come between the store write and re-pointing NNNN.wav). Returns the end as it is
    /// afterwards (the next seq, where to append).
    /// Read per record, not per commit: the newest record says whether its commit reached the store
    /// (its base) and which takes that commit re-pointed (`repointField`); only an interrupted
    /// commit, which must be cut whole, is read back to its first record.
    func repairHistoryEnd(storeBase: String, warnings: inout [String]) throws -> HistoryLog.EndScan {
        let baseOf = { (r: HistoryRecord) in r.extra[TranscriptStore.baseField]?.stringValue }
        var end = try history.scanEnd()
        if let w = end.warning { warnings.append(w) }
        guard let newest = end.records.last, let newestBase = baseOf(newest) else { return end }
        if newestBase != storeBase, let listed = newest.extra[TranscriptStore.repointField]?.arrayValue {
            // Committed: the takes it re-pointed are made what the store names (a kill may have come
            // between the store write and re-pointing NNNN.wav).
            let numbers = listed.compactMap(\.intValue).filter { $0 >= 1 && $0 <= job.segments.count }
            if !numbers.isEmpty, let takes = try? Takes.open(job: job.handle) {
                for n in numbers { try? Takes.ensureCurrent(takes, n, Takes.current(of: entry(n), n)) }
            }
            return end
        }
        // Interrupted (to be cut whole), or a history written before records named their takes.
        end = try history.scanEnd { older, newest in
            baseOf(older) != nil && baseOf(older) == baseOf(newest)
        }
        guard let newest = end.records.last, let newestBase = baseOf(newest) else { return end }
        var first = end.records.count - 1
        while first > 0, baseOf(end.records[first - 1]) == newestBase { first -= 1 }
        let lastCommit = Array(end.records[first...])
        if newestBase == storeBase {
            // The whole trailing group (the records of one commit) never reached the store.
            let cutAt = end.offsets[first]
            try FileIO.truncateDurably(history.place, to: cutAt)
            let seqs = lastCommit.map { $0.seq }
            warnings.append("\(Sanitizer.display(history.path)): cut \(seqs.count) record\(seqs.count == 1 ? "" : "s") (seq \(seqs.first!)\(seqs.count > 1 ? "–\(seqs.last!)" : "")) that the store never got (an interrupted save)")
            end.records.removeSubrange(first...)
            end.offsets.removeSubrange(first...)
            end.tornOffset = nil
            end.size = cutAt
            if end.records.isEmpty, cutAt > 0 {
                // The record before the group lies further back: read the end again.
                end = try history.scanEnd()
            }
        }
        let takes = try? Takes.open(job: job.handle)
        for r in lastCommit where r.segment >= 1 && r.segment <= job.segments.count {
            let was = Takes.current(of: r.before.objectValue, r.segment), now = Takes.current(of: r.after.objectValue, r.segment)
            // Best effort: a take file removed by hand must not block every later change.
            if was != now, let takes = takes ?? nil { try? Takes.ensureCurrent(takes, r.segment, Takes.current(of: entry(r.segment), r.segment)) }
        }
        return end
    }

    static func sameEntry(_ a: JSONObject?, _ b: JSONObject?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (x?, y?): return semanticallyEqual(.object(x), .object(y))
        default: return false
        }
    }

    /// Equality that ignores member order and number spelling (another tool may re-encode).
    public static func semanticallyEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)):
            guard x.members.count == y.members.count else { return false }
            for m in x.members {
                guard let other = y[m.key], semanticallyEqual(m.value, other) else { return false }
            }
            return true
        case let (.array(x), .array(y)):
            return x.count == y.count && zip(x, y).allSatisfy { semanticallyEqual($0, $1) }
        case let (.number(x), .number(y)):
            return x == y || Double(x) == Double(y)
        default:
            return a == b
        }
    }

    /// The whole file; entries that did not change are copied as the bytes they were read as.
    /// Sized first and filled by memcpy: 5,000 entries are one allocation and a megabyte of copying
    /// (appending piece by piece cost four generic appends an entry, most of a commit's own time).
    static func encode(_ snap: inout Snapshot) -> [UInt8] {
        for i in snap.entries.indices where snap.entries[i] != nil && snap.entries[i]!.raw == nil {
            var encoded: [UInt8] = []
            JSONWriter.write(.object(snap.entries[i]!.parsed!), into: &encoded, indent: nil, level: 0)
            snap.entries[i]!.raw = encoded[...]
        }
        var head: [UInt8] = Array("{\n  \"version\": \(snap.version),\n  \"updated_at\": ".utf8)
        JSONWriter.writeString(snap.updatedAt ?? Clock.isoNow(), into: &head)
        for m in snap.extra {
            head.append(contentsOf: Array(",\n  ".utf8))
            JSONWriter.writeString(m.key, into: &head)
            head.append(contentsOf: [0x3A, 0x20])
            JSONWriter.write(m.value, into: &head, indent: nil, level: 0)
        }
        head.append(contentsOf: Array(",\n  \"segments\": {".utf8))
        // Each entry: [","] "\n    \"" N "\": " raw — read in place (no copy of each entry).
        let entries = snap.entries
        var size = head.count
        var written = 0
        entries.withUnsafeBufferPointer { all in
            for i in all.indices {
                guard let count = all[i]?.raw?.count else { continue }
                size += (written == 0 ? 6 : 7) + decimalDigits(i + 1) + 3 + count
                written += 1
            }
        }
        var tail: [UInt8] = []
        var first = written == 0
        for m in snap.foreign {
            tail.append(contentsOf: Array((first ? "\n    " : ",\n    ").utf8))
            first = false
            JSONWriter.writeString(m.key, into: &tail)
            tail.append(contentsOf: [0x3A, 0x20])
            JSONWriter.write(m.value, into: &tail, indent: nil, level: 0)
        }
        tail.append(contentsOf: Array((first ? "}\n}\n" : "\n  }\n}\n").utf8))
        size += tail.count
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var at = buffer.baseAddress!
            func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                if let base = bytes.baseAddress, bytes.count > 0 { at.update(from: base, count: bytes.count) }
                at += bytes.count
            }
            head.withUnsafeBufferPointer(put)
            var count = 0
            entries.withUnsafeBufferPointer { all in
            for i in all.indices {
                guard let raw = all[i]?.raw else { continue }
                if count > 0 { at.pointee = UInt8(ascii: ","); at += 1 }
                count += 1
                at[0] = 0x0A; at[1] = 0x20; at[2] = 0x20; at[3] = 0x20; at[4] = 0x20; at[5] = 0x22
                at += 6
                let digits = decimalDigits(i + 1)
                var k = i + 1
                for d in stride(from: digits - 1, through: 0, by: -1) {
                    at[d] = UInt8(ascii: "0") + UInt8(k % 10)
                    k /= 10
                }
                at += digits
                at[0] = 0x22; at[1] = 0x3A; at[2] = 0x20
                at += 3
                raw.withUnsafeBufferPointer(put)
            }
            }
            tail.withUnsafeBufferPointer(put)
            initialized = at - buffer.baseAddress!
            precondition(initialized == size, "the store's size was counted wrong")
        }
    }

    static func decimalDigits(_ n: Int) -> Int {
        var digits = 1, k = n
        while k >= 10 { k /= 10; digits += 1 }
        return digits
    }

    // MARK: Counts

    public struct Counts: Equatable {
        public var segments = 0, approved = 0, locked = 0, flagged = 0, stale = 0, overflow = 0, edited = 0, tooFast = 0
    }

    public func counts() -> Counts {
        var c = Counts()
        c.segments = states.count
        for s in states {
            if s.approved { c.approved += 1 }
            if s.locked { c.locked += 1 }
            if !s.flags.isEmpty { c.flagged += 1 }
            if s.audioStatus == "stale" { c.stale += 1 }
            if s.audioStatus == "overflow" { c.overflow += 1 }
            if s.edited { c.edited += 1 }
            if s.tooFast { c.tooFast += 1 }
        }
        return c
    }
}

/// The list filters of the desk and of `segments --filter`.
public enum SegmentFilter: String, CaseIterable, Sendable {
    case all, unapproved, unlocked, locked, flagged, stale, overflow
    case tooFast = "too-fast"
    /// Lines that need attention: unapproved, flagged, stale, overflow or too fast.
    case problems

    public func includes(_ s: ReviewState) -> Bool {
        switch self {
        case .all: return true
        case .unapproved: return !s.approved
        case .unlocked: return !s.locked
        case .locked: return s.locked
        case .flagged: return !s.flags.isEmpty
        case .stale: return s.audioStatus == "stale"
        case .overflow: return s.audioStatus == "overflow"
        case .tooFast: return s.tooFast
        case .problems: return s.isProblem
        }
    }
}

/// A value another thread hands over once (`fulfil`): `value` waits for it and leaves it there,
/// `take` waits and moves it out (no copy of an array shared with it).
final class Pending<T>: @unchecked Sendable {
    // Sendable: `stored` is written once before `done` is signalled and read only after waiting on
    // it; `work` is taken under `lock`, by one thread only.
    private let done = DispatchSemaphore(value: 0)
    private var stored: T?
    private let lock = Mutex()
    private var work: (@Sendable () -> T)?

    /// `body` runs on another core (counted by BackgroundWork until it returns) — or here, if the
    /// value is asked for before another core has begun it: nobody waits for work not yet started.
    /// `lane`: after what was put on it before (the job's early reads go one after another, so the
    /// first needed is not slowed by the others).
    convenience init(running body: @escaping @Sendable () -> T, lane: WorkerLane? = nil) {
        self.init()
        start(body, lane: lane)
    }

    /// As `init(running:lane:)`, for a value whose work is known only later.
    func start(_ body: @escaping @Sendable () -> T, lane: WorkerLane? = nil) {
        lock.locked { work = body }
        BackgroundWork.start(on: lane) { self.runIfUnclaimed() }
    }

    init() {}

    private func runIfUnclaimed() {
        if let body = lock.locked({ () -> (@Sendable () -> T)? in defer { work = nil }; return work }) { fulfil(body()) }
    }

    func fulfil(_ value: T) {
        stored = value
        done.signal()
    }

    var value: T {
        runIfUnclaimed()
        done.wait()
        done.signal()  // a second reader does not wait forever
        return stored!
    }

    func take() -> T {
        runIfUnclaimed()
        done.wait()
        defer { stored = nil }
        return stored!
    }
}

/// SHA-256 of a buffer computed on another thread; `value` waits for it.
typealias BackgroundHash = Pending<[UInt8]>

extension Pending where T == [UInt8] {
    convenience init(hashing bytes: [UInt8]) {
        self.init(running: { SHA256.digest(bytes) })
    }
}

/// The store file read, fingerprinted, scanned and hashed on another core (`TranscriptStore.open`):
/// the same reading `read(job:)` does, begun before the job is loaded. Its outcome, error included,
/// is looked at only once the job has loaded.
final class EarlyStoreRead: Sendable {
    let place: FilePlace
    let hash = BackgroundHash()
    /// The file's bytes, fingerprint (its hash in `hash`) and direct scan; nil: there is no store.
    let outcome = Pending<Result<([UInt8], FileFingerprint, TranscriptStore.DirectScan?)?, Error>>()

    init(_ place: FilePlace) {
        self.place = place
        BackgroundWork.start(on: BackgroundWork.early) { [self] in
            let read = Result { try FileIO.readIfExists(place, owner: .own) }
            outcome.fulfil(read.map { bytes in
                bytes.map { ($0, FileIO.fingerprint(place, bytes: $0, sha256: []), TranscriptStore.scanDirect($0)) }
            })
            // The hash is needed last (by a change): after the history tail on this lane.
            if let bytes = (try? read.get()) ?? nil {
                hash.start({ SHA256.digest(bytes) }, lane: BackgroundWork.early)
            } else {
                hash.fulfil([])
            }
        }
    }

    /// Handed over once (moved, so the scan's states are not copied).
    func take() throws -> ([UInt8], FileFingerprint, TranscriptStore.DirectScan?)? {
        try outcome.take().get()
    }
}

/// A history tail read on another core while the job loads (`TranscriptStore.open(historyTail:)`),
/// handed over once; its error, if any, is the one a read then would have given.
final class EarlyHistoryTail: Sendable {
    let maxBytes: Int
    let path: String
    let tail: Pending<Result<HistoryLog.Tail, Error>>

    init(_ log: HistoryLog, maxBytes: Int) {
        self.maxBytes = maxBytes
        path = log.path
        tail = Pending(running: { Result { try log.readTail(maxBytes: maxBytes) } }, lane: BackgroundWork.early)
    }

    func take() throws -> HistoryLog.Tail { try tail.take().get() }
}

