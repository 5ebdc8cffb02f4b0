import CRubberband
import CSndfile
import CSoxr
import CLazyLibs
#if canImport(Glibc)
import Glibc
#endif

/// Interleaved float samples in [-1, 1] at a sample rate.
public struct AudioBuffer: Equatable, Sendable {
    public var samples: [Float]
    public var rate: Int
    public var channels: Int
    /// Clipped samples the audio had before it was mixed down as it was read (a channel clipped
    /// alone is lost in the mix): what `AudioFile.read(mono:)` counted; 0 otherwise.
    public var sourceClippedSamples = 0

    public init(samples: [Float], rate: Int, channels: Int = 1) {
        self.samples = samples
        self.rate = rate
        self.channels = max(1, channels)
    }

    /// The audio itself: what it was mixed from is no part of its value.
    public static func == (a: AudioBuffer, b: AudioBuffer) -> Bool {
        a.rate == b.rate && a.channels == b.channels && a.samples == b.samples
    }

    public var frames: Int { samples.count / channels }
    public var duration: Double { rate > 0 ? Double(frames) / Double(rate) : 0 }

    /// Channels averaged into one.
    public func mono() -> AudioBuffer {
        if channels == 1 { return self }
        var out = [Float](repeating: 0, count: frames)
        let scale = 1 / Float(channels)
        for f in 0..<frames {
            var sum: Float = 0
            for c in 0..<channels { sum += samples[f * channels + c] }
            out[f] = sum * scale
        }
        return AudioBuffer(samples: out, rate: rate, channels: 1)
    }

    /// Frames [from, to).
    public func slice(_ from: Int, _ to: Int) -> AudioBuffer {
        let a = max(0, min(from, frames)), b = max(a, min(to, frames))
        return AudioBuffer(samples: Array(samples[(a * channels)..<(b * channels)]), rate: rate, channels: channels)
    }

    /// The speech: leading and trailing frames quieter than `thresholdDB` dBFS removed.
    public func trimmedSilence(thresholdDB: Double = -50) -> AudioBuffer {
        let threshold = Float(pow(10, thresholdDB / 20))
        func loud(_ f: Int) -> Bool {
            for c in 0..<channels where abs(samples[f * channels + c]) > threshold { return true }
            return false
        }
        var first = 0
        while first < frames, !loud(first) { first += 1 }
        if first == frames { return AudioBuffer(samples: [], rate: rate, channels: channels) }
        var last = frames - 1
        while last > first, !loud(last) { last -= 1 }
        return slice(first, last + 1)
    }

    /// Silence appended up to `frames` frames (padding goes at the end).
    public func padded(toFrames target: Int) -> AudioBuffer {
        guard target > frames else { return self }
        var copy = self
        copy.samples.append(contentsOf: repeatElement(0, count: (target - frames) * channels))
        return copy
    }

    /// Little-endian 16-bit PCM, clipped.
    public func int16Samples() -> [Int16] {
        samples.map { s in
            let v = (s * 32767).rounded()
            return Int16(max(-32768, min(32767, v)))
        }
    }

    public var peak: Float { samples.reduce(0) { max($0, abs($1)) } }

    /// Samples of hard clipping: its own (ClipCounter), or, for audio mixed down as it was read,
    /// what its channels had before the mix — whichever is more.
    public var clippedSamples: Int {
        var counter = ClipCounter(channels: channels)
        counter.add(samples)
        return max(counter.finish(), sourceClippedSamples)
    }

    public var rms: Float {
        guard !samples.isEmpty else { return 0 }
        return (samples.reduce(0) { $0 + $1 * $1 } / Float(samples.count)).squareRoot()
    }
}

extension AudioBuffer {
    /// Scaled down (never up) so that its peak is at least `db` below full scale.
    public func withHeadroom(_ db: Double) -> AudioBuffer {
        let limit = Float(pow(10, -db / 20))
        let p = peak
        guard p > limit else { return self }
        let gain = limit / p
        return AudioBuffer(samples: samples.map { $0 * gain }, rate: rate, channels: channels)
    }
}

/// Hard clipping, counted as audio streams by: runs of three or more samples of one channel held
/// at full scale — |x| in [0.99, 1.0001] (8-bit's full scale is 127/128), the same sign, each within
/// 1e-4 of the one before (a dithered 16-bit clip moves by a step or two) — a flattened top that
/// turning down does not undo. A peak that touches full scale once is no clip, nor is a float
/// signal that swings past 1.0 (nothing was flattened).
public struct ClipCounter {
    let channels: Int
    var previous: [Float]
    var run: [Int]
    var total = 0
    var position = 0

    public init(channels: Int) {
        self.channels = max(1, channels)
        previous = Array(repeating: 0, count: self.channels)
        run = Array(repeating: 0, count: self.channels)
    }

    /// Interleaved samples, continuing where the last call ended.
    public mutating func add(_ interleaved: some Collection<Float>) {
        for s in interleaved {
            let c = position % channels
            position += 1
            let full = abs(s) >= 0.99 && abs(s) <= 1.0001
            if full, run[c] > 0, abs(s - previous[c]) <= 1e-4 {
                run[c] += 1
            } else {
                if run[c] >= 3 { total += run[c] }
                run[c] = full ? 1 : 0
            }
            previous[c] = s
        }
    }

    /// The clipped samples counted, the runs still open ended.
    public mutating func finish() -> Int {
        for c in 0..<channels where run[c] >= 3 { total += run[c]; run[c] = 0 }
        return total
    }
}
