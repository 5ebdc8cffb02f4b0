import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A history record as the views show it.
public extension HistoryRecord {
    /// The line's text after the change ("" when the record holds none).
    var textAfter: String { after.objectValue?["tgt_text"]?.stringValue ?? "" }
    var approvedAfter: Bool { after.objectValue?["approved"]?.boolValue == true }
    var lockedAfter: Bool { after.objectValue?["locked"]?.boolValue == true }

    /// What the record changed in the line's entry, in words: `text "Hi" → "Hello"`, `approved`,
    /// `times 3.5–5.1 → 3.5–5 s`… (texts cut at 40 characters; "" when nothing a reviewer sees).
    var whatChanged: String {
        let a = before.objectValue ?? JSONObject(), b = after.objectValue ?? JSONObject()
        func cut(_ s: String) -> String { s.count > 40 ? String(s.prefix(39)) + "…" : s }
        func times(_ o: JSONObject) -> String {
            guard let s = o["slot_start"]?.doubleValue ?? o["start"]?.doubleValue, let e = o["slot_end"]?.doubleValue ?? o["end"]?.doubleValue else { return "?" }
            return "\(JSONValue.formatNumber(s))–\(JSONValue.formatNumber(e))"
        }
        var parts: [String] = []
        if a["tgt_text"] != b["tgt_text"] {
            parts.append("text \"\(cut(a["tgt_text"]?.stringValue ?? ""))\" → \"\(cut(b["tgt_text"]?.stringValue ?? ""))\"")
        }
        if (a["approved"]?.boolValue ?? false) != (b["approved"]?.boolValue ?? false) { parts.append(b["approved"]?.boolValue == true ? "approved" : "not approved") }
        if (a["locked"]?.boolValue ?? false) != (b["locked"]?.boolValue ?? false) { parts.append(b["locked"]?.boolValue == true ? "locked" : "unlocked") }
        if a["flags"] != b["flags"] { parts.append("flags [\((b["flags"]?.arrayValue ?? []).compactMap { $0.stringValue }.joined(separator: ", "))]") }
        if times(a) != times(b) { parts.append("times \(times(a)) → \(times(b)) s") }
        if a["speaker"] != b["speaker"] { parts.append("speaker → \(b["speaker"]?.stringValue ?? "the pipeline's label")") }
        if a["last_preview"]?.objectValue?["take"] != b["last_preview"]?.objectValue?["take"] { parts.append("take changed") }
        return parts.joined(separator: ", ")
    }
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
    /// Run under the job lock on the store as committed (outside changes taken), before anything
    /// is applied: what a change must check against other lines (a retime's neighbours).
    public var check: ((TranscriptStore) throws -> Void)? = nil

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

    /// The machine translation back (translated.json's text): a `reset-text` record.
    public static func resetText(_ n: Int, to machineText: String) -> SegmentChange { edit(n, text: machineText, action: "reset-text") }

    /// A take made from other text is stale; editing back to the take's text makes it current again.
    public static func markTakeAgainstText(_ e: inout JSONObject, _ text: String) {
        guard let preview = e["last_preview"]?.objectValue, let sha = preview["text_sha256"]?.stringValue,
              let status = e["audio_status"]?.stringValue.flatMap(TakeStatus.init(rawValue:)), [.fresh, .stale, .overflow].contains(status) else { return }
        if SHA256.hex(Array(text.utf8)) != sha {
            e["audio_status"] = .string(TakeStatus.stale.rawValue)
        } else {
            e["audio_status"] = .string((preview["overflow_s"]?.doubleValue ?? 0) > 0 ? TakeStatus.overflow.rawValue : TakeStatus.fresh.rawValue)
        }
    }
    /// The line's diarization label (a reviewer fixing diarization); the pipeline's label removes
    /// the override. `voiceChanges`: the take was spoken by another voice, so it goes stale.
    public static func speaker(_ n: Int, _ label: String, original: String, voiceChanges: Bool) -> SegmentChange {
        SegmentChange(segment: n, action: "speaker", fields: ["speaker"]) { e in
            e["speaker"] = label == original ? nil : .string(label)
            if voiceChanges, let s = e["audio_status"]?.stringValue.flatMap(TakeStatus.init(rawValue:)), s == .fresh || s == .overflow { e["audio_status"] = .string(TakeStatus.stale.rawValue) }
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

    /// A locked line's text — and times — are final (75).
    public static func refuseIfLocked(_ e: JSONObject, _ n: Int, what: String? = nil) throws {
        if e["locked"]?.boolValue == true {
            throw DubdeckError.conflict("segment \(n) is locked\(what.map { ": \($0) cannot change" } ?? ""): unlock first")
        }
    }
}
