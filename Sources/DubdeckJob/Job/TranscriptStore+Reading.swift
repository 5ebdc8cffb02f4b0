import Dispatch
#if canImport(Glibc)
import Glibc
#endif

extension TranscriptStore {
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
                                     ("flags", .array([])), ("audio_status", .string(TakeStatus.none.rawValue))] where snap.entries[i]!.parsed![key] == nil {
                    snap.entries[i]!.parsed![key] = value
                }
                snap.entries[i]!.raw = nil
            }
        }
    }

}
