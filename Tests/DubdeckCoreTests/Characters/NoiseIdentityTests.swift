import XCTest
import TestSupport
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// Identity in a real mix (SPEC §11.13): the same seasons — espeak-ng voices as the speakers, each
/// episode one track with diarization spans that begin and end in the bed — identified from the audio
/// alone, clean and under sox's pink noise at 10 dB. The detector, the noise suppressor and the
/// quality weight keep identity under noise within a stated margin of the clean figure
/// (docs/CHARACTERS.md has the full bench: `dubdeck-bench noise`).
final class NoiseIdentityTests: KeyEnvironmentTestCase {
    /// At 10 dB SNR, stability at most `stabilityMargin` under the clean figure, and at most
    /// `sharedMargin` more characters per season shared by two speakers.
    static let stabilityMargin = 0.03, sharedMargin = 1.0

    func testIdentityAt10dBIsWithinTheMarginOfClean() throws {
        let work = TempDir("dubdeck-noise")
        var bench = try NoiseSeasons(dir: work.path, speech: nil)
        bench.pool = NoiseSeasons.distinctVoices
        let seasons = try (0..<3).map { _ in try bench.season() }
        let clean = try bench.measure(seasons, noise: nil, snr: 0)
        let noisy = try bench.measure(seasons, noise: "pink", snr: 10)
        let said = "clean \(clean.figures.stability) / \(clean.figures.sharedPerSeason), pink 10 dB \(noisy.figures.stability) / \(noisy.figures.sharedPerSeason)"
        XCTAssertGreaterThanOrEqual(noisy.figures.stability, clean.figures.stability - Self.stabilityMargin, said)
        XCTAssertLessThanOrEqual(noisy.figures.sharedPerSeason, clean.figures.sharedPerSeason + Self.sharedMargin, said)
        // The noise was heard as noise: every label measured, clean ones clearer than noisy ones.
        let q = { (labels: [SeasonSimulator.Label]) in labels.compactMap(\.quality).reduce(0, +) / Double(max(1, labels.count)) }
        XCTAssertEqual(noisy.labels.filter { $0.quality == nil }.count, 0)
        XCTAssertGreaterThan(q(clean.labels), 0.85, said)
        XCTAssertLessThan(q(noisy.labels), q(clean.labels) - 0.15, said)
        // Sanity of the bench itself: seasons of several speakers, most kept apart even clean.
        XCTAssertGreaterThan(clean.figures.stability, 0.8, said)
    }

    /// A hostile diarization (10,000 copies of one span) costs what one label's first
    /// `maxLabelSeconds` cost: the work of identify from the audio is bounded by its labels.
    func testTenThousandCopiesOfASpanReadOneLabelsWorth() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir, lines: [.init(0, 3.9, "A", "x", "y")])
        let speech = try AudioFile.read(DubdeckBinary.packageRoot + "/Tests/Fixtures/speech/four_speakers.flac", frames: 0..<32_000, mono: true)
        try AudioFile.writeWAV16(speech, to: job + "/audio.wav")
        let span = #"{"start": 0, "end": 3.9, "speaker": "A"}"#
        dir.write("ep01/diarization.json", #"{"segments": ["# + Array(repeating: span, count: 10_000).joined(separator: ",") + "]}")
        let voices = try CharacterIdentifier.labels(of: try JobLoader.load(job), encoder: { try SpeakerEncoder() }, fromAudio: true)
        let heard = try XCTUnwrap(voices.heard["A"])
        XCTAssertEqual(heard.utterances, Int((CharacterIdentifier.maxLabelSeconds / 3.9).rounded(.up)), "spans read until 300 s of the label's audio")
        XCTAssertEqual(voices.labels.map(\.0), ["A"])
    }
}

