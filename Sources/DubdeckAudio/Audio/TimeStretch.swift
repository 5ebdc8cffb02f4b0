import Synchronization
import CRubberband
import CSoxr
import CLazyLibs
#if canImport(Glibc)
import Glibc
#endif

/// librubberband, offline, pitch preserved. `speedup` > 1 makes the audio shorter.
public enum TimeStretch {
    /// Tests only: librubberband giving back less than it was asked for (a failure the real library
    /// cannot be made to show on demand), bound around the operation checked.
    @TaskLocal public static var losesOutput = false

    /// Stretches run in this process (a test checks that a line its engine fitted was not stretched).
    public static let performed = Atomic<Int>(0)

    public static func stretch(_ buffer: AudioBuffer, speedup: Double) throws -> AudioBuffer {
        guard speedup > 0, abs(speedup - 1) > 1e-4, buffer.frames > 0 else { return buffer }
        performed.add(1, ordering: .relaxed)
        try LazyLibrary.require(dd_rubberband_load, Soname.rubberband)
        let mono = buffer.mono()
        // Offline, the pitch left as it is: no resampler inside the stretcher (PitchHighConsistency
        // ran every sample through one, 11 % of a batch's time through a server engine, for a pitch
        // that never changes).
        let options = Int32(RubberBandOptionProcessOffline.rawValue | RubberBandOptionPitchHighSpeed.rawValue)
        guard let rb = dd_rubberband_new(UInt32(mono.rate), 1, options, 1 / speedup, 1.0) else {
            throw DubdeckError(.ioError, "librubberband could not make a stretcher (\(mono.rate) Hz, × \(JSONValue.formatNumber(speedup))): the take was not made")
        }
        defer { dd_rubberband_delete(rb) }
        dd_rubberband_set_expected_input_duration(rb, UInt32(mono.frames))
        var out: [Float] = []
        out.reserveCapacity(Int(Double(mono.frames) / speedup) + 1024)
        mono.samples.withUnsafeBufferPointer { inp in
            var p: UnsafePointer<Float>? = inp.baseAddress
            dd_rubberband_study(rb, &p, UInt32(mono.frames), 1)
            let block = 4096
            var offset = 0
            var chunk = [Float](repeating: 0, count: block)
            func drain() {
                while true {
                    let avail = Int(dd_rubberband_available(rb))
                    if avail <= 0 { break }
                    let n = min(avail, block)
                    let got = chunk.withUnsafeMutableBufferPointer { c -> Int in
                        var cp: UnsafeMutablePointer<Float>? = c.baseAddress
                        return Int(dd_rubberband_retrieve(rb, &cp, UInt32(n)))
                    }
                    out.append(contentsOf: chunk[0..<got])
                }
            }
            while offset < mono.frames {
                let n = min(block, mono.frames - offset)
                var ip: UnsafePointer<Float>? = inp.baseAddress! + offset
                offset += n
                dd_rubberband_process(rb, &ip, UInt32(n), offset >= mono.frames ? 1 : 0)
                drain()
            }
            // The offline stretcher may still hold output after the final block.
            var spins = 0
            while dd_rubberband_available(rb) >= 0, spins < 1000 {
                let before = out.count
                drain()
                if out.count == before { break }
                spins += 1
            }
        }
        if losesOutput { out.removeAll() }
        // No silent fallback (SPEC §11.7): a stretch that gave far from what was asked is a failure.
        let expected = Double(mono.frames) / speedup
        guard !out.isEmpty, Double(out.count) > expected * 0.8 - 2048, Double(out.count) < expected * 1.2 + 2048 else {
            throw DubdeckError(.ioError, "librubberband returned \(out.count) frames for the \(Int(expected)) asked (× \(JSONValue.formatNumber(speedup))): the take was not made")
        }
        return AudioBuffer(samples: out, rate: mono.rate, channels: 1)
    }
}
