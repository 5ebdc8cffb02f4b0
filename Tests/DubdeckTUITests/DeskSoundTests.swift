import XCTest
import TestSupport
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
