import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

final class TranscriptStoreTests: XCTestCase {
    var dir: TempDir!
    var jobDir: String!

    override func setUp() {
        dir = TempDir()
        jobDir = Fixtures.job(in: dir)
    }


    func open(by: String = "tester") throws -> TranscriptStore {
        try TranscriptStore(job: try JobLoader.load(jobDir), by: by)
    }

    func storeText() -> String? { dir.read("ep01/transcript_store.json") }

    /// A write in the same timestamp tick, of the same size, to the same inode (an editor writing in
    /// place, or a reused inode) looks unchanged to size+mtime+inode: read that recently, the poll
    /// compares the bytes.
    func testARacySameSizeSameMtimeWriteIsStillNoticed() throws {
        let writer = try open(by: "other")
        try writer.commit([.edit(2, text: "AAAA")])
        let reader = try open()
        XCTAssertEqual(reader.state(2).text, "AAAA")
        XCTAssertTrue(reader.fingerprint.racy, "read within a second of its write")
        let path = dir.file("ep01/transcript_store.json")
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0)
        // The same bytes with one text changed, written in place; the old mtime put back.
        let changed = Array(dir.read("ep01/transcript_store.json")!.replacingOccurrences(of: "AAAA", with: "BBBB").utf8)
        let fd = Glibc.open(path, O_WRONLY | O_TRUNC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(changed.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, changed.count)
        var times = [st.st_atim, st.st_mtim]
        XCTAssertEqual(futimens(fd, &times), 0)
        close(fd)
        var after = stat()
        XCTAssertEqual(lstat(path, &after), 0)
        XCTAssertEqual([Int(after.st_size), after.st_mtim.tv_sec, after.st_mtim.tv_nsec, Int(after.st_ino)],
                       [Int(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec, Int(st.st_ino)], "the write is invisible to stat")
        XCTAssertTrue(try reader.reloadIfChanged())
        XCTAssertEqual(reader.state(2).text, "BBBB")
        // An unchanged store, once read, is not reported changed.
        XCTAssertFalse(try reader.reloadIfChanged())
    }

    func testReadingSpeedCountsCharactersWithoutWhitespace() {
        XCTAssertEqual(ReadingSpeed.cps("a b\tc\nd\r\n", duration: 2), 2, "ASCII: four characters")
        XCTAssertEqual(ReadingSpeed.cps("e\u{0301} 👩‍👩‍👧 日本", duration: 1), 4, "graphemes, not scalars")
        XCTAssertEqual(ReadingSpeed.cps("x", duration: 0), 0)
        XCTAssertEqual(ReadingSpeed.defaultLimit(language: "ja-JP"), 4)
        XCTAssertEqual(ReadingSpeed.defaultLimit(language: "zh_Hans"), 9)
        XCTAssertEqual(ReadingSpeed.defaultLimit(language: "ko"), 12)
        XCTAssertEqual(ReadingSpeed.defaultLimit(language: "pt-BR"), 17)
    }

    func testEditApproveLockRoundTripAndHistory() throws {
        let store = try open()
        try store.commit([.edit(2, text: "Hi!")])
        try store.commit([.approve(2, true)])
        try store.commit([.lock(2, true, by: store.by)])
        let again = try open()
        XCTAssertEqual(again.state(2).text, "Hi!")
        XCTAssertTrue(again.state(2).approved)
        XCTAssertTrue(again.state(2).locked)
        XCTAssertEqual(again.state(2).lockedBy, "tester")
        XCTAssertFalse(again.hasEntry(1), "untouched lines get no entry")
        XCTAssertEqual(again.state(1).text, "Good morning")
        let records = try HistoryLog(path: again.job.historyPath).readAll().records
        XCTAssertEqual(records.map { $0.action }, ["edit", "approve", "lock"])
        XCTAssertEqual(records.map { $0.seq }, [1, 2, 3])
        XCTAssertEqual(records[0].before.objectValue?["tgt_text"], .string("Hello there"))
        XCTAssertEqual(records[0].after.objectValue?["tgt_text"], .string("Hi!"))
        XCTAssertEqual(records[2].after.objectValue?["locked"], .bool(true))
        let root = try JSONParser.parse(Array(storeText()!.utf8)).objectValue!
        XCTAssertEqual(root["version"], .number(3))
        let entry = root["segments"]!.objectValue!["2"]!.objectValue!
        XCTAssertEqual(entry["start"]?.doubleValue, 3.5)
        XCTAssertEqual(entry["end"]?.doubleValue, 5.0)
    }

    func testLockedLineRefusesEditWith75AndChangesNothing() throws {
        let store = try open()
        try store.commit([.lock(1, true, by: "a")])
        let before = storeText()
        XCTAssertThrowsError(try store.commit([.edit(1, text: "nope")])) { e in
            XCTAssertEqual((e as! DubdeckError).status, .conflict)
            XCTAssertTrue((e as! DubdeckError).message.contains("unlock first"))
        }
        XCTAssertEqual(storeText(), before)
        XCTAssertEqual(try HistoryLog(path: store.job.historyPath).readAll().records.count, 1)
        // Unlock then edit in one operation works, as one batch.
        let r = try store.commit([.lock(1, false, by: "a"), .edit(1, text: "yes")])
        XCTAssertEqual(r.records.count, 2)
        XCTAssertNotNil(r.records[0].batch)
        XCTAssertEqual(r.records[0].batch, r.records[1].batch)
        XCTAssertEqual(try open().state(1).text, "yes")
    }

    func testNoOpChangeWritesNothing() throws {
        let store = try open()
        let r = try store.commit([.approve(3, false)])
        XCTAssertTrue(r.records.isEmpty)
        XCTAssertNil(storeText())
    }

    func testUnknownFieldsRoundTripAndUnchangedEntriesKeepTheirBytes() throws {
        let odd = #"{ "approved" : true,   "tgt_text":"Good  morning!","start":1.0,"end":3.0, "custom":{"k":[1,2.50]} }"#
        dir.write("ep01/transcript_store.json", """
        {"version": 3, "updated_at": "2020-01-01T00:00:00Z", "producer": {"name": "x"},
         "segments": {"1": \(odd), "2": {"start": 3.5, "end": 5, "tgt_text": "Hey", "mystery": 7}}}
        """)
        let store = try open()
        XCTAssertTrue(store.state(1).approved)
        try store.commit([.edit(2, text: "Hey you")])
        let text = storeText()!
        XCTAssertTrue(text.contains(odd), "an unchanged entry is written back as it was read")
        XCTAssertTrue(text.contains("\"producer\": {\"name\":\"x\"}"))
        let root = try JSONParser.parse(Array(text.utf8)).objectValue!
        let e2 = root["segments"]!.objectValue!["2"]!.objectValue!
        XCTAssertEqual(e2["mystery"], .number("7"))
        XCTAssertEqual(e2["tgt_text"], .string("Hey you"))
    }

    func testVersion1IsUpgradedOnNextSave() throws {
        dir.write("ep01/transcript_store.json", #"{"version": 1, "segments": {"1": {"tgt_text": "Old", "approved": true}, "3": {"tgt_text": "Other"}}}"#)
        let store = try open()
        XCTAssertEqual(store.state(1).text, "Old")
        XCTAssertFalse(store.state(1).locked)
        XCTAssertNil(store.readOnlyReason)
        try store.commit([.approve(3, true)])
        let root = try JSONParser.parse(Array(storeText()!.utf8)).objectValue!
        XCTAssertEqual(root["version"], .number(3))
        let e1 = root["segments"]!.objectValue!["1"]!.objectValue!
        XCTAssertEqual(e1["locked"], .bool(false))
        XCTAssertEqual(e1["start"]?.doubleValue, 1.0, "entries without times get them on the next save")
        XCTAssertEqual(e1["tgt_text"], .string("Old"))
    }

    func testNewerVersionRefusedAndNeverRewritten() throws {
        let text = #"{"version": 4, "segments": {}}"#
        dir.write("ep01/transcript_store.json", text)
        XCTAssertThrowsError(try open()) { e in
            XCTAssertEqual((e as! DubdeckError).status, .dataError)
            XCTAssertTrue((e as! DubdeckError).message.contains("version 4"))
        }
        XCTAssertEqual(storeText(), text)
    }

    func testUnparsableStoreIsNeverReplaced() throws {
        let store = try open()
        try store.commit([.approve(1, true)])
        let garbage = "{\"version\": 3, \"segments\": {\"1\": {\"approved\": tru"
        dir.write("ep01/transcript_store.json", garbage)
        XCTAssertThrowsError(try store.commit([.approve(2, true)])) { e in
            XCTAssertEqual((e as! DubdeckError).status, .dataError)
        }
        XCTAssertEqual(storeText(), garbage)
        XCTAssertThrowsError(try open())
        XCTAssertEqual(storeText(), garbage)
    }

    func testWrongTypesInStoreAreErrorsNamingTheSegment() {
        dir.write("ep01/transcript_store.json", #"{"version": 3, "segments": {"2": {"approved": "yes"}}}"#)
        XCTAssertThrowsError(try open()) { e in
            let e = e as! DubdeckError
            XCTAssertEqual(e.status, .dataError)
            XCTAssertTrue(e.message.contains("segment 2") && e.message.contains("approved"), e.message)
        }
    }

    func testResegmentedJobIsReadOnly() throws {
        dir.write("ep01/transcript_store.json", #"{"version": 3, "segments": {"1": {"start": 1.0, "end": 3.0, "tgt_text": "A"}, "2": {"start": 9.0, "end": 10.0, "tgt_text": "B"}}}"#)
        let before = storeText()
        let store = try open()
        XCTAssertNotNil(store.readOnlyReason)
        XCTAssertTrue(store.readOnlyReason!.contains("segment 2"), store.readOnlyReason!)
        XCTAssertThrowsError(try store.commit([.approve(1, true)])) { e in
            XCTAssertEqual((e as! DubdeckError).status, .dataError)
        }
        XCTAssertEqual(storeText(), before)
        XCTAssertFalse(FileIO.exists(store.job.historyPath))
    }

    func testEntryForMissingSegmentMakesReadOnly() throws {
        dir.write("ep01/transcript_store.json", #"{"version": 3, "segments": {"99": {"tgt_text": "gone"}}}"#)
        XCTAssertTrue(try open().readOnlyReason!.contains("99"))
    }

    func testOutsideChangeToAnotherSegmentIsMerged() throws {
        let mine = try open(by: "me")
        let theirs = try open(by: "them")
        try theirs.commit([.edit(1, text: "theirs")])
        let r = try mine.commit([.edit(2, text: "mine")])
        XCTAssertTrue(r.reloaded)
        let fresh = try open()
        XCTAssertEqual(fresh.state(1).text, "theirs", "the other writer's change is kept")
        XCTAssertEqual(fresh.state(2).text, "mine")
        XCTAssertEqual(try HistoryLog(path: fresh.job.historyPath).readAll().records.map { $0.seq }, [1, 2])
    }

    func testConflictingOutsideChangeIsRefusedWith75() throws {
        let mine = try open(by: "me")
        let theirs = try open(by: "them")
        try theirs.commit([.edit(1, text: "theirs")])
        XCTAssertThrowsError(try mine.commit([.edit(1, text: "mine")])) { e in
            XCTAssertEqual((e as! DubdeckError).status, .conflict)
        }
        XCTAssertEqual(try open().state(1).text, "theirs", "never overwrite the other writer")
        XCTAssertEqual(mine.state(1).text, "theirs", "the loser sees the re-read state")
    }

    func testBusyLockGives75AfterTheWait() throws {
        let store = try open()
        store.lockTimeout = 0.2
        let held = try JobLock.acquire(store.job.lockPath)
        defer { held.release() }
        XCTAssertThrowsError(try store.commit([.approve(1, true)])) { e in
            let e = e as! DubdeckError
            XCTAssertEqual(e.status, .conflict)
            XCTAssertEqual(e.reason, .lockBusy)
        }
        XCTAssertNil(storeText())
    }

    func testFailedFsyncKeepsTheOldFile() throws {
        let store = try open()
        try store.commit([.edit(1, text: "kept")])
        let before = storeText()
        var faults = FileFaults()
        faults.failFsync = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try store.commit([.edit(2, text: "lost")])) { e in
                XCTAssertEqual((e as! DubdeckError).status, .ioError)
            }
        }
        XCTAssertEqual(storeText(), before)
        XCTAssertTrue(DirectoryListing.names(jobDir).allSatisfy { !$0.contains(".tmp-") }, "no temporary file left")
    }

    func testFailedRenameKeepsTheOldFile() throws {
        let store = try open()
        try store.commit([.edit(1, text: "kept")])
        let before = storeText()
        var faults = FileFaults()
        faults.failRename = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try store.commit([.edit(2, text: "lost")]))
        }
        XCTAssertEqual(storeText(), before)
    }

    func testFlagsKeepUnknownOnes() throws {
        dir.write("ep01/transcript_store.json", #"{"version": 3, "segments": {"1": {"start": 1, "end": 3, "flags": ["custom_flag"]}}}"#)
        let store = try open()
        try store.commit([.flag(1, ReviewState.needsRetranslate, true)])
        XCTAssertEqual(store.state(1).flags, ["custom_flag", "needs_retranslate"])
        try store.commit([.flag(1, ReviewState.needsRetranslate, false)])
        XCTAssertEqual(try open().state(1).flags, ["custom_flag"])
    }

    func testReloadIfChanged() throws {
        let a = try open()
        XCTAssertFalse(try a.reloadIfChanged())
        let b = try open()
        try b.commit([.approve(4, true)])
        XCTAssertTrue(try a.reloadIfChanged())
        XCTAssertTrue(a.state(4).approved)
    }

    func testCounts() throws {
        let store = try open()
        try store.commit([.approve(1, true), .approve(2, true), .lock(2, true, by: "x"), .flag(3, "needs_retranslate", true), .edit(4, text: "T")])
        XCTAssertEqual(store.counts(), .init(segments: 5, approved: 2, locked: 1, flagged: 1, stale: 0, overflow: 0, edited: 1))
    }
}
