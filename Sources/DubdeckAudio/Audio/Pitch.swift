import CKernels

/// A speaker's pitch from recorded speech: the median fundamental frequency (F0) of its voiced
/// frames and the 10th–90th percentile range — what casting a voice in the same register needs.
public struct PitchEstimate: Equatable, Sendable {
    public var medianHz: Double
    public var lowHz: Double
    public var highHz: Double
    /// Seconds of voiced speech the estimate rests on.
    public var voicedSeconds: Double

    public init(medianHz: Double, lowHz: Double, highHz: Double, voicedSeconds: Double) {
        self.medianHz = medianHz
        self.lowHz = lowHz
        self.highHz = highHz
        self.voicedSeconds = voicedSeconds
    }

    /// The range a reader and a writer accept: a human voice's F0, a day of speech at most.
    public static let hzRange = 40.0...1000.0
    public var isValid: Bool {
        PitchEstimate.hzRange.contains(medianHz) && PitchEstimate.hzRange.contains(lowHz) && PitchEstimate.hzRange.contains(highHz)
            && lowHz <= medianHz && medianHz <= highHz && voicedSeconds >= 0 && voicedSeconds <= 86_400
    }

    /// `median 212 Hz (range 180–251 Hz, 8.4 s voiced)`.
    public var description: String {
        "median \(Int(medianHz.rounded())) Hz (range \(Int(lowHz.rounded()))–\(Int(highHz.rounded())) Hz, \(JSONValue.formatNumber((voicedSeconds * 10).rounded() / 10)) s voiced)"
    }
}

public enum Pitch {
    /// Analysis rate: F0 up to 500 Hz needs no more, and the difference loop costs a quarter of 16 kHz's.
    static let rate = 8_000
    static let minHz = 60.0, maxHz = 500.0
    /// YIN's threshold on the normalised difference: below it a frame is voiced (0.25: recordings with
    /// room noise keep enough voiced frames; the median does not move with it).
    static let threshold: Float = 0.25
    /// At most this much speech is analysed per speaker (a voice's register is known well before).
    public static let maxSeconds = 30.0

    /// The estimate over `speech` (any rate, mono), nil with under 0.3 s of voiced frames.
    /// Frames of 40 ms every 10 ms; a frame is analysed when it is louder than 15% of the 95th
    /// percentile frame level (the quiet ones are pauses and breath); its period is YIN's first dip
    /// below the threshold, refined to the local minimum.
    public static func estimate(_ speech: [AudioBuffer]) throws -> PitchEstimate? {
        var x: [Float] = []
        var total = 0.0
        for part in speech where total < maxSeconds {
            var mono = part.channels == 1 ? part : part.mono()
            if mono.duration > maxSeconds - total { mono = mono.slice(0, Int((maxSeconds - total) * Double(mono.rate))) }
            total += mono.duration
            let down = mono.rate == rate ? mono : try Resampler.resample(mono, to: rate)
            x += down.samples
            x += [Float](repeating: 0, count: rate / 20)  // apart: no frame spans two lines
        }
        let n = rate / 25, hop = rate / 100
        let minLag = Int((Double(rate) / maxHz).rounded(.down)), maxLag = Int((Double(rate) / minHz).rounded(.up))
        guard x.count > n + maxLag else { return nil }
        let starts = Array(stride(from: 0, to: x.count - n - maxLag, by: hop))
        let levels = starts.map { s -> Float in
            var e: Float = 0
            for i in s..<(s + n) { e += x[i] * x[i] }
            return (e / Float(n)).squareRoot()
        }
        let sortedLevels = levels.sorted()
        let gate = 0.15 * sortedLevels[min(sortedLevels.count - 1, Int(Double(sortedLevels.count) * 0.95))]
        guard gate > 0 else { return nil }
        var f0: [Double] = []
        var d = [Float](repeating: 0, count: maxLag)
        x.withUnsafeBufferPointer { xs in
            for (k, s) in starts.enumerated() where levels[k] >= gate {
                dd_yin_difference(xs.baseAddress! + s, Int32(n), Int32(maxLag), &d)
                var t = minLag
                while t <= maxLag, d[t - 1] >= threshold { t += 1 }
                guard t <= maxLag else { continue }
                while t < maxLag, d[t] < d[t - 1] { t += 1 }
                f0.append(Double(rate) / Double(t))
            }
        }
        let voiced = Double(f0.count) * Double(hop) / Double(rate)
        guard voiced >= 0.3 else { return nil }
        f0.sort()
        func at(_ q: Double) -> Double { f0[min(f0.count - 1, Int(Double(f0.count - 1) * q + 0.5))] }
        return PitchEstimate(medianHz: at(0.5), lowHz: at(0.1), highHz: at(0.9), voicedSeconds: voiced)
    }
}

/// Casting: an engine voice in the register of the original speaker (SPEC §11.9).
public enum Casting {
    /// espeak-ng variants by register, each with the median F0 (Hz) it speaks at pitch 0, 25, 50, 75
    /// and 100 (measured with this estimator on espeak-ng 1.51; CastingTests checks the table against
    /// espeak-ng itself). The curve is not a fixed factor: each variant's own points are interpolated.
    public static let male: [(variant: String, hz: [Double])] = [
        ("m1", [68, 78, 98, 119, 157]), ("m3", [70, 91, 103, 131, 170]), ("adam", [73, 87, 105, 131, 170]),
        ("max", [72, 81, 103, 129, 170]), ("caleb", [73, 87, 105, 131, 170]),
    ]
    public static let female: [(variant: String, hz: [Double])] = [
        ("f1", [123, 140, 178, 229, 308]), ("f2", [129, 157, 195, 250, 320]), ("f4", [114, 142, 178, 235, 308]),
        ("Andrea", [148, 186, 242, 320, 421]), ("Annie", [195, 216, 242, 286, 348]), ("belinda", [133, 170, 229, 308, 421]),
        ("linda", [133, 174, 229, 308, 400]),
    ]
    /// Below this median a voice is cast from the male variants (typical adult medians: men 85–180 Hz,
    /// women 165–255 Hz; the boundary sits where the two overlap least).
    public static let boundaryHz = 185.0

    /// The voice for a speaker of this pitch: a variant of its register (which one: from the ID, so
    /// characters of one register still differ) at the pitch parameter that puts its median F0 on
    /// the speaker's, at the ID's deterministic rate.
    public static func voice(for estimate: PitchEstimate, id: String) -> Voice {
        let base = Voice.deterministic(for: id)
        let register = estimate.medianHz < boundaryHz ? male : female
        let pick = register[Int(Voice.stableHash(id + "#cast") % UInt64(register.count))]
        return Voice(engine: base.engine, variant: pick.variant, pitch: pitch(for: estimate.medianHz, on: pick.hz), rate: base.rate)
    }

    /// The pitch parameter (0 … 100) at which a variant of this curve speaks at `hz`.
    static func pitch(for hz: Double, on curve: [Double]) -> Int {
        if hz <= curve[0] { return 0 }
        for k in 1..<curve.count where hz <= curve[k] {
            let p = 25 * (Double(k - 1) + (hz - curve[k - 1]) / (curve[k] - curve[k - 1]))
            return Int(p.rounded())
        }
        return 100
    }

    /// The register a variant belongs to (nil: not one casting knows).
    public static func register(of variant: String) -> String? {
        if male.contains(where: { $0.variant == variant }) { return "male" }
        if female.contains(where: { $0.variant == variant }) { return "female" }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
