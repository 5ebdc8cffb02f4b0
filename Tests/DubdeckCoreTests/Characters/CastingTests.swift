import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// Casting from the original voice (SPEC §11.9), on real recordings of known speakers
/// (Tests/Fixtures/speech: two women, two men, LibriSpeech).
final class CastingTests: XCTestCase {
    var dir: TempDir!
    static let speech = DubdeckBinary.packageRoot + "/Tests/Fixtures/speech/four_speakers.flac"
    /// Line k (1-based) is 2 s of speech at (k − 1) × 2.5 s; lines 1–2 speaker 367 (F), 3–4 533 (F),
    /// 5–6 1688 (M), 7–8 2033 (M).
    static let speakers = [("SPEAKER_00", true), ("SPEAKER_01", true), ("SPEAKER_02", false), ("SPEAKER_03", false)]

    override func setUp() {
        dir = TempDir()
        setenv("DUBDECK_STORE_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1)
    }

    override func tearDown() { unsetenv("DUBDECK_STORE_KEY") }

    func speakerAudio(_ k: Int) throws -> [AudioBuffer] {
        try (0..<2).map { line in
            let start = Double(2 * k + line) * 2.5
            return try AudioFile.read(CastingTests.speech, frames: Int(start * 8000)..<Int((start + 2) * 8000), mono: true)
        }
    }

    func testThePitchOfRealSpeakersSeparatesTheRegisters() throws {
        for (k, (_, female)) in CastingTests.speakers.enumerated() {
            let e = try XCTUnwrap(Pitch.estimate(try speakerAudio(k)), "speaker \(k)")
            XCTAssertTrue(e.isValid)
            XCTAssertGreaterThan(e.voicedSeconds, 0.3)
            if female {
                XCTAssertGreaterThan(e.medianHz, Casting.boundaryHz + 20, "speaker \(k): \(e.description)")
                XCTAssertLessThan(e.medianHz, 330)
            } else {
                XCTAssertLessThan(e.medianHz, Casting.boundaryHz - 5, "speaker \(k): \(e.description)")
                XCTAssertGreaterThan(e.medianHz, 90)
            }
            XCTAssertLessThanOrEqual(e.lowHz, e.medianHz)
            XCTAssertGreaterThanOrEqual(e.highHz, e.medianHz)
        }
        // Silence and a pure noise floor are no pitch.
        XCTAssertNil(try Pitch.estimate([AudioBuffer(samples: [Float](repeating: 0, count: 16_000), rate: 8000)]))
        XCTAssertNil(try Pitch.estimate([]))
    }

    /// The table casting relies on, checked against espeak-ng itself: each variant at pitch 50
    /// speaks near the F0 the table says, and a cast voice speaks near the speaker's median.
    func testTheCastVoiceSpeaksInTheSpeakersRegister() throws {
        let engine = try EspeakEngine()
        let text = "The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet forest."
        func measured(_ v: Voice) throws -> Double {
            let audio = try engine.synthesize(SpeechRequest(text: text, voice: v, lang: "en", speakerName: "x"))
            return try XCTUnwrap(Pitch.estimate([audio])).medianHz
        }
        for (variant, curve) in Casting.male + Casting.female {
            for (k, pitch) in [25, 50, 75].enumerated() {
                XCTAssertEqual(try measured(Voice(variant: variant, pitch: pitch, rate: 175)), curve[k + 1], accuracy: curve[k + 1] * 0.12, "\(variant) at \(pitch)")
            }
        }
        for (k, (id, female)) in CastingTests.speakers.enumerated() {
            let e = try XCTUnwrap(Pitch.estimate(try speakerAudio(k)))
            let v = Casting.voice(for: e, id: id)
            XCTAssertEqual(Casting.register(of: v.variant), female ? "female" : "male", "\(id): \(v)")
            XCTAssertEqual(try measured(v), e.medianHz, accuracy: e.medianHz * 0.2, "\(id) cast as \(v.variant) pitch \(v.pitch)")
        }
        // A 210 Hz woman never gets a male variant, whatever her ID.
        for id in (0..<40).map({ "SPEAKER_\($0)" }) {
            XCTAssertEqual(Casting.register(of: Casting.voice(for: PitchEstimate(medianHz: 210, lowHz: 180, highHz: 250, voicedSeconds: 5), id: id).variant), "female")
        }
    }

    /// identify on a job of the four speakers: each new character is cast in its speaker's register,
    /// the estimate kept in the (encrypted) store; `characters voice` re-casts and undoes.
    func testIdentifyCastsNewCharactersFromTheirAudio() throws {
        let lines = (0..<8).map { k in Fixtures.Line(Double(k) * 2.5, Double(k) * 2.5 + 2, CastingTests.speakers[k / 2].0, "", "Line \(k + 1).") }
        let job = Fixtures.job(in: dir, lines: lines)
        dir.writeBytes("ep01/audio.flac", try FileIO.read(CastingTests.speech))
        // The pipeline's embeddings (fixed, four apart): the casting reads the audio all the same.
        let table = JSONObject((0..<4).map { k in ("SPEAKER_0\(k)", JSONValue.array((0..<4).map { .number($0 == k ? 1 : 0.05) })) })
        dir.writeBytes("ep01/diarization.json", JSONWriter.encode(.object(JSONObject([("speaker_embeddings", .object(table))]))))
        let storePath = dir.file("data/characters.json")
        let outcome = try CharacterIdentifier.identify(job: try JobLoader.load(job), store: try CharacterStore.open(storePath), threshold: 0.7, force: false)
        XCTAssertEqual(outcome.pitches.count, 4)
        let store = try CharacterStore.open(storePath)
        for a in outcome.assignments {
            let female = CastingTests.speakers.first { $0.0 == a.label }!.1
            let c = try XCTUnwrap(store.character(a.characterID))
            let e = try XCTUnwrap(c.voiceEstimate, "kept in the store")
            XCTAssertEqual(Casting.register(of: c.voice!.variant), female ? "female" : "male", "\(a.label): \(e.description)")
        }
        XCTAssertFalse(String(decoding: dir.bytes("data/characters.json") ?? [], as: UTF8.self).contains("f0_median"), "never in plaintext")

        // Re-cast, shown, undone; an undo after another change is refused.
        let id = outcome.assignments[0].characterID
        let before = store.character(id)!.voice!
        try store.update { _ = try $0.recast(id, to: Voice(variant: "m2", pitch: 20, rate: 170)) }
        var again = try CharacterStore.open(storePath)
        XCTAssertEqual(again.character(id)!.voice, Voice(variant: "m2", pitch: 20, rate: 170))
        try again.update { _ = try $0.undoRecast(id) }
        again = try CharacterStore.open(storePath)
        XCTAssertEqual(again.character(id)!.voice, before)
        XCTAssertThrowsError(try again.update { _ = try $0.undoRecast(id) }, "nothing left to undo")
        try again.update { _ = try $0.recast(id, to: Voice(variant: "m2", pitch: 20, rate: 170)) }
        try again.update { try $0.rename(id, to: "Hana") }
        XCTAssertThrowsError(try again.update { _ = try $0.undoRecast(id) }) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .conflict, "\(e)")
        }
    }

    func testAHostileEstimateInTheStoreIsRefusedWhenRead() throws {
        for bad in [PitchEstimate(medianHz: .nan, lowHz: 100, highHz: 200, voicedSeconds: 1), PitchEstimate(medianHz: 5, lowHz: 1, highHz: 9, voicedSeconds: 1),
                    PitchEstimate(medianHz: 150, lowHz: 200, highHz: 250, voicedSeconds: 1), PitchEstimate(medianHz: 150, lowHz: 100, highHz: 200, voicedSeconds: -1)] {
            XCTAssertFalse(bad.isValid, "\(bad)")
            var c = CharacterRecord(id: "SPEAKER_01", name: "", embeddingAvg: [], embeddingCount: 0, snapshots: [], series: [], speakerWavs: [],
                                    voice: nil, mergedInto: nil, notes: "", createdAt: "", updatedAt: "", extra: JSONObject())
            c.voiceEstimate = bad
            XCTAssertThrowsError(try c.validate(file: "s.json"), "a writer refuses what the reader refuses")
        }
        // A voice past espeak-ng's bounds, or not a voice at all, is refused too (now and before a re-cast).
        var c = CharacterRecord(id: "SPEAKER_01", name: "", embeddingAvg: [], embeddingCount: 0, snapshots: [], series: [], speakerWavs: [],
                                voice: Voice(variant: "f2", pitch: 101, rate: 175), mergedInto: nil, notes: "", createdAt: "", updatedAt: "", extra: JSONObject())
        XCTAssertThrowsError(try c.validate(file: "s.json"))
        c.voice = Voice(variant: "f2", pitch: 50, rate: 175)
        XCTAssertNoThrow(try c.validate(file: "s.json"))
        c.previousVoice = (Voice(variant: "f2", pitch: 50, rate: 5000), 3)
        XCTAssertThrowsError(try c.validate(file: "s.json"))
        for bad in [#""f2""#, #"{"variant": "f2", "pitch": 1e308}"#, #"{"variant": "f2", "rate": "fast"}"#, #"{"pitch": 50}"#, #"{"variant": "f2", "engine": 3}"#] {
            XCTAssertNil(Voice(strictJSON: try JSONParser.parse(Array(bad.utf8))), bad)
        }
        XCTAssertNotNil(Voice(strictJSON: try JSONParser.parse(Array(#"{"variant": "f2"}"#.utf8))), "pitch and rate may be left out")
    }
}
