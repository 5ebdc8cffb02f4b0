/// Undo and redo across processes, driven by transcript_versions.jsonl. An operation is one record
/// or one batch. Undo reverts the last operation still in effect; redo reverts the last undo. Both
/// write records (action `undo`/`redo`, `reverts`: the first seq of the operation reverted) that set
/// each line back to the entry it had before that operation.
public enum UndoRedo {
    struct Operation {
        var records: [HistoryRecord]
        var kind: String  // "normal", "undo", "redo"
        var reverts: Int?
        var firstSeq: Int { records.first?.seq ?? 0 }
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

    /// The operation an undo would revert, and the one a redo would revert.
    static func targets(_ ops: [Operation]) -> (undo: Operation?, redo: Operation?) {
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
                undone.removeAll()
            }
        }
        return (done.last, undone.last)
    }

    /// `reverts` of each undo/redo record (a field the history keeps beside the standard ones).
    static func readHistory(_ store: TranscriptStore) throws -> ([HistoryRecord], [Int: Int]) {
        let all = try store.history.readAll().records
        var reverts: [Int: Int] = [:]
        for r in all { if let t = r.extra["reverts"]?.intValue { reverts[r.seq] = t } }
        return (all, reverts)
    }

    public enum Direction: String { case undo, redo }

    /// Reverts the last operation (undo) or the last undo (redo). Refuses (75) when a line it would
    /// change was locked since and the operation is not itself a lock change.
    @discardableResult
    public static func run(_ direction: Direction, store: TranscriptStore) throws -> [HistoryRecord] {
        let (records, reverts) = try readHistory(store)
        let ops = operations(records, reverts: reverts)
        let (undoTarget, redoTarget) = targets(ops)
        guard let target = direction == .undo ? undoTarget : redoTarget else {
            throw DubdeckError(.usage, direction == .undo ? "nothing to undo" : "nothing to redo")
        }
        var changes: [SegmentChange] = []
        for r in target.records.reversed() {
            guard case .object(let before) = r.before else { continue }
            let touchesLock = r.before.objectValue?["locked"] != r.after.objectValue?["locked"]
            let n = r.segment
            changes.append(SegmentChange(segment: n, action: direction.rawValue) { e in
                if e["locked"]?.boolValue == true, !touchesLock {
                    throw DubdeckError.conflict("line \(n) was locked since: unlock it first to \(direction.rawValue)")
                }
                e = before
            })
        }
        let batch = changes.count > 1 ? "\(direction.rawValue)-\(target.firstSeq)-\(Clock.isoNow())" : nil
        let result = try store.commit(changes, batch: batch, extraFields: ["reverts": .number(target.firstSeq)])
        return result.records
    }

    /// Sets a line's text back to what it was after history record `seq` (recorded as `restore`).
    @discardableResult
    public static func restore(seq: Int, store: TranscriptStore) throws -> [HistoryRecord] {
        let all = try store.history.readAll().records
        guard let r = all.first(where: { $0.seq == seq }) else { throw DubdeckError(.usage, "no history record \(seq)") }
        guard let text = r.after.objectValue?["tgt_text"]?.stringValue else {
            throw DubdeckError(.usage, "history record \(seq) holds no text")
        }
        let change = SegmentChange.edit(r.segment, text: text, action: "restore")
        return try store.commit([change]).records
    }
}
