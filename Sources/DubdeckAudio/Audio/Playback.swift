import CAlsa
import CAlsaQuiet
import CLazyLibs
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// 16-bit interleaved PCM ready for a device.
public struct PCM16: Sendable {
    public var samples: [Int16]
    public var rate: Int
    public var channels: Int
    public var frames: Int { samples.count / max(1, channels) }
    public var duration: Double { Double(frames) / Double(max(1, rate)) }

    public init(samples: [Int16], rate: Int, channels: Int) {
        self.samples = samples
        self.rate = rate
        self.channels = max(1, channels)
    }

    public init(_ buffer: AudioBuffer) {
        self.init(samples: buffer.int16Samples(), rate: buffer.rate, channels: buffer.channels)
    }
}

/// Where sound goes. A new `play` replaces (stops) the one before.
public protocol AudioSink: AnyObject {
    func play(_ pcm: PCM16, label: String) throws
    func stop()
    var isPlaying: Bool { get }
    /// (elapsed, total) seconds of the current sound, for a progress display.
    var progress: (elapsed: Double, total: Double, label: String)? { get }
    /// Blocks until the current sound has finished (or was stopped).
    func wait()
}

/// Shared bookkeeping of the sinks: one background player at a time, a stop flag, progress.
/// Sendable as its subclasses are: what the player's thread and the caller share is in `state`.
public class ThreadedSink: @unchecked Sendable {
    struct State {
        var generation = 0
        var playing = false
        var framesDone = 0
        var current: PCM16?
        var currentLabel = ""
        var waiting = 0
    }
    let state = Synchronization.Mutex(State())
    let done = DispatchSemaphore(value: 0)

    func begin(_ pcm: PCM16, label: String) -> Int {
        state.withLock { s in
            s.generation += 1
            s.playing = true
            s.framesDone = 0
            s.current = pcm
            s.currentLabel = label
            return s.generation
        }
    }

    func isCurrent(_ gen: Int) -> Bool { state.withLock { $0.generation == gen && $0.playing } }

    func advance(_ gen: Int, frames: Int) { state.withLock { s in if s.generation == gen { s.framesDone += frames } } }

    func finish(_ gen: Int) {
        let wake: Int = state.withLock { s in
            guard s.generation == gen else { return 0 }
            s.playing = false
            let w = s.waiting
            s.waiting = 0
            return w
        }
        for _ in 0..<wake { done.signal() }
    }

    public func stop() {
        let wake: Int = state.withLock { s in
            s.generation += 1
            s.playing = false
            let w = s.waiting
            s.waiting = 0
            return w
        }
        for _ in 0..<wake { done.signal() }
    }

    public var isPlaying: Bool { state.withLock { $0.playing } }

    public var progress: (elapsed: Double, total: Double, label: String)? {
        state.withLock { s in
            guard s.playing, let pcm = s.current else { return nil }
            return (Double(s.framesDone) / Double(pcm.rate), pcm.duration, s.currentLabel)
        }
    }

    public func wait() {
        let mustWait: Bool = state.withLock { s in
            if !s.playing { return false }
            s.waiting += 1
            return true
        }
        if mustWait { done.wait() }
    }
}

/// ALSA playback on a background thread. Device: --device, else DUBDECK_AUDIO_DEVICE, else
/// "default". `file:FILE=/tmp/x.wav,FORMAT=wav` records what was played (tests).
/// ALSA's own error output, kept out of the terminal (SPEC §10.5): installed once, taken as one
/// message naming the device.
public enum ALSAMessages {
    /// A lazy static is initialized once, thread-safely.
    static let installed: Bool = {
        dd_alsa_quiet_install()
        return true
    }()
    public static func quiet() { _ = installed }

    /// What ALSA said since the last call, or nil.
    public static func take() -> String? {
        var buf = [CChar](repeating: 0, count: 512)
        let n = buf.withUnsafeMutableBufferPointer { dd_alsa_take_message($0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }
}

/// An open PCM handed from `play` to the sink's serial queue, which alone uses it from then on.
struct PCMDevice: @unchecked Sendable {
    let handle: OpaquePointer
}

/// Sendable as ThreadedSink: `device` and `queue` are immutable.
public final class ALSASink: ThreadedSink, AudioSink, @unchecked Sendable {
    public let device: String
    let queue = DispatchQueue(label: "dubdeck.alsa")

    /// Also waits until the device is closed (drained or dropped).
    public override func wait() {
        super.wait()
        queue.sync {}
    }

    public init(device: String? = nil) {
        self.device = device ?? Environment.get("DUBDECK_AUDIO_DEVICE").flatMap { $0.isEmpty ? nil : $0 } ?? "default"
    }

    public func play(_ pcm: PCM16, label: String) throws {
        stop()
        queue.sync {}  // the previous player has released the device
        // libasound is opened with the first playback (a desk that plays nothing never maps it).
        try LazyLibrary.require(dd_alsa_load, Soname.alsa)
        ALSAMessages.quiet()
        var handle: OpaquePointer?
        var rc = dd_snd_pcm_open(&handle, device, SND_PCM_STREAM_PLAYBACK, 0)
        guard rc >= 0, let h = handle else {
            let said = ALSAMessages.take() ?? String(cString: dd_snd_strerror(rc))
            throw DubdeckError(.ioError, "audio device '\(Sanitizer.display(device))' cannot be opened (pick one with --device): \(said)")
        }
        rc = dd_snd_pcm_set_params(h, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED, UInt32(pcm.channels),
                                UInt32(pcm.rate), 1, 100_000)
        guard rc >= 0 else {
            dd_snd_pcm_close(h)
            throw DubdeckError(.ioError, "audio device '\(Sanitizer.display(device))' refuses \(pcm.rate) Hz × \(pcm.channels): \(String(cString: dd_snd_strerror(rc)))")
        }
        let gen = begin(pcm, label: label)
        let device = PCMDevice(handle: h)
        queue.async { [self] in
            let h = device.handle
            let chunk = max(256, pcm.rate / 50)
            var offset = 0
            var stopped = false
            pcm.samples.withUnsafeBufferPointer { buf in
                while offset < pcm.frames {
                    if !isCurrent(gen) { stopped = true; break }
                    let n = min(chunk, pcm.frames - offset)
                    let w = dd_snd_pcm_writei(h, buf.baseAddress! + offset * pcm.channels, snd_pcm_uframes_t(n))
                    if w < 0 {
                        if dd_snd_pcm_recover(h, Int32(w), 1) < 0 { break }
                        continue
                    }
                    offset += Int(w)
                    advance(gen, frames: Int(w))
                }
            }
            if stopped { dd_snd_pcm_drop(h) } else { dd_snd_pcm_drain(h) }
            dd_snd_pcm_close(h)
            finish(gen)
        }
    }
}

/// A sink that keeps real time without a device, recording what it played: stop, replace and
/// progress are testable with it (ALSA's file PCM plays faster than real time).
/// Sendable (unchecked, one proof): its own mutable state is in `paced`, the rest is ThreadedSink's.
public final class PacedSink: ThreadedSink, AudioSink, @unchecked Sendable {
    struct Paced {
        var played: [Int16] = []
        var plays = 0
        var pace: Double
    }
    let paced: Synchronization.Mutex<Paced>
    let queue = DispatchQueue(label: "dubdeck.paced")

    /// Playback speed: 1 is real time; tests may speed it up.
    public var speed: Double {
        get { paced.withLock { $0.pace } }
        set { paced.withLock { $0.pace = newValue } }
    }
    public var playCount: Int { paced.withLock { $0.plays } }

    public init(speed: Double = 1) { paced = Synchronization.Mutex(Paced(pace: speed)) }

    public func play(_ pcm: PCM16, label: String) throws {
        stop()
        queue.sync {}
        let gen = begin(pcm, label: label)
        paced.withLock { $0.played = []; $0.plays += 1 }
        queue.async { [self] in
            let chunk = max(1, pcm.rate / 100)
            let start = Clock.monotonic()
            var offset = 0
            while offset < pcm.frames, isCurrent(gen) {
                let n = min(chunk, pcm.frames - offset)
                paced.withLock { $0.played.append(contentsOf: pcm.samples[(offset * pcm.channels)..<((offset + n) * pcm.channels)]) }
                offset += n
                advance(gen, frames: n)
                let due = start + Double(offset) / Double(pcm.rate) / speed  // `speed` reads under the lock
                let now = Clock.monotonic()
                if due > now { usleep(useconds_t((due - now) * 1_000_000)) }
            }
            finish(gen)
        }
    }

    public var recorded: [Int16] { paced.withLock { $0.played } }
}

/// What the desk and `play` can play.
public enum PlaybackSource {
    /// The take files of segment N on disk, newest first (a first-edition segment not yet
    /// converted lists its old files).
    public static func takes(_ store: TranscriptStore, _ n: Int) -> [Takes.Take] {
        let entry = store.entry(n)
        let converted = Takes.file(store.job, Takes.takeName(n, seq: 0))?.exists == true
        return Takes.list(job: store.job.handle, n, legacy: Takes.isLegacy(entry) && !converted)
    }

    /// Take k of segment n as `takes` lists them (1 = newest), the way `take JOB N K` counts.
    public static func listedTake(_ store: TranscriptStore, _ n: Int, _ k: Int, in listed: [Takes.Take]? = nil) throws -> PCM16 {
        let list = listed ?? takes(store, n)
        guard k >= 1, k <= list.count else { throw DubdeckError(.noInput, "segment \(n) has no take \(k)") }
        guard let file = Takes.file(store.job, list[k - 1].name) else { throw DubdeckError(.noInput, "segment \(n) has no take \(k)") }
        return try AudioFile.readPCM16(file, owner: .own)
    }

    /// Which of the listed takes (1 = newest) is the current one, if any.
    /// `listed`: the takes already listed (a directory is read once per keypress).
    public static func currentListed(_ store: TranscriptStore, _ n: Int, in listed: [Takes.Take]? = nil) -> Int? {
        guard let current = Takes.current(of: store.entry(n), n) else { return nil }
        return (listed ?? takes(store, n)).firstIndex { $0.relativePath == current }.map { $0 + 1 }
    }

    /// The file of take K of segment N: 1 is the current take (`NNNN.wav`); 2, 3, … the others,
    /// newest first.
    public static func takeFile(_ store: TranscriptStore, _ n: Int, take k: Int) throws -> FilePlace {
        if k == 1 {
            guard let file = Takes.file(store.job, Takes.currentName(n)), file.exists else {
                throw DubdeckError(.noInput, "segment \(n) has no take yet (synthesize it first)")
            }
            return file
        }
        let current = Takes.current(of: store.entry(n), n)
        let others = takes(store, n).filter { $0.relativePath != current && $0.name != Takes.currentName(n) }
        guard k >= 2, k - 2 < others.count, let file = Takes.file(store.job, others[k - 2].name) else {
            throw DubdeckError(.noInput, "segment \(n) has no take \(k)")
        }
        return file
    }

    /// Take K (1 = current) of segment N.
    public static func take(_ store: TranscriptStore, _ n: Int, take k: Int) throws -> PCM16 {
        try AudioFile.readPCM16(try takeFile(store, n, take: k), owner: .own)
    }

    /// The original line: source audio frames round(start·rate) to round(end·rate), by seeking.
    public static func original(_ store: TranscriptStore, _ n: Int) throws -> PCM16 {
        guard let src = store.job.sourceAudioPath else {
            throw DubdeckError(.noInput, "\(Sanitizer.display(store.job.directory)): no source audio (job.json source_audio, audio.wav or audio.flac)")
        }
        let seg = store.job.segments[n - 1]
        let info = try AudioFile.info(src)
        let a = Int((seg.start * Double(info.rate)).rounded()), b = Int((seg.end * Double(info.rate)).rounded())
        return try AudioFile.readPCM16(src, frames: a..<b)
    }
}
