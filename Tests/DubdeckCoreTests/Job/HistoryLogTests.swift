import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

final class HistoryLogTests: XCTestCase {
    func record(_ seq: Int, _ segment: Int = 1) -> String {
        String(decoding: JSONWriter.encode(HistoryRecord(ts: "t", seq: seq, batch: nil, segment: segment, action: "edit",
                                                          before: .null, after: .null, by: "x").json), as: UTF8.self)
    }

    func testTornLastLineIsIgnoredWithAWarningAndCutBeforeTheNextAppend() throws {
        let dir = TempDir()
        dir.write("h.jsonl", record(1) + "\n" + record(2) + "\n{\"ts\":\"t\",\"seq\":3,\"segm")
        let log = HistoryLog(path: dir.file("h.jsonl"))
        let tail = try log.readTail()
        XCTAssertEqual(tail.records.map { $0.seq }, [1, 2])
        XCTAssertNotNil(tail.warning)
        XCTAssertTrue(tail.warning!.contains("line 3"), tail.warning!)
        XCTAssertEqual(try log.lastSeq(), 2)
        try log.append([HistoryRecord(ts: "t", seq: 3, batch: nil, segment: 1, action: "approve", before: .null, after: .null, by: "x")])
        let all = try log.readAll()
        XCTAssertNil(all.warning)
        XCTAssertEqual(all.records.map { $0.seq }, [1, 2, 3])
    }

    func testCorruptMiddleLineIsAnErrorNamingItsLine() throws {
        let dir = TempDir()
        dir.write("h.jsonl", record(1) + "\n" + "garbage\n" + record(3) + "\n")
        XCTAssertThrowsError(try HistoryLog(path: dir.file("h.jsonl")).readAll()) { e in
            let e = e as! DubdeckError
            XCTAssertEqual(e.status, .dataError)
            XCTAssertTrue(e.message.contains("line 2"), e.message)
        }
    }

    func testTailReadDoesNotParseTheWholeFile() throws {
        let dir = TempDir()
        // A corrupt line far before the tail: reading the tail never reaches it.
        var text = "garbage\n"
        for i in 1...20_000 { text += record(i, i % 7 + 1) + "\n" }
        dir.write("h.jsonl", text)
        let log = HistoryLog(path: dir.file("h.jsonl"))
        let tail = try log.readTail(maxBytes: 64 * 1024)
        XCTAssertTrue(tail.partial)
        XCTAssertLessThan(tail.records.count, 2000)
        XCTAssertEqual(tail.records.last?.seq, 20_000)
        XCTAssertEqual(try log.lastSeq(), 20_000)
        XCTAssertThrowsError(try log.readAll(), "the full read does find the corrupt line")
    }

    func testCorruptLineInsideTheTailNamesItsAbsoluteLineNumber() throws {
        let dir = TempDir()
        var text = ""
        for i in 1...3000 { text += record(i) + "\n" }
        text += "oops\n" + record(3001) + "\n"
        dir.write("h.jsonl", text)
        XCTAssertThrowsError(try HistoryLog(path: dir.file("h.jsonl")).readTail(maxBytes: 4096)) { e in
            XCTAssertTrue((e as! DubdeckError).message.contains("line 3001"), (e as! DubdeckError).message)
        }
    }

    func testAppendIsOneLinePerRecord() throws {
        let dir = TempDir()
        let log = HistoryLog(path: dir.file("h.jsonl"))
        let recs = (1...3).map { HistoryRecord(ts: "t", seq: $0, batch: "b1", segment: $0, action: "merge-mt", before: .object(JSONObject([("tgt_text", .string("a\nb"))])), after: .null, by: "x") }
        try log.append(recs)
        let text = dir.read("h.jsonl")!
        XCTAssertEqual(text.split(separator: "\n").count, 3)
        XCTAssertEqual(try log.readAll().records, recs)
    }
}
