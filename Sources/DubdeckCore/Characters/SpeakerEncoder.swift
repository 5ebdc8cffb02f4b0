import CKernels
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The GE2E speaker encoder (SPEC §10.8) as Resemblyzer 0.1.4 runs it, in Swift: audio at 16 kHz,
/// volume raised to −30 dBFS (never lowered), a 40-band mel power spectrogram (25 ms Hann window,
/// 10 ms hop, centred with zero padding, Slaney mel scale and norm), partial utterances of 160
/// frames every 77 frames (1.3 per second; the last kept when it covers ≥ 75 %), a 3-layer LSTM of
/// 256, a linear layer of 256, ReLU and L2 per partial; the utterance embedding is the L2-normed mean.
/// Resemblyzer's voice-activity trimming (webrtcvad) is not done: dubdeck embeds the slots
/// diarization gave, which hold speech. The weights come from `scripts/ge2e_convert.py`.
public final class SpeakerEncoder: @unchecked Sendable {
    // Sendable: immutable after init (weights and tables are read-only).
    public static let type = "ge2e"
    public static let dim = 256
    public static let model = "resemblyzer-0.1.4"
    public static let sampleRate = 16_000
    static let nFFT = 400, hop = 160, melBands = 40, partialFrames = 160, frameStep = 77, hidden = 256

    struct Layer {
        var wih: [Float]  // 1024 × input
        var whh: [Float]  // 1024 × 256
        var bias: [Float]  // b_ih + b_hh
        var input: Int
    }

    let layers: [Layer]
    let linearW: [Float]  // 256 × 256
    let linearB: [Float]
    let melBasis: [Float]  // 40 × 201
    let window: [Float]
    let cosTable: [Float], sinTable: [Float]  // 201 × 400

    /// `$XDG_DATA_HOME/dubdeck/models/ge2e-resemblyzer-0.1.4.f32` (else ~/.local/share/…).
    public static var defaultModelPath: String {
        let base = Environment.get("XDG_DATA_HOME").flatMap { $0.isEmpty ? nil : $0 } ?? ((Environment.get("HOME") ?? "") + "/.local/share")
        return base + "/dubdeck/models/ge2e-resemblyzer-0.1.4.f32"
    }

    public static let missingHelp = "the speaker encoder's model is missing: `make deps` (or `python3 scripts/ge2e_convert.py`; installed: `python3 /usr/share/dubdeck/ge2e_convert.py`) converts Resemblyzer 0.1.4's weights into it"

    public init(modelPath: String = SpeakerEncoder.defaultModelPath) throws {
        guard FileIO.exists(modelPath) else { throw DubdeckError(.noInput, "\(Sanitizer.display(modelPath)): \(SpeakerEncoder.missingHelp)") }
        let bytes = try FileIO.read(modelPath, limit: 64 << 20)
        let tensors = try SpeakerEncoder.parse(bytes, file: modelPath)
        func t(_ name: String) -> [Float] { tensors[name]! }
        func add(_ a: [Float], _ b: [Float]) -> [Float] { zip(a, b).map { $0 + $1 } }
        layers = (0..<3).map { l in
            Layer(wih: t("lstm.weight_ih_l\(l)"), whh: t("lstm.weight_hh_l\(l)"),
                  bias: add(t("lstm.bias_ih_l\(l)"), t("lstm.bias_hh_l\(l)")), input: l == 0 ? SpeakerEncoder.melBands : SpeakerEncoder.hidden)
        }
        linearW = t("linear.weight")
        linearB = t("linear.bias")
        let n = SpeakerEncoder.nFFT, bins = n / 2 + 1
        window = (0..<n).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n))) }  // periodic Hann
        var c = [Float](repeating: 0, count: bins * n), s = [Float](repeating: 0, count: bins * n)
        for k in 0..<bins {
            for j in 0..<n {
                let a = 2 * Double.pi * Double(k * j % n) / Double(n)
                c[k * n + j] = Float(cos(a))
                s[k * n + j] = Float(sin(a))
            }
        }
        cosTable = c
        sinTable = s
        melBasis = SpeakerEncoder.slaneyMel(bins: bins)
    }

    static let expected: [(String, [Int])] = [
        ("lstm.weight_ih_l0", [1024, 40]), ("lstm.weight_hh_l0", [1024, 256]), ("lstm.bias_ih_l0", [1024]), ("lstm.bias_hh_l0", [1024]),
        ("lstm.weight_ih_l1", [1024, 256]), ("lstm.weight_hh_l1", [1024, 256]), ("lstm.bias_ih_l1", [1024]), ("lstm.bias_hh_l1", [1024]),
        ("lstm.weight_ih_l2", [1024, 256]), ("lstm.weight_hh_l2", [1024, 256]), ("lstm.bias_ih_l2", [1024]), ("lstm.bias_hh_l2", [1024]),
        ("linear.weight", [256, 256]), ("linear.bias", [256]),
    ]

    /// The model file: checked whole (its SHA-256), then every tensor's name and shape.
    static func parse(_ bytes: [UInt8], file: String) throws -> [String: [Float]] {
        let shown = Sanitizer.display(file)
        func bad(_ why: String) -> DubdeckError { DubdeckError.data(shown, "not a dubdeck GE2E model (\(why)); \(missingHelp)") }
        guard bytes.count > 44, Array(bytes.prefix(8)) == Array("DDGE2E01".utf8) else { throw bad("no DDGE2E01 header") }
        let body = Array(bytes.dropLast(32))
        guard SHA256.digest(body) == Array(bytes.suffix(32)) else { throw bad("checksum differs: damaged or cut") }
        var at = 8
        func u32() throws -> Int {
            guard at + 4 <= body.count else { throw bad("cut short") }
            defer { at += 4 }
            return Int(body[at]) | Int(body[at + 1]) << 8 | Int(body[at + 2]) << 16 | Int(body[at + 3]) << 24
        }
        let count = try u32()
        guard count == expected.count else { throw bad("\(count) tensors, expected \(expected.count)") }
        var out: [String: [Float]] = [:]
        for (name, shape) in expected {
            guard at + 2 <= body.count else { throw bad("cut short") }
            let len = Int(body[at]) | Int(body[at + 1]) << 8
            at += 2
            guard at + len + 1 <= body.count, String(decoding: body[at..<(at + len)], as: UTF8.self) == name else { throw bad("expected \(name)") }
            at += len
            let ndim = Int(body[at])
            at += 1
            var dims: [Int] = []
            for _ in 0..<ndim { dims.append(try u32()) }
            guard dims == shape else { throw bad("\(name) is \(dims), expected \(shape)") }
            let n = shape.reduce(1, *)
            guard at + 4 * n <= body.count else { throw bad("cut short") }
            var values = [Float](repeating: 0, count: n)
            values.withUnsafeMutableBytes { dst in
                body.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[at..<(at + 4 * n)])) }
            }
            at += 4 * n
            out[name] = values
        }
        guard at == body.count else { throw bad("trailing data") }
        return out
    }

    /// Slaney-style mel filters (as librosa.filters.mel with htk=False, norm="slaney"), 0–8 kHz.
    static func slaneyMel(bins: Int) -> [Float] {
        let sr = Double(sampleRate), n = melBands
        let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp, logStep = log(6.4) / 27
        func hzToMel(_ f: Double) -> Double { f < minLogHz ? f / fSp : minLogMel + log(f / minLogHz) / logStep }
        func melToHz(_ m: Double) -> Double { m < minLogMel ? m * fSp : minLogHz * exp(logStep * (m - minLogMel)) }
        let top = hzToMel(sr / 2)
        let melF = (0..<(n + 2)).map { melToHz(top * Double($0) / Double(n + 1)) }
        let fft = (0..<bins).map { sr / 2 * Double($0) / Double(bins - 1) }
        var w = [Float](repeating: 0, count: n * bins)
        for i in 0..<n {
            let enorm = 2 / (melF[i + 2] - melF[i])
            for k in 0..<bins {
                let lower = (fft[k] - melF[i]) / (melF[i + 1] - melF[i])
                let upper = (melF[i + 2] - fft[k]) / (melF[i + 2] - melF[i + 1])
                w[i * bins + k] = Float(max(0, min(lower, upper)) * enorm)
            }
        }
        return w
    }

    // MARK: Embedding

    /// The embedding of an utterance (mono samples at any rate; resampled to 16 kHz with libsoxr).
    /// `parallel`: its partials on every core (false when the caller runs several embeddings at once).
    public func embed(_ audio: AudioBuffer, parallel: Bool = true) throws -> [Float] {
        var wav = try Resampler.resample(audio.mono(), to: SpeakerEncoder.sampleRate).samples
        guard !wav.isEmpty else { throw DubdeckError(.dataError, "no audio to embed") }
        SpeakerEncoder.normalizeVolume(&wav)
        return embed16k(wav, parallel: parallel)
    }

    /// Several utterances on every core (one each at a time), in order.
    public func embed(batch: [AudioBuffer]) throws -> [[Float]] {
        let results = Mutex()
        var out = [Swift.Result<[Float], Error>?](repeating: nil, count: batch.count)
        let me = UncheckedSendable(self), work = UncheckedSendable(batch)
        // Sendable proof: the encoder is immutable; each index writes its own slot under `results`.
        let slots = UncheckedSendable(UnsafeMutablePointer<[Swift.Result<[Float], Error>?]>.allocate(capacity: 1))
        slots.value.initialize(to: out)
        DispatchQueue.concurrentPerform(iterations: batch.count) { i in
            let r = Swift.Result { try me.value.embed(work.value[i], parallel: false) }
            results.locked { slots.value.pointee[i] = r }
        }
        out = slots.value.pointee
        slots.value.deinitialize(count: 1)
        slots.value.deallocate()
        return try out.map { try $0!.get() }
    }

    /// Raises the volume to −30 dBFS (never lowers it), as Resemblyzer does.
    static func normalizeVolume(_ wav: inout [Float]) {
        let scale = 32767.0
        var sum = 0.0
        for v in wav { sum += Double(v) * scale * Double(v) * scale }
        let rms = (sum / Double(wav.count)).squareRoot()
        guard rms > 0 else { return }
        let change = -30 - 20 * log10(rms / scale)
        if change < 0 { return }
        let g = Float(pow(10, change / 20))
        for i in wav.indices { wav[i] *= g }
    }

    /// Where the partials start (in frames), as Resemblyzer's compute_partial_slices (rate 1.3,
    /// minimum coverage 0.75).
    static func partialStarts(samples: Int) -> [Int] {
        let nFrames = Int((Double(samples + 1) / Double(hop)).rounded(.up))
        let steps = max(1, nFrames - partialFrames + frameStep + 1)
        var starts = Array(stride(from: 0, to: steps, by: frameStep))
        if let last = starts.last, starts.count > 1 {
            let coverage = Double(samples - last * hop) / Double(partialFrames * hop)
            if coverage < 0.75 { starts.removeLast() }
        }
        return starts
    }

    /// The embedding of samples already at 16 kHz and normalised.
    func embed16k(_ samples: [Float], parallel: Bool = true) -> [Float] {
        let starts = SpeakerEncoder.partialStarts(samples: samples.count)
        var wav = samples
        let needed = (starts.last! + SpeakerEncoder.partialFrames) * SpeakerEncoder.hop
        if needed >= wav.count { wav += [Float](repeating: 0, count: needed - wav.count) }
        let mel = melSpectrogram(wav)
        let frames = mel.count / SpeakerEncoder.melBands
        let partials: [[Float]] = starts.map { s in
            var m = [Float](repeating: 0, count: SpeakerEncoder.partialFrames * SpeakerEncoder.melBands)
            for f in 0..<SpeakerEncoder.partialFrames where s + f < frames {
                for b in 0..<SpeakerEncoder.melBands { m[f * SpeakerEncoder.melBands + b] = mel[(s + f) * SpeakerEncoder.melBands + b] }
            }
            return m
        }
        let embeds = parallel ? forward(partials) : stride(from: 0, to: partials.count, by: 4).flatMap {
            forwardGroup(Array(partials[$0..<min($0 + 4, partials.count)]))
        }
        var mean = [Float](repeating: 0, count: SpeakerEncoder.dim)
        for e in embeds { for i in 0..<SpeakerEncoder.dim { mean[i] += e[i] } }
        for i in 0..<SpeakerEncoder.dim { mean[i] /= Float(embeds.count) }
        return SpeakerEncoder.l2(mean)
    }

    static func l2(_ v: [Float]) -> [Float] {
        let n = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return n > 0 ? v.map { $0 / n } : v
    }

    /// Frames × 40 mel power values (centred frames, zero padding).
    public func melSpectrogram(_ wav: [Float]) -> [Float] {
        let n = SpeakerEncoder.nFFT, hop = SpeakerEncoder.hop, bins = n / 2 + 1
        let padded = [Float](repeating: 0, count: n / 2) + wav + [Float](repeating: 0, count: n / 2)
        let frames = 1 + wav.count / hop
        var out = [Float](repeating: 0, count: frames * SpeakerEncoder.melBands)
        var frame = [Float](repeating: 0, count: n)
        var power = [Float](repeating: 0, count: bins)
        var mel = [Float](repeating: 0, count: SpeakerEncoder.melBands)
        for f in 0..<frames {
            let start = f * hop
            for j in 0..<n { frame[j] = padded[start + j] * window[j] }
            dd_dft_power(cosTable, sinTable, Int32(bins), Int32(n), frame, &power)
            dd_gemv(melBasis, Int32(SpeakerEncoder.melBands), Int32(bins), power, nil, &mel)
            for b in 0..<SpeakerEncoder.melBands { out[f * SpeakerEncoder.melBands + b] = mel[b] }
        }
        return out
    }

    /// The network on a batch of partials (each 160 × 40): layer by layer, the input projection of
    /// every frame first, then the recurrence; the final hidden state of the last layer → linear →
    /// ReLU → L2.
    func forward(_ partials: [[Float]]) -> [[Float]] {
        // Up to four partials go through each layer together, the hidden units shared out among
        // the cores (each core keeps its rows of the weights in its cache).
        let cores = min(8, max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        return stride(from: 0, to: partials.count, by: 4).flatMap { forwardGroup(Array(partials[$0..<min($0 + 4, partials.count)]), threads: cores) }
    }

    /// At most four partials through the three LSTM layers, the linear layer, ReLU and L2.
    func forwardGroup(_ partials: [[Float]], threads: Int = 1) -> [[Float]] {
        let T = SpeakerEncoder.partialFrames, H = SpeakerEncoder.hidden, G = 4 * H, B = partials.count
        var x = partials.flatMap { $0 }
        var scratch = [Float](repeating: 0, count: B * G * (T + 1) + 2 * B * H)
        for layer in layers {
            var seq = [Float](repeating: 0, count: B * T * H)
            if threads > 1 {
                dd_lstm_layer_mt(layer.wih, layer.whh, layer.bias, Int32(layer.input), Int32(H), Int32(T), Int32(B), x, &seq, &scratch, Int32(threads))
            } else {
                dd_lstm_layer_batch(layer.wih, layer.whh, layer.bias, Int32(layer.input), Int32(H), Int32(T), Int32(B), x, &seq, &scratch)
            }
            x = seq
        }
        let inputs = (0..<B).map { Array(x[($0 * T * H)..<(($0 + 1) * T * H)]) }
        return inputs.map { seq in
            let last = Array(seq[((T - 1) * H)...])
            var y = [Float](repeating: 0, count: SpeakerEncoder.dim)
            dd_gemv(linearW, Int32(SpeakerEncoder.dim), Int32(H), last, linearB, &y)
            return SpeakerEncoder.l2(y.map { max(0, $0) })
        }
    }
}
