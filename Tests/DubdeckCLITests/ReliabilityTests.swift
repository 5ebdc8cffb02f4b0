import Foundation
import TestSupport
import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// Crash consistency, concurrent writers and failing writes.
final class CrashConsistencyTests: XCTestCase {
    static var torture: String { (DubdeckBinary.path as NSString).deletingLastPathComponent + "/dubdeck-torture" }

    /// Runs the torture child from `start` and SIGKILLs it after a random number of microseconds.
    static func killAtRandom(_ job: String, from start: Int, mode: String? = nil, output: Any, within micros: ClosedRange<Int>,
                             _ rng: inout SystemRandomNumberGenerator) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: torture)
        p.arguments = [job, String(start)] + (mode.map { [$0] } ?? [])
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        // A crash is not a kill: no backtracer holding the output pipe past the child.
        p.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        try p.run()
        usleep(useconds_t(Int.random(in: micros, using: &rng)))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        return p
    }

    func testSIGKILLAtRandomMomentsLosesNothingReported() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: CrashConsistencyTests.torture), CrashConsistencyTests.torture)
        let log = dir.file("saved.log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        var rng = SystemRandomNumberGenerator()
        var next = 0
        var kills = 0
        var torn = 0
        for round in 0..<200 {
            let out = FileHandle(forWritingAtPath: log)!
            out.seekToEndOfFile()
            let p = try CrashConsistencyTests.killAtRandom(job, from: next, output: out, within: 3_000...45_000, &rng)
            try out.close()
            if p.terminationReason == .uncaughtSignal { kills += 1 }

            // The store parses; the history reads (a torn last line is only a warning).
            let store = try TranscriptStore(job: try JobLoader.load(job))
            let history = try store.history.readAll()
            if history.warning != nil { torn += 1 }
            let records = history.records
            XCTAssertEqual(records.map { $0.seq }, Array((0..<records.count).map { $0 + 1 }), "round \(round): seq gapless")
            // The store is a state the history explains: each line's entry is the last record's
            // "after", or its "before" when that record is the very last one (killed between the
            // history append and the store save).
            for seg in store.job.segments {
                guard let last = records.last(where: { $0.segment == seg.number }) else {
                    XCTAssertFalse(store.hasEntry(seg.number), "round \(round): an entry without history")
                    continue
                }
                let entry = JSONValue.object(store.entry(seg.number))
                let ok = TranscriptStore.semanticallyEqual(entry, last.after)
                    || (last.seq == records.last?.seq && TranscriptStore.semanticallyEqual(entry, last.before))
                XCTAssertTrue(ok, "round \(round): line \(seg.number) is in no state the history reaches")
            }
            // Every edit the child reported as saved is there (or a later one of the same line).
            let lines = (try String(contentsOfFile: log, encoding: .utf8)).split(separator: "\n")
            var lastSaved: [Int: Int] = [:]
            for l in lines {
                let f = l.split(separator: " ")
                guard f.count == 3, f[0] == "saved", let i = Int(f[1]), let n = Int(f[2]) else { continue }
                if i % 5 != 4 { lastSaved[n] = max(lastSaved[n] ?? -1, i) }
                next = max(next, i + 1)
            }
            for (n, i) in lastSaved {
                let text = store.state(n).text
                let have = text.hasPrefix("v") ? Int(text.dropFirst()) ?? -1 : -1
                XCTAssertGreaterThanOrEqual(have, i, "round \(round): line \(n) lost saved edit v\(i) (has \(text))")
            }
            next += 1000  // texts stay unique across rounds even when a commit was not reported
        }
        XCTAssertGreaterThanOrEqual(kills, 190, "the child was killed mid-work")
        print("crash test: \(kills) kills, \(torn) torn history tails seen")
    }

    /// Kills during syntheses, undo, redo and take choices: after each kill the job is a state the
    /// history explains (at most one interrupted save trailing it), and once the next writer has
    /// repaired it the store is exactly the history's replay and NNNN.wav the take it names.
    func testSIGKILLDuringMixedOperationsLeavesAJobTheNextWriterRepairs() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        var rng = SystemRandomNumberGenerator()
        var next = 0
        var phantoms = 0
        for round in 0..<60 {
            let out = Pipe()
            _ = try CrashConsistencyTests.killAtRandom(job, from: next, mode: "mixed", output: out, within: 5_000...80_000, &rng)
            let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            next += said.split(separator: "\n").count + 1
            // Killed: at most an interrupted save trails the history; NNNN.wav may lag one commit.
            if JobInvariants.hasPhantom(job: job) { phantoms += 1 }
            let warnings = try TranscriptStore(job: try JobLoader.load(job), by: "next").repairHistory()
            XCTAssertEqual(JobInvariants.problems(job: job), [], "round \(round), repaired (\(warnings))")
        }
        print("mixed crash test: \(phantoms) interrupted saves repaired")
    }
}

final class ConcurrencyTests: XCTestCase {
    func testDeskScriptAndCLIAtOnce() throws {
        let dir = TempDir()
        let lines = (0..<40).map { Fixtures.Line(Double($0) * 2, Double($0) * 2 + 1.5, "S", "", "line \($0 + 1)") }
        let job = Fixtures.job(in: dir, lines: lines)
        // The desk approves the odd lines; a CLI edits the even ones, at the same time.
        var script = ":size 100x30\n"
        for _ in 0..<20 { script += "a\nj\nj\n" }
        script += ":wait-idle\n:quit\n"
        dir.write("desk.keys", script)
        let group = DispatchGroup()
        let desk = Collected<DubdeckBinary.Result>()
        let keys = dir.file("desk.keys")
        group.enter()
        DispatchQueue.global().async {
            desk.append(DubdeckBinary.run(["review", job, "--script", keys]))
            group.leave()
        }
        var cliFailures: [Int32] = []
        for n in stride(from: 2, through: 40, by: 2) {
            let r = DubdeckBinary.run(["set", job, String(n), "--text", "cli \(n)"])
            if r.status != 0 { cliFailures.append(r.status) }
        }
        group.wait()
        let deskResult = desk.values.first
        XCTAssertEqual(deskResult?.status, 0, deskResult?.stderr ?? "")
        XCTAssertTrue(cliFailures.allSatisfy { $0 == 75 }, "\(cliFailures)")
        let store = try TranscriptStore(job: try JobLoader.load(job))
        for n in stride(from: 1, through: 39, by: 2) { XCTAssertTrue(store.state(n).approved, "desk approval of line \(n) kept") }
        for n in stride(from: 2, through: 40, by: 2) where cliFailures.isEmpty {
            XCTAssertEqual(store.state(n).text, "cli \(n)", "CLI edit of line \(n) kept")
        }
    }

    func testTwoProcessesOnTheCharacterStore() throws {
        let dir = TempDir()
        let env = ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("data/characters.json")]
        XCTAssertEqual(DubdeckBinary.run(["demo", dir.file("ep01"), "--no-tui"], env: env).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", dir.file("ep01")], env: env).status, 0)
        let group = DispatchGroup()
        let collected = Collected<Int32>()
        for id in ["SPEAKER_01", "SPEAKER_02"] {
            group.enter()
            DispatchQueue.global().async {
                for k in 0..<6 {
                    let r = DubdeckBinary.run(["characters", "rename", id, "\(id)-\(k)"], env: env)
                    if r.status != 0 { collected.append(r.status) }
                }
                group.leave()
            }
        }
        group.wait()
        let failures = collected.values
        XCTAssertTrue(failures.allSatisfy { $0 == 75 }, "\(failures)")
        let out = DubdeckBinary.run(["characters", "list", "--json"], env: env)
        let list = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as! [[String: Any]]
        let names = Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as! String, $0["name"] as! String) })
        if failures.isEmpty {
            XCTAssertEqual(names["SPEAKER_01"], "SPEAKER_01-5", "no lost update")
            XCTAssertEqual(names["SPEAKER_02"], "SPEAKER_02-5", "no lost update")
        }
        XCTAssertEqual(list.count, 4)
    }
}

final class FaultTests: XCTestCase {

    func testFailedHistoryAppendWritesNoStore() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let store = try TranscriptStore(job: try JobLoader.load(job))
        try store.commit([.edit(1, text: "kept")])
        let before = (dir.read("ep01/transcript_store.json"), dir.read("ep01/transcript_versions.jsonl"))
        var faults = FileFaults()
        faults.failWrite = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try store.commit([.edit(2, text: "lost")])) { XCTAssertEqual(($0 as! DubdeckError).status, .ioError) }
        }
        XCTAssertEqual(dir.read("ep01/transcript_store.json"), before.0)
        XCTAssertEqual(dir.read("ep01/transcript_versions.jsonl"), before.1)
        XCTAssertEqual(try TranscriptStore(job: try JobLoader.load(job)).state(2).text, "Hello there")
    }

    func testFailedCharacterStoreSaveKeepsTheOldFile() throws {
        let dir = TempDir()
        let saved = Environment.get("DUBDECK_STORE_KEY")
        setenv("DUBDECK_STORE_KEY", Base64.encode([UInt8](repeating: 8, count: 32)), 1)
        defer { if let saved { setenv("DUBDECK_STORE_KEY", saved, 1) } else { unsetenv("DUBDECK_STORE_KEY") } }
        let path = dir.file("characters.json")
        let s = try CharacterStore.open(path)
        try s.update { _ = $0.create(name: "Nami") }
        let before = dir.bytes("characters.json")
        var faults = FileFaults()
        faults.failFsync = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try s.update { try $0.rename("SPEAKER_01", to: "Lost") })
        }
        XCTAssertEqual(dir.bytes("characters.json"), before)
        XCTAssertEqual(try CharacterStore.open(path).characters.first?.name, "Nami")
        XCTAssertFalse(DirectoryListing.names(dir.path).contains { $0.contains(".tmp-") })
    }

    func testFailedTakeWriteKeepsTheOldTake() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let store = try TranscriptStore(job: try JobLoader.load(job))
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        try synth.synthesize(1)
        let take = dir.bytes("ep01/segments_preview/0001.wav")
        let entry = store.entry(1)
        try store.commit([.edit(1, text: "Something else entirely.")])
        var faults = FileFaults()
        faults.failFsync = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try synth.synthesize(1))
        }
        XCTAssertEqual(dir.bytes("ep01/segments_preview/0001.wav"), take, "the old take stays")
        XCTAssertFalse(FileIO.exists(dir.file("ep01/segments_preview/0001.take-2.wav")), "nothing rotated")
        XCTAssertEqual(try TranscriptStore(job: try JobLoader.load(job)).entry(1)["last_preview"], entry["last_preview"])
        XCTAssertFalse(DirectoryListing.names(dir.file("ep01/segments_preview")).contains { $0.contains(".tmp-") })
    }

    func testShortWriteOfTheHistoryIsCutAtOnceAndNeverReachesTheStore() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let store = try TranscriptStore(job: try JobLoader.load(job))
        try store.commit([.edit(1, text: "first")])
        let storeBefore = dir.read("ep01/transcript_store.json")
        let historyBefore = dir.read("ep01/transcript_versions.jsonl")
        var faults = FileFaults()
        faults.shortWrite = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try store.commit([.edit(2, text: "half")])) { e in
                XCTAssertEqual((e as! DubdeckError).status, .ioError)
                XCTAssertTrue((e as! DubdeckError).message.contains("short write"), (e as! DubdeckError).message)
            }
        }
        XCTAssertEqual(dir.read("ep01/transcript_store.json"), storeBefore, "no store save after a failed append")
        XCTAssertEqual(dir.read("ep01/transcript_versions.jsonl"), historyBefore, "the half record was cut off at once")
        try store.commit([.edit(2, text: "whole")])
        let healed = try store.history.readAll()
        XCTAssertNil(healed.warning)
        XCTAssertEqual(healed.records.map { $0.seq }, [1, 2])
        XCTAssertEqual(try TranscriptStore(job: try JobLoader.load(job)).state(2).text, "whole")
    }

    func testReadOnlyFileSystemIsReportedAndNothingChanges() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let store = try TranscriptStore(job: try JobLoader.load(job))
        try store.commit([.approve(1, true)])
        let before = (dir.read("ep01/transcript_store.json"), dir.read("ep01/transcript_versions.jsonl"))
        var faults = FileFaults()
        faults.readOnly = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try store.commit([.approve(2, true)])) { e in
                XCTAssertTrue((e as! DubdeckError).message.contains("Read-only file system"), (e as! DubdeckError).message)
            }
        }
        XCTAssertEqual(dir.read("ep01/transcript_store.json"), before.0)
        XCTAssertEqual(dir.read("ep01/transcript_versions.jsonl"), before.1)
    }

    func testAFullFileSystemIsReportedAndTheOldFilesStay() throws {
        // The rename over the store fails: reported, the store untouched.
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let store = try TranscriptStore(job: try JobLoader.load(job))
        try store.commit([.approve(1, true)])
        let before = dir.read("ep01/transcript_store.json")
        var faults = FileFaults()
        faults.failRename = true
        try FileIO.$faults.withValue(faults) {
            XCTAssertThrowsError(try store.commit([.approve(2, true)])) { XCTAssertEqual(($0 as! DubdeckError).status, .ioError) }
        }
        XCTAssertEqual(dir.read("ep01/transcript_store.json"), before)
    }
}

/// The realistic full disk, on a real small file system (tmpfs, mounted by the test as root): a
/// history record of a few hundred bytes fits, the 1.5 MB store rewrite does not.
final class FullDiskTests: XCTestCase {
    func testAFullDiskLeavesNoHistoryRecordTheStoreNeverGot() throws {
        let dir = TempDir()
        let mnt = dir.file("mnt")
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt]
        try mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else {
            // Never skipped: without root it fails saying why (CI runs as root).
            XCTFail("this test needs root to mount a small tmpfs (mount exited \(mount.terminationStatus)); run the suite as root")
            return
        }
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [mnt]
            try? umount.run()
            umount.waitUntilExit()
        }
        // 3,000 lines, every one edited in a store another tool wrote: about 1.5 MB.
        let lines = (0..<3000).map { Fixtures.Line(Double($0) * 2, Double($0) * 2 + 1.5, "SPEAKER_0\($0 % 4)", "", "machine line \($0)") }
        let sub = TempDir()
        let src = Fixtures.job(in: sub, lines: lines)
        let job = mnt + "/ep01"
        try FileManager.default.copyItem(atPath: src, toPath: job)
        var entries: [(String, JSONValue)] = []
        for (i, l) in lines.enumerated() {
            entries.append((String(i + 1), .object(JSONObject([
                ("start", .number(l.start)), ("end", .number(l.end)),
                ("tgt_text", .string("reviewed line \(i) " + String(repeating: "words ", count: 60))), ("approved", .bool(false)),
                ("locked", .bool(false)), ("locked_at", .null), ("locked_by", .null), ("flags", .array([])), ("audio_status", .string("none")),
            ]))))
        }
        let store = JSONWriter.encode(.object(JSONObject([("version", .number(3)), ("segments", .object(JSONObject(entries)))])))
        XCTAssertGreaterThan(store.count, 1_000_000)
        _ = FileManager.default.createFile(atPath: job + "/transcript_store.json", contents: Data(store))
        XCTAssertEqual(DubdeckBinary.run(["set", job, "1", "--text", "a real change"]).status, 0)

        // Fill the disk to about 64 KB free: an append fits, the store's temporary copy does not.
        var fs = statvfs()
        statvfs(mnt, &fs)
        let free = Int(fs.f_bavail) * Int(fs.f_bsize)
        let filler = mnt + "/filler"
        _ = FileManager.default.createFile(atPath: filler, contents: Data(repeating: 7, count: max(0, free - 64 * 1024)))
        statvfs(mnt, &fs)
        XCTAssertLessThan(Int(fs.f_bavail) * Int(fs.f_bsize), store.count, "the store no longer fits")

        let history = FileManager.default.contents(atPath: job + "/transcript_versions.jsonl")
        let storeBefore = FileManager.default.contents(atPath: job + "/transcript_store.json")
        let r = DubdeckBinary.run(["set", job, "5", "--approve"])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: job + "/transcript_versions.jsonl"), history, "the record was cut off again")
        XCTAssertEqual(FileManager.default.contents(atPath: job + "/transcript_store.json"), storeBefore)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: job).contains { $0.contains(".tmp-") }, "no temporary left")
        // Undo is not stuck on a change the store never got: it undoes the real one.
        try FileManager.default.removeItem(atPath: filler)
        let u = DubdeckBinary.run(["undo", job])
        XCTAssertEqual(u.status, 0, u.stderr)
        XCTAssertTrue(u.stdout.contains("line 1"), u.stdout)
        let after = try TranscriptStore(job: try JobLoader.load(job))
        XCTAssertTrue(after.state(1).text.hasPrefix("reviewed line 0 "), "the real change was undone")
        XCTAssertFalse(after.state(5).approved)
        XCTAssertEqual(try after.history.readAll().records.map { $0.action }, ["edit", "undo"])
    }
}
