#if canImport(Glibc)
import Glibc
#endif

/// The timing of one line at a glance (SPEC §10.6): the loudness of the original and of the current
/// take across the slot, one level per text column, from 1 s before the slot to 1 s after the slot
/// or the take's end, whichever is later. An overflow shows as take past the slot; a late start as
/// silence at the slot's beginning.
public struct TimingStrip: Equatable, Sendable {
    /// Seconds the strip covers, and the slot inside it.
    public var from: Double, to: Double
    public var slotStart: Double, slotEnd: Double
    /// Level per column, 0 (silence, −48 dBFS or less) … 1 (0 dBFS): RMS over the column's time.
    public var original: [Double]?
    public var take: [Double]?

    public static let margin = 1.0
    public static let floorDB = -48.0

    /// The strip of line n in `columns` columns: nil parts where there is no source audio or no take.
    public static func build(_ store: TranscriptStore, _ n: Int, columns: Int) -> TimingStrip {
        let job = store.job
        let seg = store.segment(n), cue = job.segments[n - 1]  // the dub's slot; the original's cue
        let takePCM = try? PlaybackSource.take(store, n, take: 1)
        let takeEnd = takePCM.map { seg.start + $0.duration } ?? seg.end
        let from = max(0, min(seg.start, cue.start) - margin), to = max(seg.end, cue.end, takeEnd) + margin
        var strip = TimingStrip(from: from, to: to, slotStart: seg.start, slotEnd: seg.end)
        let cols = max(1, columns)
        if let src = job.sourceAudioPath, let info = try? AudioFile.info(src) {
            let a = min(info.frames, Int((from * Double(info.rate)).rounded()))
            let b = max(a, min(info.frames, Int((to * Double(info.rate)).rounded())))
            if let pcm = try? AudioFile.readPCM16(src, frames: a..<b) {
                strip.original = levels(pcm, offset: from, from: from, to: to, columns: cols)
            }
        }
        if let takePCM { strip.take = levels(takePCM, offset: seg.start, from: from, to: to, columns: cols) }
        return strip
    }

    /// RMS level per column of `pcm` (its first frame at `offset` seconds) over [from, to).
    static func levels(_ pcm: PCM16, offset: Double, from: Double, to: Double, columns: Int) -> [Double] {
        let rate = Double(pcm.rate), ch = pcm.channels
        let step = (to - from) / Double(columns)
        return (0..<columns).map { c in
            let t0 = from + Double(c) * step, t1 = t0 + step
            let f0 = max(0, Int(((t0 - offset) * rate).rounded())), f1 = min(pcm.frames, Int(((t1 - offset) * rate).rounded()))
            guard f1 > f0 else { return 0 }
            var sum = 0.0
            for f in f0..<f1 { let v = Double(pcm.samples[f * ch]) / 32768; sum += v * v }
            let rms = (sum / Double(f1 - f0)).squareRoot()
            guard rms > 0 else { return 0 }
            let db = 20 * log10(rms)
            return max(0, min(1, (db - floorDB) / -floorDB))
        }
    }

    /// Inside the slot: `·` silence, then ▁ … █; outside it: ░ ▒ ▓ (space for silence), so the
    /// slot's edges, a late start and an overflow read as text.
    public func row(_ levels: [Double]) -> String {
        let blocks: [Character] = ["·", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let shades: [Character] = [" ", "░", "▒", "▓"]
        let step = (to - from) / Double(max(1, levels.count))
        var out = ""
        for (c, level) in levels.enumerated() {
            let mid = from + (Double(c) + 0.5) * step
            if mid >= slotStart && mid < slotEnd {
                out.append(blocks[Int((level * 8).rounded())])
            } else {
                out.append(shades[Int((level * 3).rounded())])
            }
        }
        return out
    }
}
