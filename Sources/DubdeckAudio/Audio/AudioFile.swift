import CRubberband
import CSndfile
import CSoxr
import CLazyLibs
#if canImport(Glibc)
import Glibc
#endif

/// libsndfile: read any format it knows (a time range by seeking), write mono 16-bit WAV durably.
public enum AudioFile {
    public struct Info: Sendable {
        public var frames: Int
        public var rate: Int
        public var channels: Int
    }

    static func open(_ path: String) throws -> (OpaquePointer, SF_INFO) { try open(FilePlace(path: path), owner: .input) }

    /// One opening for every audio file: through the place's directory (a take: relative to the
    /// job's `segments_preview` handle, never through a link), a regular file only (a FIFO or a
    /// device would hang or never end), then handed to libsndfile as a descriptor.
    static func open(_ place: FilePlace, owner: FileIO.Owner) throws -> (OpaquePointer, SF_INFO) {
        let path = place.path
        var info = SF_INFO()
        let fd = place.open(O_RDONLY | O_CLOEXEC | O_NONBLOCK | (owner.isOurs ? O_NOFOLLOW : 0))
        guard fd >= 0 else {
            if errno == ENOENT { throw DubdeckError(.noInput, "\(place.shown): no such audio file") }
            if errno == ELOOP, owner.isOurs { throw DubdeckError.data(place.shown, "is a symbolic link; refusing to follow it") }
            throw DubdeckError.io(place.shown, "cannot open: \(errnoText())")
        }
        do {
            try FileIO.requireRegular(fd: fd, path: path, owner: owner == .own ? .ownReadOnly : owner)
            try LazyLibrary.require(dd_sndfile_load, Soname.sndfile)
        } catch {
            close(fd)
            throw error
        }
        // Blocking reads from here on (O_NONBLOCK only kept a FIFO from hanging the open).
        _ = fcntl(fd, F_SETFL, 0)
        // libsndfile owns the descriptor from here: it closes it at sf_close, and on a failed open.
        guard let sf = dd_sf_open_fd(fd, Int32(SFM_READ), &info, 1) else {
            let why = String(cString: dd_sf_strerror(nil))
            throw DubdeckError.data(Sanitizer.display(path), "not a readable audio file (\(why))")
        }
        if info.samplerate <= 0 || info.channels <= 0 {
            dd_sf_close(sf)
            throw DubdeckError.data(Sanitizer.display(path), "audio file has no valid rate or channels")
        }
        if !Bounds.sampleRates.contains(Int(info.samplerate)) || info.channels > 64 {
            dd_sf_close(sf)
            throw DubdeckError.data(Sanitizer.display(path),
                                    "audio file claims \(info.samplerate) Hz and \(info.channels) channels (8000–384000 Hz, at most 64 channels)")
        }
        // frames × channels × 4 bytes must fit what we are willing to hold (a lying header).
        let (product, overflow) = Int(info.frames).multipliedReportingOverflow(by: Int(info.channels))
        if info.frames < 0 || overflow || product > (1 << 30) {
            dd_sf_close(sf)
            throw DubdeckError.data(Sanitizer.display(path), "audio file claims \(info.frames) frames: too long")
        }
        if let why = truncation(sf) {
            dd_sf_close(sf)
            throw DubdeckError.data(Sanitizer.display(path), "truncated audio file (\(why))")
        }
        return (sf, info)
    }

    /// libsndfile reads what is there of a cut-off file; its log says "data : 4096 (should be 3)".
    /// A streamed file's placeholder size (0 or 0xFFFFFFFF) is not a truncation.
    static func truncation(_ sf: OpaquePointer) -> String? {
        var log = [CChar](repeating: 0, count: 4096)
        _ = log.withUnsafeMutableBufferPointer { dd_sf_command(sf, Int32(SFC_GET_LOG_INFO), $0.baseAddress, Int32($0.count)) }
        let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("data") && line.contains("should be") {
            let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            guard numbers.count >= 2 else { continue }
            let declared = numbers[0], actual = numbers[1]
            if declared != 0, declared < 0x7FFF_0000, actual < declared {
                return "\(actual) of \(declared) data bytes"
            }
        }
        return nil
    }

    public static func info(_ path: String) throws -> Info { try info(FilePlace(path: path), owner: .input) }

    public static func info(_ place: FilePlace, owner: FileIO.Owner) throws -> Info {
        let (sf, info) = try open(place, owner: owner)
        dd_sf_close(sf)
        return Info(frames: Int(info.frames), rate: Int(info.samplerate), channels: Int(info.channels))
    }

    /// Where a read starts and how many frames it takes: [from, to) by seeking, or the whole file.
    static func window(_ sf: OpaquePointer, _ info: SF_INFO, _ range: Range<Int>?, _ path: String) throws -> Int {
        let total = Int(info.frames)
        guard let r = range else {
            if total <= 0 { throw DubdeckError.data(Sanitizer.display(path), "audio file has no frames") }
            return total
        }
        let start = max(0, min(r.lowerBound, total))
        if start > 0, dd_sf_seek(sf, sf_count_t(start), SEEK_SET) < 0 {
            throw DubdeckError.data(Sanitizer.display(path), "cannot seek to frame \(start)")
        }
        return max(0, min(r.upperBound, total) - start)
    }

    /// Reads `count` frames with `readf` into a buffer of T; a whole-file read that comes up short
    /// is a truncated file.
    /// Memory follows what is decoded, never what the header claims: the buffer grows a block at a
    /// time (a 12 KB FLAC claiming 2^27 frames × 8 channels costs what it holds).
    static func readFrames<T: Numeric>(_ sf: OpaquePointer, count: Int, channels: Int, whole: Bool, path: String,
                                       _ readf: (OpaquePointer, UnsafeMutablePointer<T>, sf_count_t) -> sf_count_t) throws -> [T] {
        let block = 1 << 16
        var samples: [T] = []
        samples.reserveCapacity(min(count, block) * channels)
        var got = 0
        while got < count {
            let want = min(block, count - got)
            let start = samples.count
            samples.append(contentsOf: repeatElement(0, count: want * channels))
            let n = samples.withUnsafeMutableBufferPointer { Int(readf(sf, $0.baseAddress! + start, sf_count_t(want))) }
            samples.removeSubrange((start + max(0, n) * channels)...)
            if n <= 0 { break }
            got += n
            if Interrupt.requested { throw Interrupt.error }
        }
        if whole, got < count {
            throw DubdeckError.data(Sanitizer.display(path), "truncated audio file (\(got) of \(count) frames)")
        }
        return samples
    }

    /// The most samples (frames × channels kept) one read may hold: 2^27 floats, 512 MB. What a
    /// file claims within the other caps (384 kHz × 64 channels) could otherwise ask for gigabytes.
    public static let maxSamplesPerRead = 1 << 27

    /// Reads frames [from, to) (all when nil) by seeking, never the whole file.
    /// `maxSeconds`: a file whose header claims more is refused (65, named `what`) before it is read.
    /// `mono`: the channels are mixed down a block at a time as they are decoded (memory follows the
    /// frames, not frames × channels). Samples that are not finite numbers are refused (65).
    public static func read(_ path: String, frames range: Range<Int>? = nil, maxSeconds: Double? = nil, what: String? = nil,
                            mono: Bool = false) throws -> AudioBuffer {
        let (sf, info) = try open(path)
        defer { dd_sf_close(sf) }
        let shown = what ?? Sanitizer.display(path)
        if let limit = maxSeconds, Double(info.frames) > limit * Double(info.samplerate) {
            throw DubdeckError.data(shown,
                                    "\(Int(Double(info.frames) / Double(info.samplerate))) s of audio is more than 4 × slot + 30 s (\(JSONValue.formatNumber(limit.rounded(.up))) s for this slot)")
        }
        let count = try window(sf, info, range, path)
        let channels = Int(info.channels)
        let kept = mono ? 1 : channels
        guard count <= maxSamplesPerRead / kept else {
            throw DubdeckError.data(shown, "\(count) frames × \(kept) channel\(kept == 1 ? "" : "s") is more audio than one reading holds (\(maxSamplesPerRead) samples)")
        }
        var samples: [Float]
        var clip = ClipCounter(channels: channels)
        if mono, channels > 1 {
            samples = []
            samples.reserveCapacity(min(count, 1 << 20))
            var got = 0
            var block = [Float]()
            let scale = 1 / Float(channels)
            while got < count {
                let want = min(1 << 14, count - got)
                block = try readFrames(sf, count: want, channels: channels, whole: false, path: path) { dd_sf_readf_float($0, $1, $2) }
                clip.add(block)  // a channel clipped alone is lost in the mix: counted before it
                let frames = block.count / channels
                for f in 0..<frames {
                    var sum: Float = 0
                    for c in 0..<channels { sum += block[f * channels + c] }
                    samples.append(sum * scale)
                }
                got += frames
                if frames < want { break }
            }
            if range == nil, got < count {
                throw DubdeckError.data(Sanitizer.display(path), "truncated audio file (\(got) of \(count) frames)")
            }
        } else {
            samples = try readFrames(sf, count: count, channels: channels, whole: range == nil, path: path) {
                dd_sf_readf_float($0, $1, $2)
            }
        }
        // A float file can hold NaN or infinity: never a take, never an embedding (a clipped,
        // full-scale take would be reported fresh).
        if !samples.allSatisfy({ $0.isFinite }) {
            throw DubdeckError.data(shown, "holds samples that are not finite numbers (NaN or infinity)")
        }
        var buffer = AudioBuffer(samples: samples, rate: Int(info.samplerate), channels: kept)
        if mono, channels > 1 { buffer.sourceClippedSamples = clip.finish() }
        return buffer
    }

    /// 16-bit samples exactly as stored (no float round trip), frames [from, to) by seeking.
    public static func readPCM16(_ path: String, frames range: Range<Int>? = nil) throws -> PCM16 {
        try readPCM16(FilePlace(path: path), owner: .input, frames: range)
    }

    public static func readPCM16(_ place: FilePlace, owner: FileIO.Owner, frames range: Range<Int>? = nil) throws -> PCM16 {
        let path = place.path
        let (sf, info) = try open(place, owner: owner)
        defer { dd_sf_close(sf) }
        let count = try window(sf, info, range, path)
        guard count <= maxSamplesPerRead / Int(info.channels) else {
            throw DubdeckError.data(place.shown, "\(count) frames × \(info.channels) channels is more audio than one reading holds (\(maxSamplesPerRead) samples)")
        }
        let samples: [Int16] = try readFrames(sf, count: count, channels: Int(info.channels), whole: range == nil, path: path) {
            dd_sf_readf_short($0, $1, $2)
        }
        return PCM16(samples: samples, rate: Int(info.samplerate), channels: Int(info.channels))
    }

    /// Writes 16-bit WAV to `path` through an open descriptor and fsyncs it (no rename: callers
    /// write to a temporary name and rename).
    /// `path` must not exist yet: it is created exclusively, never through a link (a temporary name).
    public static func writeWAV16(_ buffer: AudioBuffer, to path: String) throws {
        try LazyLibrary.require(dd_sndfile_load, Soname.sndfile)
        let fd = try FileIO.createExclusive(path, mode: 0o644)
        defer { close(fd) }
        try writeWAV16(buffer, fd: fd, shown: Sanitizer.display(path))
    }

    /// The same into a file already created (exclusively) and open for writing; fsynced, not closed.
    public static func writeWAV16(_ buffer: AudioBuffer, fd: Int32, shown: String) throws {
        try LazyLibrary.require(dd_sndfile_load, Soname.sndfile)
        let path = shown
        var info = SF_INFO()
        info.samplerate = Int32(buffer.rate)
        info.channels = Int32(buffer.channels)
        info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        guard let sf = dd_sf_open_fd(fd, Int32(SFM_WRITE), &info, 0) else {
            throw DubdeckError.io(Sanitizer.display(path), "cannot write WAV: \(String(cString: dd_sf_strerror(nil)))")
        }
        let pcm = buffer.int16Samples()
        let written = pcm.withUnsafeBufferPointer { dd_sf_writef_short(sf, $0.baseAddress, sf_count_t(buffer.frames)) }
        dd_sf_close(sf)
        if written != buffer.frames || FileIO.faults.failWrite {
            throw DubdeckError.io(Sanitizer.display(path), "short write (\(written) of \(buffer.frames) frames)")
        }
        if FileIO.faults.failFsync || fsync(fd) != 0 {
            throw DubdeckError.io(Sanitizer.display(path), "fsync failed: \(errnoText(FileIO.faults.failFsync ? EIO : errno))")
        }
    }

    /// A whole WAV file replaced atomically (tmp, fsync, rename, directory fsync).
    public static func writeWAV16Atomically(_ buffer: AudioBuffer, to path: String) throws {
        try FileIO.refuseIfNotRegular(path)
        let tmp = FileIO.temporaryName(for: path)
        do {
            try writeWAV16(buffer, to: tmp)
        } catch {
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let e = errnoText()
            unlink(tmp)
            throw DubdeckError.io(Sanitizer.display(path), "rename failed: \(e)")
        }
        try FileIO.fsyncDirectory(FileIO.directory(of: path))
    }
}
