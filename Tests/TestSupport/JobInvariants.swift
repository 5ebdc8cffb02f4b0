import DubdeckCore
import Foundation

/// What must hold for a job on disk after any sequence of operations (SPEC §10.2–§10.3): the store
/// is exactly the replay of the history (each line's entry is the `after` of the last record that
/// names it; a line no record names has no entry), and `NNNN.wav` has the bytes of the take that
/// `last_preview.take` names, with its duration.
public enum JobInvariants {
    /// True when records of an interrupted save trail the history.
    public static func hasPhantom(job path: String) -> Bool {
        guard let store = try? TranscriptStore(job: try JobLoader.load(path)),
              let last = try? store.history.readAll().records.last else { return false }
        return last.extra[TranscriptStore.baseField]?.stringValue == store.fingerprint.shaHex
    }

    /// The problems found; empty when everything holds. `allowPhantom`: records of one interrupted
    /// save may still trail the history (the next writer cuts them).
    public static func problems(job path: String, allowPhantom: Bool = false) -> [String] {
        var out: [String] = []
        let store: TranscriptStore
        do {
            store = try TranscriptStore(job: try JobLoader.load(path))
        } catch {
            return ["the job does not open: \(error)"]
        }
        var records: [HistoryRecord]
        do {
            records = try store.history.readAll().records
        } catch {
            return ["the history does not read: \(error)"]
        }
        if records.map({ $0.seq }) != Array(0..<records.count).map({ $0 + 1 }) {
            out.append("seq is not 1…n without gaps: \(records.map { $0.seq })")
        }
        let storeBase = store.fingerprint.shaHex
        if let last = records.last, last.extra[TranscriptStore.baseField]?.stringValue == storeBase {
            if !allowPhantom { out.append("record \(last.seq) trails the history but the store never got it") }
            while let l = records.last, l.extra[TranscriptStore.baseField]?.stringValue == storeBase { records.removeLast() }
        }
        for seg in store.job.segments {
            let n = seg.number
            guard let last = records.last(where: { $0.segment == n }) else {
                if store.hasEntry(n) { out.append("line \(n) has an entry but no record") }
                continue
            }
            if !TranscriptStore.semanticallyEqual(.object(store.entry(n)), last.after) {
                out.append("line \(n): the store is not the after of record \(last.seq) (\(last.action))")
            }
            let current = path + "/segments_preview/" + Takes.currentName(n)
            let exists = FileManager.default.fileExists(atPath: current)
            if let take = Takes.current(of: store.entry(n), n) {
                guard let a = FileManager.default.contents(atPath: current),
                      let b = FileManager.default.contents(atPath: path + "/" + take) else {
                    out.append("line \(n): \(take) or NNNN.wav is missing")
                    continue
                }
                if a != b { out.append("line \(n): NNNN.wav is not \(take)") }
                if let want = store.entry(n)["last_preview"]?.objectValue?["duration_s"]?.doubleValue,
                   let info = try? AudioFile.info(current) {
                    let have = Double(info.frames) / Double(info.rate)
                    if abs(have - want) > 0.0015 { out.append("line \(n): NNNN.wav lasts \(have) s, the store says \(want)") }
                }
            } else if exists {
                out.append("line \(n): NNNN.wav exists but the store names no take")
            }
        }
        return out
    }
}
