import XCTest
import TestSupport
@testable import DubdeckCore

/// SPEC §11.1 for the history: a writer never writes a seq its reader refuses; a whole record is
/// never cut as torn; a commit reads the history's end per record, not per batch.
final class HistoryBoundsTests: JobTestCase {
    func record(seq: Int, segment: Int = 1, base: String = "elsewhere") -> String {
        let e = #"{"start":0,"end":1,"tgt_text":"t","approved":false}"#
        return #"{"ts":"t","seq":\#(seq),"batch":null,"segment":\#(segment),"action":"edit","before":\#(e),"after":\#(e),"by":"x","base_sha256":"\#(base)"}"#
    }

    func testSeqStopsAtTwoToTheFiftyThreeAndNothingIsCut() throws {
        let max = HistoryRecord.maxSeq
        dir.write("ep01/transcript_versions.jsonl", record(seq: max - 1) + "\n")
        let store = try open()
        try store.commit([.edit(1, text: "the last one")])
        XCTAssertEqual(try HistoryLog(path: jobPath + "/transcript_versions.jsonl").lastSeq(), max)
        let before = historyBytes
        XCTAssertThrowsError(try open().commit([.edit(2, text: "one too many")])) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(e)")
            XCTAssertTrue((e as? DubdeckError)?.message.contains("2^53") ?? false, "\(e)")
        }
        XCTAssertEqual(historyBytes, before, "the records before are all there")
        XCTAssertEqual(try open().state(1).text, "the last one")
        XCTAssertEqual(try open().state(2).text, Fixtures.sample[1].text, "nothing changed")
        XCTAssertEqual(try HistoryLog(path: jobPath + "/transcript_versions.jsonl").readAll().records.count, 2, "every record reads back")
    }

    /// A last line that ends with its newline was written whole: unreadable, it is an error (65),
    /// never cut (a seq past 2^53, an unknown shape, a bad number). Unterminated, it is torn.
    func testAWholeRecordIsNeverCutAsTorn() throws {
        let history = jobPath + "/transcript_versions.jsonl"
        for bad in [record(seq: HistoryRecord.maxSeq + 1), record(seq: 2).replacingOccurrences(of: "\"seq\":2", with: "\"seq\":1e300"),
                    #"{"seq": 2}"#, record(seq: -3), "[1,2,3]"] {
            let text = record(seq: 1) + "\n" + bad + "\n"
            dir.write("ep01/transcript_versions.jsonl", text)
            XCTAssertThrowsError(try open().commit([.edit(1, text: "x")]), bad) { e in
                XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(bad): \(e)")
            }
            XCTAssertThrowsError(try HistoryLog(path: history).readAll(), bad)
            XCTAssertEqual(historyBytes, Array(text.utf8), "\(bad): not cut")
        }
        // The same bytes without their newline: a torn append, cut before the next one.
        dir.write("ep01/transcript_versions.jsonl", record(seq: 1) + "\n" + record(seq: 2).dropLast(9))
        let r = try open().commit([.edit(1, text: "x")])
        XCTAssertEqual(r.records.first?.seq, 2)
        XCTAssertTrue(r.warnings.contains { $0.contains("torn") }, "\(r.warnings)")
    }

    /// After a batch of every line, the next commit reads the newest record and the one before it,
    /// not the batch; an interrupted batch is still cut whole.
    func testTheNextCommitReadsTheHistoryPerRecord() throws {
        let store = try open()
        let n = store.job.segments.count
        try store.commit((1...n).map { .approve($0, true) })
        var warnings: [String] = []
        let end = try open().repairHistoryEnd(storeBase: try open().snapshot.fingerprint.shaHex, warnings: &warnings)
        XCTAssertEqual(end.records.count, 2, "the newest record and the one before it, not the \(n) of the batch")
        XCTAssertEqual(end.lastSeq, n)
        // A history written before records named their takes: read back to the commit's start once.
        let h = try HistoryLog(path: jobPath + "/transcript_versions.jsonl").readAll().records
        dir.write("ep01/transcript_versions.jsonl", h.map { r in
            var r = r
            r.extra[TranscriptStore.repointField] = nil
            return String(decoding: JSONWriter.encode(r.json), as: UTF8.self)
        }.joined(separator: "\n") + "\n")
        let old = try open().repairHistoryEnd(storeBase: try open().snapshot.fingerprint.shaHex, warnings: &warnings)
        XCTAssertEqual(old.records.count, n, "the whole last commit")
        // Interrupted: the store never got the batch (its base is the store on disk): cut whole.
        let base = try open().snapshot.fingerprint.shaHex
        dir.write("ep01/transcript_versions.jsonl", (1...3).map { record(seq: $0, segment: $0, base: base) }.joined(separator: "\n") + "\n")
        let cut = try open().commit([.edit(1, text: "after the crash")])
        XCTAssertEqual(cut.records.first?.seq, 1, "all three cut")
        XCTAssertTrue(cut.warnings.contains { $0.contains("cut 3 records") }, "\(cut.warnings)")
    }
}
