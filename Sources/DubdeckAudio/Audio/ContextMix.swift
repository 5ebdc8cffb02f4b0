#if canImport(Glibc)
import Glibc
#endif

/// A line heard in context (SPEC §10.6): the previous, current and next lines at their real times
/// over the source audio ducked by `duckDB`, from `before` seconds before the first of them to
/// `after` seconds after the last. Mixed here, sample by sample, never by the sound device:
///
/// - window: frames round(max(0, first.start − before)·rate) ..< round((last.end + after)·rate),
///   cut to the source's length; rate and channels are the source's;
/// - every sample of the source is scaled by g = 10^(−duckDB/20), except inside the slot
///   [round(start·rate), round(end·rate)) of a line that is heard as the original (no take that
///   matches its text: status none, stale or failed), where it plays at 1;
/// - a line whose take matches its text (fresh or overflow) adds its current take (`NNNN.wav`,
///   resampled to the source rate if it differs; a mono take on every channel) starting at
///   round(start·rate) of its dub slot (the reviewer's times, when moved), cut at the window's end;
///   the window covers the original cues and the dub slots both;
/// - each output sample is the sum in Double, rounded half away from zero, clamped to Int16.
public enum ContextMix {
    public struct Options: Equatable, Sendable {
        public var before: Double
        public var after: Double
        public var duckDB: Double

        public init(before: Double = 1, after: Double = 1, duckDB: Double = 12) {
            self.before = before
            self.after = after
            self.duckDB = duckDB
        }

        /// Bounds a caller's numbers are checked against (seconds and dB).
        public static let maxPadding = 30.0
        public static let maxDuck = 96.0
    }

    public struct Part: Equatable, Sendable {
        public var segment: Int
        /// True: its take is heard; false: the original, at full level.
        public var take: Bool
    }

    public struct Result: Sendable {
        public var pcm: PCM16
        /// The lines heard, in order, and what of each.
        public var parts: [Part]
        /// Where the window starts in the source, in frames.
        public var startFrame: Int
    }

    /// Does line n have a take that says its current text?
    public static func takeMatches(_ store: TranscriptStore, _ n: Int) -> Bool {
        let status = store.state(n).takeStatus
        return (status == .fresh || status == .overflow)
            && Takes.file(store.job, Takes.currentName(n))?.exists == true
    }

    public static func mix(_ store: TranscriptStore, _ n: Int, _ options: Options = Options()) throws -> Result {
        let job = store.job
        guard n >= 1, n <= job.segments.count else { throw DubdeckError(.usage, "no segment \(n) (the job has \(job.segments.count))") }
        guard let src = job.sourceAudioPath else {
            throw DubdeckError(.noInput, "\(Sanitizer.display(job.directory)): no source audio (job.json source_audio, audio.wav or audio.flac)")
        }
        let lines = [n - 1, n, n + 1].filter { $0 >= 1 && $0 <= job.segments.count }
        let segs = lines.map { job.segments[$0 - 1] }
        let info = try AudioFile.info(src)
        let rate = info.rate, channels = max(1, info.channels)
        // A take plays from its dub slot (moved by the reviewer or not); the original at its cue.
        let dubs = lines.map { store.segment($0) }
        let first = (segs + dubs).map(\.start).min()!, last = (segs + dubs).map(\.end).max()!
        let a = min(info.frames, Int((max(0, first - options.before) * Double(rate)).rounded()))
        let b = max(a, min(info.frames, Int(((last + options.after) * Double(rate)).rounded())))
        let source = try AudioFile.readPCM16(src, frames: a..<b)
        let frames = source.frames
        let duck = pow10(-options.duckDB / 20)
        // Per-frame gain of the source: ducked, except in the slots of lines heard as the original.
        var gain = [Double](repeating: duck, count: frames)
        var parts: [Part] = []
        var takes: [(Int, PCM16)] = []
        for (k, line) in lines.enumerated() {
            let seg = segs[k]
            let heardTake = takeMatches(store, line)
            parts.append(Part(segment: line, take: heardTake))
            let start = Int((seg.start * Double(rate)).rounded()) - a
            if heardTake {
                let start = Int((dubs[k].start * Double(rate)).rounded()) - a
                var take = try PlaybackSource.take(store, line, take: 1)
                if take.rate != rate {
                    let f = AudioBuffer(samples: take.samples.map { Float($0) / 32768 }, rate: take.rate, channels: take.channels)
                    take = PCM16(try Resampler.resample(f, to: rate))
                }
                takes.append((start, take))
            } else {
                let end = Int((seg.end * Double(rate)).rounded()) - a
                for f in max(0, start)..<max(max(0, start), min(frames, end)) { gain[f] = 1 }
            }
        }
        var sum = [Double](repeating: 0, count: frames * channels)
        for f in 0..<frames {
            for c in 0..<channels { sum[f * channels + c] = Double(source.samples[f * source.channels + min(c, source.channels - 1)]) * gain[f] }
        }
        for (start, take) in takes {
            for f in 0..<take.frames {
                let at = start + f
                if at < 0 { continue }
                if at >= frames { break }
                for c in 0..<channels {
                    sum[at * channels + c] += Double(take.samples[f * take.channels + min(c, take.channels - 1)])
                }
            }
        }
        let out = sum.map { Int16(max(-32768, min(32767, $0.rounded()))) }
        return Result(pcm: PCM16(samples: out, rate: rate, channels: channels), parts: parts, startFrame: a)
    }

    static func pow10(_ x: Double) -> Double { exp(x * 2.302585092994046) }
}

