import Foundation
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

    func testEditAndLockInTheRealDesk() throws {
        let dir = TempDir()
        let demo = dir.file("ep01")
        XCTAssertEqual(DubdeckBinary.run(["demo", demo, "--no-tui"]).status, 0)
        let command = "env XDG_CONFIG_HOME=\(dir.path)/config DUBDECK_STORE=\(dir.path)/chars.json USER=e2e TERM=xterm-256color "
            + "\(DubdeckBinary.path) review \(demo)"
        let (status, out) = tmux(["new-session", "-d", "-s", "desk", "-x", "120", "-y", "40", command])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(waitFor("dubdeck_demo_s01"), "the desk did not come up:\n\(capture())")
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
}
