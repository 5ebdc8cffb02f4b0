import Foundation
import TestSupport
import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
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

    /// `play --context` recorded through ALSA's file PCM equals the mix computed here, independently:
    /// line 2 and 4 as the original (full level in their slots), line 3's take over the source
    /// ducked by 12 dB, from 1 s before line 2 to 1 s after line 4.
    func testContextPlaybackIsTheSampleExactMix() throws {
        let dir = TempDir()
        XCTAssertEqual(DubdeckBinary.run(["demo", dir.file("ep01"), "--no-tui"]).status, 0)
        let job = dir.file("ep01")
        XCTAssertEqual(DubdeckBinary.run(["synth", job, "3"]).status, 0)
        for duck in ["12", "0"] {
            let heard = dir.file("context-\(duck).wav")
            let r = DubdeckBinary.run(["play", job, "3", "--context", "--duck", duck, "--device", "file:FILE=\(heard),FORMAT=wav"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let rows = try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["segments", job, "--json"]).stdout.utf8)) as! [[String: Any]]
            func frame(_ row: Int, _ key: String) -> Int { Int(((rows[row][key] as! Double) * 48_000).rounded()) }
            let source = try AudioFile.readPCM16(job + "/audio.wav")
            let take = try AudioFile.readPCM16(job + "/segments_preview/0003.wav")
            XCTAssertEqual(source.channels, 1)
            let a = max(0, frame(1, "start") - 48_000), b = min(source.frames, frame(3, "end") + 48_000)
            let g = pow(10, -Double(duck)! / 20)
            var expected: [Int16] = []
            for i in a..<b {
                let original = (frame(1, "start")..<frame(1, "end")).contains(i) || (frame(3, "start")..<frame(3, "end")).contains(i)
                var v = Double(source.samples[i]) * (original ? 1 : g)
                let t = i - frame(2, "start")
                if t >= 0, t < take.samples.count { v += Double(take.samples[t]) }
                expected.append(Int16(max(-32768, min(32767, v.rounded()))))
            }
            let recorded = try AudioFile.readPCM16(heard)
            XCTAssertGreaterThanOrEqual(recorded.samples.count, expected.count)
            XCTAssertTrue(Array(recorded.samples.prefix(expected.count)) == expected, "duck \(duck): the recorded mix differs")
            XCTAssertTrue(recorded.samples.dropFirst(expected.count).allSatisfy { $0 == 0 }, "only the device's padding after it")
        }
        // Bounds: NaN, negative, past the limits; the options exclude each other.
        for args in [["--before", "nan"], ["--after", "-1"], ["--duck", "97"], ["--before", "31"], ["--original"], ["--take", "1"]] {
            XCTAssertEqual(DubdeckBinary.run(["play", job, "3", "--context", "--device", "null"] + args).status, 64, "\(args)")
        }
        XCTAssertEqual(DubdeckBinary.run(["play", job, "99", "--context", "--device", "null"]).status, 64)
    }

    /// `--engine server`: one process for the whole batch, the reference server (espeak-ng inside).
    func testABatchThroughThePersistentReferenceServer() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let r = DubdeckBinary.run(["synth", job, "--all", "--engine", "server", "--engine-command", "python3",
                                   DubdeckBinary.packageRoot + "/scripts/tts_server.py"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("synthesized 5 of 5 lines"), r.stdout)
        let store = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/transcript_store.json"))) as! [String: Any]
        let entry = (store["segments"] as! [String: Any])["1"] as! [String: Any]
        XCTAssertEqual((entry["last_preview"] as? [String: Any])?["engine"] as? String, "server")
        XCTAssertEqual(DubdeckBinary.run(["synth", job, "1", "--engine", "server"]).status, 64, "a server needs its command")
        XCTAssertEqual(DubdeckBinary.run(["synth", job, "1", "--engine", "bogus"]).status, 64)
        let dead = DubdeckBinary.run(["synth", job, "1", "--engine", "server", "--engine-command", "python3", "-c", "import sys; sys.exit(2)"])
        XCTAssertEqual(dead.status, 74, dead.stderr)
        XCTAssertTrue(dead.stderr.contains("died again after a restart"), dead.stderr)
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
        XCTAssertTrue(r.stdout.contains("synthesized 0 of 0 lines"), "lines with a fresh take are skipped: \(r.stdout)")
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--text", "Hello again"]).status, 0)
        r = DubdeckBinary.run(["synth", job, "--approved"])
        XCTAssertTrue(r.stdout.contains("synthesized 1 of 1 lines"), "only the line whose take went stale: \(r.stdout)")
        r = DubdeckBinary.run(["take", job, "2", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--text", "Hello there"]).status, 0, "the chosen take's text again")
        r = DubdeckBinary.run(["synth", job, "--approved"])
        XCTAssertTrue(r.stdout.contains("synthesized 0 of 0 lines"), "a chosen take is never replaced by a batch: \(r.stdout)")
        r = DubdeckBinary.run(["synth", job, "--approved", "--force"])
        XCTAssertTrue(r.stdout.contains("synthesized 2 of 2 lines"), "--force regenerates them all: \(r.stdout)")
        XCTAssertEqual(DubdeckBinary.run(["synth", job, "2", "--force"]).status, 64, "--force goes with --approved or --all")
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
