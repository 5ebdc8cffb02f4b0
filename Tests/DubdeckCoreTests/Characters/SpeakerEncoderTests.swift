import Foundation
import TestSupport
import XCTest
@testable import DubdeckCore

/// The GE2E encoder against an independent numpy reference (Tests/Fixtures/ge2e_reference.py), and
/// its model file as untrusted input.
final class SpeakerEncoderTests: XCTestCase {
    let model = SpeakerEncoder.defaultModelPath

    func testTheModelIsThereAfterMakeDeps() {
        XCTAssertTrue(FileIO.exists(model), "\(model): run `make deps` (scripts/ge2e_convert.py)")
    }

    /// Speech of three voices and lengths (one shorter than a partial, one of several partials),
    /// embedded here and by the reference: equal to 1e-4 in every component.
    func testEmbeddingsEqualTheNumpyReference() throws {
        let dir = TempDir()
        let encoder = try SpeakerEncoder(modelPath: model)
        let utterances = [("en+m3", "Good morning."), ("en+f2", "The ship leaves the harbour at dawn and we must not be late again."),
                          ("en+m7", "Everyone, please take your seats. Class is starting, and today we study arithmetic together.")]
        for (k, (voice, text)) in utterances.enumerated() {
            let wav48 = dir.file("u\(k).wav"), wav16 = dir.file("u\(k)_16k.wav")
            XCTAssertEqual(Self.run(["espeak-ng", "-v", voice, "-w", wav48, text]).status, 0)
            XCTAssertEqual(Self.run(["sox", wav48, "-r", "16000", "-c", "1", "-b", "16", wav16]).status, 0)
            let ours = try encoder.embed(try AudioFile.read(wav16))
            let r = Self.run(["python3", DubdeckBinary.packageRoot + "/Tests/Fixtures/ge2e_reference.py", model, wav16])
            XCTAssertEqual(r.status, 0, r.stderr)
            let theirs = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [Double]
            XCTAssertEqual(ours.count, 256)
            XCTAssertEqual(theirs.count, 256)
            let worst = zip(ours, theirs).map { abs(Double($0) - $1) }.max()!
            XCTAssertLessThan(worst, 1e-4, "utterance \(k): largest difference \(worst)")
            XCTAssertEqual(ours.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5, "L2-normed")
            XCTAssertTrue(ours.allSatisfy { $0 >= 0 }, "after ReLU")
        }
    }

    func testADamagedModelIsRefusedAndAMissingOneSaysHowToGetIt() throws {
        let dir = TempDir()
        let good = Array(FileManager.default.contents(atPath: model)!)
        var flipped = good
        flipped[1000] ^= 1
        for (name, bytes, cause) in [("flipped", flipped, "checksum differs"), ("cut", Array(good.prefix(good.count / 2)), "checksum differs"),
                                     ("header", Array("NOTAMODEL".utf8) + good, "no DDGE2E01 header")] {
            dir.writeBytes(name, bytes)
            XCTAssertThrowsError(try SpeakerEncoder(modelPath: dir.file(name))) { e in
                XCTAssertTrue((e as? DubdeckError)?.message.contains(cause) == true, "\(name): \(e)")
                XCTAssertEqual((e as? DubdeckError)?.status, .dataError)
            }
        }
        XCTAssertThrowsError(try SpeakerEncoder(modelPath: dir.file("none"))) { e in
            XCTAssertTrue((e as? DubdeckError)?.message.contains("make deps") == true, "\(e)")
            XCTAssertEqual((e as? DubdeckError)?.status, .noInput)
        }
    }

    func testPartialSlicesAsResemblyzer() {
        // 1.6 s partials every 0.77 s; the last kept when it covers 75 %.
        XCTAssertEqual(SpeakerEncoder.partialStarts(samples: 8000), [0])
        XCTAssertEqual(SpeakerEncoder.partialStarts(samples: 48_000), [0, 77, 154])
        XCTAssertEqual(SpeakerEncoder.partialStarts(samples: 40_000), [0, 77])
    }

    static func run(_ argv: [String]) -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (-1, "", "\(error)") }
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// voice_match: a take against its character's reference, cached beside the immutable take.
final class VoiceMatchTests: KeyEnvironmentTestCase {
    func testScoreIsCachedBesideTheTakeAndADamagedCacheIsMadeAgain() throws {
        _ = useRawKey()
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let source = AudioBuffer(samples: (0..<(48_000 * 20)).map { Float(sin(Double($0) * 0.05)) * 0.3 }, rate: 48_000)
        try AudioFile.writeWAV16Atomically(source, to: job + "/audio.wav")
        let transcript = try TranscriptStore(job: try JobLoader.load(job), by: "t")
        try SegmentSynthesizer(store: transcript, engine: try EspeakEngine()).synthesize(1)
        let cast = try CharacterStore.open(dir.file("data/characters.json"))
        try cast.update { s in
            try s.checkEmbedding(type: "ge2e", dim: 256, model: nil, file: "test")
            let id = s.create(now: Clock.isoNow())
            let take = try AudioFile.read(job + "/segments_preview/0001.wav")
            try ReferenceVoice.set(take, for: id, in: s)
        }
        let id = cast.active[0].id
        dir.write("ep01/characters.map.json", #"{"series_id": "test_series", "episode": "ep01", "labels": {"SPEAKER_00": {"character_id": "\#(id)"}}}"#)
        let store = try TranscriptStore(job: try JobLoader.load(job), by: "t")
        var runs = 0
        let encoder = { () -> SpeakerEncoder? in runs += 1; return try SpeakerEncoder() }
        XCTAssertEqual(VoiceMatch.score(store, 1, cast: cast, encoder: encoder, compute: false), nil, "nothing cached yet")
        let score = try XCTUnwrap(VoiceMatch.score(store, 1, cast: cast, encoder: encoder))
        XCTAssertEqual(score, 1, accuracy: 0.03, "the reference is the take itself (louder: its peak normalised)")
        XCTAssertEqual(VoiceMatch.score(store, 1, cast: cast, encoder: { XCTFail("no encoder needed"); return nil }, compute: false), score)
        let cache = store.job.directory + "/" + Takes.current(of: store.entry(1), 1)! + ".ge2e"
        XCTAssertTrue(FileIO.exists(cache))
        dir.writeBytes(String(cache.dropFirst(dir.path.count + 1)), [UInt8](repeating: 0x41, count: 10))
        XCTAssertNil(VoiceMatch.score(store, 1, cast: cast, encoder: encoder, compute: false), "a damaged cache is not believed")
        XCTAssertEqual(VoiceMatch.score(store, 1, cast: cast, encoder: encoder), score, "and is made again")
        XCTAssertNil(VoiceMatch.score(store, 2, cast: cast, encoder: encoder), "line 2 has no take")
        XCTAssertNil(VoiceMatch.score(store, 1, cast: nil, encoder: encoder), "no store: unknown")
    }
}
