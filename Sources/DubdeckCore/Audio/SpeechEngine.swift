#if canImport(Glibc)
import Glibc
#endif

/// What a speech engine is asked for.
public struct SpeechRequest {
    public var text: String
    public var voice: Voice
    public var lang: String
    /// Multiplies the voice's speaking rate (the espeak fit re-synthesizes faster once).
    public var rateFactor: Double = 1
    /// The character's reference recording, for voice-cloning engines.
    public var referenceWav: String?
    /// Who speaks, for error messages.
    public var speakerName: String

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
    /// True when the engine can speak faster itself (then the fit re-synthesizes instead of stretching).
    var canChangeRate: Bool { get }
    func synthesize(_ request: SpeechRequest) throws -> AudioBuffer
}
