import CKernels
import Dispatch
#if canImport(Glibc)
import Glibc
import Synchronization
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

    /// A weight matrix packed once into the kernel's panels (CKernels: `dd_pack_panels`).
    struct Packed {
        let values: [Float]
        let outputs: Int, inputs: Int
        var panels: Int { (outputs + Int(DD_PANEL) - 1) / Int(DD_PANEL) }
        /// `matrix`: outputs × inputs, row-major.
        init(_ matrix: [Float], outputs: Int, inputs: Int) {
            precondition(matrix.count == outputs * inputs)
            self.outputs = outputs
            self.inputs = inputs
            values = [Float](unsafeUninitializedCapacity: dd_packed_size(Int32(outputs), Int32(inputs))) { buffer, count in
                dd_pack_panels(matrix, Int32(outputs), Int32(inputs), buffer.baseAddress)
                count = buffer.count
            }
        }

        /// rows × outputs: `a` (rows × inputs, rows `lda` apart) times the matrix (+ bias).
        func apply(_ a: UnsafePointer<Float>, rows: Int, lda: Int, bias: [Float]? = nil) -> [Float] {
            let width = panels * Int(DD_PANEL)
            return [Float](unsafeUninitializedCapacity: rows * width) { out, count in
                if let bias {
                    let padded = bias + [Float](repeating: 0, count: width - bias.count)
                    dd_gemm_panels(Int32(rows), Int32(inputs), a, lda, values, 0, Int32(panels), padded, nil, 0, out.baseAddress, width)
                } else {
                    dd_gemm_panels(Int32(rows), Int32(inputs), a, lda, values, 0, Int32(panels), nil, nil, 0, out.baseAddress, width)
                }
                count = rows * width
            }
        }
    }

    struct Layer {
        var wih: Packed  // 1024 × input
        var whh: Packed  // 1024 × 256
        var bias: [Float]  // b_ih + b_hh
        var input: Int
    }

    let layers: [Layer]
    let linear: Packed  // 256 × 256
    let linearB: [Float]
    /// The windowed DFT as one matrix: outputs 0..<201 the real parts (window × cos), 201..<402 the
    /// imaginary ones (window × sin), over the 400 samples of a frame.
    let dft: Packed
    let mel: Packed  // 40 × 201, Slaney

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
        let H = SpeakerEncoder.hidden
        layers = (0..<3).map { l in
            let input = l == 0 ? SpeakerEncoder.melBands : H
            return Layer(wih: Packed(t("lstm.weight_ih_l\(l)"), outputs: 4 * H, inputs: input), whh: Packed(t("lstm.weight_hh_l\(l)"), outputs: 4 * H, inputs: H),
                         bias: add(t("lstm.bias_ih_l\(l)"), t("lstm.bias_hh_l\(l)")), input: input)
        }
        linear = Packed(t("linear.weight"), outputs: SpeakerEncoder.dim, inputs: H)
        linearB = t("linear.bias")
        let n = SpeakerEncoder.nFFT, bins = n / 2 + 1
        // Periodic Hann; the angles 2πkj/n take only n values.
        let window = (0..<n).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n)) }
        let cosines = (0..<n).map { cos(2 * Double.pi * Double($0) / Double(n)) }, sines = (0..<n).map { sin(2 * Double.pi * Double($0) / Double(n)) }
        var matrix = [Float](repeating: 0, count: 2 * bins * n)
        for k in 0..<bins {
            for j in 0..<n {
                matrix[k * n + j] = Float(window[j] * cosines[k * j % n])
                matrix[(bins + k) * n + j] = Float(window[j] * sines[k * j % n])
            }
        }
        dft = Packed(matrix, outputs: 2 * bins, inputs: n)
        mel = Packed(SpeakerEncoder.slaneyMel(bins: bins), outputs: SpeakerEncoder.melBands, inputs: bins)
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
    /// `parallel`: each layer on every core (false when the caller runs several embeddings at once).
    public func embed(_ audio: AudioBuffer, parallel: Bool = true) throws -> [Float] {
        let threads = parallel ? min(8, max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))) : 1
        return SpeakerEncoder.mean(forward(try partials(of: audio), threads: threads))
    }

    /// Several utterances on every core, in order. The partials of all of them go through the
    /// network together, six to a group (a weight read once serves six): the same bits as one at
    /// a time, since every partial is computed alone whatever its group.
    public func embed(batch: [AudioBuffer]) throws -> [[Float]] {
        let sliced = try SpeakerEncoder.parallelMap(batch.count) { try self.partials(of: batch[$0]) }
        let owners = sliced.indices.flatMap { [Int](repeating: $0, count: sliced[$0].count) }, all = sliced.flatMap { $0 }
        let groups = stride(from: 0, to: all.count, by: SpeakerEncoder.groupSize).map { $0..<min($0 + SpeakerEncoder.groupSize, all.count) }
        let embedded = try SpeakerEncoder.parallelMap(groups.count) { self.forwardGroup(all[groups[$0]], threads: 1) }.flatMap { $0 }
        var per = [[[Float]]](repeating: [], count: batch.count)
        for (k, e) in zip(owners, embedded) { per[k].append(e) }
        return per.map(SpeakerEncoder.mean)
    }

    /// Partials through the network together: a weight read once serves the group, and six
    /// partials keep the kernel's twelve accumulators busy.
    static let groupSize = 6

    /// `body(i)` for i in 0..<count on every core, the results in order (the first error thrown).
    static func parallelMap<T>(_ count: Int, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        let lock = Synchronization.Mutex(())
        // Sendable proof: each index writes its own slot, under `lock`; read after all have run.
        let slots = UncheckedSendable(UnsafeMutablePointer<Swift.Result<T, Error>?>.allocate(capacity: count))
        slots.value.initialize(repeating: nil, count: count)
        defer {
            slots.value.deinitialize(count: count)
            slots.value.deallocate()
        }
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let r = Swift.Result { try body(i) }
            lock.withLock { _ in slots.value[i] = r }
        }
        return try (0..<count).map { try slots.value[$0]!.get() }
    }

    /// The utterance embedding: the L2-normed mean of its partials' embeddings (in order).
    static func mean(_ embeds: [[Float]]) -> [Float] {
        var mean = [Float](repeating: 0, count: SpeakerEncoder.dim)
        for e in embeds { for i in 0..<SpeakerEncoder.dim { mean[i] += e[i] } }
        for i in 0..<SpeakerEncoder.dim { mean[i] /= Float(embeds.count) }
        return SpeakerEncoder.l2(mean)
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

    /// The partials of an utterance (each 160 frames × 40 mel bands): at 16 kHz, its volume raised.
    func partials(of audio: AudioBuffer) throws -> [[Float]] {
        // A float file can hold NaN or infinity: no embedding of it (it came out as zeros, not normed).
        guard audio.samples.allSatisfy({ $0.isFinite }) else { throw DubdeckError(.dataError, "the audio holds samples that are not finite numbers (NaN or infinity)") }
        var wav = try Resampler.resample(audio.mono(), to: SpeakerEncoder.sampleRate).samples
        guard !wav.isEmpty else { throw DubdeckError(.dataError, "no audio to embed") }
        // A float file's values past full scale (1e18 fits a float): its level, not its voice — the
        // power spectrum of them overflows, and the embedding came out all zeros, a vector with no
        // direction. Brought to full scale first; within it, nothing changes.
        let peak = wav.reduce(Float(0)) { max($0, abs($1)) }
        if peak > 1 { for i in wav.indices { wav[i] /= peak } }
        SpeakerEncoder.normalizeVolume(&wav)
        let starts = SpeakerEncoder.partialStarts(samples: wav.count)
        let needed = (starts.last! + SpeakerEncoder.partialFrames) * SpeakerEncoder.hop
        if needed >= wav.count { wav += [Float](repeating: 0, count: needed - wav.count) }
        let mel = melSpectrogram(wav)
        let bands = SpeakerEncoder.melBands, frames = mel.count / bands
        return starts.map { s in
            var m = [Float](repeating: 0, count: SpeakerEncoder.partialFrames * bands)
            let present = min(SpeakerEncoder.partialFrames, frames - s) * bands
            if present > 0 { m.replaceSubrange(0..<present, with: mel[(s * bands)..<(s * bands + present)]) }
            return m
        }
    }

    static func l2(_ v: [Float]) -> [Float] {
        let n = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return n > 0 ? v.map { $0 / n } : v
    }

    /// Frames × 40 mel power values (centred frames, zero padding): every frame through the
    /// windowed DFT matrix at once (the frames are rows of the padded signal, `hop` apart), the
    /// power spectrum, then the mel filters.
    public func melSpectrogram(_ wav: [Float]) -> [Float] {
        let n = SpeakerEncoder.nFFT, hop = SpeakerEncoder.hop, bins = n / 2 + 1, bands = SpeakerEncoder.melBands
        let padded = [Float](repeating: 0, count: n / 2) + wav + [Float](repeating: 0, count: n / 2)
        let frames = 1 + wav.count / hop
        let spectrum = padded.withUnsafeBufferPointer { dft.apply($0.baseAddress!, rows: frames, lda: hop) }
        let width = dft.panels * Int(DD_PANEL)
        let power = [Float](unsafeUninitializedCapacity: frames * bins) { out, count in
            spectrum.withUnsafeBufferPointer { s in
                for f in 0..<frames {
                    for k in 0..<bins {
                        let re = s[f * width + k], im = s[f * width + bins + k]
                        out[f * bins + k] = re * re + im * im
                    }
                }
            }
            count = frames * bins
        }
        let filtered = power.withUnsafeBufferPointer { mel.apply($0.baseAddress!, rows: frames, lda: bins) }
        let melWidth = mel.panels * Int(DD_PANEL)
        return (0..<frames).flatMap { filtered[($0 * melWidth)..<($0 * melWidth + bands)] }
    }

    /// The network on the partials of one utterance, in balanced groups of at most six.
    func forward(_ partials: [[Float]], threads: Int) -> [[Float]] {
        let groups = (partials.count + SpeakerEncoder.groupSize - 1) / SpeakerEncoder.groupSize
        let size = (partials.count + groups - 1) / groups
        return stride(from: 0, to: partials.count, by: size).flatMap { forwardGroup(partials[$0..<min($0 + size, partials.count)], threads: threads) }
    }

    /// At most eight partials through the three LSTM layers (each layer's hidden units shared out
    /// among `threads` cores), then the final hidden state → linear → ReLU → L2.
    func forwardGroup(_ partials: ArraySlice<[Float]>, threads: Int) -> [[Float]] {
        let T = SpeakerEncoder.partialFrames, H = SpeakerEncoder.hidden, B = partials.count, D = SpeakerEncoder.dim
        precondition(B >= 1 && B <= 8)
        var x = partials.flatMap { $0 }
        var scratch = [Float](repeating: 0, count: dd_lstm_scratch_size(Int32(H), Int32(T), Int32(B)))
        for layer in layers {
            var seq = [Float](repeating: 0, count: B * T * H)
            dd_lstm_layer(layer.wih.values, layer.whh.values, layer.bias, Int32(layer.input), Int32(H), Int32(T), Int32(B), x, &seq, &scratch, Int32(threads))
            x = seq
        }
        // Row b: the last hidden state of sequence b.
        let y = x.withUnsafeBufferPointer { linear.apply($0.baseAddress! + (T - 1) * H, rows: B, lda: T * H, bias: linearB) }
        return (0..<B).map { b in SpeakerEncoder.l2(y[(b * D)..<((b + 1) * D)].map { max(0, $0) }) }
    }
}
