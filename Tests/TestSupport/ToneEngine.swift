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

/// A spoken-length predictor for screen scripts: 70 ms a character that is not a space, fixed to the
/// millisecond (espeak-ng's count moves by a few samples with what it spoke before, and a screen
/// compared cell by cell would flicker at a rounding edge). Beside `SpokenLength`, tested on its own.
public struct CharacterCountPredictor: SpeechLengthPredicting {
    public init() {}
    public func predict(_ input: SpokenLength.Input) -> SpokenPrediction? {
        SpokenPrediction(text: input.text, voice: input.voice, seconds: 0.07 * Double(input.text.filter { !$0.isWhitespace }.count))
    }
}

/// A real engine with its requests counted (and kept): beside it, never instead of it.
public final class CountingEngine: SpeechEngine, @unchecked Sendable {
    public let inner: SpeechEngine
    let lock = NSLock()
    var seen: [SpeechRequest] = []
    public init(_ inner: SpeechEngine) { self.inner = inner }
    public var name: String { inner.name }
    public var canChangeRate: Bool { inner.canChangeRate }
    public var retakesFaster: Bool { inner.retakesFaster }
    public var concurrentRequests: Int { inner.concurrentRequests }
    public var requests: [SpeechRequest] { lock.lock(); defer { lock.unlock() }; return seen }
    public func synthesize(_ request: SpeechRequest) throws -> AudioBuffer {
        lock.lock()
        seen.append(request)
        lock.unlock()
        return try inner.synthesize(request)
    }
    public func predictSeconds(_ request: SpeechRequest) -> Double? { inner.predictSeconds(request) }
}
