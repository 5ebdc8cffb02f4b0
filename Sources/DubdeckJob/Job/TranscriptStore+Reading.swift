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

    static func read(job: Job) throws -> Snapshot {
        let place = job.storePlace
        guard let bytes = try FileIO.readIfExists(place, owner: .own) else {
            return emptySnapshot(job)
        }
        var snap = try parse(bytes, job: job)
        // Hashed when first needed (a commit names the store it changed): not at every open.
        snap.fingerprint = FileIO.fingerprint(place, bytes: bytes, sha256: [])
        snap.bytes = bytes
        return snap
    }

    static let entryFields: [StaticString] = ["start", "end", "tgt_text", "approved", "locked", "locked_at", "locked_by", "flags",
                                              "audio_status", "speaker", "last_preview", "slot_start", "slot_end"]

    /// transcript_store.json's one reader: every entry checked field by field into its line's state
    /// and kept as its bytes (no object is built until a change needs one). Faults are the ones a
    /// whole-tree reading reports: the syntax and the version as met, then the entry fault of the
    /// lowest line; a foreign key makes the job read-only rather than refusing it.
    static func parse(_ bytes: [UInt8], job: Job) throws -> Snapshot {
        let shown = Sanitizer.display(job.storePath)
        let count = job.segments.count
        var snap = Snapshot(version: 1, extra: [], updatedAt: nil, entries: Array(repeating: nil, count: count),
                            foreign: [], recordedFingerprint: .missing, mismatch: nil)
        snap.stored = Array(repeating: ReviewState.placeholder, count: count)
        /// Entry faults by line: the lowest line's is reported (once the whole file is read).
        var fault: (n: Int, error: DubdeckError)? = nil
        /// Lines whose entry gives no times, and the first line whose times are another line's.
        var untimed: [Int] = []
        var timesMismatch: (n: Int, reason: String)? = nil
        var foreignMismatch: String? = nil
        var parser = JSONParser(bytes: bytes)
        parser.skipBOM()
        do {
            try parser.parseObjectMembersRaw(depth: 0) { key, p in
                if p.key(key, is: "version") || key.string == "version" {
                    let v = try p.parseValue(depth: 1)
                    guard let n = v.intValue, n >= 1 else { throw DubdeckError.data(shown, "\"version\" must be a positive integer") }
                    if n > currentVersion {
                        throw DubdeckError.data(shown, "store version \(n) is newer than this dubdeck knows (\(currentVersion)); refusing to touch it")
                    }
                    snap.version = n
                } else if p.key(key, is: "updated_at") || key.string == "updated_at" {
                    snap.updatedAt = try p.parseValue(depth: 1).stringValue
                } else if p.key(key, is: "segments") || key.string == "segments" {
                    try p.parseObjectMembersRaw(depth: 1) { segKey, q in
                        let n = try lineNumber(segKey, &q, shown: shown)
                        let start = q.offset
                        var st = ReviewState.placeholder
                        var facts = EntryFacts()
                        var entryFault: DubdeckError? = nil
                        try q.parseObjectValueRaw(depth: 2, known: entryFields) { field, f in
                            let k = f.knownIndex(field, in: entryFields)
                            let problem = try readField(k, &f, into: &st, &facts, line: n, shown: shown)
                            if entryFault == nil, let problem { entryFault = problem }
                        }
                        let raw = bytes[start..<q.offset]
                        guard n <= count else {
                            // A line this job does not have: kept as it is; the job is read-only.
                            snap.foreign.append((String(n), try JSONParser.parse(Array(raw))))
                            if foreignMismatch == nil {
                                foreignMismatch = "transcript_store.json has segment \(n) but translated.json has \(count) segments (re-segmented?)"
                            }
                            return
                        }
                        if entryFault == nil, let problem = slotFault(facts, &st, line: n, shown: shown) { entryFault = problem }
                        if let entryFault, fault == nil || n < fault!.n { fault = (n, entryFault) }
                        if let s = facts.start, let e = facts.end {
                            if let reason = TranscriptStore.timesMismatch(n, s, e, job.segments[n - 1]), timesMismatch == nil || n < timesMismatch!.n {
                                timesMismatch = (n, reason)
                            }
                        } else {
                            untimed.append(n)
                        }
                        if !facts.ownText { st.text = job.segments[n - 1].text }
                        complete(&st, job.segments[n - 1])
                        snap.entries[n - 1] = Entry(checkedRaw: raw)
                        snap.stored[n - 1] = st
                    }
                } else {
                    snap.extra.append((try key.string ?? p.makeString(key.span), try p.parseValue(depth: 1)))
                }
            }
            parser.skipWhitespace()
            if parser.offset != bytes.count { throw parser.error("unexpected data after the JSON value") }
        } catch let e as JSONParseError {
            let seg = e.key(under: "segments").map { "segment \(Sanitizer.display($0)): " } ?? ""
            throw DubdeckError.data(shown, "\(seg)line \(e.line): \(e.message)")
        }
        if let fault { throw fault.error }
        snap.mismatch = foreignMismatch ?? timesMismatch?.reason
        for i in snap.entries.indices where snap.entries[i] == nil { snap.stored[i] = storedState(of: nil, job.segments[i]) }
        // Written by another tool without times: taken as matching, times added on the next save.
        for n in untimed {
            var o = snap.entries[n - 1]!.object
            o["start"] = .number(job.segments[n - 1].start)
            o["end"] = .number(job.segments[n - 1].end)
            snap.entries[n - 1] = Entry(object: o, raw: nil)
        }
        // Versions 1–2: the fields version 3 added, with their defaults.
        if snap.version < currentVersion {
            for i in snap.entries.indices where snap.entries[i] != nil {
                var o = snap.entries[i]!.object
                for (key, value) in [("locked", JSONValue.bool(false)), ("locked_at", .null), ("locked_by", .null),
                                     ("flags", .array([])), ("audio_status", .string(TakeStatus.none.rawValue))] where o[key] == nil {
                    o[key] = value
                }
                snap.entries[i] = Entry(object: o, raw: nil)
            }
        }
        return snap
    }

    /// A store's segment key, whose value must be an object: a line number written plainly (as
    /// dubdeck writes it) — "01", "1.0", "0" or "-0" would be an entry no line shows, silently.
    /// The value is checked first, and read whole before a bad key is reported.
    static func lineNumber(_ key: JSONParser.RawKey, _ p: inout JSONParser, shown: String) throws -> Int {
        let decimal = p.decimalKey(key)
        let text = try decimal.map(String.init) ?? key.string ?? p.makeString(key.span)
        guard p.peek() == UInt8(ascii: "{") else {
            let v = try p.parseValue(depth: 2)
            throw DubdeckError.data(shown, "segment \(Sanitizer.display(text)): expected an object, not \(v.typeName)")
        }
        if let decimal, decimal >= 1 { return decimal }
        guard let n = Int(text), n >= 1, n <= Int(JSONValue.maxExactInteger), String(n) == text else {
            _ = try p.parseValue(depth: 2)
            throw DubdeckError.data(shown, "segment key \"\(Sanitizer.display(String(text.prefix(40))))\" is not a line number (1, 2, … written plainly)")
        }
        return n
    }

    /// What an entry says beside its line's state: its times, whether it has a text of its own, and
    /// the dub slot's times when a reviewer moved them.
    struct EntryFacts {
        var start: Double?, end: Double?
        var ownText = false
        var slotStart: Double?, slotEnd: Double?
    }

    /// An entry's `slot_start`/`slot_end`: both or neither, a slot by `TimeSlot`'s rule (the one the
    /// writers check); into the line's state.
    static func slotFault(_ facts: EntryFacts, _ st: inout ReviewState, line n: Int, shown: String) -> DubdeckError? {
        guard facts.slotStart != nil || facts.slotEnd != nil else { return nil }
        guard let a = facts.slotStart, let b = facts.slotEnd, let slot = TimeSlot(start: a, end: b) else {
            return .data(shown, "segment \(n): slot_start and slot_end must be \(TimeSlot.rule)")
        }
        st.slot = slot
        return nil
    }

    /// One member of line n's entry (`k`: its index in `entryFields`) read into its state; what is
    /// wrong with it, if anything (the entry is read to its end either way). A null is as good as absent.
    static func readField(_ k: Int?, _ f: inout JSONParser, into st: inout ReviewState, _ facts: inout EntryFacts,
                          line n: Int, shown: String) throws -> DubdeckError? {
        guard let k else { _ = try f.parseValue(depth: 3); return nil }
        let value: JSONValue
        if let scalar = try f.parseScalar(depth: 3) {
            switch (k, scalar) {
            case (_, .null): return nil
            case (0, .number(let t)): facts.start = t; return nil
            case (1, .number(let t)): facts.end = t; return nil
            case (11, .number(let t)): facts.slotStart = t; return nil
            case (12, .number(let t)): facts.slotEnd = t; return nil
            case (2, .string(let t)): st.text = t; facts.ownText = true; return nil
            case (3, .bool(let b)): st.approved = b; return nil
            case (4, .bool(let b)): st.locked = b; return nil
            case (5, _): st.lockedAt = scalar.stringValue; return nil
            case (6, _): st.lockedBy = scalar.stringValue; return nil
            case (8, .string(let a)): st.audioStatus = a; return nil
            case (9, .string(let label)):
                // A label becomes a key of voice_map.json and selects a voice: a safe name only.
                do { _ = try SafeName.check(label, file: shown, field: "segment \(n) speaker") } catch let e as DubdeckError { return e }
                st.speakerOverride = label
                return nil
            default: value = scalar.value
            }
        } else {
            value = try f.parseValue(depth: 3)
            switch (k, value) {
            case (7, .array(let items)) where items.allSatisfy({ $0.stringValue != nil }):
                st.flags = items.map { $0.stringValue! }
                return nil
            case (10, .object(let preview)):
                // A take name becomes a path: only one of this segment's take files.
                guard takeIsOwn(preview, n) else { return .data(shown, "segment \(n): last_preview.take is not a take file of this segment") }
                st.preview = TakePreview(preview)
                return nil
            case (5, _), (6, _): return nil
            default: break
            }
        }
        let wanted: String
        switch k {
        case 0, 1, 11, 12: wanted = "a number"
        case 2, 8, 9: wanted = "a string"
        case 3, 4: wanted = "a boolean"
        case 7: wanted = "an array of strings"
        default: wanted = "an object"
        }
        return .data(shown, "segment \(n): \"\(entryFields[k])\" must be \(wanted), not \(value.typeName)")
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
}
