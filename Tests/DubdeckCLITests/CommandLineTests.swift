import Foundation
import TestSupport
import XCTest

final class CommandLineTests: XCTestCase {
    func json(_ r: DubdeckBinary.Result) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    }

    func testStatusSegmentsSetHistory() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        var r = DubdeckBinary.run(["set", job, "2", "--text", "Hey", "--approve", "--flag", "needs_retranslate"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = DubdeckBinary.run(["set", job, "2", "--lock", "--by", "alice"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = DubdeckBinary.run(["status", job, "--json"])
        let status = try json(r) as! [String: Any]
        for key in ["segments", "approved", "locked", "flagged", "stale", "overflow"] { XCTAssertNotNil(status[key], key) }
        XCTAssertEqual(status["segments"] as? Int, 5)
        XCTAssertEqual(status["approved"] as? Int, 1)
        XCTAssertEqual(status["locked"] as? Int, 1)
        XCTAssertEqual(status["flagged"] as? Int, 1)

        r = DubdeckBinary.run(["segments", job, "--json", "--filter", "locked"])
        let rows = try json(r) as! [[String: Any]]
        XCTAssertEqual(rows.count, 1)
        let row = rows[0]
        XCTAssertEqual(Set(row.keys), ["n", "start", "end", "orig_start", "orig_end", "speaker", "label_override", "character", "character_name", "src_text", "tgt_text",
                                       "approved", "locked", "flags", "audio_status", "cps", "too_fast", "predicted_s", "will_not_fit", "take", "voice_match"])
        XCTAssertEqual(row["n"] as? Int, 2)
        XCTAssertEqual(row["tgt_text"] as? String, "Hey")
        XCTAssertEqual(row["flags"] as? [String], ["needs_retranslate"])
        XCTAssertEqual(row["audio_status"] as? String, "none")
        XCTAssertTrue(row["character"] is NSNull)

        r = DubdeckBinary.run(["history", job, "2", "--json"])
        let hist = try json(r) as! [[String: Any]]
        XCTAssertEqual(hist.map { $0["action"] as? String }, ["edit", "approve", "flag", "lock"])
        XCTAssertEqual(hist.last?["by"] as? String, "alice")
        XCTAssertEqual(hist.first?["by"] as? String, "tester", "by defaults to $USER")
        r = DubdeckBinary.run(["history", job])
        XCTAssertTrue(r.stdout.contains("\"Hello there\" → \"Hey\""), r.stdout)
    }

    /// Reading speed: cps without spaces, the language's limit (17 for English, 4 for Japanese),
    /// job.json's max_cps and --max-cps over it, the too-fast and problems filters.
    func testReadingSpeedLimitsAndFilters() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        func rows(_ extra: [String] = []) throws -> [[String: Any]] {
            let r = DubdeckBinary.run(["segments", job, "--json"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try json(r) as! [[String: Any]]
        }
        let all = try rows()
        // "Good morning" in a 2 s slot: 11 characters without the space.
        XCTAssertEqual(all[0]["cps"] as? Double, 5.5)
        XCTAssertTrue(all.allSatisfy { ($0["too_fast"] as? Bool) == false }, "English allows 17")
        let limit = 6.0
        let fast = all.filter { ($0["cps"] as! Double) > limit }.map { $0["n"] as! Int }
        XCTAssertFalse(fast.isEmpty)
        XCTAssertLessThan(fast.count, all.count, "the limit splits the sample")
        XCTAssertEqual(try rows(["--filter", "too-fast", "--max-cps", "6"]).map { $0["n"] as! Int }, fast)
        dir.write("ep01/job.json", #"{"series_id": "test_series", "episode": "ep01", "max_cps": 6}"#)
        XCTAssertEqual(try rows(["--filter", "too-fast"]).map { $0["n"] as! Int }, fast)
        XCTAssertEqual(try rows(["--filter", "too-fast", "--max-cps", "100"]).count, 0, "the command line wins")
        dir.write("ep01/job.json", #"{"series_id": "test_series", "episode": "ep01", "tgt_lang": "ja"}"#)
        XCTAssertEqual(try rows(["--filter", "too-fast"]).map { $0["n"] as! Int }, all.filter { ($0["cps"] as! Double) > 4 }.map { $0["n"] as! Int })
        // Problems: what is not approved, flagged, stale, overflow or too fast.
        dir.write("ep01/job.json", #"{"series_id": "test_series", "episode": "ep01"}"#)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "1", "--approve"]).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "3", "--approve", "--flag", "needs_retranslate"]).status, 0)
        XCTAssertEqual(try rows(["--filter", "problems"]).map { $0["n"] as! Int }, all.map { $0["n"] as! Int }.filter { $0 != 1 })
        // Bounds: NaN, zero, past 100; a bad max_cps in job.json is bad input data.
        for bad in ["nan", "0", "101", "-3", "inf"] {
            XCTAssertEqual(DubdeckBinary.run(["segments", job, "--max-cps", bad]).status, 64, bad)
        }
        for bad in [#""fast""#, "0", "1e9", "null"] {
            dir.write("ep01/job.json", #"{"series_id": "test_series", "episode": "ep01", "max_cps": "# + bad + "}")
            XCTAssertEqual(DubdeckBinary.run(["segments", job]).status, bad == "null" ? 0 : 65, bad)
        }
    }

    /// Predicted fit (SPEC §11.9): `predicted_s`, `will_not_fit` past slot × --max-speedup, the `!`
    /// glyph and the will-not-fit and problems filters; reading speed never makes `!`.
    func testPredictedFitInSegments() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir, lines: [.init(0, 1.0, "SPEAKER_00", "", "This line has far too many words for one second of speech."),
                                                .init(2, 5.0, "SPEAKER_00", "", "Short one.")])
        func rows(_ extra: [String] = []) throws -> [[String: Any]] {
            let r = DubdeckBinary.run(["segments", job, "--json"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try json(r) as! [[String: Any]]
        }
        let all = try rows()
        let long = try XCTUnwrap(all[0]["predicted_s"] as? Double), short = try XCTUnwrap(all[1]["predicted_s"] as? Double)
        XCTAssertGreaterThan(long, 2.5)
        XCTAssertLessThan(short, 1.5)
        XCTAssertEqual(all.map { $0["will_not_fit"] as? Bool }, [true, false])
        XCTAssertEqual(try rows(["--filter", "will-not-fit"]).map { $0["n"] as! Int }, [1])
        XCTAssertEqual(try rows(["--filter", "will-not-fit", "--max-speedup", "4"]).count, long > 4 ? 1 : 0)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "1", "--approve"]).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--approve"]).status, 0)
        XCTAssertEqual(try rows(["--filter", "problems"]).map { $0["n"] as! Int }, [1], "approved, but its speech will not fit")
        let text = DubdeckBinary.run(["segments", job]).stdout.split(separator: "\n")
        XCTAssertEqual(text.map { $0.split(separator: "\t")[3] }, ["A..!", "A..."])
        // Reading speed alone: over a 1 char/s limit, the short line is still no problem and has no `!`.
        XCTAssertEqual(try rows(["--filter", "problems", "--max-cps", "1"]).map { $0["n"] as! Int }, [1])
        XCTAssertEqual(try rows(["--filter", "too-fast", "--max-cps", "1"]).map { $0["n"] as! Int }, [1, 2])
        for bad in ["nan", "0.99", "4.01", "-1", "inf"] {
            XCTAssertEqual(DubdeckBinary.run(["segments", job, "--max-speedup", bad]).status, 64, bad)
            XCTAssertEqual(DubdeckBinary.run(["review", job, "--script", "/dev/null", "--max-speedup", bad]).status, 64, bad)
        }
        // A target language espeak-ng does not speak: listed, with no prediction.
        dir.write("ep01/job.json", #"{"series_id": "test_series", "episode": "ep01", "tgt_lang": "qq"}"#)
        XCTAssertEqual(try rows().map { $0["predicted_s"] is NSNull }, [true, true])
    }

    func testLockedLineRefusesTextWith75() {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "1", "--lock"]).status, 0)
        let before = dir.read("ep01/transcript_store.json")
        let r = DubdeckBinary.run(["set", job, "1", "--text", "changed"])
        XCTAssertEqual(r.status, 75)
        XCTAssertTrue(r.stderr.contains("unlock first"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one error line")
        XCTAssertEqual(dir.read("ep01/transcript_store.json"), before)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "1", "--unlock", "--text", "changed"]).status, 0)
    }

    func testUsageErrorsAre64() {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "1"]).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "9", "--approve"]).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "1", "--lock", "--unlock"]).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["segments", job, "--filter", "bogus"]).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["status"]).status, 64)
        // An empty --store names no store: refused everywhere it is taken, never read as the default.
        for args in [["status", job], ["segments", job], ["synth", job, "1"], ["apply", job], ["review", job], ["characters", "list"],
                     ["characters", "show", "SPEAKER_00"], ["characters", "identify", job]] {
            let r = DubdeckBinary.run(args + ["--store", ""], cwd: dir.path)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--store is empty"), "\(args): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("data")), "no default store made")
    }

    func testBadInputsGiveOneLineAndTheDocumentedCode() {
        let dir = TempDir()
        dir.write("broken/translated.json", "{\"segments\": [{\"start\": 0, \"end\": 1, \"text\": \"a\"}, {\"start\": 2, \"end\": NaN}]}")
        var r = DubdeckBinary.run(["status", dir.file("broken")])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("translated.json") && r.stderr.contains("segment 2"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
        r = DubdeckBinary.run(["status", dir.file("missing")])
        XCTAssertEqual(r.status, 66)
        let job = Fixtures.job(in: dir)
        let future = "{\"version\": 9, \"segments\": {}}"
        dir.write("ep01/transcript_store.json", future)
        r = DubdeckBinary.run(["set", job, "1", "--approve"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("version 9"), r.stderr)
        XCTAssertEqual(dir.read("ep01/transcript_store.json"), future)
    }

    func testErrorMessagesDoNotEchoEscapeSequences() {
        let dir = TempDir()
        dir.write("evil\u{1b}[2J/translated.json", "{\"segments\": 5}")
        let r = DubdeckBinary.run(["status", dir.file("evil\u{1b}[2J")])
        XCTAssertEqual(r.status, 65)
        XCTAssertFalse(r.stderr.contains("\u{1b}"), r.stderr)
        XCTAssertTrue(r.stderr.contains("evil␛[2J"), r.stderr)
    }

    /// An argument that is not UTF-8 never reaches a command as U+FFFD (a text stored broken, a name
    /// that names nothing): 64, shown byte by byte, nothing written.
    func testAnArgumentThatIsNotUTF8IsRefused() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let before = dir.bytes("ep01/transcript_store.json")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import subprocess, sys; r = subprocess.run([sys.argv[1], 'set', sys.argv[2], '1', '--text', b'a\\xed\\xa0\\x80b\\xff'], capture_output=True); "
                       + "sys.stdout.buffer.write(str(r.returncode).encode() + b'|' + r.stderr)", DubdeckBinary.path, job]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertTrue(said.hasPrefix("64|"), said)
        XCTAssertTrue(said.contains("argument 5 is not UTF-8 text: a⟨0xED⟩⟨0xA0⟩⟨0x80⟩b⟨0xFF⟩"), said)
        XCTAssertFalse(said.contains("\u{FFFD}"), said)
        XCTAssertEqual(said.split(separator: "\n").count, 1, said)
        XCTAssertEqual(dir.bytes("ep01/transcript_store.json"), before)
        // dubdeck's own environment too: a store path that cannot be read is no reason to use the default.
        let q = Process()
        q.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        q.arguments = ["-c", "import os, subprocess, sys; e = os.environb.copy(); e[b'DUBDECK_STORE'] = b'/tmp/s\\xff.json'; "
                       + "r = subprocess.run([sys.argv[1], 'characters', 'list'], env=e, capture_output=True, cwd=sys.argv[2]); sys.stdout.buffer.write(str(r.returncode).encode() + b'|' + r.stderr)",
                       DubdeckBinary.path, dir.path]
        let out2 = Pipe()
        q.standardOutput = out2
        try q.run()
        let said2 = String(decoding: out2.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        q.waitUntilExit()
        XCTAssertEqual(said2, "64|dubdeck: DUBDECK_STORE is not UTF-8 text: /tmp/s⟨0xFF⟩.json\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("data")), "no default store made")
    }

    /// A job file that is a link to nothing is not a missing file: it is said (66), not read as absent.
    func testALinkToNothingIsSaid() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        unlink(job + "/job.json")
        XCTAssertEqual(symlink(dir.file("nowhere/job.json"), job + "/job.json"), 0)
        let r = DubdeckBinary.run(["status", job])
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertTrue(r.stderr.contains("job.json: a symbolic link to nothing"), r.stderr)
        // Links in a loop name no file either.
        unlink(job + "/job.json")
        XCTAssertEqual(symlink(job + "/loop.json", job + "/job.json"), 0)
        XCTAssertEqual(symlink(job + "/job.json", job + "/loop.json"), 0)
        let loop = DubdeckBinary.run(["status", job])
        XCTAssertEqual(loop.status, 66, loop.stderr)
        XCTAssertTrue(loop.stderr.contains("job.json: a loop of symbolic links"), loop.stderr)
    }

    func testTwoWritersNeverLoseAnUpdate() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        // Two CLI processes at once, each toggling different lines many times.
        let group = DispatchGroup()
        let collected = Collected<Int32>()
        for worker in 0..<2 {
            group.enter()
            DispatchQueue.global().async {
                for i in 0..<8 {
                    let n = worker == 0 ? 1 + i % 2 : 4 + i % 2
                    let r = DubdeckBinary.run(["set", job, String(n), "--text", "w\(worker) #\(i)"])
                    if r.status != 0 { collected.append(r.status) }
                }
                group.leave()
            }
        }
        group.wait()
        let failures = collected.values
        XCTAssertTrue(failures.allSatisfy { $0 == 75 }, "only conflicts may fail: \(failures)")
        let rows = try json(DubdeckBinary.run(["segments", job, "--json"])) as! [[String: Any]]
        let hist = try json(DubdeckBinary.run(["history", job, "--json"])) as! [[String: Any]]
        XCTAssertEqual(hist.count, 16 - failures.count)
        XCTAssertEqual(hist.map { $0["seq"] as! Int }, Array(1...hist.count), "seq is unique and gapless")
        // The store holds, for each line, the last text the history records for it.
        for n in [1, 2, 4, 5] {
            let last = hist.last { ($0["segment"] as! Int) == n }
            let after = (last?["after"] as? [String: Any])?["tgt_text"] as? String
            XCTAssertEqual(rows[n - 1]["tgt_text"] as? String, after, "line \(n)")
        }
    }

    func testDemoWritesReusesAndRefuses() throws {
        let dir = TempDir()
        var r = DubdeckBinary.run(["demo", dir.file("demo"), "--no-tui"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try json(DubdeckBinary.run(["segments", dir.file("demo"), "--json"])) as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(rows.count, 20)
        XCTAssertGreaterThanOrEqual(Set(rows.map { $0["speaker"] as! String }).count, 3)
        for row in rows {
            let src = row["src_text"] as! String
            XCTAssertTrue(src.unicodeScalars.allSatisfy { !(0x4E00...0x9FFF).contains($0.value) }, "kana only: \(src)")
        }
        XCTAssertEqual(DubdeckBinary.run(["set", dir.file("demo"), "1", "--approve"]).status, 0)
        r = DubdeckBinary.run(["demo", dir.file("demo"), "--no-tui"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("reusing"))
        XCTAssertNotNil(dir.read("demo/transcript_store.json"), "a reused demo keeps its review state")
        dir.write("other/notes.txt", "mine")
        r = DubdeckBinary.run(["demo", dir.file("other"), "--no-tui"])
        XCTAssertEqual(r.status, 73)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("other")), ["notes.txt"])
    }

    func testHelpOnEveryCommand() {
        for cmd in ["review", "demo", "status", "segments", "set", "history"] {
            let r = DubdeckBinary.run([cmd, "--help"])
            XCTAssertEqual(r.status, 0, cmd)
            XCTAssertTrue(r.stdout.contains("USAGE"), cmd)
        }
    }

    /// review --max-cps: the desk counts and marks lines against the command line's limit.
    func testReviewTakesTheReadingSpeedLimit() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        dir.write("s.keys", ":size 120x30\n:dump \(dir.file("screen.txt"))\n:quit\n")
        for (limit, some) in [("100", false), ("5", true)] {
            let r = DubdeckBinary.run(["review", job, "--script", dir.file("s.keys"), "--max-cps", limit])
            XCTAssertEqual(r.status, 0, r.stderr)
            let rows = try json(DubdeckBinary.run(["segments", job, "--json", "--max-cps", limit])) as! [[String: Any]]
            let count = rows.filter { $0["too_fast"] as? Bool == true }.count
            XCTAssertEqual(count > 0, some, "limit \(limit): \(count)")
            // Line 1 (selected): its reading speed in the detail pane, marked when over the limit.
            let over = rows[0]["too_fast"] as! Bool
            XCTAssertEqual(dir.read("screen.txt")!.contains("chars/s (over \(limit).0)"), over, dir.read("screen.txt")!)
        }
        XCTAssertEqual(DubdeckBinary.run(["review", job, "--script", dir.file("s.keys"), "--max-cps", "nan"]).status, 64)
    }

    func testDeskWithoutTerminalSaysSo() {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let r = DubdeckBinary.run([job])
        XCTAssertEqual(r.status, 64, "review is the default command; without a terminal it explains --script")
        XCTAssertTrue(r.stderr.contains("--script"), r.stderr)
    }
}
