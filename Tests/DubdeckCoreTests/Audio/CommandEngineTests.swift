import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

final class CommandEngineTests: XCTestCase {
    func request(_ text: String, ref: String? = nil) -> SpeechRequest {
        SpeechRequest(text: text, voice: Voice(variant: "Alex", pitch: 50, rate: 175), lang: "en", referenceWav: ref, speakerName: "SPEAKER_07")
    }

    func testRealEspeakBinaryThroughTheTemplate() throws {
        let engine = try CommandEngine(template: ["espeak-ng", "-v", "{voice}", "-w", "{out}", "-f", "{text_file}"])
        let audio = try engine.synthesize(request("Testing the command engine."))
        XCTAssertGreaterThan(audio.trimmedSilence().duration, 0.8)
        XCTAssertGreaterThan(audio.rms, 0.01)
    }

    func testHostileTextNeverReachesAShell() throws {
        let dir = TempDir()
        // The engine copies the text file it was given next to the output, and writes a tone.
        dir.write("tts.sh", "#!/bin/sh\ncp \"$1\" \(dir.file("seen.txt"))\nsox -n -r 16000 -c 1 -b 16 \"$2\" synth 0.5 sine 440\n")
        chmod(dir.file("tts.sh"), 0o755)
        let engine = try CommandEngine(template: [dir.file("tts.sh"), "{text_file}", "{out}"])
        let hostile = "-rf $(touch \(dir.file("pwned"))) `touch \(dir.file("pwned2"))`; \"quoted\" 'single'\nsecond line --help"
        let audio = try engine.synthesize(request(hostile))
        XCTAssertEqual(audio.duration, 0.5, accuracy: 0.01)
        XCTAssertEqual(dir.read("seen.txt"), hostile, "the text arrives intact, through the file")
        XCTAssertFalse(FileIO.exists(dir.file("pwned")))
        XCTAssertFalse(FileIO.exists(dir.file("pwned2")))
    }

    func testPlaceholdersAreSubstitutedInsideArguments() throws {
        let dir = TempDir()
        dir.write("args.sh", "#!/bin/sh\nprintf '%s\\n' \"$@\" > \(dir.file("args.txt"))\nsox -n -r 16000 -c 1 -b 16 \"$4\" synth 0.2 sine 300\n")
        chmod(dir.file("args.sh"), 0o755)
        let engine = try CommandEngine(template: [dir.file("args.sh"), "--lang={lang}", "--voice", "{voice}", "{out}", "--ref={ref_wav}"])
        _ = try engine.synthesize(request("x", ref: "/refs/a.wav"))
        let args = dir.read("args.txt")!.split(separator: "\n").map(String.init)
        XCTAssertEqual(args[0], "--lang=en")
        XCTAssertEqual(args[2], "en+Alex")
        XCTAssertEqual(args[4], "--ref=/refs/a.wav")
    }

    /// `{rate}`: a template that takes it is told the rate (and is asked at it by the synthesizer,
    /// one call a line); one without it cannot change its rate.
    func testTheRatePlaceholder() throws {
        let dir = TempDir()
        dir.write("rate.sh", "#!/bin/sh\nprintf '%s\\n' \"$1\" >> \(dir.file("rates.txt"))\nespeak-ng -s \"$(python3 -c \"print(int(175 * float('$1')))\")\" -w \"$2\" -f \"$3\"\n")
        chmod(dir.file("rate.sh"), 0o755)
        let engine = try CommandEngine(template: [dir.file("rate.sh"), "{rate}", "{out}", "{text_file}"])
        XCTAssertTrue(engine.canChangeRate)
        XCTAssertFalse(try CommandEngine(template: ["espeak-ng", "-w", "{out}", "-f", "{text_file}"]).canChangeRate)
        var r = request("Testing the rate of the command engine.")
        let natural = try engine.synthesize(r).trimmedSilence().duration
        r.rateFactor = 1.25
        let faster = try engine.synthesize(r).trimmedSilence().duration
        XCTAssertEqual(dir.read("rates.txt"), "1\n1.25\n")
        XCTAssertLessThan(faster, natural * 0.9, "spoken faster by the engine itself")
    }

    func testHangingEngineTimesOut() throws {
        let dir = TempDir()
        dir.write("hang.sh", "#!/bin/sh\nsleep 30\n")
        chmod(dir.file("hang.sh"), 0o755)
        let engine = try CommandEngine(template: [dir.file("hang.sh"), "{out}"], timeout: 0.5)
        let t0 = Clock.monotonic()
        XCTAssertThrowsError(try engine.synthesize(request("x"))) { e in
            XCTAssertTrue((e as! DubdeckError).message.contains("timed out"), (e as! DubdeckError).message)
        }
        XCTAssertLessThan(Clock.monotonic() - t0, 10)
    }

    /// A command that floods its standard error is stopped at the bound, not at its timeout (the
    /// disk is not filled for a minute).
    func testAFloodIsStoppedOnDisk() throws {
        let dir = TempDir()
        dir.write("flood.sh", "#!/bin/sh\nyes 'a line of noise' >&2\n")
        chmod(dir.file("flood.sh"), 0o755)
        let engine = try CommandEngine(template: [dir.file("flood.sh"), "{out}"], timeout: 600)
        XCTAssertThrowsError(try engine.synthesize(request("x"))) { e in
            let m = (e as! DubdeckError).message
            XCTAssertTrue(m.contains("wrote more than 1048576 bytes to its standard error"), m)
            XCTAssertEqual((e as! DubdeckError).status, .ioError)
        }
    }

    func testMissingReferenceIsAnErrorNamingTheCharacter() throws {
        let engine = try CommandEngine(template: ["xtts", "--ref", "{ref_wav}", "-o", "{out}", "{text_file}"])
        XCTAssertThrowsError(try engine.synthesize(request("x"))) { e in
            XCTAssertTrue((e as! DubdeckError).message.contains("SPEAKER_07"), (e as! DubdeckError).message)
        }
    }

    /// A command engine's predict command (DUBDECK_ENGINE_PREDICT_COMMAND): its printed seconds are
    /// the prediction; one that prints anything else is not run again; none: no prediction of its own.
    func testAPredictCommandSaysHowLongOrIsNotAskedAgain() throws {
        let dir = TempDir()
        let request = SpeechRequest(text: "twelve chars", voice: Voice.deterministic(for: "A"), lang: "en", speakerName: "A")
        let say = try CommandEngine(template: ["true", "{out}"], predictTemplate: [
            "python3", "-c", "import sys; print(0.05 * len(open(sys.argv[1]).read()))", "{text_file}"])
        XCTAssertEqual(try XCTUnwrap(say.predictSeconds(request)), 0.6, accuracy: 1e-9)
        let log = dir.file("asked.log")
        let garbage = try CommandEngine(template: ["true", "{out}"], predictTemplate: [
            "python3", "-c", "import sys; open(sys.argv[1], 'a').write('x\\n'); print('soon')", log])
        XCTAssertNil(garbage.predictSeconds(request))
        XCTAssertNil(garbage.predictSeconds(request))
        XCTAssertEqual(dir.read("asked.log"), "x\n", "not run again")
        for printed in ["-1", "1e9", "nan", "inf", ""] {
            let e = try CommandEngine(template: ["true", "{out}"], predictTemplate: ["python3", "-c", "print('\(printed)')"])
            XCTAssertNil(e.predictSeconds(request), printed)
        }
        XCTAssertNil(try CommandEngine(template: ["true", "{out}"]).predictSeconds(request))
        // The desk's predictor asks it once the synthesis made it.
        let predictor = EngineLengthPredictor(fallback: nil)
        let input = SpokenLength.Input(n: 1, text: "twelve chars", voice: request.voice, lang: "en", samples: [])
        XCTAssertNil(predictor.predict(input))
        predictor.adopt(say)
        XCTAssertEqual(try XCTUnwrap(predictor.predict(input)).seconds, 0.6, accuracy: 1e-9)
    }

    func testTemplateErrors() {
        XCTAssertThrowsError(try CommandEngine(template: []))
        XCTAssertThrowsError(try CommandEngine(template: ["espeak-ng", "{text_file}"]), "a template must write {out}")
        XCTAssertThrowsError(try CommandEngine(template: ["/no/such/tts", "{out}"]).synthesize(request("x")))
    }
}
