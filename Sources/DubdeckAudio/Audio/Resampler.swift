import CRubberband
import CSoxr
import CLazyLibs
#if canImport(Glibc)
import Glibc
#endif

/// libsoxr, high quality.
public enum Resampler {
    public static func resample(_ buffer: AudioBuffer, to rate: Int) throws -> AudioBuffer {
        if buffer.rate == rate || buffer.frames == 0 { return AudioBuffer(samples: buffer.samples, rate: rate, channels: buffer.channels) }
        try LazyLibrary.require(dd_soxr_load, Soname.soxr)
        let outFrames = Int((Double(buffer.frames) * Double(rate) / Double(buffer.rate)).rounded(.up)) + 16
        var out = [Float](repeating: 0, count: outFrames * buffer.channels)
        var done = 0
        var io = dd_soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var q = dd_soxr_quality_spec(UInt(SOXR_HQ), 0)
        let err = buffer.samples.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                dd_soxr_oneshot(Double(buffer.rate), Double(rate), UInt32(buffer.channels), inp.baseAddress, buffer.frames, nil,
                             o.baseAddress, outFrames, &done, &io, &q, nil)
            }
        }
        if let err { throw DubdeckError(.ioError, "resampling failed: \(String(cString: err))") }
        out.removeSubrange((done * buffer.channels)...)
        return AudioBuffer(samples: out, rate: rate, channels: buffer.channels)
    }
}
