import Foundation
import TestSupport
import XCTest
import Synchronization
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// The persistent-engine protocol against servers that behave and servers that do not.
final class ServerEngineTests: XCTestCase {
    static let script = DubdeckBinary.packageRoot + "/Tests/Fixtures/misbehaving_server.py"
    let request = SpeechRequest(text: "hello there", voice: Voice.deterministic(for: "SPEAKER_00"), lang: "en", speakerName: "SPEAKER_00")

    func engine(_ mode: String, _ extra: [String] = [], timeout: Double = 10) throws -> ServerEngine {
        try ServerEngine(argv: ["python3", ServerEngineTests.script, mode] + extra, timeout: timeout)
    }

    /// Each text synthesized on a thread of its own, all at once: the frames each got, or "failed".
    func atOnce(_ e: ServerEngine, _ texts: [String]) throws -> [String] {
        let outcomes = Synchronization.Mutex([String](repeating: "", count: texts.count))
        let done = DispatchGroup()
        for (i, text) in texts.enumerated() {
            done.enter()
            Thread.detachNewThread { [request] in
                var r = request
                r.text = text
                let outcome: String
                do { outcome = "\(try e.synthesize(r).frames)" } catch { outcome = "failed" }
                outcomes.withLock { $0[i] = outcome }
                done.leave()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        return outcomes.withLock { $0 }
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch let e as DubdeckError { return e.message } catch { return "\(error)" }
        return ""
    }

    func testOneProcessAnswersEveryLine() throws {
        let e = try engine("good")
        for text in ["hello there", "a", "ünïcode \"quoted\" \\ and\nnewline"] {
            var r = request
            r.text = text
            let audio = try e.synthesize(r)
            XCTAssertEqual(audio.frames, max(1, text.count) * 16000 / 50, "20 ms per character: \(text)")
        }
        XCTAssertEqual(e.starts, 1, "started once for all three lines")
    }

    func testAnswersWithAnotherIdAreSkipped() throws {
        let e = try engine("out-of-order")
        XCTAssertEqual(try e.synthesize(request).frames, 11 * 16000 / 50)
        XCTAssertEqual(try e.synthesize(request).frames, 11 * 16000 / 50)
        XCTAssertEqual(e.starts, 1)
    }

    /// Numbers from outside are range-checked before they become integers: ids no Int holds are
    /// answers to some other request (skipped), never a crash.
    func testIdsPastAnyIntegerAreSkippedNotTrapped() throws {
        let e = try engine("huge-ids")
        XCTAssertEqual(try e.synthesize(request).frames, 11 * 16000 / 50)
        XCTAssertEqual(e.starts, 1)
    }

    /// A file whose header claims far more than the slot takes is refused from its header, before
    /// a sample is read (a sparse 1 GB file would otherwise be decoded whole first).
    func testAudioLongerThanTheSlotTakesIsRefusedFromItsHeader() throws {
        let e = try engine("long-claim")
        var r = request
        r.maxSeconds = SpeechRequest.longestAudio(slot: 2)
        let m = message { _ = try e.synthesize(r) }
        XCTAssertTrue(m.contains("3600 s of audio is more than 4 × slot + 30 s (38 s for this slot)"), m)
        let good = try engine("good")
        XCTAssertEqual(try good.synthesize(r).frames, 11 * 16000 / 50, "audio within the limit is taken")
    }

    func testAHungServerTimesOutAndIsReplaced() throws {
        let e = try engine("hang", timeout: 0.5)
        let t0 = Date()
        let m = message { _ = try e.synthesize(request) }
        XCTAssertTrue(m.contains("no answer within 0.5 s"), m)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10, "the timeout holds")
        _ = message { _ = try e.synthesize(request) }
        XCTAssertEqual(e.starts, 2, "the hung server was killed; the next line starts a new one")
    }

    /// A server that says it takes three at once gets three requests in flight, never more, and
    /// every answer reaches its own request whatever order they come in.
    func testAServerThatTakesSeveralAtOnceGetsThatManyAndNoMore() throws {
        let dir = TempDir()
        let e = try engine("concurrent", [dir.file("most")])
        XCTAssertEqual(try e.synthesize(request).frames, 11 * 16000 / 50, "the first request goes alone and learns the server's number")
        XCTAssertEqual(e.mostInFlight, 1)
        let texts = (0..<9).map { "line \($0) " + String(repeating: "x", count: $0 * 3) }
        XCTAssertEqual(try atOnce(e, texts), texts.map { "\($0.count * 16000 / 50)" }, "each request got its own answer")
        XCTAssertEqual(e.mostInFlight, 3, "three in flight at once")
        XCTAssertEqual(dir.read("most"), "3\n", "the server never had more than three")
        XCTAssertEqual(e.starts, 1)
        XCTAssertEqual(e.concurrentRequests, 16, "a batch hands a server engine up to 16 lines; its own number decides how many go")
    }

    /// What an attacker's servers did to several requests in flight: a line that kills the server
    /// fails alone (the lines lost with it are sent again one by one), a second answer to one request
    /// does not replace the first, a line longer than 1 MiB after an early newline is refused, and a
    /// server that does not read its input fails the request by the timeout.
    func testWhatSeveralInFlightMustSurvive() throws {
        let e = try engine("poison", timeout: 10)
        XCTAssertGreaterThan(try e.synthesize(request).frames, 0, "learns 3 at once")
        let texts = (0..<8).map { $0 == 3 ? "POISON line" : "good line \($0)" }
        XCTAssertEqual(try atOnce(e, texts), texts.map { $0.hasPrefix("POISON") ? "failed" : "\($0.count * 16000 / 50)" }, "only the poisoned line fails")
        XCTAssertEqual(try engine("dup").synthesize(request).frames, 11 * 16000 / 50, "the first answer counts")
        var m = message { _ = try engine("long-tail").synthesize(request) }
        XCTAssertTrue(m.contains("longer than 1 MiB"), m)
        var long = request
        long.text = String(repeating: "word ", count: 60000)
        let t0 = Date()
        m = message { _ = try engine("no-read", timeout: 1).synthesize(long) }
        XCTAssertTrue(m.contains("took no request within 1 s"), m)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 30, "bounded by the timeout, not the server")
    }

    func testADeadServerIsRestartedOnceThenReported() throws {
        let dir = TempDir()
        let once = try engine("die-once", [dir.file("marker")])
        XCTAssertEqual(try once.synthesize(request).frames, 11 * 16000 / 50, "restarted once, the line is spoken")
        XCTAssertEqual(once.starts, 2)
        let always = try engine("die-always")
        let m = message { _ = try always.synthesize(request) }
        XCTAssertTrue(m.contains("died again after a restart"), m)
        XCTAssertTrue(m.contains("test server: dying now"), "its last words: \(m)")
        XCTAssertEqual(always.starts, 2, "restarted once, not forever")
    }

    /// A server that talks on standard error for as long as it runs fills no disk: its last 8 KiB
    /// are kept in memory, its last words at hand.
    func testAChattyServerFillsNoDisk() throws {
        let e = try engine("chatty")
        for _ in 0..<8 { XCTAssertGreaterThan(try e.synthesize(request).frames, 0) }
        // 8 × 2 MB written on its standard error; nothing of it on disk.
        let listed = try FileManager.default.contentsOfDirectory(atPath: e.workDir)
        let bytes = try listed.reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: e.workDir + "/" + $1)[.size] as? Int) ?? 0) }
        XCTAssertLessThan(bytes, 1 << 20, "\(listed)")
        XCTAssertNotNil(e.stderrTail().range(of: #"chatty: request \d+ done$"#, options: .regularExpression), "its last words: \(e.stderrTail())")
        XCTAssertLessThanOrEqual(e.stderrTail().count, 302)
    }

    func testGarbageRefusalsAndMissingAudioAreErrors() throws {
        var m = message { _ = try engine("garbage").synthesize(request) }
        XCTAssertTrue(m.contains("answered a line that is not JSON: "), m)
        m = message { _ = try engine("refuse").synthesize(request) }
        XCTAssertTrue(m.contains("could not speak") && m.contains("no voice for"), m)
        XCTAssertFalse(m.contains("\u{1b}"), "the server's words are sanitized: \(m)")
        m = message { _ = try engine("no-audio").synthesize(request) }
        XCTAssertTrue(m.contains("wrote no audio"), m)
    }

    func testTheTextTravelsOnlyInsideTheJSON() throws {
        var r = request
        r.text = "secret line of dialogue"
        let m = message { _ = try engine("echo-args").synthesize(r) }
        XCTAssertTrue(m.contains("args:"), m)
        XCTAssertFalse(m.contains("secret"), "never in an argument: \(m)")
    }

    /// The predicted fit through a server that can say how long it would speak, and through one that
    /// cannot (asked once, then espeak-ng's count stands in).
    func testAPredictRequestIsAnsweredOrNotAskedAgain() throws {
        let dir = TempDir()
        let good = try engine("good", [dir.file("good.log")])
        XCTAssertEqual(try XCTUnwrap(good.predictSeconds(request)), 0.02 * Double(request.text.count), accuracy: 1e-9)
        XCTAssertNotNil(good.predictSeconds(request), "asked again: it answers")
        XCTAssertEqual(dir.read("good.log")?.split(separator: "\n").count, 2)
        XCTAssertGreaterThan(try good.synthesize(request).duration, 0.1, "synthesis on the same process goes on")
        XCTAssertEqual(good.starts, 1)
        good.close()
        for mode in ["refuse", "bad-seconds"] {
            let e = try engine(mode, [dir.file("\(mode).log")])
            XCTAssertNil(e.predictSeconds(request), mode)
            XCTAssertNil(e.predictSeconds(request), mode)
            XCTAssertEqual(dir.read("\(mode).log")?.split(separator: "\n").count, 1, "\(mode): not asked again")
            e.close()
        }
        // The desk's predictor: the engine's answer once it has one, espeak-ng's count before.
        let predictor = EngineLengthPredictor(fallback: try SpokenLength())
        let input = SpokenLength.Input(n: 1, text: "A line to predict.", voice: Voice.deterministic(for: "A"), lang: "en", samples: [])
        let before = try XCTUnwrap(predictor.predict(input)).seconds
        XCTAssertEqual(before, try SpokenLength().espeakSeconds(input.text, input.voice, lang: "en"), accuracy: 0.05)
        let server = try engine("good")
        predictor.adopt(server)
        XCTAssertEqual(try XCTUnwrap(predictor.predict(input)).seconds, 0.02 * Double(input.text.count), accuracy: 1e-9)
        server.close()
        // The reference server answers from espeak-ng, near the in-process count.
        let reference = try ServerEngine(argv: ["python3", DubdeckBinary.packageRoot + "/scripts/tts_server.py"], timeout: 30)
        let said = try XCTUnwrap(reference.predictSeconds(SpeechRequest(text: input.text, voice: Voice(variant: "m3", pitch: 50, rate: 175), lang: "en", speakerName: "x")))
        XCTAssertGreaterThan(said, 0.5)
        reference.close()
    }

    func testTheReferenceServerSpeaksThroughEspeak() throws {
        let e = try ServerEngine(argv: ["python3", DubdeckBinary.packageRoot + "/scripts/tts_server.py"], timeout: 30)
        let a = try e.synthesize(request)
        XCTAssertGreaterThan(a.duration, 0.3)
        var r = request
        r.text = "A second line, from the same process."
        XCTAssertGreaterThan(try e.synthesize(r).duration, a.duration)
        XCTAssertEqual(e.starts, 1)
        e.close()
    }
}
