import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore
@testable import DubdeckTUI

final class DeskSoundTests: XCTestCase {
    var dir: TempDir!
    var runner: ScriptRunner!
    var sink: PacedSink!
    var desk: Desk { runner.desk }

    override func setUp() {
        dir = TempDir()
        let jobDir = Fixtures.job(in: dir, lines: [
            .init(0.5, 3.0, "SPEAKER_00", "", "Good morning."), .init(3.5, 6.0, "SPEAKER_01", "", "Hello there."),
            .init(6.5, 9.0, "SPEAKER_00", "", "See you."),
        ])
        let source = AudioBuffer(samples: (0..<(48_000 * 10)).map { Float(sin(Double($0) * 0.03)) * 0.3 }, rate: 48_000)
        try! AudioFile.writeWAV16Atomically(source, to: jobDir + "/audio.wav")
        let store = try! TranscriptStore(job: try! JobLoader.load(jobDir), by: "tester")
        sink = PacedSink(speed: 50)
        let audio = DeskAudio(makeEngine: { try EspeakEngine() }, sink: sink)
        runner = ScriptRunner(desk: Desk(store: store, keymap: .builtIn(), audio: audio), width: 100, height: 30)
    }

    func testSynthesizeThenHearTheNewTake() throws {
        runner.key("s")
        runner.waitIdle()
        XCTAssertEqual(desk.store.state(1).audioStatus, "fresh")
        XCTAssertTrue(desk.message.contains("line 1 synthesized"), desk.message)
        let take = try PlaybackSource.take(desk.store, 1, take: 1)
        XCTAssertTrue(sink.recorded == take.samples, "the new take was played at once")
        XCTAssertTrue(runner.grid.text().contains("audio fresh"))
        let row = runner.grid.text().split(separator: "\n").first { $0.contains("Good morning.") }!
        XCTAssertTrue(row.contains("+"), "the take glyph: \(row)")
        XCTAssertTrue(row.contains("%"), "the fit indicator: \(row)")
    }

    func testPlayOriginalAndPreviousTakes() throws {
        runner.key("j")
        runner.key("o")
        runner.waitIdle()
        let original = try PlaybackSource.original(desk.store, 2)
        XCTAssertTrue(sink.recorded == original.samples)
        runner.key("P")
        XCTAssertTrue(desk.message.contains("line 2 has no take"), desk.message)
        runner.key("s")
        runner.waitIdle()
        runner.key("e")
        runner.key("<C-u>")
        for ch in "Hi!" { runner.key(String(ch)) }
        runner.key("<Enter>")
        XCTAssertEqual(desk.store.state(2).audioStatus, "stale", "an edit makes the take stale")
        runner.key("s")
        runner.waitIdle()
        XCTAssertEqual(desk.store.state(2).audioStatus, "fresh")
        let previous = try PlaybackSource.take(desk.store, 2, take: 2)
        runner.key("P")
        runner.waitIdle()
        XCTAssertTrue(sink.recorded == previous.samples, "P plays the take before")
    }

    func testStopAndProgressInTheStatusLine() throws {
        sink.speed = 1
        runner.key("o")
        usleep(200_000)
        _ = desk.tick()
        runner.key("k")  // a key redraws the status line
        XCTAssertTrue(runner.grid.rowText(29).contains("▶ original 1"), runner.grid.rowText(29))
        runner.key("x")
        XCTAssertFalse(sink.isPlaying)
        XCTAssertTrue(desk.message.contains("stopped"))
    }

    func testBatchOfApprovedLinesAndCancel() throws {
        runner.key("a")
        runner.key("j")
        runner.key("j")
        runner.key("a")
        runner.key("S")
        XCTAssertNotNil(desk.worker?.progress ?? (0, 0))
        runner.waitIdle()
        XCTAssertEqual((1...3).map { desk.store.state($0).audioStatus }, ["fresh", "none", "fresh"])
        XCTAssertTrue(desk.message.contains("batch: 2 lines, 2 fresh"), desk.message)
        runner.key("X")
        XCTAssertTrue(desk.message.contains("no batch"), desk.message)
    }

    /// The desk closing in the middle of a batch (SPEC §11.6): the engine speaking is stopped (its
    /// process group killed), the line it spoke gets no take and is not marked failed, no temporary
    /// is left, the history has no record its store lacks — and nothing runs on after.
    func testClosingMidBatchStopsTheEngineAndLeavesNothingBehind() throws {
        let marker = "dubdeck-desk-slow-\(getpid())"
        let engine = try CommandEngine(template: ["sh", "-c", "sleep 5 # \(marker)\nexec espeak-ng -w \"$0\" -f \"$1\"", "{out}", "{text_file}"])
        let audio = DeskAudio(makeEngine: { engine }, sink: sink)
        runner = ScriptRunner(desk: Desk(store: desk.store, keymap: .builtIn(), audio: audio), width: 100, height: 30)
        for key in ["a", "j", "a", "j", "a", "S"] { runner.key(key) }
        func speaking() -> Bool {
            DirectoryListing.names("/proc").contains { pid in
                guard Int(pid) != nil, let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
                let args = cmd.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                return args.count > 2 && args[0] == "sh" && args[2].hasPrefix("sleep 5 # " + marker)
            }
        }
        var began = false
        for _ in 0..<200 where !began { began = speaking(); if !began { usleep(20_000) } }
        XCTAssertTrue(began, "the engine did not begin")
        defer { Interrupt.clear() }
        desk.stopForExit()
        XCTAssertNil(desk.worker?.progress, "the batch is over")
        XCTAssertFalse(speaking(), "the engine outlived the desk's close")
        let job = desk.job.directory
        XCTAssertEqual(DirectoryListing.names(job + "/segments_preview").filter { $0.hasSuffix(".wav") || $0.contains(".tmp-") }, [],
                       "no take was made of a line cut off, no temporary left")
        let reopened = try TranscriptStore(job: try JobLoader.load(job))
        XCTAssertEqual((1...3).map { reopened.state($0).audioStatus }, ["none", "none", "none"], "a line cut off is not a failure")
        XCTAssertEqual(JobInvariants.problems(job: job, allowPhantom: false), [])
    }

    func testEditDuringSynthesisIsNotLost() throws {
        runner.key("s")
        runner.key("e")
        runner.key("<C-u>")
        for ch in "Typed while it spoke" { runner.key(ch == " " ? "<Space>" : String(ch)) }
        desk.worker?.waitUntilIdle()
        runner.key("<Enter>")
        runner.waitIdle()
        XCTAssertEqual(desk.store.state(1).text, "Typed while it spoke")
        let reopened = try TranscriptStore(job: try JobLoader.load(desk.job.directory))
        XCTAssertEqual(reopened.state(1).text, "Typed while it spoke")
        XCTAssertEqual(reopened.state(1).audioStatus, "stale", "the take was of the old text")
    }
}
