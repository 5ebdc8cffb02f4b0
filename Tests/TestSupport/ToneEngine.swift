import DubdeckCore
import Foundation

/// A speech engine for screen tests whose output is known to the sample: every character of the
/// text is 60 ms of a 220 Hz tone (letters loud, other characters quiet), every space 60 ms of
/// silence, at 24 kHz. Beside the real engines (espeak-ng is tested on its own), never instead.
public final class ToneEngine: SpeechEngine {
    public let name = "tone"
    public let canChangeRate = false

    public init() {}

    public func synthesize(_ request: SpeechRequest) throws -> AudioBuffer {
        let rate = 24_000, per = rate * 60 / 1000
        var samples: [Float] = []
        samples.reserveCapacity(request.text.count * per)
        for ch in request.text {
            let amplitude: Float = ch == " " ? 0 : ch.isLetter ? 0.5 : 0.05
            for i in 0..<per { samples.append(amplitude * Float(sin(2 * Double.pi * 220 * Double(i) / Double(rate)))) }
        }
        return AudioBuffer(samples: samples, rate: rate)
    }
}
