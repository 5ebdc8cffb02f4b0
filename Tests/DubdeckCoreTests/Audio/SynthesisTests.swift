import XCTest
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

final class SynthesisTests: XCTestCase {
    var dir: TempDir!

    override func setUp() { dir = TempDir() }

    func job(_ lines: [Fixtures.Line], audioRate: Int? = nil) throws -> TranscriptStore {
        let path = Fixtures.job(in: dir, lines: lines)
        if let rate = audioRate {
            // A stereo source with a distinct ramp in each channel, so a cut can be checked sample by sample.
            let frames = rate * 12
            var samples = [Float](repeating: 0, count: frames * 2)
            for f in 0..<frames {
                samples[2 * f] = Float(f % 2000) / 4000
                samples[2 * f + 1] = -Float(f % 3000) / 6000
            }
            try AudioFile.writeWAV16Atomically(AudioBuffer(samples: samples, rate: rate, channels: 2), to: path + "/audio.wav")
        }
        return try TranscriptStore(job: try JobLoader.load(path), by: "tester")
    }

    func testEspeakProducesSpeechLengthAudio() throws {
        let engine = try EspeakEngine()
        let short = try engine.synthesize(SpeechRequest(text: "Hello.", voice: Voice.deterministic(for: "A"), lang: "en", speakerName: "A"))
        let long = try engine.synthesize(SpeechRequest(text: "Hello there, this is a much longer sentence that takes a while to say.",
                                                       voice: Voice.deterministic(for: "A"), lang: "en", speakerName: "A"))
        XCTAssertGreaterThan(short.trimmedSilence().duration, 0.2)
        XCTAssertLessThan(short.trimmedSilence().duration, 1.5)
        XCTAssertGreaterThan(long.trimmedSilence().duration, 2.5)
        XCTAssertLessThan(long.trimmedSilence().duration, 9)
        XCTAssertGreaterThan(long.rms, 0.01, "not silent")
        // Safe for repeated use: the same request gives the same audio.
        let again = try engine.synthesize(SpeechRequest(text: "Hello.", voice: Voice.deterministic(for: "A"), lang: "en", speakerName: "A"))
        XCTAssertEqual(Double(again.frames), Double(short.frames), accuracy: Double(short.frames) * 0.05)
        let faster = try engine.synthesize(SpeechRequest(text: "Hello there, this is a much longer sentence that takes a while to say.",
                                                         voice: Voice.deterministic(for: "A"), lang: "en", rateFactor: 1.3, speakerName: "A"))
        XCTAssertLessThan(faster.trimmedSilence().duration, long.trimmedSilence().duration * 0.9)
    }

    func testVoicesAreDeterministicAndNamedByLanguage() {
        XCTAssertEqual(Voice.deterministic(for: "SPEAKER_03"), Voice.deterministic(for: "SPEAKER_03"))
        XCTAssertTrue(Voice.variants.contains(Voice.deterministic(for: "x").variant))
        XCTAssertEqual(Voice(variant: "Alex", pitch: 50, rate: 170).name(lang: "en"), "en+Alex")
        let distinct = Set((0..<6).map { Voice.deterministic(for: "SPEAKER_0\($0)").variant })
        XCTAssertGreaterThan(distinct.count, 3, "different speakers mostly get different variants")
    }

    func testShortLineIsPaddedToTheSlotAtTheSourceRate() throws {
        let store = try job([.init(0, 4.0, "S", "", "Hi.")], audioRate: 44_100)
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        let r = try synth.synthesize(1)
        XCTAssertEqual(r.status, "fresh")
        XCTAssertEqual(r.overflowS, 0)
        XCTAssertLessThan(r.speechS, 1.5)
        let take = try AudioFile.read(synth.currentPath(1))
        XCTAssertEqual(take.rate, 44_100, "output at the source audio's rate")
        XCTAssertEqual(take.channels, 1)
        XCTAssertEqual(take.frames, 4 * 44_100, "exactly the slot")
        let tail = take.slice(take.frames - 22_050, take.frames)
        XCTAssertEqual(tail.peak, 0, "padding goes at the end")
        XCTAssertGreaterThan(take.slice(0, 22_050).peak, 0.01, "speech at the start")
        let entry = store.entry(1)
        let preview = entry["last_preview"]!.objectValue!
        XCTAssertEqual(preview["wav"], .string("segments_preview/0001.wav"))
        XCTAssertEqual(preview["engine"], .string("espeak"))
        XCTAssertNotNil(preview["voice"]?.objectValue?["variant"])
        XCTAssertEqual(preview["text_sha256"], .string(SHA256.hex(Array("Hi.".utf8))))
        for key in ["duration_s", "speech_s", "stretch", "overflow_s", "created_at"] { XCTAssertNotNil(preview[key], key) }
        XCTAssertEqual(entry["audio_status"], .string("fresh"))
        let history = try HistoryLog(path: store.job.historyPath).readAll().records
        XCTAssertEqual(history.map { $0.action }, ["synth"])
    }

    func testLongLineIsSpedUpWithinTheLimit() throws {
        let text = "We have to leave right now, the storm is coming."
        let natural = try EspeakEngine().synthesize(SpeechRequest(text: text, voice: Voice.deterministic(for: "S"), lang: "en", speakerName: "S"))
            .trimmedSilence().duration
        let slot = (natural / 1.15 * 100).rounded() / 100
        let store = try job([.init(1, 1 + slot, "S", "", text)])
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine(), maxSpeedup: 1.3)
        let r = try synth.synthesize(1)
        XCTAssertEqual(r.status, "fresh", "\(r)")
        XCTAssertLessThanOrEqual(r.speechS, slot + 0.001)
        XCTAssertGreaterThan(r.stretch, 1.05)
        XCTAssertLessThanOrEqual(r.stretch, 1.3 + 0.02)
        let take = try AudioFile.read(synth.currentPath(1))
        XCTAssertEqual(take.rate, 48_000, "48 kHz without source audio")
        XCTAssertEqual(take.frames, Int((slot * 48_000).rounded()))
    }

    /// SPEC §11.12, P3: a line predicted too long is asked for once, at the rate its prediction needs;
    /// without a prediction espeak-ng speaks it twice (natural, then faster), as before.
    func testAPredictedLineIsSpokenOnceAtItsRate() throws {
        let text = "We have to leave right now, the storm is coming."
        let voice = Voice.deterministic(for: "S")
        let natural = try EspeakEngine().synthesize(SpeechRequest(text: text, voice: voice, lang: "en", speakerName: "S")).trimmedSilence().duration
        let slot = (natural / 1.15 * 100).rounded() / 100
        let store = try job([.init(1, 1 + slot, "S", "", text)])
        let unpredicted = CountingEngine(try EspeakEngine())
        _ = try SegmentSynthesizer(store: store, engine: unpredicted, maxSpeedup: 1.3).synthesize(1)
        XCTAssertEqual(unpredicted.requests.map(\.rateFactor).count, 2, "no prediction: natural, then faster")
        let engine = CountingEngine(try EspeakEngine())
        let synth = SegmentSynthesizer(store: store, engine: engine, maxSpeedup: 1.3)
        let predicted = try SpokenLength().espeakSeconds(text, voice, lang: "en")
        store.recordPrediction(1, SpokenPrediction(text: text, voice: synth.voice(for: store.segment(1)), seconds: predicted))
        let r = try synth.synthesize(1)
        XCTAssertEqual(engine.requests.count, 1, "one engine call")
        XCTAssertEqual(engine.requests[0].rateFactor, min(predicted / slot * 1.02, 1.3), accuracy: 1e-9)
        XCTAssertEqual(r.status, "fresh", "\(r)")
        XCTAssertLessThanOrEqual(r.speechS, slot + 0.001)
        XCTAssertGreaterThan(r.stretch, 1.05)
        XCTAssertLessThanOrEqual(r.stretch, 1.3 + 0.003)
        // A prediction for another text is not this line's: espeak-ng speaks it twice again.
        let other = CountingEngine(try EspeakEngine())
        store.recordPrediction(1, SpokenPrediction(text: text + " Now.", voice: synth.voice(for: store.segment(1)), seconds: predicted))
        _ = try SegmentSynthesizer(store: store, engine: other, maxSpeedup: 1.3).synthesize(1)
        XCTAssertEqual(other.requests.count, 2)
    }

    /// The same through a server: the request carries "rate", the reference server speaks faster, and
    /// nothing is stretched; a line past the cap is asked at the cap (what espeak-ng's words per
    /// minute fall short of it is stretched) and overflows, never past the cap.
    func testAServerIsToldTheRateAndNothingIsStretched() throws {
        let server = try ServerEngine(argv: ["python3", DubdeckBinary.packageRoot + "/scripts/tts_server.py"], timeout: 30)
        defer { server.close() }
        let engine = CountingEngine(server)
        let text = "We have to leave right now, the storm is coming."
        let voice = Voice.deterministic(for: "S")
        let natural = try XCTUnwrap(server.predictSeconds(SpeechRequest(text: text, voice: voice, lang: "en", speakerName: "S")))
        for (slot, status) in [((natural / 1.15 * 100).rounded() / 100, "fresh"), ((natural / 1.6 * 100).rounded() / 100, "overflow")] {
            dir = TempDir()
            let store = try job([.init(1, 1 + slot, "S", "", text)])
            let synth = SegmentSynthesizer(store: store, engine: engine, maxSpeedup: 1.3)
            store.recordPrediction(1, SpokenPrediction(text: text, voice: synth.voice(for: store.segment(1)), seconds: natural))
            let before = engine.requests.count, stretches = TimeStretch.performed.load(ordering: .relaxed)
            let r = try synth.synthesize(1)
            XCTAssertEqual(engine.requests.count - before, 1, "one engine call")
            XCTAssertEqual(engine.requests.last!.rateFactor, min(natural / slot * 1.02, 1.3), accuracy: 1e-9)
            if status == "fresh" {
                XCTAssertEqual(TimeStretch.performed.load(ordering: .relaxed), stretches, "the server spoke faster: nothing stretched (\(r))")
            }
            XCTAssertEqual(r.status, status, "\(r)")
            XCTAssertLessThanOrEqual(r.stretch, 1.3 + 0.003)
            XCTAssertGreaterThan(r.stretch, 1.1, "\(r)")
        }
    }

    func testTooLongLineIsOverflowNeverCut() throws {
        let text = "This sentence is far too long to ever fit into the tiny slot that it was given by the pipeline."
        let store = try job([.init(0, 1.0, "S", "", text)])
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine(), maxSpeedup: 1.3)
        let r = try synth.synthesize(1)
        XCTAssertEqual(r.status, "overflow")
        XCTAssertGreaterThan(r.overflowS, 1)
        XCTAssertEqual(r.speechS, 1.0 + r.overflowS, accuracy: 0.01)
        XCTAssertLessThanOrEqual(r.stretch, 1.3 + 0.02)
        XCTAssertGreaterThan(r.stretch, 1.15, "the full speed-up was used")
        let take = try AudioFile.read(synth.currentPath(1))
        XCTAssertEqual(take.duration, r.speechS, accuracy: 0.01, "the whole speech is kept")
        XCTAssertEqual(store.state(1).audioStatus, "overflow")
        XCTAssertEqual(store.entry(1)["last_preview"]?.objectValue?["overflow_s"]?.doubleValue ?? 0, r.overflowS, accuracy: 0.002)
    }

    func testMaxSpeedupIsAHardCap() throws {
        let text = "This line is far too long for its tiny slot, so it has to be spoken as fast as allowed."
        for cap in [1.1, 1.3, 1.5] {
            let store = try job([.init(0, 2, "S", "", text)])
            for engine in [try EspeakEngine() as SpeechEngine,
                           try CommandEngine(template: ["espeak-ng", "-v", "{voice}", "-w", "{out}", "-f", "{text_file}"])] {
                let r = try SegmentSynthesizer(store: store, engine: engine, maxSpeedup: cap).synthesize(1)
                XCTAssertEqual(r.status, "overflow")
                XCTAssertLessThanOrEqual(r.stretch, cap + 0.003, "cap \(cap), \(engine.name): \(r)")
                XCTAssertGreaterThan(r.stretch, cap - 0.08, "cap \(cap), \(engine.name): it does speed up: \(r)")
            }
        }
    }

    func testCommandEngineIsStretchedByRubberband() throws {
        let text = "We have to leave right now, the storm is coming."
        let store = try job([.init(0, 2.2, "S", "", text)])
        let engine = try CommandEngine(template: ["espeak-ng", "-v", "{voice}", "-w", "{out}", "-f", "{text_file}"])
        let synth = SegmentSynthesizer(store: store, engine: engine, maxSpeedup: 1.5)
        let r = try synth.synthesize(1)
        XCTAssertGreaterThan(r.stretch, 1.05, "\(r)")
        XCTAssertEqual(store.entry(1)["last_preview"]?.objectValue?["engine"], .string("command"))
    }

    /// SPEC §11.7: a take whose engine audio came clipped is said (the result, the store's take
    /// record, hence the desk and the CLI); turned down to the headroom like any, never hidden.
    func testAClippedTakeIsReported() throws {
        let store = try job([.init(0, 2, "S", "", "loud"), .init(3, 5, "S", "", "clean")])
        // sox: a sine 12 dB past full scale is clipped flat at ±32767 (it says so on stderr).
        let loud = try CommandEngine(template: ["sox", "-n", "-r", "16000", "-b", "16", "{out}", "synth", "1", "sine", "300", "gain", "12"])
        let r = try SegmentSynthesizer(store: store, engine: loud).synthesize(1)
        XCTAssertGreaterThan(r.clippedSamples, 1000, "\(r)")
        XCTAssertEqual(store.entry(1)["last_preview"]?.objectValue?["clipped_samples"]?.intValue, r.clippedSamples)
        XCTAssertEqual(store.state(1).preview?.clippedSamples, r.clippedSamples)
        let take = try AudioFile.read(store.job.directory + "/" + r.wav)
        XCTAssertLessThanOrEqual(take.peak, 0.9, "turned down to the headroom all the same")
        let clean = try CommandEngine(template: ["sox", "-n", "-r", "16000", "-b", "16", "{out}", "synth", "1", "sine", "300", "gain", "-3"])
        let c = try SegmentSynthesizer(store: store, engine: clean).synthesize(2)
        XCTAssertEqual(c.clippedSamples, 0)
        XCTAssertNil(store.entry(2)["last_preview"]?.objectValue?["clipped_samples"])
        // What counts: runs held at full scale, not a peak that touches it once.
        XCTAssertEqual(AudioBuffer(samples: [0, 1, 0.5, -1, 0, 0.999, 0.2], rate: 16000, channels: 1).clippedSamples, 0)
        XCTAssertEqual(AudioBuffer(samples: [0, 0.99997, 0.99994, 0.99997, 0.3, 1.5, 1.5, 1.5], rate: 16000, channels: 1).clippedSamples, 3,
                       "a dithered 16-bit clip counts; a float held past full scale is no clip of this audio")
        XCTAssertEqual(AudioBuffer(samples: [0, 1, 1, 1, 1, 0, -1, -1, -1, 0, 1, -1, 1], rate: 16000, channels: 1).clippedSamples, 7)
        XCTAssertEqual(AudioBuffer(samples: [1, 0, 1, 0, 1, 0, 1, 0], rate: 16000, channels: 2).clippedSamples, 4, "per channel")
        XCTAssertEqual(AudioBuffer(samples: (0..<1000).map { Float(sin(Double($0) * 0.05) * 2) }, rate: 16000).clippedSamples, 0,
                       "a float signal swinging past 1.0 is not flattened: turned down, nothing distorted")
        // A stereo file whose left channel alone is clipped: counted before the mix-down the engine's audio gets.
        let stereo = dir.file("stereo.wav")
        XCTAssertEqual(Fixtures.runQuietly(["sox", "-n", "-r", "16000", "-b", "16", dir.file("l.wav"), "synth", "1", "sine", "300", "gain", "12"]), 0)
        XCTAssertEqual(Fixtures.runQuietly(["sox", "-n", "-r", "16000", "-b", "16", dir.file("r.wav"), "synth", "1", "sine", "300", "gain", "-10"]), 0)
        XCTAssertEqual(Fixtures.runQuietly(["sox", "-M", dir.file("l.wav"), dir.file("r.wav"), stereo]), 0)
        let mixed = try AudioFile.read(stereo, mono: true)
        XCTAssertGreaterThan(mixed.clippedSamples, 1000)
        XCTAssertEqual(try AudioFile.read(stereo).clippedSamples, mixed.clippedSamples, "the same count, read whole")
    }

    func testTakesAreImmutableAndTheNewestFiveAreKept() throws {
        let store = try job([.init(0, 3, "S", "", "One.")])
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        var takes: [[Float]] = []
        var seqs: [Int] = []
        for i in 1...6 {
            try store.commit([.edit(1, text: "Take number \(i).")])
            let r = try synth.synthesize(1)
            takes.append(try AudioFile.read(synth.currentPath(1)).samples)
            seqs.append(try store.history.lastSeq())
            XCTAssertEqual(r.take, "0001.take-\(seqs.last!).wav")
            XCTAssertEqual(store.entry(1)["last_preview"]?.objectValue?["take"], .string("segments_preview/" + r.take))
        }
        let names = DirectoryListing.names(synth.previewDirectory).sorted()
        let expected = (["0001.wav"] + seqs.suffix(5).map { "0001.take-\($0).wav" }).sorted()
        XCTAssertEqual(names, expected, "the oldest take is deleted, the newest five stay")
        // Each take file still holds the audio it was made with (nothing was renamed over another).
        for (i, seq) in seqs.enumerated().dropFirst() {
            XCTAssertTrue(try AudioFile.read(synth.previewDirectory + "/0001.take-\(seq).wav").samples == takes[i], "take seq \(seq)")
        }
        // NNNN.wav is the same file as the current take (a hard link).
        var a = stat(), b = stat()
        stat(synth.currentPath(1), &a)
        stat(synth.previewDirectory + "/0001.take-\(seqs.last!).wav", &b)
        XCTAssertEqual(a.st_ino, b.st_ino)
        // Take K of playback: 1 is the current one, 2… the others newest first.
        XCTAssertTrue(try PlaybackSource.take(store, 1, take: 2).samples.count > 0)
        XCTAssertEqual(try PlaybackSource.takeFile(store, 1, take: 2).path, synth.previewDirectory + "/0001.take-\(seqs[4]).wav")
        XCTAssertEqual(Takes.currentName(12345), "12345.wav")
        XCTAssertEqual(Takes.takeName(7, seq: 3), "0007.take-3.wav")
    }

    func testTwoSynthesesInOneSecondAreTwoTakesAndLeaveNoTemporaryFile() throws {
        let store = try job([.init(0, 3, "S", "", "Same words.")])
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        let a = try synth.synthesize(1)
        let b = try synth.synthesize(1)
        XCTAssertNotEqual(a.take, b.take)
        let names = DirectoryListing.names(synth.previewDirectory).sorted()
        XCTAssertEqual(names, ["0001.take-1.wav", "0001.take-2.wav", "0001.wav"])
        XCTAssertFalse(DirectoryListing.names(store.job.directory).contains { $0.contains(".tmp-") })
    }

    func testEditMakesTheTakeStaleAndEditingBackMakesItFresh() throws {
        let store = try job([.init(0, 3, "S", "", "Original words.")])
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        try synth.synthesize(1)
        XCTAssertEqual(store.state(1).audioStatus, "fresh")
        try store.commit([.edit(1, text: "Other words.")])
        XCTAssertEqual(store.state(1).audioStatus, "stale")
        XCTAssertEqual(store.counts().stale, 1)
        try store.commit([.edit(1, text: "Original words.")])
        XCTAssertEqual(store.state(1).audioStatus, "fresh")
    }

    func testLockedLineUsesItsTextAndBatchSkipsFreshLockedLines() throws {
        let store = try job([.init(0, 3, "S", "", "First."), .init(3, 6, "T", "", "Second."), .init(6, 9, "S", "", "Third.")])
        try store.commit([.edit(1, text: "Locked text."), .lock(1, true, by: "t"), .approve(1, true), .approve(2, true)])
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        XCTAssertEqual(SegmentSynthesizer.batchSelection(store, approvedOnly: true), [1, 2])
        try synth.synthesize(1)
        XCTAssertEqual(store.entry(1)["last_preview"]?.objectValue?["text_sha256"], .string(SHA256.hex(Array("Locked text.".utf8))))
        XCTAssertEqual(SegmentSynthesizer.batchSelection(store, approvedOnly: true), [2], "a locked line with a fresh take is skipped")
        XCTAssertEqual(SegmentSynthesizer.batchSelection(store, approvedOnly: false), [2, 3])
    }

    func testCancelledBatchKeepsEveryFinishedTakeAsOneBatch() throws {
        let store = try job((0..<5).map { .init(Double($0) * 3, Double($0) * 3 + 2.5, "S", "", "Line \($0).") })
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        var seen = 0
        // progress(i) comes before line i+1 starts: cancelling once line 2 has started stops after it.
        let summary = synth.batch([1, 2, 3, 4, 5], cancelled: { seen >= 1 }) { done, _, _ in seen = done }
        XCTAssertTrue(summary.cancelled)
        XCTAssertEqual(summary.done, 2)
        let reopened = try TranscriptStore(job: try JobLoader.load(store.job.directory))
        XCTAssertEqual((1...5).map { reopened.state($0).audioStatus }, ["fresh", "fresh", "none", "none", "none"])
        let records = try HistoryLog(path: store.job.historyPath).readAll().records
        XCTAssertEqual(Set(records.compactMap { $0.batch }).count, 1, "one batch id")
        XCTAssertEqual(DirectoryListing.names(store.job.directory + "/segments_preview").filter { $0.contains(".tmp-") }, [],
                       "takes rendered ahead but never installed are removed")
    }

    /// The batch renders on every core but installs in line order, one record per line; a line
    /// that fails (an empty text, an engine error) is counted and the batch goes on.
    func testParallelBatchInstallsInOrderAndKeepsGoing() throws {
        let lines = (0..<24).map { i in Fixtures.Line(Double(i) * 3, Double(i) * 3 + 2.5, "S\(i % 3)", "", i == 7 ? " " : "Line number \(i).") }
        let store = try job(lines)
        let synth = SegmentSynthesizer(store: store, engine: ToneEngine())
        var order: [Int] = []
        let summary = synth.batch(Array(1...24), progress: { _, _, n in if n > 0 { order.append(n) } })
        XCTAssertEqual(order, Array(1...24), "progress in line order")
        XCTAssertEqual(summary.done, 24)
        XCTAssertEqual(summary.failed, 1)
        XCTAssertTrue(summary.failures.first?.hasPrefix("segment 8: ") == true, "\(summary.failures)")
        let records = try HistoryLog(path: store.job.historyPath).readAll().records
        XCTAssertEqual(records.map { $0.segment }, (1...24).filter { $0 != 8 }, "installed in order, the empty line skipped")
        XCTAssertEqual(JobInvariants.problems(job: store.job.directory), [])
        for n in (1...24) where n != 8 {
            // ToneEngine: 60 ms per character; 16 characters fit 2.5 s, fresh and at the source rate.
            let take = try AudioFile.readPCM16(store.job.directory + "/segments_preview/" + Takes.currentName(n))
            XCTAssertEqual(take.frames, Int(2.5 * 48_000), "line \(n)")
        }
        XCTAssertEqual(DirectoryListing.names(store.job.directory + "/segments_preview").filter { $0.contains(".tmp-") }, [])
    }

    /// No silent fallback (SPEC §11.7): a stretch that comes back far from what was asked is an
    /// error naming librubberband, and a line that needed it gets no take — the unstretched audio is
    /// never installed in its place; the line is marked failed, as after an engine's failure.
    func testAFailedStretchIsReportedAndMakesNoTake() throws {
        let tone = AudioBuffer(samples: (0..<48_000).map { Float(sin(Double($0) * 0.05)) * 0.5 }, rate: 48_000)
        XCTAssertEqual(try TimeStretch.stretch(tone, speedup: 1.2).duration, 1 / 1.2, accuracy: 0.02, "the real library, working")
        try TimeStretch.$losesOutput.withValue(true) {
            XCTAssertThrowsError(try TimeStretch.stretch(tone, speedup: 1.2)) { e in
                XCTAssertEqual((e as? DubdeckError)?.status, .ioError, "\(e)")
                XCTAssertTrue("\(e)".contains("librubberband") && "\(e)".contains("the take was not made"), "\(e)")
            }
            XCTAssertEqual(try? TimeStretch.stretch(tone, speedup: 1), tone, "no stretch asked: nothing to fail")
        }
        // An engine that cannot speak faster: its too-long line needs librubberband.
        let store = try job([.init(0, 2.2, "S", "", "We have to leave right now, the storm is coming.")])
        let jobPath = store.job.directory
        let engine = try CommandEngine(template: ["espeak-ng", "-v", "{voice}", "-w", "{out}", "-f", "{text_file}"])
        let synth = SegmentSynthesizer(store: store, engine: engine, maxSpeedup: 1.5)
        try TimeStretch.$losesOutput.withValue(true) {
            XCTAssertThrowsError(try synth.synthesize(1)) { e in XCTAssertTrue("\(e)".contains("librubberband"), "\(e)") }
        }
        XCTAssertEqual(store.state(1).audioStatus, "failed", "recorded as a failure, as an engine's is")
        XCTAssertEqual(DirectoryListing.names(jobPath + "/segments_preview").filter { $0.hasPrefix("0001") }, [], "no take, no temporary")
        XCTAssertEqual(JobInvariants.problems(job: jobPath, allowPhantom: false), [])
        XCTAssertNotEqual(store.state(1).takeStatus, .fresh)
        // The same line with the library working: a take.
        XCTAssertEqual(try synth.synthesize(1).status, "fresh")
    }

    func testEngineFailureMarksTheLineFailed() throws {
        let store = try job([.init(0, 3, "S", "", "Words.")])
        dir.write("fail.sh", "#!/bin/sh\necho 'model not found: xtts' >&2\nexit 3\n")
        chmod(dir.file("fail.sh"), 0o755)
        let synth = SegmentSynthesizer(store: store, engine: try CommandEngine(template: [dir.file("fail.sh"), "{out}"]))
        XCTAssertThrowsError(try synth.synthesize(1)) { e in
            let e = e as! DubdeckError
            XCTAssertTrue(e.message.contains("exit 3") && e.message.contains("model not found"), e.message)
        }
        XCTAssertEqual(store.state(1).audioStatus, "failed")
    }
}
