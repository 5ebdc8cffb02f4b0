import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// WebRTC's voice activity detector as the speaker encoder's input is trimmed with it (SPEC §11.13):
/// real speech kept, the silence and the noise around it left out, too little speech no voice at all.
final class VoiceActivityTests: XCTestCase {
    /// Line 1 of the casting fixture: 2 s of a LibriSpeech speaker (8 kHz).
    func speech() throws -> AudioBuffer {
        try AudioFile.read(DubdeckBinary.packageRoot + "/Tests/Fixtures/speech/four_speakers.flac", frames: 0..<16_000, mono: true)
    }

    func testSpeechIsKeptAndTheSilenceAndNoiseAroundItAreNot() throws {
        let s = try Resampler.resample(try speech(), to: 16_000).samples
        var noise = Noise(state: 4)
        // 1.5 s of silence, the 2 s of speech, 1.5 s of a faint hiss (40 dB under the speech).
        let rms = (s.reduce(0) { $0 + $1 * $1 } / Float(s.count)).squareRoot()
        let hiss = (0..<24_000).map { _ in noise.next() * rms / 100 }
        let track = [Float](repeating: 0, count: 24_000) + s + hiss
        let flags = try VoiceActivity.speechWindows(track)
        XCTAssertEqual(flags.count, track.count / 480)
        XCTAssertFalse(flags[0..<40].contains(true), "the first 1.2 s are silence")
        XCTAssertFalse(flags[(flags.count - 40)...].contains(true), "the last 1.2 s are hiss")
        let heard = try VoiceActivity.hear(AudioBuffer(samples: track, rate: 16_000))
        XCTAssertGreaterThan(heard.seconds, 1.2, "most of the speech is kept")
        XCTAssertLessThan(heard.seconds, 2.4, "and little more than it")
        XCTAssertEqual(heard.ratio, heard.seconds / 5, accuracy: 0.02)
        // The 8 kHz original gives the same decisions as its 16 kHz resampling (it is resampled first).
        let again = try VoiceActivity.hear(AudioBuffer(samples: [Float](repeating: 0, count: 12_000) + (try speech()).samples, rate: 8_000))
        XCTAssertGreaterThan(again.seconds, 1.2)
    }

    func testTooLittleAudioIsNoVoice() throws {
        XCTAssertEqual(try VoiceActivity.speechWindows([Float](repeating: 0.5, count: 479)), [], "shorter than one window")
        XCTAssertEqual(try VoiceActivity.hear(AudioBuffer(samples: [], rate: 44_100)).speech.frames, 0)
        XCTAssertEqual(try VoiceActivity.hear(AudioBuffer(samples: [], rate: 44_100)).quality, 0)
        XCTAssertNil(try CharacterIdentifier.speechToEmbed(AudioBuffer(samples: [Float](repeating: 0, count: 48_000), rate: 16_000)), "a second of silence")
        // Full-scale values past ±1 are clamped, not trapped, on the way to 16 bits.
        XCTAssertNoThrow(try VoiceActivity.speechWindows([Float](repeating: 7, count: 4_800)))
    }

    /// Speech in white noise at `snr` dB (the speech's power against the noise's), 1 s of the noise
    /// alone on either side, at 16 kHz.
    func mix(_ s: [Float], snr: Double, seed: UInt64 = 9) -> [Float] {
        var noise = Noise(state: seed)
        let rms = (s.reduce(0) { $0 + $1 * $1 } / Float(s.count)).squareRoot()
        let track = [Float](repeating: 0, count: 16_000) + s + [Float](repeating: 0, count: 16_000)
        let level = rms / Float(pow(10, snr / 20)) / 0.58  // Noise's deviation is ~0.58
        return track.map { $0 + noise.next() * level }
    }

    /// How clearly a voice was heard follows the noise under it: the SNR estimate falls as the noise
    /// rises (within a few dB of the truth at 10 dB) and the quality with it; it stays in 0…1.
    func testClarityFollowsTheNoise() throws {
        let s = try Resampler.resample(try speech(), to: 16_000).samples
        let heard = try [40.0, 20, 10, 3].map { try VoiceActivity.hear(AudioBuffer(samples: mix(s, snr: $0), rate: 16_000)) }
        for (a, b) in zip(heard, heard.dropFirst()) {
            XCTAssertGreaterThan(a.snr, b.snr, "\(heard.map(\.snr))")
            XCTAssertGreaterThanOrEqual(a.quality, b.quality, "\(heard.map(\.quality))")
        }
        XCTAssertEqual(heard[2].snr, 10, accuracy: 4, "the estimate at 10 dB")
        XCTAssertGreaterThan(heard[0].quality, 0.8, "a clear voice")
        XCTAssertLessThan(heard[3].quality, 0.4, "a voice barely over the noise")
        for h in heard { XCTAssertTrue((0...1).contains(h.quality)) }
    }

    /// Quality is the product of clarity (SNR from 0 dB, full at 15), length (full at 1.5 s of speech)
    /// and presence (full at half the span), each bounded: no estimate takes it out of 0…1.
    func testQualityIsBoundedAndEachPartCounts() {
        func q(_ snr: Double, _ seconds: Double, _ ratio: Double) -> Double {
            VoiceActivity.Hearing(speech: AudioBuffer(samples: [Float](repeating: 0, count: Int(seconds * 16_000)), rate: 16_000), ratio: ratio, snr: snr).quality
        }
        XCTAssertEqual(q(30, 3, 0.9), 1, accuracy: 1e-9)
        XCTAssertEqual(q(7.5, 3, 0.9), 0.5, accuracy: 1e-9)
        XCTAssertEqual(q(30, 0.75, 0.9), 0.5, accuracy: 1e-9)
        XCTAssertEqual(q(30, 3, 0.25), 0.5, accuracy: 1e-9)
        XCTAssertEqual(q(-60, 3, 1), 0, "under the noise: nothing")
        XCTAssertEqual(q(VoiceActivity.maxSNR, 100, 1), 1)
        XCTAssertEqual(q(.infinity, 3, 1), 1)
    }

    /// The noise suppressor takes most of a steady noise away and far less of a voice.
    func testNoiseSuppressionLowersNoiseMoreThanSpeech() throws {
        var noise = Noise(state: 3)
        let hiss = (0..<32_000).map { _ in noise.next() * 0.05 }
        let decibels = { (after: [Float], before: [Float], from: Int) in
            10 * log10(after[from...].reduce(0.0) { $0 + Double($1) * Double($1) } / before[from...].reduce(0.0) { $0 + Double($1) * Double($1) })
        }
        let quieter = try VoiceActivity.suppressNoise(hiss, policy: VoiceActivity.suppressionPolicy)
        XCTAssertEqual(quieter.count, hiss.count)
        // After its first half second (it learns the noise): at least 6 dB less.
        let noiseDrop = decibels(quieter, hiss, 8_000)
        XCTAssertLessThan(noiseDrop, -6)
        let s = try Resampler.resample(try speech(), to: 16_000).samples
        let speechDrop = decibels(try VoiceActivity.suppressNoise(s, policy: VoiceActivity.suppressionPolicy), s, 0)
        XCTAssertGreaterThan(speechDrop, noiseDrop + 5, "speech keeps far more of itself than noise")
        XCTAssertEqual(try VoiceActivity.suppressNoise([], policy: 1), [])
        XCTAssertEqual(try VoiceActivity.suppressNoise([0.5, -0.5], policy: 1), [0.5, -0.5], "a tail under 10 ms passes as it is")
        // Past full scale (a float file may hold 1e30): clamped, never infinity or NaN out.
        let loud = try VoiceActivity.suppressNoise((0..<3_200).map { $0 % 2 == 0 ? 1e30 : -1e30 }, policy: 1)
        XCTAssertTrue(loud.allSatisfy { $0.isFinite })
        let heard = try VoiceActivity.hear(AudioBuffer(samples: (0..<16_000).map { Float($0 % 7) * 1e30 }, rate: 16_000))
        XCTAssertTrue(heard.speech.samples.allSatisfy { $0.isFinite } && heard.quality.isFinite && (0...1).contains(heard.quality))
    }

    /// A detector whose speech is quieter than what it left out has failed (in loud noise it keeps
    /// the noise and drops the voice): the span is taken whole. Here a loud hum it does not call
    /// speech follows the voice.
    func testADetectorWhoseSpeechIsQuieterThanTheRestIsOverruled() throws {
        let s = try Resampler.resample(try speech(), to: 16_000).samples
        let hum = (0..<16_000).map { Float(sin(Double($0) * 2 * .pi * 100 / 16_000)) * 0.8 }
        let flags = try VoiceActivity.speechWindows(s + hum)
        XCTAssertFalse(flags[(flags.count - 20)...].contains(true), "the hum is not speech")
        XCTAssertTrue(flags.contains(true))
        let heard = try VoiceActivity.hear(AudioBuffer(samples: s + hum, rate: 16_000))
        XCTAssertEqual(heard.ratio, 1)
        XCTAssertEqual(heard.speech.frames, flags.count * VoiceActivity.window, "all of it")
        // The voice alone: only the detector's windows.
        let alone = try VoiceActivity.hear(AudioBuffer(samples: s + [Float](repeating: 0, count: 16_000), rate: 16_000))
        XCTAssertLessThan(alone.ratio, 0.9)
    }
}
