#if canImport(Glibc)
import Glibc
#endif

/// What a speech engine is asked for.
public struct SpeechRequest: Sendable {
    public var text: String
    public var voice: Voice
    public var lang: String
    /// Multiplies the voice's speaking rate (1: as the voice speaks; a server is sent it as `rate`).
    public var rateFactor: Double = 1
    /// The character's reference recording, for voice-cloning engines.
    public var referenceWav: String?
    /// Who speaks, for error messages.
    public var speakerName: String
    /// The longest audio the caller takes (seconds): an engine file whose header claims more is
    /// refused before a sample of it is read (nil: the general limits only).
    public var maxSeconds: Double?

    /// The longest audio an engine may return for a slot: 4 × slot + 30 s (SPEC §10.1).
    public static func longestAudio(slot: Double) -> Double { 4 * slot + 30 }

    public init(text: String, voice: Voice, lang: String, rateFactor: Double = 1, referenceWav: String? = nil, speakerName: String) {
        self.text = text
        self.voice = voice
        self.lang = lang
        self.rateFactor = rateFactor
        self.referenceWav = referenceWav
        self.speakerName = speakerName
    }
}

public protocol SpeechEngine: AnyObject {
    var name: String { get }
    /// True when the engine is told `rateFactor` and speaks faster itself: a line predicted too long
    /// for its slot is then asked for once at the rate its prediction needs (SPEC §11.12, P3).
    var canChangeRate: Bool { get }
    /// True when a second synthesis costs less than a stretch (in-process espeak-ng): a too-long line
    /// with no prediction is spoken again faster; otherwise it is stretched (one engine call a line).
    var retakesFaster: Bool { get }
    func synthesize(_ request: SpeechRequest) throws -> AudioBuffer
    /// How long the engine would speak the request (seconds), when it can say without speaking it
    /// (a server's `predict` request); nil: it cannot, and espeak-ng's count scaled by the engine's
    /// takes stands in (SpokenLength).
    func predictSeconds(_ request: SpeechRequest) -> Double?
    /// How many requests a batch may hand the engine at once (1: as many as the machine has cores;
    /// a server that waits on its own model takes more, and says how many in its answers).
    var concurrentRequests: Int { get }
}

extension SpeechEngine {
    public func predictSeconds(_ request: SpeechRequest) -> Double? { nil }
    public var retakesFaster: Bool { false }
    public var concurrentRequests: Int { 1 }
}
