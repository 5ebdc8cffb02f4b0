#if canImport(Glibc)
import Glibc
#endif

/// `take JOB N K` and the desk's take key: make take K (1 = newest) the current one, recorded as
/// a `take` history record (undoable like any change).
public enum TakeChoice {
    @discardableResult
    public static func choose(_ store: TranscriptStore, _ n: Int, _ k: Int) throws -> TranscriptStore.CommitResult {
        guard n >= 1, n <= store.job.segments.count else {
            throw DubdeckError(.usage, "no segment \(n) (the job has \(store.job.segments.count))")
        }
        let repaired = try store.repairHistory()  // take metadata comes from the history: never from a phantom
        let list = PlaybackSource.takes(store, n)
        guard !list.isEmpty else { throw DubdeckError(.noInput, "segment \(n) has no take yet (synthesize it first)") }
        guard k >= 1, k <= list.count else {
            throw DubdeckError(.usage, "segment \(n) has \(list.count) take\(list.count == 1 ? "" : "s"); K is 1 (newest) … \(list.count)")
        }
        let chosen = list[k - 1]
        let legacyUnconverted = Takes.isLegacy(store.entry(n)) && chosen.legacyRank >= 1 && chosen.seq == 0
            && Takes.file(store.job, Takes.takeName(n, seq: 0))?.exists != true
        // After conversion a first-edition file has its new name.
        let name = !legacyUnconverted ? chosen.name
            : chosen.legacyRank == 1 ? Takes.takeName(n, seq: 0) : "\(Takes.padded(n)).take-0-\(chosen.legacyRank).wav"
        let relative = Takes.directoryName + "/" + name
        var preview: JSONObject
        var known = false
        if chosen.seq > 0, let r = try store.history.record(seq: chosen.seq), r.segment == n,
           let p = r.after.objectValue?["last_preview"]?.objectValue, p["take"]?.stringValue == relative {
            preview = p
            known = true
        } else {
            // A first-edition take: what the file says (its text is unknown, so it counts as stale).
            guard let file = Takes.file(store.job, chosen.name) else { throw DubdeckError(.noInput, "segment \(n) has no take \(k)") }
            let info = try AudioFile.info(file, owner: .own)
            preview = JSONObject([("wav", .string(Takes.directoryName + "/" + Takes.currentName(n))),
                                  ("duration_s", .number((Double(info.frames) / Double(info.rate) * 1000).rounded() / 1000))])
        }
        preview["take"] = .string(relative)
        preview["chosen_by"] = .string(store.by)  // a batch never replaces a take a reviewer chose
        let change = SegmentChange(segment: n, action: "take", fields: ["last_preview"]) { e in
            e["last_preview"] = .object(preview)
            if known {
                e["audio_status"] = .string((preview["overflow_s"]?.doubleValue ?? 0) > 0.001 ? TakeStatus.overflow.rawValue : TakeStatus.fresh.rawValue)
                if let text = e["tgt_text"]?.stringValue { SegmentChange.markTakeAgainstText(&e, text) }
            } else {
                e["audio_status"] = .string(TakeStatus.stale.rawValue)
            }
        }
        let job = store.job.handle
        var result = try store.commit([change]) { _ in
            if legacyUnconverted, let dir = try Takes.open(job: job) { try Takes.convertLegacy(dir, n) }
            return {}
        }
        result.warnings = repaired + result.warnings
        return result
    }
}
