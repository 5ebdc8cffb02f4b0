import Foundation
import TestSupport
import XCTest
@testable import DubdeckCore

final class AudioCommandTests: XCTestCase {
    func testSynthAndPlayThroughTheFilePCM() throws {
        let dir = TempDir()
        XCTAssertEqual(DubdeckBinary.run(["demo", dir.file("ep01"), "--no-tui"]).status, 0)
        let job = dir.file("ep01")
        var r = DubdeckBinary.run(["synth", job, "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("segment 3:"), r.stdout)
        let take = try AudioFile.readPCM16(job + "/segments_preview/0003.wav")
        XCTAssertEqual(take.rate, 48_000)

        r = DubdeckBinary.run(["play", job, "3", "--device", "file:FILE=\(dir.file("take.wav")),FORMAT=wav"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let recorded = try AudioFile.readPCM16(dir.file("take.wav"))
        XCTAssertTrue(Array(recorded.samples.prefix(take.samples.count)) == take.samples)

        r = DubdeckBinary.run(["play", job, "3", "--original"], env: ["DUBDECK_AUDIO_DEVICE": "file:FILE=\(dir.file("orig.wav")),FORMAT=wav"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["segments", job, "--json"]).stdout.utf8)) as! [[String: Any]]
        let start = rows[2]["start"] as! Double, end = rows[2]["end"] as! Double
        let orig = try AudioFile.readPCM16(dir.file("orig.wav"))
        XCTAssertGreaterThanOrEqual(orig.frames, Int((end * 48_000).rounded()) - Int((start * 48_000).rounded()))
        let source = try AudioFile.readPCM16(job + "/audio.wav", frames: Int((start * 48_000).rounded())..<Int((end * 48_000).rounded()))
        XCTAssertTrue(Array(orig.samples.prefix(source.samples.count)) == source.samples, "the original line, frame exact")

        XCTAssertEqual(DubdeckBinary.run(["play", job, "3", "--take", "2", "--device", "null"]).status, 66, "no take 2 yet")
        XCTAssertEqual(DubdeckBinary.run(["play", job, "3", "--take", "9"]).status, 64)
        r = DubdeckBinary.run(["play", job, "3", "--device", "hw:77,0"])
        XCTAssertEqual(r.status, 74)
        XCTAssertTrue(r.stderr.contains("cannot be opened (pick one with --device)") && !r.stderr.contains("ALSA lib"), r.stderr)
    }

    func testBatchAndEngineCommandTakesTheRestOfTheLine() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--approve"]).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "4", "--approve", "--lock"]).status, 0)
        var r = DubdeckBinary.run(["synth", job, "--approved"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("synthesized 2 of 2 lines"), r.stdout)
        r = DubdeckBinary.run(["synth", job, "--approved"])
        XCTAssertTrue(r.stdout.contains("synthesized 1 of 1 lines"), "the locked line with a fresh take is skipped: \(r.stdout)")
        r = DubdeckBinary.run(["synth", job, "1", "--max-speedup", "1.2", "--engine-command", "espeak-ng", "-v", "{voice}", "-w", "{out}", "-f", "{text_file}"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let store = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/transcript_store.json"))) as! [String: Any]
        let entry = (store["segments"] as! [String: Any])["1"] as! [String: Any]
        XCTAssertEqual((entry["last_preview"] as? [String: Any])?["engine"] as? String, "command")
        r = DubdeckBinary.run(["synth", job, "1", "--engine", "command"])
        XCTAssertEqual(r.status, 64, "command without a template")
        r = DubdeckBinary.run(["synth", job, "1", "--engine", "command"], env: ["DUBDECK_ENGINE_COMMAND": #"["espeak-ng","-w","{out}","-f","{text_file}"]"#])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(DubdeckBinary.run(["synth", job]).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["synth", job, "1", "--all"]).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["synth", job, "99"]).status, 64)
    }

    func testBadSourceAudioIsAClearError() {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        dir.write("ep01/audio.wav", "not audio")
        let r = DubdeckBinary.run(["play", job, "1", "--original", "--device", "null"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("audio.wav") && r.stderr.contains("not a readable audio file"), r.stderr)
    }

    func testDeskScriptSynthesizesAndPlaysThroughTheDevice() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        dir.write("s.keys", "j\ns\n:wait-idle\n:dump screen.txt\n:quit\n")
        let r = DubdeckBinary.run(["review", job, "--script", dir.file("s.keys"), "--device", "file:FILE=\(dir.file("heard.wav")),FORMAT=wav"],
                                  cwd: dir.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        let take = try AudioFile.readPCM16(job + "/segments_preview/0002.wav")
        let heard = try AudioFile.readPCM16(dir.file("heard.wav"))
        XCTAssertTrue(Array(heard.samples.prefix(take.samples.count)) == take.samples, "the desk played the new take")
        XCTAssertTrue(dir.read("screen.txt")!.contains("line 2 synthesized"), dir.read("screen.txt")!)
    }
}
