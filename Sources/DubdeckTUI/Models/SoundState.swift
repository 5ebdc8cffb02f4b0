import DubdeckCore

/// What the desk remembers of the sound between keys: what was heard last (the take A/B returns
/// to, the one keep-take keeps, the next older take), the selected line's decoded take (so `p`
/// plays at once) and whether playback ran at the last tick. A model the desk owns; the sink, the
/// synthesis worker and the store stay the desk's.
struct SoundState {
    /// The take of a line heard last (segment, listed take k, 1 = newest).
    private(set) var lastTake: (segment: Int, k: Int)?
    /// The line whose original was heard last (A/B alternates with its take).
    private(set) var lastOriginal: Int?
    /// The selected line's current take, decoded between keys (its path and file signature).
    var decoded: (path: String, signature: FileIO.StatSignature, pcm: PCM16)?
    /// Playback was running at the last tick (its end clears the progress) and what it plays.
    var wasPlaying = false
    var playingLabel: String?

    mutating func heardTake(_ n: Int, _ k: Int) {
        lastTake = (n, k)
        lastOriginal = nil
    }

    mutating func heardOriginal(_ n: Int) { lastOriginal = n }

    /// The take to play for "previous take" on line n of `count` takes: newest → oldest, then the
    /// newest again.
    func previousTake(_ n: Int, count: Int) -> Int {
        guard let last = lastTake, last.segment == n, lastOriginal != n else { return 1 }
        return last.k >= count ? 1 : last.k + 1
    }

    /// A/B on line n: its original, unless the original was what was heard last (then the take
    /// heard before it, else `current`; nil when there is none).
    enum Comparison: Equatable { case original, take(Int?) }
    func abTarget(_ n: Int, current: Int?) -> Comparison {
        guard lastOriginal == n else { return .original }
        return .take(lastTake.flatMap { $0.segment == n ? $0.k : nil } ?? current)
    }

    /// The take of line n that keep-take keeps: the one heard last, if it was of this line.
    func takeToKeep(_ n: Int) -> Int? {
        guard let last = lastTake, last.segment == n else { return nil }
        return last.k
    }

    /// The decoded take when the file at `path` is still the one decoded.
    func decoded(path: String, signature: FileIO.StatSignature?) -> PCM16? {
        guard let d = decoded, d.path == path, d.signature == signature else { return nil }
        return d.pcm
    }

    /// At a tick: playback stopped since the last one? Then the label of what was played.
    mutating func playbackEnded(playing: Bool) -> String?? {
        defer { wasPlaying = playing }
        guard wasPlaying && !playing else { return nil }
        defer { playingLabel = nil }
        return .some(playingLabel)
    }
}
