import Foundation
import TestSupport
import XCTest
import CKernels
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
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

    /// Embedding several utterances together (their partials grouped six at a time across
    /// utterances) gives the same bits as one at a time, on one core or on every core: a partial is
    /// computed alone whatever its group, its thread count or its neighbours.
    func testBatchesGroupsAndThreadsGiveTheSameBits() throws {
        let encoder = try SpeakerEncoder(modelPath: model)
        // 1, 2, 3, 5 and 13 partials: groups of six mix utterances and end part-full.
        let lengths = [8_000, 40_000, 48_000, 70_000, 176_000]
        let utterances = lengths.enumerated().map { k, n in
            AudioBuffer(samples: (0..<n).map { i in Float(sin(Double(i) * (0.01 + 0.013 * Double(k))) * 0.2 + sin(Double(i) * 0.003) * 0.1) }, rate: 16_000)
        }
        XCTAssertEqual(lengths.map { SpeakerEncoder.partialStarts(samples: $0).count }, [1, 2, 3, 5, 13])
        let alone = try utterances.map { try encoder.embed($0) }
        let oneCore = try utterances.map { try encoder.embed($0, parallel: false) }
        let batched = try encoder.embed(batch: utterances)
        let reversed = try encoder.embed(batch: utterances.reversed())
        XCTAssertEqual(alone, oneCore, "every core = one core")
        XCTAssertEqual(batched, alone, "a batch = one at a time")
        XCTAssertEqual(Array(reversed.reversed()), alone, "other neighbours in the groups")
        for i in 0..<alone.count { for j in (i + 1)..<alone.count { XCTAssertNotEqual(alone[i], alone[j]) } }
        XCTAssertEqual(try encoder.embed(batch: []).count, 0)
        XCTAssertThrowsError(try encoder.embed(batch: [utterances[0], AudioBuffer(samples: [], rate: 16_000)]), "an empty utterance is an error, not a zero vector")
    }

    /// The kernel's product against a double-precision sum: every row count of its micro-kernels
    /// (1 … 6 and blocks past them), outputs that do not fill a panel, bias and an added matrix,
    /// overlapping rows (the frames of a signal) and a range of panels that writes nothing else.
    func testTheMatrixProductEqualsADoubleSum() {
        var rng = SplitMix64(state: 2026_12_02)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &rng) } }
        for (M, N, K) in [(1, 16, 1), (2, 40, 7), (3, 402, 400), (4, 1024, 40), (5, 17, 256), (6, 96, 33), (7, 48, 201), (13, 112, 256), (19, 256, 256)] {
            let W = random(N * K), bias = random(N)
            let panels = (N + 15) / 16, width = panels * 16
            var packed = [Float](repeating: .nan, count: dd_packed_size(Int32(N), Int32(K)))
            dd_pack_panels(W, Int32(N), Int32(K), &packed)
            XCTAssertEqual(packed.count, width * K)
            let lda = max(1, K / 3)  // rows overlap
            let A = random((M - 1) * lda + K), C0 = random(M * width)
            for (withBias, withC0) in [(false, false), (true, false), (false, true), (true, true)] {
                var C = [Float](repeating: .nan, count: M * width)
                dd_gemm_panels(Int32(M), Int32(K), A, lda, packed, 0, Int32(panels), withBias ? bias + [Float](repeating: 0, count: width - N) : nil,
                               withC0 ? C0 : nil, width, &C, width)
                for m in 0..<M {
                    for n in 0..<N {
                        var sum = 0.0
                        for k in 0..<K { sum += Double(A[m * lda + k]) * Double(W[n * K + k]) }
                        if withBias { sum += Double(bias[n]) }
                        if withC0 { sum += Double(C0[m * width + n]) }
                        XCTAssertEqual(Double(C[m * width + n]), sum, accuracy: 1e-5 * Double(K).squareRoot() + 1e-6, "M \(M) N \(N) K \(K) row \(m) output \(n)")
                    }
                    for n in N..<width { XCTAssertEqual(C[m * width + n], withC0 ? C0[m * width + n] : 0, "M \(M) N \(N): padding outputs are zero weights") }
                }
            }
            if panels >= 3 {
                // Only panel 1 asked for: the other outputs untouched, panel 1 as in the whole product.
                var whole = [Float](repeating: 0, count: M * width), part = [Float](repeating: -7, count: M * width)
                dd_gemm_panels(Int32(M), Int32(K), A, lda, packed, 0, Int32(panels), nil, nil, 0, &whole, width)
                dd_gemm_panels(Int32(M), Int32(K), A, lda, packed, 1, 1, nil, nil, 0, &part, width)
                for m in 0..<M {
                    for n in 0..<width { XCTAssertEqual(part[m * width + n], (16..<32).contains(n) ? whole[m * width + n] : -7, "M \(M) N \(N) output \(n)") }
                }
            }
        }
    }

    /// One LSTM layer against a double-precision LSTM written here, on random weights; the same
    /// bits on 1, 2, 3 and 8 threads and for a sequence alone or among others.
    func testTheLSTMLayerEqualsADoubleLSTMOnAnyThreadCount() {
        var rng = SplitMix64(state: 16)
        func random(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) } }
        let H = 48, input = 24, T = 9, G = 4 * H
        let wih = random(G * input, 0.4), whh = random(G * H, 0.3), bias = random(G, 0.5)
        var wihP = [Float](repeating: 0, count: dd_packed_size(Int32(G), Int32(input))), whhP = [Float](repeating: 0, count: dd_packed_size(Int32(G), Int32(H)))
        dd_pack_panels(wih, Int32(G), Int32(input), &wihP)
        dd_pack_panels(whh, Int32(G), Int32(H), &whhP)
        func layer(_ x: [Float], B: Int, threads: Int) -> [Float] {
            var out = [Float](repeating: .nan, count: B * T * H), scratch = [Float](repeating: .nan, count: dd_lstm_scratch_size(Int32(H), Int32(T), Int32(B)))
            dd_lstm_layer(wihP, whhP, bias, Int32(input), Int32(H), Int32(T), Int32(B), x, &out, &scratch, Int32(threads))
            return out
        }
        let B = 8
        let x = random(B * T * input, 1.5)
        let all = layer(x, B: B, threads: 1)
        for threads in [2, 3, 8] { XCTAssertEqual(layer(x, B: B, threads: threads), all, "\(threads) threads") }
        for b in [0, 5, 7] {
            let one = Array(x[(b * T * input)..<((b + 1) * T * input)])
            XCTAssertEqual(layer(one, B: 1, threads: 2), Array(all[(b * T * H)..<((b + 1) * T * H)]), "sequence \(b) alone")
        }
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        var worst = 0.0
        for b in 0..<B {
            var h = [Double](repeating: 0, count: H), c = [Double](repeating: 0, count: H)
            for t in 0..<T {
                var z = [Double](repeating: 0, count: G)
                for r in 0..<G {
                    var s = Double(bias[r])
                    for k in 0..<input { s += Double(wih[r * input + k]) * Double(x[(b * T + t) * input + k]) }
                    for k in 0..<H { s += Double(whh[r * H + k]) * h[k] }
                    z[r] = s
                }
                for j in 0..<H {
                    c[j] = sigmoid(z[H + j]) * c[j] + sigmoid(z[j]) * tanh(z[2 * H + j])
                    h[j] = sigmoid(z[3 * H + j]) * tanh(c[j])
                    worst = max(worst, abs(h[j] - Double(all[(b * T + t) * H + j])))
                }
            }
        }
        XCTAssertLessThan(worst, 1e-5)
        XCTAssertEqual(layer(x, B: 9, threads: 1).filter { !$0.isNaN }.count, 0, "more than eight sequences: refused, nothing written")
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

    /// A float file can hold NaN or infinity: refused (65), never an all-zero "embedding".
    func testAudioThatIsNotFiniteIsRefused() throws {
        let encoder = try SpeakerEncoder()
        for bad in [Float.nan, .infinity, -.infinity] {
            var samples = (0..<32000).map { Float(sin(Double($0) * 0.05)) * 0.3 }
            samples[1000] = bad
            XCTAssertThrowsError(try encoder.embed(AudioBuffer(samples: samples, rate: 16000)), "\(bad)") { e in
                XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(e)")
            }
        }
    }

    /// Values past full scale (a float file may hold 1e18) are the voice at another level: the same
    /// embedding as at full scale, never the all-zero vector the overflow gave.
    func testAudioPastFullScaleIsTheSameVoice() throws {
        let encoder = try SpeakerEncoder()
        let speech = try AudioFile.read(DubdeckBinary.packageRoot + "/Tests/Fixtures/speech/four_speakers.flac", frames: 0..<16_000, mono: true)
        let peak = speech.samples.reduce(Float(0)) { max($0, abs($1)) }
        let full = try encoder.embed(AudioBuffer(samples: speech.samples.map { $0 / peak }, rate: speech.rate))
        for scale: Float in [2, 1e18, 1e30] {
            let e = try encoder.embed(AudioBuffer(samples: speech.samples.map { $0 / peak * scale }, rate: speech.rate))
            XCTAssertEqual(e.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-3, "\(scale): a unit vector")
            XCTAssertGreaterThan(Matching.cosine(e, full), 0.999, "\(scale)")
        }
    }
}

