#if canImport(Glibc)
import Glibc
#endif

/// The timing of one line at a glance (SPEC §10.6, §11.9): the loudness of the original and of the
/// current take, one level per text column, on a fixed time scale (the smallest of `scales` that shows
/// 1 s before the slot to 1 s after the slot or the take's end): the same length looks the same on
/// every line. A ruler marks the slot's edges and the seconds; an overflow shows as take past the
/// slot in a strong glyph; a late start as silence at the slot's beginning.
public struct TimingStrip: Equatable, Sendable {
    /// Seconds the strip covers, and the slot inside it.
    public var from: Double, to: Double
    public var slotStart: Double, slotEnd: Double
    /// Level per column, 0 (silence, −48 dBFS or less) … 1 (0 dBFS): RMS over the column's time.
    public var original: [Double]?
    public var take: [Double]?

    public static let margin = 1.0
    public static let floorDB = -48.0
    /// Seconds per column, smallest first: a line is drawn at the first that holds it.
    public static let scales = [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 30, 60]

    public var secondsPerColumn: Double { (to - from) / Double(max(1, columns)) }
    var columns: Int

    /// The strip of line n in `columns` columns: nil parts where there is no source audio or no take.
    public static func build(_ store: TranscriptStore, _ n: Int, columns: Int) -> TimingStrip {
        let job = store.job
        let seg = store.segment(n), cue = job.segments[n - 1]  // the dub's slot; the original's cue
        let takePCM = try? PlaybackSource.take(store, n, take: 1)
        let takeEnd = takePCM.map { seg.start + $0.duration } ?? seg.end
        let cols = max(1, columns)
        let from = max(0, min(seg.start, cue.start) - margin), needed = max(seg.end, cue.end, takeEnd) + margin
        let scale = scales.first { Double(cols) * $0 >= needed - from } ?? (needed - from) / Double(cols)
        let to = from + Double(cols) * scale
        var strip = TimingStrip(from: from, to: to, slotStart: seg.start, slotEnd: seg.end, columns: cols)
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

    init(from: Double, to: Double, slotStart: Double, slotEnd: Double, columns: Int, original: [Double]? = nil, take: [Double]? = nil) {
        self.from = from
        self.to = to
        self.slotStart = slotStart
        self.slotEnd = slotEnd
        self.columns = columns
        self.original = original
        self.take = take
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

    /// What a column of a row is: inside the slot, outside it, or take sounding past the slot's end.
    public enum Cell: Equatable, Sendable { case inside, outside, overflow }

    /// The row's glyphs and what each is. Inside the slot: `·` silence, then ▁ … █; outside it:
    /// ░ ▒ ▓ (space for silence), so the slot's edges and a late start read as text; the take
    /// sounding past the slot's end: `█` whatever its level (`overflow`, drawn in the warning colour).
    public func cells(_ levels: [Double], take: Bool = false) -> [(glyph: Character, cell: Cell)] {
        let blocks: [Character] = ["·", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let shades: [Character] = [" ", "░", "▒", "▓"]
        let step = (to - from) / Double(max(1, levels.count))
        return levels.enumerated().map { c, level in
            let mid = from + (Double(c) + 0.5) * step
            if mid >= slotStart && mid < slotEnd { return (blocks[Int((level * 8).rounded())], .inside) }
            if take, mid >= slotEnd, level > 0.05 { return ("█", .overflow) }
            return (shades[Int((level * 3).rounded())], .outside)
        }
    }

    public func row(_ levels: [Double], take: Bool = false) -> String { String(cells(levels, take: take).map(\.glyph)) }

    /// The ruler over the rows: `[` and `]` at the slot's edges, `╵` at each whole second of the
    /// scale's tick (1 s, or 5/10/60 s on longer scales) with the second written after it where it fits.
    public func ruler() -> String {
        var out = [Character](repeating: " ", count: columns)
        let spc = secondsPerColumn
        let tick = spc <= 0.1 ? 1.0 : spc <= 0.25 ? 2.0 : spc <= 0.5 ? 5.0 : spc <= 2 ? 10.0 : 60.0
        func column(_ t: Double) -> Int { Int(((t - from) / spc).rounded(.down)) }
        var t = (from / tick).rounded(.up) * tick
        var free = 0  // the first column a label may use
        while t < to {
            let c = column(t)
            if c >= 0, c < columns {
                out[c] = "╵"
                let time = Clock.formatTime(t)
                let label = Array(time.hasSuffix(".00") ? String(time.dropLast(3)) : time)
                if c + 1 >= free, c + 1 + label.count < columns {
                    for (k, ch) in label.enumerated() { out[c + 1 + k] = ch }
                    free = c + 2 + label.count
                }
            }
            t += tick
        }
        // The slot's first and last columns, as `cells` counts them (a column by its middle).
        let inside = (0..<columns).filter { c in
            let mid = from + (Double(c) + 0.5) * spc
            return mid >= slotStart && mid < slotEnd
        }
        if let a = inside.first, let b = inside.last {
            out[a] = a == b ? "|" : "["
            if b > a { out[b] = "]" }
        }
        return String(out)
    }
}
