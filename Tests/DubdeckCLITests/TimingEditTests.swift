import Foundation
import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckCore

/// SPEC §11.9: a dub line's own times — `set --start/--end/--shift [--allow-overlap]`: one record,
/// undoable, refused on a locked line and on an overlap with a neighbour (75, naming it), the take
/// made stale; `segments --json` shows both times; export and apply carry the new ones.
final class TimingEditTests: XCTestCase {
    func rows(_ job: String) throws -> [[String: Any]] {
        let r = DubdeckBinary.run(["segments", job, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
    }

    /// The second writer: another reviewer moved the neighbour after this one read the store. The
    /// overlap check runs under the job lock against the store as committed, so the change that would
    /// now overlap is refused (75, naming the line) and nothing is written; one that still fits lands.
    func testAnOverlapWithANeighbourAnotherWriterMovedIsRefusedUnderTheLock() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir, lines: [.init(0, 2, "A", "", "one"), .init(3, 5, "B", "", "two")])
        let mine = try TranscriptStore(job: try JobLoader.load(job), by: "me")
        let theirs = try TranscriptStore(job: try JobLoader.load(job), by: "them")
        _ = try theirs.commit([theirs.retime(2, to: TimeSlot(start: 2.2, end: 5)!)])
        let before = dir.read("ep01/transcript_store.json")
        XCTAssertThrowsError(try mine.commit([mine.retime(1, to: TimeSlot(start: 0, end: 2.5)!)])) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .conflict, "\(e)")
            XCTAssertTrue("\(e)".contains("line 2 (2.2–5 s)"), "\(e)")
        }
        XCTAssertEqual(dir.read("ep01/transcript_store.json"), before, "nothing written")
        _ = try mine.commit([mine.retime(1, to: TimeSlot(start: 0, end: 2.1)!)])
        XCTAssertEqual(try rows(job).map { $0["end"] as? Double }, [2.1, 5])
        XCTAssertEqual(try rows(job).map { $0["start"] as? Double }, [0, 2.2])
    }

    func testSetTimesIsOneUndoableRecordAndBothTimesAreShown() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)  // line 2: 3.5–5.0; line 1 ends at 3.0, line 3 starts at 5.5
        var r = DubdeckBinary.run(["set", job, "2", "--end", "5.3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("retime"), r.stdout)
        var row = try rows(job)[1]
        XCTAssertEqual(row["start"] as? Double, 3.5)
        XCTAssertEqual(row["end"] as? Double, 5.3)
        XCTAssertEqual(row["orig_start"] as? Double, 3.5)
        XCTAssertEqual(row["orig_end"] as? Double, 5.0)
        XCTAssertEqual(try rows(job)[0]["end"] as? Double, 3.0, "other lines keep their times")

        r = DubdeckBinary.run(["set", job, "2", "--shift=-0.25"])
        XCTAssertEqual(r.status, 0, r.stderr)
        row = try rows(job)[1]
        XCTAssertEqual([row["start"] as? Double, row["end"] as? Double], [3.25, 5.05])
        // The slot is the dub's: the reading speed is counted over it, the store keeps the pipeline's times.
        let store = try TranscriptStore(job: try JobLoader.load(job))
        XCTAssertEqual(store.segment(2).duration, 1.8, accuracy: 1e-9)
        XCTAssertEqual(store.job.segments[1].start, 3.5, "translated.json is never written")
        let entry = store.entry(2)
        XCTAssertEqual(entry["start"]?.doubleValue, 3.5)
        XCTAssertEqual(entry["slot_start"]?.doubleValue, 3.25)

        // One record each; undo puts the times back one step at a time.
        r = DubdeckBinary.run(["history", job, "2", "--json"])
        let hist = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(hist.map { $0["action"] as? String }, ["retime", "retime"])
        XCTAssertEqual(DubdeckBinary.run(["undo", job]).status, 0)
        row = try rows(job)[1]
        XCTAssertEqual([row["start"] as? Double, row["end"] as? Double], [3.5, 5.3])
        XCTAssertEqual(DubdeckBinary.run(["undo", job]).status, 0)
        row = try rows(job)[1]
        XCTAssertEqual([row["start"] as? Double, row["end"] as? Double], [3.5, 5.0])
        XCTAssertNil(try TranscriptStore(job: try JobLoader.load(job)).entry(2)["slot_start"], "back to the pipeline's times: no slot kept")
    }

    func testOverlapsLocksAndBadTimesAreRefusedAndChangeNothing() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let before = dir.read("ep01/transcript_store.json")
        // Into line 3 (5.5–8.0): refused, 75, naming it.
        var r = DubdeckBinary.run(["set", job, "2", "--end", "5.6"])
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertTrue(r.stderr.contains("overlap line 3"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line")
        // Into line 1 (ends 3.0) by a shift.
        r = DubdeckBinary.run(["set", job, "2", "--shift=-0.6"])
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertTrue(r.stderr.contains("overlap line 1"), r.stderr)
        XCTAssertEqual(dir.read("ep01/transcript_store.json"), before, "nothing written")
        // Allowed when asked for.
        r = DubdeckBinary.run(["set", job, "2", "--end", "5.6", "--allow-overlap"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try rows(job)[1]["end"] as? Double, 5.6)
        // Bad values: 64, before anything is opened for writing.
        for args in [["--start", "nan"], ["--end", "inf"], ["--start", "4.9", "--end", "4"], ["--shift=-10"], ["--start", "1", "--shift", "1"],
                     ["--start", "200000"], ["--allow-overlap"]] {
            r = DubdeckBinary.run(["set", job, "2"] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
        // A locked line's times are final, like its text.
        XCTAssertEqual(DubdeckBinary.run(["set", job, "4", "--lock"]).status, 0)
        r = DubdeckBinary.run(["set", job, "4", "--end", "9.2"])
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertTrue(r.stderr.contains("locked"), r.stderr)
        r = DubdeckBinary.run(["set", job, "4", "--unlock", "--end", "9.2"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testTheTakeGoesStaleAndExportAndApplyCarryTheNewTimes() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        var r = DubdeckBinary.run(["synth", job, "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try rows(job)[0]["audio_status"] as? String, "fresh")
        r = DubdeckBinary.run(["set", job, "1", "--start", "0.8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try rows(job)[0]["audio_status"] as? String, "stale", "a take made for another slot")
        r = DubdeckBinary.run(["export", job, "--format", "srt", "--out", "-"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("00:00:00,800 --> 00:00:03,000"), r.stdout)
        r = DubdeckBinary.run(["apply", job])
        XCTAssertEqual(r.status, 0, r.stderr)
        let edited = try JSONSerialization.jsonObject(with: Data(dir.read("ep01/translated.edited.json")!.utf8)) as! [String: Any]
        let first = (edited["segments"] as! [[String: Any]])[0]
        XCTAssertEqual(first["start"] as? Double, 0.8)
        XCTAssertEqual(first["orig_start"] as? Double, 1.0)
        XCTAssertNil((edited["segments"] as! [[String: Any]])[1]["orig_start"], "an unmoved line is as it was")
    }

    /// The reader refuses what no writer writes: half a slot, a slot out of bounds or reversed.
    func testAStoreWithABadSlotIsRefusedNamingTheLine() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--end", "5.3"]).status, 0)
        let good = dir.read("ep01/transcript_store.json")!
        for (bad, what) in [("\"slot_end\":5.3", "\"slot_end\":null"), ("\"slot_end\":5.3", "\"slot_end\":1.0"),
                            ("\"slot_end\":5.3", "\"slot_end\":1e9"), ("\"slot_end\":5.3", "\"slot_end\":\"5.3\"")] {
            XCTAssertTrue(good.contains(bad), good)
            dir.write("ep01/transcript_store.json", good.replacingOccurrences(of: bad, with: what))
            let r = DubdeckBinary.run(["segments", job])
            XCTAssertEqual(r.status, 65, "\(what): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("segment 2"), r.stderr)
        }
    }
}

/// SPEC §11.9: back to the machine translation — `set --reset-text`, and in the desk the history's
/// last row (the MT text, the first version of every line).
final class ResetTextTests: XCTestCase {
    func testResetTextRestoresTheMachineTranslationAsOneUndoableRecord() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--text", "Hi there, friend"]).status, 0)
        var r = DubdeckBinary.run(["set", job, "2", "--reset-text"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("reset-text"), r.stdout)
        XCTAssertEqual(try TranscriptStore(job: try JobLoader.load(job)).state(2).text, "Hello there")
        XCTAssertFalse(try TranscriptStore(job: try JobLoader.load(job)).state(2).edited)
        r = DubdeckBinary.run(["history", job, "2"])
        XCTAssertTrue(r.stdout.contains("reset-text\t\"Hi there, friend\" → \"Hello there\""), r.stdout)
        XCTAssertEqual(DubdeckBinary.run(["undo", job]).status, 0)
        XCTAssertEqual(try TranscriptStore(job: try JobLoader.load(job)).state(2).text, "Hi there, friend")
        // Refused like any text change on a locked line; with --text it makes no sense.
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--lock"]).status, 0)
        r = DubdeckBinary.run(["set", job, "2", "--reset-text"])
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--reset-text", "--text", "x"]).status, 64)
    }
}
