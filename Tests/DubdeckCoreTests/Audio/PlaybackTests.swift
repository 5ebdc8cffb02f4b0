import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

final class PlaybackTests: XCTestCase {
    func tone(_ seconds: Double, rate: Int = 48_000, channels: Int = 1) -> AudioBuffer {
        let frames = Int(seconds * Double(rate))
        var s = [Float](repeating: 0, count: frames * channels)
        for f in 0..<frames {
            for c in 0..<channels { s[f * channels + c] = Float(sin(Double(f) * 0.05 * Double(c + 1))) * 0.5 }
        }
        return AudioBuffer(samples: s, rate: rate, channels: channels)
    }

    /// ALSA's file PCM begins with exactly the frames played (trailing zeros < one period may follow).
    func assertRecorded(_ recording: String, begins expected: PCM16, file: StaticString = #filePath, line: UInt = #line) throws {
        let got = try AudioFile.readPCM16(recording)
        XCTAssertEqual(got.rate, expected.rate, file: file, line: line)
        XCTAssertEqual(got.channels, expected.channels, file: file, line: line)
        XCTAssertGreaterThanOrEqual(got.samples.count, expected.samples.count, file: file, line: line)
        XCTAssertTrue(Array(got.samples.prefix(expected.samples.count)) == expected.samples, "recorded samples differ", file: file, line: line)
        XCTAssertTrue(got.samples.dropFirst(expected.samples.count).allSatisfy { $0 == 0 }, file: file, line: line)
    }

    func testALSAFilePCMRecordsTheTakeAndTheCutOriginal() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir, lines: [.init(1.25, 2.5, "S", "", "Hello there.")])
        let source = tone(4, rate: 44_100, channels: 2)
        try AudioFile.writeWAV16Atomically(source, to: job + "/audio.wav")
        let store = try TranscriptStore(job: try JobLoader.load(job))
        try SegmentSynthesizer(store: store, engine: try EspeakEngine()).synthesize(1)

        let take = try PlaybackSource.take(store, 1, take: 1)
        let sink = ALSASink(device: "file:FILE=\(dir.file("take.wav")),FORMAT=wav")
        try sink.play(take, label: "take")
        sink.wait()
        try assertRecorded(dir.file("take.wav"), begins: take)

        let original = try PlaybackSource.original(store, 1)
        XCTAssertEqual(original.frames, Int((2.5 * 44_100).rounded()) - Int((1.25 * 44_100).rounded()))
        let all = try AudioFile.readPCM16(job + "/audio.wav")
        let a = Int((1.25 * 44_100).rounded())
        XCTAssertTrue(original.samples == Array(all.samples[(a * 2)..<((a + original.frames) * 2)]), "cut by seeking, frame exact")
        let sink2 = ALSASink(device: "file:FILE=\(dir.file("orig.wav")),FORMAT=wav")
        try sink2.play(original, label: "original")
        sink2.wait()
        try assertRecorded(dir.file("orig.wav"), begins: original)
    }

    func testUnopenableDeviceIsAnErrorNotACrash() {
        let sink = ALSASink(device: "hw:99,0")
        XCTAssertThrowsError(try sink.play(PCM16(tone(0.1)), label: "x")) { e in
            XCTAssertTrue((e as! DubdeckError).message.contains("cannot be opened (pick one with --device)"), (e as! DubdeckError).message)
        }
        XCTAssertFalse(sink.isPlaying)
    }

    func testPacedSinkProgressStopAndReplace() throws {
        let sink = PacedSink()
        try sink.play(PCM16(tone(2)), label: "first")
        usleep(300_000)
        let p = sink.progress!
        XCTAssertEqual(p.total, 2, accuracy: 0.001)
        XCTAssertGreaterThan(p.elapsed, 0.1)
        XCTAssertLessThan(p.elapsed, 1.5, "real-time pacing")
        XCTAssertEqual(p.label, "first")
        let second = PCM16(tone(0.3))
        try sink.play(second, label: "second")  // replaces the first
        XCTAssertEqual(sink.progress?.label, "second")
        sink.wait()
        XCTAssertFalse(sink.isPlaying)
        XCTAssertTrue(sink.recorded == second.samples, "the replacement played whole, the first no further")
        try sink.play(PCM16(tone(2)), label: "third")
        usleep(100_000)
        sink.stop()
        XCTAssertFalse(sink.isPlaying)
        XCTAssertNil(sink.progress)
        let stoppedAt = sink.recorded.count
        usleep(200_000)
        XCTAssertLessThan(sink.recorded.count, 48_000, "stopped early")
        XCTAssertLessThanOrEqual(sink.recorded.count - stoppedAt, 480 * 2, "nothing more after stop")
    }
}

final class AudioFileTests: XCTestCase {
    func testBadAudioFilesAreClearErrors() {
        let dir = TempDir()
        dir.write("text.wav", "this is not audio at all")
        dir.writeBytes("empty.wav", [])
        var header = Array("RIFF".utf8) + [0xFF, 0xFF, 0, 0] + Array("WAVEfmt ".utf8)
        header += [16, 0, 0, 0, 1, 0, 1, 0, 0x80, 0xBB, 0, 0, 0, 0x77, 1, 0, 2, 0, 16, 0] + Array("data".utf8) + [0x00, 0x10, 0, 0] + [1, 2, 3]
        dir.writeBytes("truncated.wav", header)
        for name in ["text.wav", "empty.wav", "truncated.wav"] {
            XCTAssertThrowsError(try AudioFile.read(dir.file(name)), name) { e in
                let e = e as! DubdeckError
                XCTAssertEqual(e.status, .dataError, name)
                XCTAssertTrue(e.message.contains(name), e.message)
            }
        }
        XCTAssertEqual((try? AudioFile.read(dir.file("missing.wav"))) == nil, true)
    }

    func testResampleAndStretchLengths() throws {
        let one = AudioBuffer(samples: (0..<22_050).map { Float(sin(Double($0) * 0.1)) * 0.5 }, rate: 22_050)
        let up = try Resampler.resample(one, to: 48_000)
        XCTAssertEqual(up.rate, 48_000)
        XCTAssertEqual(Double(up.frames), 48_000, accuracy: 48)
        let fast = try TimeStretch.stretch(up, speedup: 1.25)
        XCTAssertEqual(fast.duration, 0.8, accuracy: 0.02)
    }

    func testTrimSilence() {
        var s = [Float](repeating: 0.001, count: 1000)
        s[300] = 0.5
        s[600] = -0.5
        let t = AudioBuffer(samples: s, rate: 1000).trimmedSilence()
        XCTAssertEqual(t.frames, 301, "below -50 dBFS is silence")
    }
}
