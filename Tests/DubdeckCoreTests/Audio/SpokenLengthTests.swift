import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCore

/// Predicted fit (SPEC §11.9): how long a text will be spoken, before any synthesis.
final class SpokenLengthTests: XCTestCase {
    var dir: TempDir!

    override func setUp() { dir = TempDir() }

    func store(_ lines: [Fixtures.Line], name: String = "ep01") throws -> TranscriptStore {
        try TranscriptStore(job: try JobLoader.load(Fixtures.job(in: dir, name: name, lines: lines)), by: "tester")
    }

    func testTheCountIsTheLengthEspeakSpeaks() throws {
        let predictor = try SpokenLength()
        let engine = try EspeakEngine()
        for (id, text) in [("SPEAKER_00", "Morning, everyone! Nice weather today."), ("SPEAKER_03", "I am Robo. Pleased to meet you, sir."),
                           ("SPEAKER_07", "No.")] {
            let voice = Voice.deterministic(for: id)
            let predicted = try predictor.espeakSeconds(text, voice, lang: "en")
            let spoken = try engine.synthesize(SpeechRequest(text: text, voice: voice, lang: "en", speakerName: id)).trimmedSilence().duration
            // espeak-ng itself varies a little from call to call (docs/AUDIO.md): within 5%.
            XCTAssertEqual(predicted, spoken, accuracy: spoken * 0.05, "\(id): \(text)")
        }
        let voice = Voice.deterministic(for: "SPEAKER_00")
        let short = try predictor.espeakSeconds("Yes.", voice, lang: "en")
        let long = try predictor.espeakSeconds("Yes, and then we walked all the way home along the river before dark.", voice, lang: "en")
        XCTAssertGreaterThan(long, short * 4)
        XCTAssertEqual(try predictor.espeakSeconds("  \n ", voice, lang: "en"), 0, "nothing to speak")
        // Faster voice, shorter speech.
        var fast = voice
        fast.rate = 300
        XCTAssertLessThan(try predictor.espeakSeconds("Yes, and then we walked all the way home.", fast, lang: "en"),
                          try predictor.espeakSeconds("Yes, and then we walked all the way home.", voice, lang: "en") * 0.8)
    }

    /// A pasted page is counted on its first characters and scaled by its length: the cost of a
    /// prediction is bounded whatever the text, and its figure still grows with it.
    func testAVeryLongTextIsCountedOnItsBeginningAndScaled() throws {
        let predictor = try SpokenLength()
        let voice = Voice.deterministic(for: "SPEAKER_00")
        let unit = "We walked home along the river before dark. "  // 45 characters
        let short = try predictor.espeakSeconds(String(repeating: unit, count: 13), voice, lang: "en")  // 585: counted whole
        let long = try predictor.espeakSeconds(String(repeating: unit, count: 2_000), voice, lang: "en")  // 90,000
        XCTAssertEqual(long / short, 2_000.0 / 13.0, accuracy: 2_000.0 / 13.0 * 0.1)
        // Chinese is spoken by espeak-ng as Mandarin (cmn): zh has a prediction.
        XCTAssertGreaterThan(try predictor.espeakSeconds("你好，世界", voice, lang: "zh"), 0.3)
        XCTAssertGreaterThan(try predictor.espeakSeconds("你好，世界", voice, lang: "zh-CN"), 0.3)
    }

    func testALanguageEspeakLacksOrAHostileVariantIsNoPrediction() throws {
        let predictor = try SpokenLength()
        let input = SpokenLength.Input(n: 1, text: "hello", voice: Voice.deterministic(for: "A"), lang: "xx-nope", samples: [])
        XCTAssertNil(predictor.predict(input))
        var bad = Voice.deterministic(for: "A")
        bad.variant = "../../etc/passwd"
        XCTAssertNil(predictor.predict(SpokenLength.Input(n: 1, text: "hello", voice: bad, lang: "en", samples: [])))
    }

    func testTheStoreShowsThePredictionForItsTextAndVoiceOnly() throws {
        let store = try store([.init(0, 1.0, "SPEAKER_00", "", "A rather long line that will never be said in one second."),
                               .init(2, 6.0, "SPEAKER_00", "", "Short.")])
        try SpokenLength().predictAll(store)
        let long = store.state(1), short = store.state(2)
        XCTAssertGreaterThan(long.predictedS ?? 0, 2.5)
        XCTAssertTrue(long.willNotFit, "over 1.30 × a 1 s slot")
        XCTAssertTrue(long.isProblem)
        XCTAssertEqual(short.predictedS ?? 9, 0.5, accuracy: 0.4)
        XCTAssertFalse(short.willNotFit)
        XCTAssertEqual(SegmentFilter.willNotFit.includes(long), true)
        XCTAssertEqual(SegmentFilter.willNotFit.includes(short), false)
        XCTAssertEqual(store.counts().willNotFit, 1)
        XCTAssertEqual(store.counts().predicted, 2)
        // A cap high enough lets it fit; the prediction stays.
        store.maxSpeedup = 4
        XCTAssertFalse(store.state(1).willNotFit)
        store.maxSpeedup = 1.3
        // A new text has no prediction until it is predicted again (never the old text's).
        _ = try store.commit([.edit(1, text: "Fine.")])
        XCTAssertNil(store.state(1).predictedS)
        XCTAssertFalse(store.state(1).willNotFit)
        // A longer slot: the same prediction fits.
        _ = try store.commit([.edit(1, text: "A rather long line that will never be said in one second.")])
        try SpokenLength().predictAll(store)
        XCTAssertTrue(store.state(1).willNotFit)
        _ = try store.commit([store.retime(1, to: TimeSlot(start: 0, end: 1.95)!)])
        XCTAssertNotNil(store.state(1).predictedS)
        XCTAssertEqual(store.state(1).willNotFit, store.state(1).predictedS! > 1.95 * 1.3 + 0.001)
        // Another voice (the line given another label): the prediction was not made for it.
        _ = try store.commit([store.speakerChange(1, "SPEAKER_09")])
        XCTAssertNil(store.state(1).predictedS)
    }

    func testReadingSpeedIsNotTheSpeech() throws {
        // A Japanese dub read at 5 chars/s is over the 4 chars/s subtitle limit but speaks in time.
        let path = Fixtures.job(in: dir, lines: [.init(0, 2.0, "SPEAKER_00", "", "ありがとうございます")])
        dir.write("ep01/job.json", #"{"series_id": "s", "episode": "ep01", "tgt_lang": "ja"}"#)
        let store = try TranscriptStore(job: try JobLoader.load(path), by: "tester")
        try SpokenLength().predictAll(store)
        let st = store.state(1)
        XCTAssertTrue(st.tooFast, "over the subtitle reading limit")
        XCTAssertNotNil(st.predictedS)
        XCTAssertFalse(st.willNotFit, "\(st.predictedS!) s in a 3 s slot")
        XCTAssertFalse(SegmentFilter.problems.includes(st) && st.approved, "reading speed alone is no problem")
        _ = try store.commit([.approve(1, true)])
        XCTAssertFalse(store.state(1).isProblem, "approved, fits: no problem whatever the reading speed")
        XCTAssertTrue(SegmentFilter.tooFast.includes(store.state(1)), "too-fast keeps its subtitle meaning")
    }

    func testAnotherEnginesTakesScaleTheCount() throws {
        // ToneEngine speaks 60 ms a character: nothing like espeak-ng's length, but a fixed ratio to
        // it per text. Five of its takes of this voice teach the scale; the sixth line is predicted.
        let texts = ["Good morning to you all.", "We should leave before it rains.", "That is not what I said.",
                     "Where did you put the keys?", "Let us meet again tomorrow.", "I have never seen the sea so calm."]
        let store = try store(texts.enumerated().map { .init(Double($0.offset) * 4, Double($0.offset) * 4 + 3.9, "SPEAKER_00", "", $0.element) })
        let synth = SegmentSynthesizer(store: store, engine: ToneEngine(), maxSpeedup: 1.3)
        for n in 1...5 { _ = try synth.synthesize(n) }
        let predictor = try SpokenLength()
        let six = SpokenLength.input(store, 6)
        XCTAssertEqual(six.samples.count, 5)
        let predicted = try XCTUnwrap(predictor.predict(six)).seconds
        let spoken = try ToneEngine().synthesize(SpeechRequest(text: texts[5], voice: store.voice(6), lang: "en", speakerName: "x")).trimmedSilence().duration
        let raw = try predictor.espeakSeconds(texts[5], store.voice(6), lang: "en")
        // The scale is the median of the takes' natural length over espeak's count of their text.
        var ratios: [Double] = []
        for n in 1...5 {
            let p = try XCTUnwrap(store.state(n).preview)
            ratios.append(p.speechS! * p.stretch! / (try predictor.espeakSeconds(texts[n - 1], store.voice(n), lang: "en")))
        }
        XCTAssertEqual(predicted, raw * ratios.sorted()[2], accuracy: 0.01)
        XCTAssertEqual(predicted, spoken, accuracy: spoken * 0.2, "scaled to the engine's own length")
        // espeak's own takes do not scale espeak's count.
        let other = try self.store([.init(0, 3, "SPEAKER_00", "", "One two three."), .init(4, 7, "SPEAKER_00", "", "Four five six.")], name: "ep02")
        _ = try SegmentSynthesizer(store: other, engine: try EspeakEngine()).synthesize(1)
        XCTAssertTrue(SpokenLength.input(other, 2).samples.isEmpty)
    }
}

