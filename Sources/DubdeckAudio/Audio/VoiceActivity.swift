import CLazyLibs
import DubdeckBase
#if canImport(Glibc)
import Glibc
#endif

/// Speech found before a voice is embedded (SPEC §11.13): WebRTC's voice activity detector (the one
/// the GE2E reference trims its input with) decides, per 30 ms window of 16 kHz audio, whether
/// someone speaks, at its most selective mode; the decisions are smoothed as the reference smooths
/// them (a moving average over 8 windows, rounded half to even; then every window within 3 of speech
/// kept). What is left is the speech a voice is known by: the silence, music and noise a diarization
/// span begins and ends in are not the speaker.
public enum VoiceActivity {
    public static let rate = 16_000
    public static let window = 480  // 30 ms
    /// WebRTC's mode 1 ("low bitrate"): of 0–3 the one that kept identity best under noise without
    /// losing it on clean speech (docs/CHARACTERS.md).
    static let mode: Int32 = 1, average = 8, dilation = 3
    /// The noise suppressor's policy (1, moderate) and the estimated SNR under which it runs (dB):
    /// on clean speech it costs identity, under noise it gives it back (docs/CHARACTERS.md).
    static let suppressionPolicy: Int32 = 1, suppressBelowSNR = 20.0

    /// WebRTC's noise suppressor over 16 kHz mono samples (policy 0–3, mild to very aggressive), 10 ms
    /// at a time; a tail shorter than 10 ms passes as it is.
    public static func suppressNoise(_ samples: [Float], policy: Int32) throws -> [Float] {
        try LazyLibrary.require(dd_webrtc_load, Soname.webrtc)
        guard let ns = dd_WebRtcNs_Create() else { throw DubdeckError(.ioError, "libwebrtc_audio_processing could not make a noise suppressor") }
        defer { dd_WebRtcNs_Free(ns) }
        guard dd_WebRtcNs_Init(ns, UInt32(rate)) == 0, dd_WebRtcNs_set_policy(ns, policy) == 0 else {
            throw DubdeckError(.ioError, "libwebrtc_audio_processing refused to set its noise suppressor up")
        }
        let frame = rate / 100
        var out = samples
        var input = [Float](repeating: 0, count: frame), output = [Float](repeating: 0, count: frame)
        for f in 0..<samples.count / frame {
            // At 16-bit scale, as the suppressor expects; a float file's values past full scale are
            // clamped there (a 1e38 would be infinity, and NaN out of the suppressor).
            for i in 0..<frame { input[i] = max(-32768, min(32767, samples[f * frame + i] * 32768)) }
            input.withUnsafeBufferPointer { i in
                output.withUnsafeMutableBufferPointer { o in
                    dd_WebRtcNs_Analyze(ns, i.baseAddress)
                    var bandIn: UnsafePointer<Float>? = i.baseAddress
                    var bandOut: UnsafeMutablePointer<Float>? = o.baseAddress
                    withUnsafePointer(to: &bandIn) { bi in withUnsafePointer(to: &bandOut) { bo in dd_WebRtcNs_Process(ns, bi, 1, bo) } }
                }
            }
            for i in 0..<frame { out[f * frame + i] = output[i] / 32768 }
        }
        return out
    }

    /// One decision per 30 ms window of 16 kHz mono `samples` (a tail shorter than a window is none), smoothed.
    public static func speechWindows(_ samples: [Float]) throws -> [Bool] {
        try LazyLibrary.require(dd_webrtc_load, Soname.webrtc)
        let count = samples.count / window
        guard count > 0 else { return [] }
        guard let vad = dd_WebRtcVad_Create() else { throw DubdeckError(.ioError, "libwebrtc_audio_processing could not make a voice detector") }
        defer { dd_WebRtcVad_Free(vad) }
        guard dd_WebRtcVad_Init(vad) == 0, dd_WebRtcVad_set_mode(vad, mode) == 0 else {
            throw DubdeckError(.ioError, "libwebrtc_audio_processing refused to set its voice detector up")
        }
        var raw = [Bool](repeating: false, count: count)
        var pcm = [Int16](repeating: 0, count: window)
        for w in 0..<count {
            for i in 0..<window { pcm[i] = Int16(max(-32768, min(32767, (samples[w * window + i] * 32767).rounded()))) }
            let said = pcm.withUnsafeBufferPointer { dd_WebRtcVad_Process(vad, Int32(rate), $0.baseAddress, window) }
            guard said >= 0 else { throw DubdeckError(.ioError, "libwebrtc_audio_processing refused a 30 ms window at 16 kHz") }
            raw[w] = said == 1
        }
        // The reference's smoothing: the mean of windows w−3 … w+4 (none past the ends), rounded half
        // to even (so 5 of 8 is speech, 4 is not); then dilated by 3 windows either side.
        var voiced = [Bool](repeating: false, count: count)
        for w in 0..<count {
            let n = raw[max(0, w - (average - 1) / 2)..<min(count, w + average / 2 + 1)].filter { $0 }.count
            voiced[w] = 2 * n > average
        }
        var out = [Bool](repeating: false, count: count)
        for w in 0..<count where voiced[w] {
            for v in max(0, w - dilation)...min(count - 1, w + dilation) { out[v] = true }
        }
        return out
    }

    /// What one span's audio holds of a voice: its speech alone at 16 kHz mono (the windows without
    /// speech left out), the share of the span that was speech, and an estimate of the speech's
    /// signal-to-noise ratio — the mean power of the speech windows against that of the windows
    /// without speech (the span's quietest tenth when nearly all of it is speech), in dB.
    public struct Hearing: Sendable {
        public var speech: AudioBuffer
        public var ratio: Double
        public var snr: Double
        public var seconds: Double { speech.duration }

        /// How clearly the voice was heard, 0…1 (SPEC §11.13): the product of its clarity (the SNR
        /// from 0 dB, full at `clearSNR`), its length (full at `fullSeconds` of speech) and its
        /// presence (full when at least half of the span is speech: a span mostly noise is doubtful).
        public var quality: Double {
            let clarity = min(1, max(0, snr / Self.clearSNR)), length = min(1, seconds / Self.fullSeconds), presence = min(1, ratio / 0.5)
            return clarity * length * presence
        }
        public static let clearSNR = 15.0, fullSeconds = 1.5
    }

    /// The most an SNR estimate says (dB): past it, digital silence around a voice.
    public static let maxSNR = 60.0

    /// `audio`'s speech and how clearly it was heard. Where the detector's speech is no louder than
    /// what it left out, it has failed (in loud noise it can keep the noise and drop the voice): the
    /// span is taken whole, its SNR the mean power against its quietest tenth.
    public static func hear(_ audio: AudioBuffer) throws -> Hearing {
        let mono = try Resampler.resample(audio.mono(), to: rate)
        var flags = try speechWindows(mono.samples)
        let powers = flags.indices.map { w in mono.samples[w * window..<(w + 1) * window].reduce(0.0) { $0 + Double($1) * Double($1) } / Double(window) }
        let spoken = flags.filter { $0 }.count
        guard spoken > 0 else { return Hearing(speech: AudioBuffer(samples: [], rate: rate), ratio: 0, snr: 0) }
        let mean = { (xs: [Double]) in xs.reduce(0, +) / Double(max(1, xs.count)) }
        let quietestTenth = mean(Array(powers.sorted().prefix(max(1, powers.count / 10))))
        let snr = { (signal: Double, noise: Double) in min(maxSNR, max(-maxSNR, 10 * log10(max(signal - noise, 1e-12) / max(noise, 1e-12)))) }
        let speech = mean(powers.indices.filter { flags[$0] }.map { powers[$0] })
        let quiet = powers.indices.filter { !flags[$0] }.map { powers[$0] }
        // The noise under the voice: the windows without speech when there are enough of them (90 ms),
        // else the span's quietest tenth (the pauses inside speech).
        var estimate = snr(speech, quiet.count >= 3 ? mean(quiet) : quietestTenth)
        if estimate < 0 {
            flags = flags.map { _ in true }
            estimate = snr(mean(powers), quietestTenth)
        }
        let samples = estimate < suppressBelowSNR ? try suppressNoise(mono.samples, policy: suppressionPolicy) : mono.samples
        var kept: [Float] = []
        kept.reserveCapacity(mono.frames)
        for (w, on) in flags.enumerated() where on { kept += samples[w * window..<(w + 1) * window] }
        return Hearing(speech: AudioBuffer(samples: kept, rate: rate), ratio: Double(flags.filter { $0 }.count) / Double(flags.count), snr: estimate)
    }
}
