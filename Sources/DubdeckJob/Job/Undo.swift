/// Undo and redo across processes, driven by transcript_versions.jsonl (SPEC §10.4). An operation is
/// one record or one batch. Undo reverts the reviewer's newest operation still in effect (`any`:
/// anyone's); redo reverts their newest undo. Both write records (action `undo`/`redo`, `reverts`:
/// the first seq of the operation reverted) that put back the fields the operation changed, and
/// only those: a later change by someone else to another field of the line stays.
public enum UndoRedo {
    struct Operation {
        var records: [HistoryRecord]
        var kind: String  // "normal", "undo", "redo"
        var reverts: Int?
        var firstSeq: Int { records.first?.seq ?? 0 }
        var owner: String { records.first?.by ?? "" }
    }

    /// Groups records into operations (a batch is one) in file order.
    static func operations(_ records: [HistoryRecord], reverts: [Int: Int]) -> [Operation] {
        var ops: [Operation] = []
        for r in records {
            if let b = r.batch, let last = ops.last, last.records.last?.batch == b {
                ops[ops.count - 1].records.append(r)
                continue
            }
            let kind = r.action == "undo" || r.action == "redo" ? r.action : "normal"
            ops.append(Operation(records: [r], kind: kind, reverts: reverts[r.seq]))
        }
        return ops
    }

    /// The operation an undo would revert, and the one a redo would revert, for `owner` (nil: anyone).
    static func targets(_ ops: [Operation], owner: String? = nil) -> (undo: Operation?, redo: Operation?) {
        var done: [Operation] = []
        var undone: [Operation] = []
        for op in ops {
            switch op.kind {
            case "undo":
                if let i = done.lastIndex(where: { $0.firstSeq == op.reverts }) { done.remove(at: i) }
                undone.append(op)
            case "redo":
                if let i = undone.lastIndex(where: { $0.firstSeq == op.reverts }) { undone.remove(at: i) }
                done.append(op)
            default:
                done.append(op)
                // A new change ends its author's redo chain; other reviewers' stay.
                undone.removeAll { $0.owner == op.owner }
            }
        }
        guard let owner else { return (done.last, undone.last) }
        return (done.last { $0.owner == owner }, undone.last { $0.owner == owner })
    }

    /// `reverts` of each undo/redo record (a field the history keeps beside the standard ones).
    static func readHistory(_ store: TranscriptStore) throws -> ([HistoryRecord], [Int: Int]) {
        let all = try store.history.readAll().records
        var reverts: [Int: Int] = [:]
        for r in all { if let t = r.extra["reverts"]?.intValue { reverts[r.seq] = t } }
        return (all, reverts)
    }

    public enum Direction: String { case undo, redo }

    /// Entry fields an operation does not own: the segment's times.
    static let fixedFields: Swift.Set<String> = ["start", "end"]

    /// Puts back, in `e`, every field that differs between `from` and `to` (the record's after and
    /// before). The take state follows: a text put back re-judges the take, a take that no longer
    /// exists (pruned) leaves the line without one.
    static func revert(_ e: inout JSONObject, from after: JSONObject, to before: JSONObject, segment n: Int, job: String) {
        var keys: [String] = []
        for m in before.members + after.members where !fixedFields.contains(m.key) && !keys.contains(m.key) {
            keys.append(m.key)
        }
        var touched = false
        for key in keys where !TranscriptStore.semanticallyEqual(before[key] ?? .null, after[key] ?? .null) {
            e[key] = before[key]
            if key == "tgt_text" || key == "last_preview" { touched = true }
        }
        if let take = Takes.current(of: e, n), !FileIO.exists(job + "/" + take) {
            e["last_preview"] = nil
            e["audio_status"] = .string(TakeStatus.none.rawValue)
        } else if touched, let text = e["tgt_text"]?.stringValue {
            SegmentChange.markTakeAgainstText(&e, text)
        }
    }

    /// Reverts the reviewer's last operation (undo) or last undo (redo); `any` takes anyone's.
    /// Refused (75) only when it would change the TEXT of a line that is locked now and stays
    /// locked; a batch is reverted whole or not at all, and the refusal names the line.
    @discardableResult
    public static func run(_ direction: Direction, store: TranscriptStore, any: Bool = false) throws -> [HistoryRecord] {
        try runWithResult(direction, store: store, any: any).records
    }

    public static func runWithResult(_ direction: Direction, store: TranscriptStore, any: Bool = false) throws -> TranscriptStore.CommitResult {
        let repaired = try store.repairHistory()
        let (records, reverts) = try readHistory(store)
        let ops = operations(records, reverts: reverts)
        let (undoTarget, redoTarget) = targets(ops, owner: any ? nil : store.by)
        guard let target = direction == .undo ? undoTarget : redoTarget else {
            let whose = any ? "" : " by \(Sanitizer.display(store.by))"
            throw DubdeckError(.usage, direction == .undo ? "nothing to undo\(whose)" : "nothing to redo\(whose)")
        }
        var changes: [SegmentChange] = []
        let job = store.job.directory
        for r in target.records.reversed() {
            guard case .object(let before) = r.before, case .object(let after) = r.after else { continue }
            let n = r.segment
            guard n >= 1, n <= store.job.segments.count else {
                throw DubdeckError.data(Sanitizer.display(store.history.path), "record \(r.seq) names segment \(n); the job has \(store.job.segments.count)")
            }
            changes.append(SegmentChange(segment: n, action: direction.rawValue) { e in
                let lockedNow = e["locked"]?.boolValue == true
                let textNow = e["tgt_text"]
                revert(&e, from: after, to: before, segment: n, job: job)
                if lockedNow, e["locked"]?.boolValue == true, e["tgt_text"] != textNow {
                    throw DubdeckError.conflict("line \(n) is locked: unlock it first to \(direction.rawValue) its text (nothing was \(direction == .undo ? "undone" : "redone"))")
                }
            })
        }
        let batch = changes.count > 1 ? "\(direction.rawValue)-\(target.firstSeq)-\(Clock.isoNow())" : nil
        var result = try store.commit(changes, batch: batch, extraFields: ["reverts": .number(target.firstSeq)])
        result.warnings = repaired + result.warnings
        return result
    }

    /// Sets a line's text back to what it was after history record `seq` (recorded as `restore`).
    @discardableResult
    public static func restore(seq: Int, store: TranscriptStore) throws -> [HistoryRecord] {
        let all = try store.history.readAll().records
        guard let r = all.last(where: { $0.seq == seq }) else { throw DubdeckError(.usage, "no history record \(seq)") }
        return try restore(record: r, store: store)
    }

    /// Sets the line the record names back to the text it had after that record: the segment comes
    /// from the record itself, never from a position in a list.
    @discardableResult
    public static func restore(record r: HistoryRecord, store: TranscriptStore) throws -> [HistoryRecord] {
        guard let text = r.after.objectValue?["tgt_text"]?.stringValue else {
            throw DubdeckError(.usage, "history record \(r.seq) holds no text")
        }
        guard r.segment >= 1, r.segment <= store.job.segments.count else {
            throw DubdeckError.data(Sanitizer.display(store.history.path), "record \(r.seq) names segment \(r.segment); the job has \(store.job.segments.count)")
        }
        let change = SegmentChange.edit(r.segment, text: text, action: "restore")
        return try store.commit([change]).records
    }
}
