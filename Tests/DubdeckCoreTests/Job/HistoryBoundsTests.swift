import XCTest
import Synchronization
import TestSupport
import CInterrupt
import Foundation
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
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
        dir.write("ep01/transcript_versions.jsonl", record(seq: max - 2) + "\n")
        let store = try open()
        try store.commit([.edit(1, text: "the last one")])
        XCTAssertEqual(try HistoryLog(path: jobPath + "/transcript_versions.jsonl").lastSeq(), max - 1)
        // No change is made that could not be undone: the last seq is its undo's.
        XCTAssertThrowsError(try open().commit([.edit(2, text: "no room for its undo")]))
        try UndoRedo.run(.undo, store: try open())
        XCTAssertEqual(try HistoryLog(path: jobPath + "/transcript_versions.jsonl").lastSeq(), max)
        XCTAssertEqual(try open().state(1).text, Fixtures.sample[0].text, "undone")
        // A redo needs room for its own undo too: refused here, the undone state kept.
        XCTAssertThrowsError(try UndoRedo.run(.redo, store: try open()))
        XCTAssertEqual(try open().state(1).text, Fixtures.sample[0].text)
        let before = historyBytes
        XCTAssertThrowsError(try open().commit([.edit(2, text: "one too many")])) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(e)")
            XCTAssertTrue((e as? DubdeckError)?.message.contains("2^53") ?? false, "\(e)")
        }
        XCTAssertEqual(historyBytes, before, "the records before are all there")
        XCTAssertEqual(try open().state(2).text, Fixtures.sample[1].text, "nothing changed")
        XCTAssertEqual(try HistoryLog(path: jobPath + "/transcript_versions.jsonl").readAll().records.count, 3, "every record reads back")
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
        let end = try open().repairHistoryEnd(storeBase: try open().fingerprint.shaHex, warnings: &warnings)
        XCTAssertEqual(end.records.count, 2, "the newest record and the one before it, not the \(n) of the batch")
        XCTAssertEqual(end.lastSeq, n)
        // A history written before records named their takes: read back to the commit's start once.
        let h = try HistoryLog(path: jobPath + "/transcript_versions.jsonl").readAll().records
        dir.write("ep01/transcript_versions.jsonl", h.map { r in
            var r = r
            r.extra[TranscriptStore.repointField] = nil
            return String(decoding: JSONWriter.encode(r.json), as: UTF8.self)
        }.joined(separator: "\n") + "\n")
        let old = try open().repairHistoryEnd(storeBase: try open().fingerprint.shaHex, warnings: &warnings)
        XCTAssertEqual(old.records.count, n, "the whole last commit")
        // Interrupted: the store never got the batch (its base is the store on disk): cut whole.
        let base = try open().fingerprint.shaHex
        dir.write("ep01/transcript_versions.jsonl", (1...3).map { record(seq: $0, segment: $0, base: base) }.joined(separator: "\n") + "\n")
        let cut = try open().commit([.edit(1, text: "after the crash")])
        XCTAssertEqual(cut.records.first?.seq, 1, "all three cut")
        XCTAssertTrue(cut.warnings.contains { $0.contains("cut 3 records") }, "\(cut.warnings)")
    }
}

/// SPEC §11.6: the registry of temporaries is thread-safe and unbounded (a 16-core batch registers
/// about 98 at once; the second edition had 64 slots and then registered nothing, silently).
final class CleanupRegistryTests: XCTestCase {
    func testManyThreadsRegisterHundredsAndEveryOneIsKept() {
        let base = Interrupt.registeredTemporaries
        let threads = 8, each = 50
        let slots = Synchronization.Mutex<[Int32]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var mine: [Int32] = []
            for k in 0..<each { mine.append(dd_cleanup_register("/tmp/dubdeck-registry-test-\(t)-\(k)", 0)) }
            slots.withLock { $0 += mine }
        }
        let all = slots.withLock { $0 }
        XCTAssertEqual(all.count, threads * each)
        XCTAssertFalse(all.contains(-1), "no registration refused")
        XCTAssertEqual(Set(all).count, threads * each, "no slot given twice")
        XCTAssertEqual(Interrupt.registeredTemporaries, base + threads * each)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for k in 0..<each { dd_cleanup_unregister(all[t * each + k]) }
        }
        XCTAssertEqual(Interrupt.registeredTemporaries, base)
    }
}

/// SPEC §11.6: take temporaries a SIGKILL left are removed by the next opening of the job; those of
/// a process still running, and anything that is not a regular temporary of ours, are not.
final class StaleTemporaryTests: JobTestCase {
    /// The PID of a process that has ended.
    func deadPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    func testTheNextOpeningRemovesWhatADeadProcessLeft() throws {
        let dead = try deadPID()
        try FileIO.makeDirectories(jobPath + "/segments_preview")
        let names = ["0001.take.tmp-\(dead)-1f", "0002.take.tmp-\(dead)-2e", "0003.take.tmp-\(getpid())-3d", "0004.take-7.wav", "0005.take.tmp-x-1"]
        for n in names { dir.write("ep01/segments_preview/" + n, "x") }
        symlink("/etc/passwd", jobPath + "/segments_preview/0006.take.tmp-\(dead)-4c")
        _ = try TranscriptStore.open(jobPath)
        BackgroundWork.finish()
        let left = Set(DirectoryListing.names(jobPath + "/segments_preview"))
        XCTAssertEqual(left, Set(names.dropFirst(2) + ["0006.take.tmp-\(dead)-4c"]), "the dead process's two are gone, the rest kept")
    }

    /// Engine folders a SIGKILL left (SPEC §11.6): those of a dead maker go, with what is in them
    /// (a link inside removed, never followed); a live maker's, a link, a file and an old-style name
    /// stay.
    func testEngineFoldersOfADeadRunAreSwept() throws {
        let dead = try deadPID()
        let tmp = dir.file("tmp")
        try FileIO.makeDirectories(tmp + "/victim")
        dir.write("tmp/victim/keep.txt", "precious")
        for name in ["dubdeck-engine.\(dead).aB3dE6", "dubdeck-server.\(dead).Zz9yY8", "dubdeck-engine.\(getpid()).live01", "dubdeck-engine.oldstyle"] {
            try FileIO.makeDirectories(tmp + "/" + name)
            dir.write("tmp/\(name)/text.txt", "a line's text")
        }
        try FileIO.makeDirectories(tmp + "/dubdeck-engine.\(dead).aB3dE6/deeper")
        symlink(tmp + "/victim/keep.txt", tmp + "/dubdeck-engine.\(dead).aB3dE6/link")
        symlink(tmp + "/victim", tmp + "/dubdeck-engine.\(dead).linked")
        dir.write("tmp/dubdeck-server.\(dead).file", "x")
        for odd in ["dubdeck-engine.+\(dead).x", "dubdeck-engine.0\(dead).x"] { try FileIO.makeDirectories(tmp + "/" + odd) }
        let removed = EngineFolders.sweep(in: tmp)
        XCTAssertEqual(Set(removed.map { String($0.split(separator: "/").last!) }), ["dubdeck-engine.\(dead).aB3dE6", "dubdeck-server.\(dead).Zz9yY8"])
        XCTAssertEqual(Set(DirectoryListing.names(tmp)),
                       ["victim", "dubdeck-engine.\(getpid()).live01", "dubdeck-engine.oldstyle", "dubdeck-engine.\(dead).linked", "dubdeck-server.\(dead).file",
                        "dubdeck-engine.+\(dead).x", "dubdeck-engine.0\(dead).x"])
        XCTAssertEqual(dir.read("tmp/victim/keep.txt"), "precious", "nothing followed through a link")
    }
}

/// SPEC §11.2: the job directory as one handle. segments_preview is opened once for a synthesis:
/// swapped for a link in the middle, nothing lands where the link points; files of ours with a
/// second hard link are refused, never appended to or cut.
final class OneHandleTests: JobTestCase {
    func testSegmentsPreviewSwappedForALinkMidSynthesisWritesNothingThere() throws {
        let store = try open()
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        try synth.synthesize(1)
        let h = historyBytes
        let victim = dir.file("victim")
        try FileIO.makeDirectories(victim)
        // The directory opened, then its path swapped for a link before the take is written and installed.
        let preview = try synth.previewHandle(refusingCurrentOf: [2])
        XCTAssertEqual(rename(jobPath + "/segments_preview", dir.file("moved-preview")), 0)
        XCTAssertEqual(symlink(victim, jobPath + "/segments_preview"), 0)
        let (audio, result) = try synth.render(try synth.prepare(2), rate: synth.outputRate)
        let rendered = try synth.writeTemporary(try synth.prepare(2), audio, result, in: preview)
        XCTAssertEqual(DirectoryListing.names(victim), [], "the temporary is in the directory opened")
        XCTAssertThrowsError(try synth.install(rendered, batch: nil)) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(e)")
        }
        XCTAssertEqual(DirectoryListing.names(victim), [], "nothing written where the link points")
        XCTAssertEqual(historyBytes, h, "the record was cut off again")
        XCTAssertFalse(DirectoryListing.names(dir.file("moved-preview")).contains { $0.hasPrefix("0002.") }, "the new take and its temporary removed")
    }

    /// The job opened, then its path swapped for a link to another copy of it (SPEC §11.2): the
    /// commit's store, history, lock, and a map written for it, all land in the directory opened;
    /// the copy the link points at is left byte for byte as it was.
    func testTheJobDirectorySwappedForALinkAfterOpeningMovesNoWriteThere() throws {
        let store = try TranscriptStore.open(jobPath)
        try store.commit([.edit(1, text: "before the swap")])
        let moved = dir.file("moved-ep01"), decoy = dir.file("decoy")
        try FileManager.default.copyItem(atPath: jobPath, toPath: decoy)
        func snapshot(_ d: String) -> [String: [UInt8]] {
            var out: [String: [UInt8]] = [:]
            for name in DirectoryListing.names(d) { out[name] = (try? FileIO.read(d + "/" + name)) ?? [] }
            return out
        }
        let decoyBefore = snapshot(decoy)
        XCTAssertEqual(rename(jobPath, moved), 0)
        XCTAssertEqual(symlink(decoy, jobPath), 0)

        let result = try store.commit([.edit(2, text: "after the swap")])
        XCTAssertEqual(result.records.count, 1)
        try CharacterMap(series: store.job.info.seriesID, episode: store.job.info.episode, embeddingType: "none", embeddingDim: 0, storeGeneration: 0,
                         labels: [LabelAssignment(label: "SPEAKER_00", characterID: "SPEAKER_01", similarity: 1, created: true)])
            .write(store.job.mapPlace)
        XCTAssertEqual(snapshot(decoy), decoyBefore, "nothing written where the link points")
        // Everything reached the directory opened.
        let reopened = try TranscriptStore.open(moved)
        XCTAssertEqual(reopened.state(2).text, "after the swap")
        XCTAssertEqual(try HistoryLog(path: moved + "/transcript_versions.jsonl").readAll().records.map(\.segment), [1, 2])
        XCTAssertNotNil(try CharacterMap.read(moved + "/characters.map.json"))
        XCTAssertFalse(DirectoryListing.names(moved).contains { $0.contains(".tmp-") }, "no temporary left")
    }

    func testFilesOfOursWithASecondHardLinkAreRefused() throws {
        let store = try open()
        try store.commit([.edit(1, text: "first")])
        for name in ["transcript_versions.jsonl", "transcript_store.json"] {
            let outside = dir.file("outside-" + name)
            XCTAssertEqual(link(jobPath + "/" + name, outside), 0)
            let before = try FileIO.read(outside)
            XCTAssertThrowsError(try open().commit([.edit(2, text: "second")]), name) { e in
                XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(name): \(e)")
                XCTAssertTrue("\(e)".contains("hard links"), "\(e)")
            }
            XCTAssertEqual(try FileIO.read(outside), before, "\(name): the other name's content untouched")
            unlink(outside)
        }
        XCTAssertNoThrow(try open().commit([.edit(2, text: "second")]), "one name again: fine")
    }
}

/// A store key dubdeck would never write ("01", "1.0", "0", "-0", a number past any integer, a
/// word) is 65 naming it: never an entry no line shows, silently.
final class StoreKeyTests: JobTestCase {
    func testOnlyPlainLineNumbersAreKeys() throws {
        try open().commit([.edit(1, text: "first")])
        let good = try XCTUnwrap(storeBytes)
        let text = String(decoding: good, as: UTF8.self)
        for bad in ["01", "1.0", "0", "-0", "18446744073709551617", "9007199254740993", "one", " 1"] {
            dir.write("ep01/transcript_store.json", text.replacingOccurrences(of: "\"1\":", with: "\"\(bad)\":"))
            XCTAssertThrowsError(try open(), bad) { e in
                XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(bad): \(e)")
                XCTAssertTrue("\(e)".contains("is not a line number"), "\(bad): \(e)")
            }
        }
        dir.write("ep01/transcript_store.json", text)
        XCTAssertEqual(try open().state(1).text, "first")
    }
}
