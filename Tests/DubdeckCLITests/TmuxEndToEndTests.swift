import Foundation
import DubdeckCore
import TestSupport
import XCTest

/// The real binary in a real terminal (tmux): open the demo, edit a line, lock it, quit; then
/// check the files on disk.
final class TmuxEndToEndTests: XCTestCase {
    var socket = "dubdeck-e2e-\(getpid())"

    /// tmux through posix_spawn + waitpid: Foundation's Process watches its child through a
    /// descriptor that the daemonized tmux server inherits, so it would never see the client exit.
    @discardableResult
    func tmux(_ args: [String]) -> (Int32, String) {
        // A session begun just as the server exits (its last session was killed a moment before)
        // fails with "server exited unexpectedly": that is tmux's race, not the desk's; begin again.
        var result = tmuxOnce(args)
        var tries = 0
        while args.first == "new-session", result.0 != 0, tries < 20 {
            usleep(100_000)
            tries += 1
            result = tmuxOnce(args)
        }
        return result
    }

    func tmuxOnce(_ args: [String]) -> (Int32, String) {
        let outPath = NSTemporaryDirectory() + "/\(socket).out"
        let argv = ["/usr/bin/env", "tmux", "-L", socket] + args
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ) == 0 else { return (-1, "spawn failed") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let out = FileManager.default.contents(atPath: outPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let exited = (status & 0x7f) == 0
        return (exited ? (status >> 8) & 0xff : -1, out)
    }

    func capture() -> String { tmux(["capture-pane", "-p", "-t", "desk"]).1 }

    func waitFor(_ text: String, timeout: Double = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if capture().contains(text) { return true }
            usleep(100_000)
        }
        return false
    }

    override func tearDown() {
        tmux(["kill-server"])
    }

    /// No sound card, or a device that does not exist: ALSA's own "ALSA lib …" lines never reach
    /// the screen; the status line says what failed and how to pick a device.
    /// The demo job in `dir`, opened in the real desk in a tmux session "desk" (extra environment first).
    @discardableResult
    func openDemo(in dir: TempDir, env: String, height: Int) -> String {
        let demo = dir.file("ep01")
        XCTAssertEqual(DubdeckBinary.run(["demo", demo, "--no-tui"]).status, 0)
        let command = "env XDG_CONFIG_HOME=\(dir.path)/config DUBDECK_STORE=\(dir.path)/chars.json \(env) TERM=xterm-256color "
            + "\(DubdeckBinary.path) review \(demo)"
        let (status, out) = tmux(["new-session", "-d", "-s", "desk", "-x", "120", "-y", String(height), command])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(waitFor("dubdeck_demo_s01"), "the desk did not come up:\n\(capture())")
        return demo
    }

    func testALSAErrorsNeverScrollOverTheDesk() throws {
        let dir = TempDir()
        openDemo(in: dir, env: "DUBDECK_AUDIO_DEVICE=nosuchdevice", height: 30)
        tmux(["send-keys", "-t", "desk", "o"])
        XCTAssertTrue(waitFor("nosuchdevice"), capture())
        let screen = capture()
        XCTAssertFalse(screen.contains("ALSA lib"), screen)
        XCTAssertTrue(screen.contains("--device"), screen)
        XCTAssertTrue(screen.contains("dubdeck_demo_s01"), "the desk is still drawn: \(screen)")
    }

    func testEditAndLockInTheRealDesk() throws {
        let dir = TempDir()
        let demo = openDemo(in: dir, env: "USER=e2e", height: 40)
        XCTAssertTrue(capture().contains("Morning, everyone!"))
        tmux(["send-keys", "-t", "desk", "j", "j", "e", "C-u"])
        XCTAssertTrue(waitFor("ed>"), capture())
        tmux(["send-keys", "-t", "desk", "-l", "Please sit, everyone. 席"])
        tmux(["send-keys", "-t", "desk", "Enter"])
        XCTAssertTrue(waitFor("saved: line 3 edit"), capture())
        tmux(["send-keys", "-t", "desk", "L"])
        XCTAssertTrue(waitFor("saved: line 3 lock"), capture())
        let screen = capture()
        let row = screen.split(separator: "\n").first { $0.contains("Please sit, everyone. 席") }
        XCTAssertNotNil(row, screen)
        XCTAssertTrue(row?.contains("·L··*") ?? false, String(row ?? ""))
        tmux(["send-keys", "-t", "desk", "q"])
        let deadline = Date().addingTimeInterval(10)
        while tmux(["has-session", "-t", "desk"]).0 == 0, Date() < deadline { usleep(100_000) }
        XCTAssertNotEqual(tmux(["has-session", "-t", "desk"]).0, 0, "q quits the desk")

        let store = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: demo + "/transcript_store.json"))) as! [String: Any]
        let entry = (store["segments"] as! [String: Any])["3"] as! [String: Any]
        XCTAssertEqual(entry["tgt_text"] as? String, "Please sit, everyone. 席")
        XCTAssertEqual(entry["locked"] as? Bool, true)
        XCTAssertEqual(entry["locked_by"] as? String, "e2e")
        let lines = try String(contentsOfFile: demo + "/transcript_versions.jsonl", encoding: .utf8).split(separator: "\n")
        let actions = try lines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["action"] as! String }
        XCTAssertEqual(actions, ["edit", "lock"])
    }

    func testNoColorDrawsWithAttributesOnly() throws {
        let dir = TempDir()
        let demo = dir.file("ep01")
        XCTAssertEqual(DubdeckBinary.run(["demo", demo, "--no-tui"]).status, 0)
        for (noColor, expectColor) in [("", true), ("1", false)] {
            let command = "env NO_COLOR=\(noColor) XDG_CONFIG_HOME=\(dir.path)/config TERM=xterm-256color \(DubdeckBinary.path) review \(demo) --series other_s02"
            XCTAssertEqual(tmux(["new-session", "-d", "-s", "desk", "-x", "100", "-y", "30", command]).0, 0)
            XCTAssertTrue(waitFor("other_s02"), capture())
            let styled = tmux(["capture-pane", "-p", "-e", "-t", "desk"]).1
            // A colour is SGR 30–37 / 40–47 / 38;5 / 48;5 (39 and 49 are "default", which tmux always emits).
            let regex = try NSRegularExpression(pattern: "\u{1b}\\[(?:[0-9]+;)*(?:3[0-7]|4[0-7]|38;5|48;5)(?:;[0-9]+)*m")
            let colour = regex.firstMatch(in: styled, range: NSRange(styled.startIndex..., in: styled)) != nil
            XCTAssertEqual(colour, expectColor, "NO_COLOR=\(noColor):\n\(styled.prefix(400))")
            XCTAssertTrue(styled.contains("\u{1b}[7m") || styled.contains(";7m") || expectColor, "reverse video marks the selection without colour")
            tmux(["kill-session", "-t", "desk"])
        }
    }

    func testEscapeSequencesInTextsNeverReachTheTerminal() throws {
        let dir = TempDir()
        let hostile: [Fixtures.Line] = [
            .init(0, 1, "SPEAKER_00\u{1b}]0;pwned-title\u{07}", "\u{202e}evil source", "clear\u{1b}[2J\u{1b}[H screen"),
            .init(1, 2, "S", "", "clip\u{1b}]52;c;cHduZWQ=\u{07}board"),
            .init(2, 3, "S", "", "c1\u{9b}31mred\u{9d}0;t\u{9c} and \u{202e}bidi\u{2066}x\u{200f}"),
            .init(3, 4, "S", "", "bell\u{07}\u{7f} del"),
        ]
        let job = Fixtures.job(in: dir, lines: hostile)
        tmux(["new-session", "-d", "-s", "probe", "-x", "20", "-y", "5", "sleep 60"])
        let titleBefore = tmux(["display-message", "-p", "-t", "probe", "#{pane_title}"]).1
        tmux(["kill-session", "-t", "probe"])
        let command = "env XDG_CONFIG_HOME=\(dir.path)/config TERM=xterm-256color \(DubdeckBinary.path) review \(job)"
        XCTAssertEqual(tmux(["new-session", "-d", "-s", "desk", "-x", "120", "-y", "30", command]).0, 0)
        XCTAssertTrue(waitFor("test_series"), capture())
        tmux(["send-keys", "-t", "desk", "j", "j"])
        usleep(300_000)
        let screen = capture()
        XCTAssertTrue(screen.contains("clear␛[2J␛[H screen"), screen)
        XCTAssertTrue(screen.contains("clip␛]52;c;cHduZWQ=␇board"), screen)
        XCTAssertTrue(screen.contains("SPEAKER_00␛]…"), screen)
        XCTAssertTrue(screen.contains("c1\u{27E8}U+009B\u{27E9}31mred"), screen)
        XCTAssertTrue(screen.contains("bell␇␡ del"), screen)
        XCTAssertTrue(screen.contains("dubdeck"), "the screen was not cleared: \(screen)")
        let title = tmux(["display-message", "-p", "-t", "desk", "#{pane_title}"]).1
        XCTAssertFalse(title.contains("pwned"), "the window title changed: \(title)")
        XCTAssertEqual(title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, titleBefore.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        XCTAssertFalse(tmux(["list-buffers"]).1.contains("pwned"), "the clipboard was written")
        XCTAssertFalse(screen.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x2066 }, "a bidi control reached the screen")
        tmux(["send-keys", "-t", "desk", "q"])
    }

    /// `q` in the middle of a batch (SPEC §11.6): the desk exits at once, the engine's process (a
    /// slow command engine, still speaking) is gone, no take temporary is left, every finished
    /// take is committed and the job's invariants hold.
    func testQuitInTheMiddleOfABatchLeavesNothingBehind() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        for n in 1...3 { XCTAssertEqual(DubdeckBinary.run(["set", job, String(n), "--approve"]).status, 0) }
        let marker = "dubdeck-slow-engine-\(getpid())"
        // A command engine that takes its time: 1.5 s a line, then espeak-ng writes the audio.
        let engine = #"["sh","-c","sleep 1.5 # MARK\nexec espeak-ng -w \"$0\" -f \"$1\"","{out}","{text_file}"]"#
            .replacingOccurrences(of: "MARK", with: marker)
        let command = "env XDG_CONFIG_HOME=\(dir.path)/config DUBDECK_ENGINE_COMMAND='\(engine)' TERM=xterm-256color "
            + "\(DubdeckBinary.path) review \(job) --engine command; echo DESK-EXITED-$?; sleep 30"
        XCTAssertEqual(tmux(["new-session", "-d", "-s", "desk", "-x", "120", "-y", "30", command]).0, 0)
        XCTAssertTrue(waitFor("test_series"), capture())
        tmux(["send-keys", "-t", "desk", "S"])
        // Wait until the first take is in and the second line is being spoken.
        let preview = job + "/segments_preview"
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !DirectoryListing.names(preview).contains("0001.wav") { usleep(50_000) }
        XCTAssertTrue(DirectoryListing.names(preview).contains("0001.wav"), "the batch did not begin: \(capture())")
        usleep(300_000)
        XCTAssertTrue(Self.running(marker), "the engine speaks line 2 when q is pressed")
        // q asks first during a batch; q again stops it and leaves, saying what the batch did.
        tmux(["send-keys", "-t", "desk", "q"])
        XCTAssertTrue(waitFor("q again stops it", timeout: 5), capture())
        XCTAssertFalse(capture().contains("DESK-EXITED"), "the first q only asks")
        tmux(["send-keys", "-t", "desk", "q"])
        XCTAssertTrue(waitFor("DESK-EXITED-0", timeout: 10), capture())
        XCTAssertTrue(capture().contains("batch stopped:"), "the summary is said on the terminal: \(capture())")
        var gone = false
        for _ in 0..<50 where !gone { gone = !Self.running(marker); if !gone { usleep(100_000) } }
        XCTAssertTrue(gone, "the engine's process outlived the desk")
        XCTAssertEqual(DirectoryListing.names(preview).filter { $0.contains(".tmp-") }, [], "a take temporary was left")
        XCTAssertEqual(JobInvariants.problems(job: job, allowPhantom: false), [])
        let status = DubdeckBinary.run(["segments", job, "--json"])
        XCTAssertEqual(status.status, 0, status.stderr)
    }

    /// Whether the slow engine runs: a `sh -c` whose script (its third argument) holds `marker`
    /// (the pane's own shell holds the marker too, further in its command line).
    static func running(_ marker: String) -> Bool {
        for pid in DirectoryListing.names("/proc") where Int(pid) != nil {
            guard let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let args = cmd.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            if args.count > 2, args[0] == "sh", args[2].hasPrefix("sleep 1.5 # " + marker) { return true }
        }
        return false
    }

    func testSIGTERMRestoresTheTerminal() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let command = "env XDG_CONFIG_HOME=\(dir.path)/config TERM=xterm-256color \(DubdeckBinary.path) review \(job); echo DESK-EXITED-$?; sleep 30"
        XCTAssertEqual(tmux(["new-session", "-d", "-s", "desk", "-x", "100", "-y", "30", command]).0, 0)
        XCTAssertTrue(waitFor("test_series"), capture())
        let pids = tmux(["list-panes", "-t", "desk", "-F", "#{pane_pid}"]).1.trimmingCharacters(in: .whitespacesAndNewlines)
        // The desk is the shell's child: signal every dubdeck under the pane's shell.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
        p.arguments = ["-TERM", "-P", pids, "-f", "dubdeck review"]
        try p.run()
        p.waitUntilExit()
        XCTAssertTrue(waitFor("DESK-EXITED-0"), capture())
        XCTAssertFalse(capture().contains("test_series"), "the desk's screen is gone (endwin ran)")
    }
}
