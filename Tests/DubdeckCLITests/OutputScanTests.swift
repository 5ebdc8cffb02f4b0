import Foundation
import TestSupport
import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// Every human-readable output of every command passes the sanitizer: a job full of escape
/// sequences, C1 and bidi controls (texts, labels, store fields, history fields, character names)
/// run through each command, and no output byte is ESC, BEL, another C0 control, a C1 control or a
/// bidi control (SPEC §10.1).
final class OutputScanTests: XCTestCase {
    static let hostile = "\u{1b}]0;title\u{07}\u{1b}[2J\u{9b}31m\u{9d}52;c;x\u{9c}\u{202e}rev\u{2066}\u{200f}\u{061c}\u{7f}\u{08}"

    /// The first forbidden scalar in the output, or nil.
    static func forbidden(_ text: String) -> String? {
        for u in text.unicodeScalars {
            let v = u.value
            if (v < 0x20 && v != 0x0A && v != 0x09) || (0x7F...0x9F).contains(v) || Sanitizer.isBidiControl(v) {
                return "U+" + String(v, radix: 16, uppercase: true)
            }
        }
        return nil
    }

    func testNoCommandPrintsAControlCharacter() throws {
        let dir = TempDir()
        let h = OutputScanTests.hostile
        let lines = [
            Fixtures.Line(0, 2, "SPEAKER_00" + h, "src " + h, "text " + h),
            Fixtures.Line(3, 5, "SPEAKER_01", "src", "plain"),
        ]
        let job = Fixtures.job(in: dir, lines: lines)
        let env = ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("data/characters.json"), "USER": "rev" + h]
        func run(_ args: [String]) -> DubdeckBinary.Result {
            DubdeckBinary.run(args, env: env, cwd: dir.path)
        }
        // Changes by the CLI (by a hostile user name), a store field and history fields another tool wrote.
        XCTAssertEqual(run(["set", job, "1", "--text", "edited " + h, "--flag", "mine" + h.filter { !$0.isWhitespace }]).status, 0)
        XCTAssertEqual(run(["set", job, "2", "--approve"]).status, 0)
        var store = dir.read("ep01/transcript_store.json")!
        store = store.replacingOccurrences(of: "\"audio_status\":\"none\"", with: "\"audio_status\":\"none\\u001b[31m\\u009b\\u202e\"")
        dir.write("ep01/transcript_store.json", store)
        var history = dir.read("ep01/transcript_versions.jsonl")!
        history = history.replacingOccurrences(of: "\"action\":\"approve\"", with: "\"action\":\"approve\\u001b]0;x\\u0007\\u009d\"")
        history = history.replacingOccurrences(of: "\"ts\":\"", with: "\"ts\":\"\\u001b[2J\\u202e")
        dir.write("ep01/transcript_versions.jsonl", history)
        // A character store whose names and notes are hostile.
        XCTAssertEqual(run(["demo", dir.file("demo"), "--no-tui"]).status, 0)
        XCTAssertEqual(run(["characters", "identify", dir.file("demo")]).status, 0)
        XCTAssertEqual(run(["characters", "rename", "SPEAKER_01", "Hana" + h]).status, 0)

        let commands: [[String]] = [
            ["status", job], ["status", job, "--json"], ["segments", job], ["segments", job, "--json"],
            ["segments", job, "--filter", "flagged"], ["history", job], ["history", job, "1"], ["history", job, "--json"],
            ["set", job, "2", "--text", "again " + h], ["undo", job], ["redo", job], ["undo", job, "--any"],
            ["apply", job, "--out", dir.file("out")], ["export", job, "--format", "srt", "--out", dir.file("x.srt")],
            ["characters", "list"], ["characters", "list", "--json"], ["characters", "show", "SPEAKER_01"],
            ["characters", "show", "SPEAKER_01", "--json"], ["segments", dir.file("demo")], ["status", dir.file("demo")],
            ["synth", dir.file("demo"), "1"], ["take", dir.file("demo"), "1", "1"], ["history", dir.file("demo")],
            ["play", job, "1", "--original"], ["take", job, "1", "2"],
            ["review", job, "--script", dir.file("nope" + h)], ["status", dir.file("missing" + h)],
            ["set", job, "9", "--approve"], ["status", job, "--x" + h], ["characters", "show", "ID" + h],
            ["import", dir.file("x.srt"), "--out", dir.file("imported")], ["segments", dir.file("imported")],
            ["characters", "rename", "SPEAKER_02", "Ken" + h], ["merge-mt", job, dir.file("missing" + h)],
        ]
        var ran = 0
        for args in commands {
            let r = run(args)
            ran += 1
            XCTAssertNil(OutputScanTests.forbidden(r.stdout), "\(args.prefix(2)): stdout \(OutputScanTests.forbidden(r.stdout) ?? ""): \(r.stdout.prefix(300))")
            XCTAssertNil(OutputScanTests.forbidden(r.stderr), "\(args.prefix(2)): stderr \(OutputScanTests.forbidden(r.stderr) ?? ""): \(r.stderr.prefix(300))")
            XCTAssertNotEqual(r.status, -1)
        }
        XCTAssertEqual(ran, commands.count)
        // The placeholders are visible and distinct, never U+FFFD.
        let seg = run(["segments", job]).stdout
        XCTAssertTrue(seg.contains("\u{241B}]0;title\u{2407}"), seg)
        XCTAssertTrue(seg.contains("\u{27E8}U+009B\u{27E9}31m"), seg)
        XCTAssertTrue(seg.contains("\u{27E8}U+202E\u{27E9}rev"), seg)
        XCTAssertFalse(seg.contains("\u{FFFD}"), seg)
        // JSON keeps the value (as \u escapes), the terminal never sees the raw byte.
        let json = try JSONSerialization.jsonObject(with: Data(run(["segments", job, "--json"]).stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(json[0]["src_text"] as? String, "src " + h)
    }
}

/// Exit codes that a script relies on (SPEC §10.1): a failed standard output, Ctrl-C, an engine that
/// leaves a child behind.
final class ExitCodeTests: XCTestCase {
    /// Running: it exists and is not a zombie waiting for a parent that does not reap it.
    func isRunning(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    func runTo(_ output: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DubdeckBinary.path)
        p.arguments = args
        if !FileManager.default.fileExists(atPath: output) { _ = FileManager.default.createFile(atPath: output, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: output) else { throw DubdeckError(.noInput, "cannot open \(output)") }
        p.standardOutput = handle
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, e)
    }

    func testAFullStandardOutputIsExit74() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        for args in [["segments", job], ["export", job, "--format", "srt"], ["history", job, "--json"], ["status", job], ["--help"]] {
            let (status, stderr) = try runTo("/dev/full", args)
            XCTAssertEqual(status, 74, "\(args): \(stderr)")
            XCTAssertTrue(stderr.contains("standard output"), stderr)
        }
        // And to a FIFO or /dev/stdout as --out: written through, never replaced.
        let (status, _) = try runTo(dir.file("out.srt"), ["export", job, "--format", "srt", "--out", "/dev/stdout"])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(dir.read("out.srt")?.contains("Good morning") == true)
        var st = stat()
        XCTAssertEqual(lstat("/dev/stdout", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFLNK, "/dev/stdout is still the link it was")
    }

    /// A slow engine that starts a background child: Ctrl-C kills both, removes the temporary
    /// directory holding the line's text, and exits 130; a batch says what it did first.
    func testCtrlCStopsCleanlyAndNoEngineChildOutlivesIt() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let pidFile = dir.file("child.pid")
        let script = "(sleep 30; touch \(dir.file("survived"))) & echo $! > \(pidFile); sleep 30"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DubdeckBinary.path)
        p.arguments = ["synth", job, "1", "--engine-command", "sh", "-c", script, "sh", "{out}", "{text_file}"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("dubdeck-engine.") } ?? [])
        try p.run()
        var waited = 0
        while !FileManager.default.fileExists(atPath: pidFile) && waited < 200 { usleep(50_000); waited += 1 }
        usleep(100_000)
        let childText = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
        let child = Int32(childText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        XCTAssertGreaterThan(child, 0)
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130)
        usleep(200_000)
        XCTAssertFalse(isRunning(child), "the engine's background child was killed")
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("dubdeck-engine.") } ?? [])
        XCTAssertEqual(after.subtracting(before), [], "no temporary directory left")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: job).contains { $0.contains(".tmp-") })
        XCTAssertNil(dir.read("ep01/transcript_versions.jsonl"), "nothing recorded")

        // An engine that exits at once but leaves a child running: the child is killed with it.
        let quick = "(sleep 30) & echo $! > \(pidFile).2; espeak-ng -w \"$1\" -f \"$2\""
        let q = Process()
        q.executableURL = URL(fileURLWithPath: DubdeckBinary.path)
        q.arguments = ["synth", job, "2", "--engine-command", "sh", "-c", quick, "sh", "{out}", "{text_file}"]
        q.standardOutput = FileHandle.nullDevice
        q.standardError = FileHandle.nullDevice
        try q.run()
        q.waitUntilExit()
        XCTAssertEqual(q.terminationStatus, 0)
        let quickChild = Int32(((try? String(contentsOfFile: pidFile + ".2", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        XCTAssertGreaterThan(quickChild, 0)
        usleep(100_000)
        XCTAssertFalse(isRunning(quickChild), "no background child outlives the engine")
    }

    /// SIGKILL leaves no handler to run: the engine folder it left (a line's text in it) goes with
    /// the next operation on the job (SPEC §11.6).
    func testAnEngineFolderASIGKILLLeftGoesWithTheNextOperation() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let marker = dir.file("started")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DubdeckBinary.path)
        p.arguments = ["synth", job, "1", "--engine-command", "sh", "-c", "touch \"$0\"; sleep 30", marker, "{out}", "{text_file}"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: marker), Date() < deadline { usleep(20_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "the engine started")
        let folders = { ((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix("dubdeck-engine.\(p.processIdentifier).") } }
        XCTAssertEqual(folders().count, 1, "its folder, named with its process")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(folders().count, 1, "no handler ran: the folder is left")
        XCTAssertEqual(DubdeckBinary.run(["status", job]).status, 0)
        XCTAssertEqual(folders(), [], "the next operation on the job removed it")
    }

    /// A persistent engine (a model server that would outlive its client) and Ctrl-C, SIGTERM or
    /// SIGHUP at moments across its start and its answers: its process group is killed every time,
    /// no temporary directory or file is left, and the exit code says which signal it was.
    func testEverySignalKillsTheEngineServerAndLeavesNoTemporary() throws {
        let script = DubdeckBinary.packageRoot + "/Tests/Fixtures/misbehaving_server.py"
        func servers() -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("dubdeck-server.") } ?? []) }
        for (sig, code) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143)), (SIGHUP, Int32(129))] {
            for delay in [40_000, 250_000, 700_000] as [UInt32] {
                let dir = TempDir()
                let job = Fixtures.job(in: dir)
                let pids = dir.file("pids")
                let before = servers()
                let p = Process()
                p.executableURL = URL(fileURLWithPath: DubdeckBinary.path)
                p.arguments = ["synth", job, "--all", "--engine", "server", "--engine-command", "python3", script, "slow-pid", pids]
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                usleep(delay)
                kill(p.processIdentifier, sig)
                p.waitUntilExit()
                XCTAssertEqual(p.terminationStatus, code, "signal \(sig) after \(delay) µs")
                usleep(300_000)
                let started = ((try? String(contentsOfFile: pids, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
                for pid in started { XCTAssertFalse(isRunning(pid), "signal \(sig) after \(delay) µs: the engine server \(pid) outlived dubdeck") }
                XCTAssertEqual(servers().subtracting(before), [], "signal \(sig) after \(delay) µs: no temporary directory left")
                XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: job).contains { $0.contains(".tmp-") })
                XCTAssertFalse(((try? FileManager.default.contentsOfDirectory(atPath: job + "/segments_preview")) ?? []).contains { $0.contains(".tmp-") },
                               "signal \(sig) after \(delay) µs: no take temporary left")
                XCTAssertEqual(JobInvariants.problems(job: job), [])
            }
        }
    }

    func testCtrlCInABatchStopsAfterTheCurrentLineAndSaysWhatWasDone() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DubdeckBinary.path)
        // Each line takes at least 0.4 s.
        p.arguments = ["synth", job, "--all", "--engine-command", "sh", "-c", "sleep 0.4; espeak-ng -w \"$1\" -f \"$2\"", "sh", "{out}", "{text_file}"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        usleep(900_000)
        kill(p.processIdentifier, SIGINT)
        let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130)
        XCTAssertTrue(said.contains("(interrupted)"), said)
        XCTAssertTrue(said.hasPrefix("synthesized "), said)
        XCTAssertEqual(JobInvariants.problems(job: job), [])
    }
}
