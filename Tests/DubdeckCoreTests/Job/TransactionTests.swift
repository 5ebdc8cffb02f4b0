import XCTest
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// One change = one transaction (SPEC §10.2): every step after the history append that fails cuts
/// the record off again; an interrupted save is repaired by the next writer; seq and torn tails are
/// found whatever the length of a record.
/// A sample job in a temporary directory, opened fresh for each step (as another process would).
class JobTestCase: XCTestCase {
    var dir: TempDir!
    var jobPath: String!

    override func setUp() {
        dir = TempDir()
        jobPath = Fixtures.job(in: dir)
    }


    func open(_ by: String = "tester") throws -> TranscriptStore { try TranscriptStore(job: try JobLoader.load(jobPath), by: by) }
    var historyBytes: [UInt8]? { dir.bytes("ep01/transcript_versions.jsonl") }
    var storeBytes: [UInt8]? { dir.bytes("ep01/transcript_store.json") }

    func assertInvariants(allowPhantom: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(JobInvariants.problems(job: jobPath, allowPhantom: allowPhantom), [], file: file, line: line)
    }
}

final class TransactionTests: JobTestCase {
    func testAFailedStoreWriteLeavesNoHistoryRecordAndUndoIsNotStuck() throws {
        let store = try open()
        try store.commit([.edit(1, text: "first")])
        let (h, s) = (historyBytes, storeBytes)
        var faults = FileFaults()
        faults.failStoreWrite = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try store.commit([.edit(2, text: "lost")])) { e in
                XCTAssertEqual((e as? DubdeckError)?.status, .ioError)
            }
        }
        XCTAssertEqual(historyBytes, h, "the record was cut off again")
        XCTAssertEqual(storeBytes, s)
        assertInvariants()
        // Undo targets the change the store has, not the one it never got.
        try UndoRedo.run(.undo, store: try open())
        XCTAssertEqual(try open().state(1).text, "Good morning")
        assertInvariants()
    }

    func testAFailedAppendChangesNothingAndInstallsNoTake() throws {
        let store = try open()
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        try synth.synthesize(1)
        let before = DirectoryListing.names(synth.previewDirectory).sorted()
        let (h, s) = (historyBytes, storeBytes)
        var faults = FileFaults()
        faults.failAppend = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try synth.synthesize(1))
        }
        XCTAssertEqual(DirectoryListing.names(synth.previewDirectory).sorted(), before, "no take moved, none added")
        XCTAssertEqual(historyBytes, h)
        XCTAssertEqual(storeBytes, s)
        assertInvariants()
    }

    func testAFailedRepointRollsTheStoreAndTheHistoryBack() throws {
        let store = try open()
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        try synth.synthesize(2)
        let current = dir.bytes("ep01/segments_preview/0002.wav")
        let (h, s) = (historyBytes, storeBytes)
        try store.commit([.edit(2, text: "Something else entirely")])
        let (h2, s2) = (historyBytes, storeBytes)
        XCTAssertNotEqual(h2, h)
        XCTAssertNotEqual(s2, s)
        var faults = FileFaults()
        faults.failLink = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try synth.synthesize(2)) { e in
                XCTAssertTrue("\(e)".contains("cannot point at"), "\(e)")
            }
        }
        XCTAssertEqual(historyBytes, h2)
        XCTAssertEqual(storeBytes.map { try? JSONParser.parse($0) }, s2.map { try? JSONParser.parse($0) }, "the store is as it was")
        XCTAssertEqual(dir.bytes("ep01/segments_preview/0002.wav"), current, "NNNN.wav still the old take")
        XCTAssertEqual(DirectoryListing.names(synth.previewDirectory).filter { $0.hasPrefix("0002.take-") }.count, 1, "the new take was removed")
        assertInvariants()
    }

    func testARecordThatCannotBeCutIsRepairedByTheNextWriter() throws {
        let store = try open()
        try store.commit([.approve(3, true)])
        var faults = FileFaults()
        faults.failStoreWrite = true
        faults.failTruncate = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try store.commit([.edit(1, text: "phantom")])) { e in
                XCTAssertTrue((e as! DubdeckError).message.contains("the next writer will cut it"), "\(e)")
            }
        }
        XCTAssertEqual(try open().history.readAll().records.count, 2, "the phantom is still there")
        assertInvariants(allowPhantom: true)
        // The next writer, in another process's shoes (a fresh store), cuts it with one warning.
        let result = try open().commit([.approve(4, true)])
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertTrue(result.warnings[0].contains("cut 1 record (seq 2) that the store never got"), result.warnings[0])
        XCTAssertEqual(result.records.map { $0.seq }, [2], "seq continues after the last real record")
        XCTAssertEqual(try open().state(1).text, "Good morning")
        assertInvariants()
    }

    func testACrashBetweenAppendAndStoreWriteIsCutWholeByTheNextWriter() throws {
        let store = try open()
        try store.commit([.edit(1, text: "kept")])
        // What a kill between the two writes leaves: the records of a batch appended, the store not written.
        let base = store.fingerprint.shaHex
        var phantom: [HistoryRecord] = []
        for (i, n) in [2, 3].enumerated() {
            var r = HistoryRecord(ts: "t", seq: 2 + i, batch: "b2", segment: n, action: "approve",
                                  before: .object(store.entry(n)), after: .object(store.entry(n)), by: "tester")
            r.extra[TranscriptStore.baseField] = .string(base)
            phantom.append(r)
        }
        try store.history.append(phantom)
        let result = try open().commit([.approve(5, true)])
        XCTAssertTrue(result.warnings.first?.contains("cut 2 records (seq 2–3)") == true, "\(result.warnings)")
        XCTAssertEqual(try open().history.readAll().records.map { $0.seq }, [1, 2])
        assertInvariants()
    }

    func testAChangeMadeOutsideIsNeverTakenForAnInterruptedSave() throws {
        try open().commit([.edit(1, text: "mine")])
        // Another tool rewrites the store without a history record: the last record's base is not
        // the store on disk, so it is not cut.
        var text = dir.read("ep01/transcript_store.json")!
        text = text.replacingOccurrences(of: "\"approved\":false", with: "\"approved\":true")
        dir.write("ep01/transcript_store.json", text)
        let result = try open().commit([.edit(2, text: "next")])
        XCTAssertEqual(result.warnings, [])
        XCTAssertEqual(try open().history.readAll().records.map { $0.seq }, [1, 2])
    }

    func testSeqFollowsARecordLongerThanTheTailAndAHugeTornTailIsCut() throws {
        let store = try open()
        let long = String(repeating: "long ", count: 30_000)  // 150 KB of text: before + after > 64 KB
        try store.commit([.edit(1, text: long)])
        try store.commit([.edit(2, text: "after the long one")])
        try store.commit([.edit(1, text: "short again")])
        XCTAssertEqual(try open().history.readAll().records.map { $0.seq }, [1, 2, 3])
        // A torn tail of 300 KB (a crash in the middle of a huge append).
        let fd = Glibc.open(jobPath + "/transcript_versions.jsonl", O_WRONLY | O_APPEND)
        let torn = Array(("{\"seq\": 4, \"text\": \"" + String(repeating: "y", count: 300_000)).utf8)
        _ = torn.withUnsafeBufferPointer { write(fd, $0.baseAddress!, $0.count) }
        close(fd)
        XCTAssertNotNil(try open().history.readAll().warning)
        let result = try open().commit([.approve(3, true)])
        XCTAssertTrue(result.warnings.first?.contains("torn") == true, "\(result.warnings)")
        XCTAssertEqual(result.records.map { $0.seq }, [4])
        let all = try open().history.readAll()
        XCTAssertNil(all.warning)
        XCTAssertEqual(all.records.map { $0.seq }, [1, 2, 3, 4])
        // A restore acts on the line its record names, whatever lies around it.
        try UndoRedo.restore(seq: 1, store: try open())
        XCTAssertEqual(try open().state(1).text, long)
        XCTAssertEqual(try open().state(2).text, "after the long one")
        assertInvariants()
    }

    func testAHistoryThatIsALinkOrAFIFOIsRefusedAndLeftAlone() throws {
        dir.write("victim", "keep\n")
        symlink(dir.file("victim"), jobPath + "/transcript_versions.jsonl")
        XCTAssertThrowsError(try open().commit([.approve(1, true)])) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .dataError)
        }
        XCTAssertEqual(dir.read("victim"), "keep\n")
        XCTAssertNil(storeBytes)
        unlink(jobPath + "/transcript_versions.jsonl")
        mkfifo(jobPath + "/transcript_versions.jsonl", 0o600)
        XCTAssertThrowsError(try open().commit([.approve(1, true)])) { e in
            XCTAssertTrue("\(e)".contains("FIFO"), "\(e)")
        }
    }

    func testTemporaryNamesAreUnpredictableAndAPlantedLinkIsNeverWrittenThrough() throws {
        let a = FileIO.temporaryName(for: "/x/store.json"), b = FileIO.temporaryName(for: "/x/store.json")
        XCTAssertNotEqual(a, b)
        XCTAssertTrue(a.hasPrefix("/x/store.json.tmp-\(getpid())-"))
        // The first edition's predictable name, planted as a link: not followed.
        dir.write("victim", "keep\n")
        symlink(dir.file("victim"), jobPath + "/transcript_store.json.tmp-\(getpid())")
        try open().commit([.approve(1, true)])
        XCTAssertEqual(dir.read("victim"), "keep\n")
        // A store that is a link is refused, not replaced.
        unlink(jobPath + "/transcript_store.json")
        symlink(dir.file("victim"), jobPath + "/transcript_store.json")
        XCTAssertThrowsError(try open())
        XCTAssertThrowsError(try FileIO.writeAtomically(jobPath + "/transcript_store.json", [1, 2, 3]))
        XCTAssertEqual(dir.read("victim"), "keep\n")
    }

    func testTemporariesOfAKilledWriterAreRemovedByTheNextSave() throws {
        // A pid that cannot be alive (above pid_max) and one that is (ours is skipped on purpose).
        dir.write("ep01/transcript_store.json.tmp-4194999-abc", "left by a kill")
        dir.write("ep01/transcript_store.json.tmp-1-abc", "pid 1 is alive: not ours to remove")
        try open().commit([.approve(1, true)])
        XCTAssertNil(dir.read("ep01/transcript_store.json.tmp-4194999-abc"))
        XCTAssertNotNil(dir.read("ep01/transcript_store.json.tmp-1-abc"))
    }
}

/// Immutable takes, re-pointed NNNN.wav, take choice, undo of takes, the old layout (SPEC §10.3–§10.4).
final class TakeAndUndoTests: JobTestCase {
    func testUndoAndRedoOfASynthesisRepointTheCurrentTake() throws {
        let store = try open()
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        try synth.synthesize(1)
        let first = dir.bytes("ep01/segments_preview/0001.wav")
        try store.commit([.edit(1, text: "A rather different and longer line")])
        try synth.synthesize(1)
        let second = dir.bytes("ep01/segments_preview/0001.wav")
        XCTAssertNotEqual(first, second)
        try UndoRedo.run(.undo, store: try open())
        XCTAssertEqual(dir.bytes("ep01/segments_preview/0001.wav"), first)
        assertInvariants()
        try UndoRedo.run(.redo, store: try open())
        XCTAssertEqual(dir.bytes("ep01/segments_preview/0001.wav"), second)
        assertInvariants()
    }

    func testTakesAreNeverWrittenThroughALinkedPreviewDirectory() throws {
        let store = try open()
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        try synth.synthesize(1)
        try synth.synthesize(1)
        // segments_preview replaced by a link to a copy elsewhere: undo would re-point NNNN.wav there.
        let outside = dir.file("outside")
        try FileManager.default.moveItem(atPath: synth.previewDirectory, toPath: outside)
        symlink(outside, synth.previewDirectory)
        let before = DirectoryListing.names(outside).sorted()
        let current = dir.bytes("outside/0001.wav")
        XCTAssertThrowsError(try UndoRedo.run(.undo, store: try open())) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .dataError)
            XCTAssertTrue("\(e)".contains("segments_preview: is a symbolic link"), "\(e)")
        }
        XCTAssertThrowsError(try synth.synthesize(1))
        XCTAssertEqual(DirectoryListing.names(outside).sorted(), before)
        XCTAssertEqual(dir.bytes("outside/0001.wav"), current)
        XCTAssertEqual(try open().history.readAll().records.count, 2, "nothing recorded")
    }

    func testChoosingAnEarlierTakeIsARecordAndUndoable() throws {
        let store = try open()
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        let a = try synth.synthesize(2)
        try store.commit([.edit(2, text: "Another text for take two")])
        let b = try synth.synthesize(2)
        XCTAssertEqual(PlaybackSource.takes(store, 2).map { $0.name }, [b.take, a.take], "newest first")
        let r = try TakeChoice.choose(try open(), 2, 2)
        XCTAssertEqual(r.records.map { $0.action }, ["take"])
        XCTAssertEqual(dir.bytes("ep01/segments_preview/0002.wav"), dir.bytes("ep01/segments_preview/" + a.take))
        XCTAssertEqual(try open().state(2).audioStatus, "stale", "take 2 was made from the old text")
        assertInvariants()
        XCTAssertThrowsError(try TakeChoice.choose(try open(), 2, 3)) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .usage)
        }
        try UndoRedo.run(.undo, store: try open())
        XCTAssertEqual(dir.bytes("ep01/segments_preview/0002.wav"), dir.bytes("ep01/segments_preview/" + b.take))
        XCTAssertEqual(try open().state(2).audioStatus, "fresh")
        assertInvariants()
    }

    func testUndoIsTheReviewersOwnAndAnyTakesTheNewest() throws {
        try open("ann").commit([.edit(1, text: "ann's")])
        try open("bob").commit([.edit(2, text: "bob's")])
        try UndoRedo.run(.undo, store: try open("ann"))
        XCTAssertEqual(try open().state(1).text, "Good morning", "ann's own change undone")
        XCTAssertEqual(try open().state(2).text, "bob's", "bob's stays")
        XCTAssertThrowsError(try UndoRedo.run(.undo, store: try open("ann"))) { e in
            XCTAssertEqual((e as? DubdeckError)?.message, "nothing to undo by ann")
        }
        try UndoRedo.run(.undo, store: try open("ann"), any: true)
        XCTAssertEqual(try open().state(2).text, "Hello there", "--any: the newest change by anyone")
        // Ann's redo chain survives bob's new change.
        try open("bob").commit([.approve(3, true)])
        try UndoRedo.run(.redo, store: try open("ann"))
        XCTAssertEqual(try open().state(2).text, "bob's", "ann's newest undo is redone first")
        try UndoRedo.run(.redo, store: try open("ann"))
        XCTAssertEqual(try open().state(1).text, "ann's")
        assertInvariants()
    }

    func testUndoKeepsAnotherReviewersLaterChangeToTheSameLine() throws {
        try open("ann").commit([.edit(1, text: "ann's")])
        try open("bob").commit([.approve(1, true)])
        try UndoRedo.run(.undo, store: try open("ann"))
        XCTAssertEqual(try open().state(1).text, "Good morning")
        XCTAssertTrue(try open().state(1).approved, "bob's approval stays")
        assertInvariants()
    }

    func testABatchWithALineLockedBeforeIsUndoneWhole() throws {
        // Lock line 2, approve lines, batch-synthesize, undo: the batch is undone (its lock is old).
        let store = try open()
        try store.commit([.lock(2, true, by: "tester")])
        try store.commit([.approve(1, true), .approve(2, true)], batch: "approvals")
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        let summary = synth.batch([1, 2])
        XCTAssertEqual(summary.failed, 0)
        try UndoRedo.run(.undo, store: try open())
        XCTAssertEqual(try open().state(1).audioStatus, "none")
        XCTAssertEqual(try open().state(2).audioStatus, "none", "a synthesis of a locked line can be undone")
        XCTAssertFalse(FileIO.exists(jobPath + "/segments_preview/0002.wav"))
        try UndoRedo.run(.undo, store: try open())
        XCTAssertFalse(try open().state(1).approved)
        assertInvariants()
    }

    func testABatchThatWouldChangeALockedTextIsRefusedWholeNamingTheLine() throws {
        let store = try open()
        try store.commit([.edit(1, text: "one"), .edit(3, text: "three")], batch: "edits")
        // Locked since, by someone else.
        try open("bob").commit([.lock(3, true, by: "bob")])
        XCTAssertThrowsError(try UndoRedo.run(.undo, store: try open())) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .conflict)
            XCTAssertTrue((e as! DubdeckError).message.contains("line 3 is locked"), "\(e)")
        }
        XCTAssertEqual(try open().state(1).text, "one", "nothing of the batch was undone")
        try open("bob").commit([.lock(3, false, by: "bob")])
        try UndoRedo.run(.undo, store: try open())
        XCTAssertEqual(try open().state(1).text, "Good morning")
        XCTAssertEqual(try open().state(3).text, "Goodbye for now")
        assertInvariants()
    }

    func testTheFirstEditionsTakesAreConvertedOnTheNextSynthesis() throws {
        let store = try open()
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        try synth.synthesize(1)
        // Make it look like the first edition: NNNN.wav a plain file, take-2 beside it, no "take".
        let dirPath = jobPath + "/segments_preview"
        let legacyCurrent = dir.bytes("ep01/segments_preview/0001.wav")!
        for name in DirectoryListing.names(dirPath) { unlink(dirPath + "/" + name) }
        dir.writeBytes("ep01/segments_preview/0001.wav", legacyCurrent)
        dir.writeBytes("ep01/segments_preview/0001.take-2.wav", Array(legacyCurrent.prefix(44)) + [1, 2, 3, 4])
        var text = dir.read("ep01/transcript_store.json")!
        text = text.replacingOccurrences(of: #""take":"segments_preview/0001.take-1.wav","#, with: "")
        dir.write("ep01/transcript_store.json", text)
        let old = try open()
        XCTAssertTrue(Takes.isLegacy(old.entry(1)))
        XCTAssertEqual(PlaybackSource.takes(old, 1).map { $0.name }, ["0001.wav", "0001.take-2.wav"])
        XCTAssertEqual(try PlaybackSource.takeFile(old, 1, take: 2).path, dirPath + "/0001.take-2.wav")
        try SegmentSynthesizer(store: old, engine: try EspeakEngine()).synthesize(1)
        let names = DirectoryListing.names(dirPath).sorted()
        // The old rank file moved aside first, so the new take (seq 2) does not collide with it.
        XCTAssertEqual(names, ["0001.take-0-2.wav", "0001.take-0.wav", "0001.take-2.wav", "0001.wav"])
        XCTAssertEqual(dir.bytes("ep01/segments_preview/0001.take-0.wav"), legacyCurrent)
        // Undo goes back to the converted old take.
        try UndoRedo.run(.undo, store: try open())
        XCTAssertEqual(dir.bytes("ep01/segments_preview/0001.wav"), legacyCurrent)
    }
}
