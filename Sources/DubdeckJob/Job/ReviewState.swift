import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The review state of one segment, as the desk and the CLI see it.
public struct ReviewState: Equatable, Sendable {
    public var text: String
    public var approved: Bool
    public var locked: Bool
    public var lockedAt: String?
    public var lockedBy: String?
    public var flags: [String]
    /// The take's state as the line should be shown now: a take spoken with another voice than
    /// the line has now is stale whatever the entry records.
    public var audioStatus: String
    /// `audio_status` as the entry records it.
    var recordedAudioStatus = TakeStatus.none.rawValue
    /// True when the target text differs from the machine translation.
    public var edited: Bool

    /// The diarization label a reviewer gave this line (`set --speaker`), nil: the pipeline's.
    public var speakerOverride: String? = nil

    /// The current take as the views need it (nil: no take), typed: no view reads store JSON.
    public var preview: TakePreview? = nil

    /// The dub line's own times when a reviewer moved them (`set --start/--end`, the desk's nudges);
    /// nil: the pipeline's segment times.
    public var slot: TimeSlot? = nil

    /// Characters per second of slot (spaces and line breaks not counted), and over the limit?
    public var cps: Double = 0
    public var tooFast = false

    /// How long the text will be spoken in the line's voice (seconds), before any fit; nil: not
    /// predicted yet (or no engine can say). In memory only: see `TranscriptStore.recordPrediction`.
    public var predictedS: Double? = nil
    /// The speech will not fit the slot at an acceptable rate: predicted length / slot above the
    /// speed-up cap (`--max-speedup`). The desk's `!`: about the speech, not the subtitle's reading speed.
    public var willNotFit = false

    /// Needs a reviewer: unapproved, flagged, a stale or overflowing take, or speech that will not fit.
    /// (Reading speed is a subtitle measure: `too-fast` filters it on its own.)
    public var isProblem: Bool { !approved || !flags.isEmpty || audioStatus == TakeStatus.stale.rawValue || audioStatus == TakeStatus.overflow.rawValue || willNotFit }

    /// A line with no entry and no text yet (filled in as the store is read).
    static let placeholder = ReviewState(text: "", approved: false, locked: false, lockedAt: nil, lockedBy: nil, flags: [],
                                         audioStatus: TakeStatus.none.rawValue, edited: false)

    public var flaggedForRetranslation: Bool { flags.contains(ReviewState.needsRetranslate) }
    public static let needsRetranslate = "needs_retranslate"
    public var takeStatus: TakeStatus { TakeStatus(rawValue: audioStatus) ?? .unknown }
}

/// `audio_status`, typed (a value another tool wrote that we do not know is `unknown`).
public enum TakeStatus: String, Sendable {
    case none, fresh, stale, overflow, failed, unknown
}

/// What `last_preview` says of the current take. A class: a line's state holds a reference, not
/// a hundred bytes that 5,000 lines would copy about.
public final class TakePreview: Equatable, Sendable {
    public let durationS: Double?
    public let speechS: Double?
    /// Natural length / fitted length (1: not sped up).
    public let stretch: Double?
    public let overflowS: Double
    /// Samples the engine's audio held at full scale (0: not clipped).
    public let clippedSamples: Int
    public let voiceEngine: String?
    /// The engine that spoke the take (`last_preview.engine`).
    public let engine: String?
    public let voiceVariant: String?
    /// The immutable take file (`segments_preview/NNNN.take-<seq>.wav`), nil for a first-edition take.
    public let take: String?
    /// The voice the take was spoken with (nil when the record has none a voice can be read from).
    public let voice: Voice?
    /// Who made this take the current one by choosing it (`K`, `dubdeck take`): a batch never
    /// replaces it (nil: the newest take, made by a synthesis).
    public let chosenBy: String?

    public static func == (a: TakePreview, b: TakePreview) -> Bool {
        a === b || (a.durationS == b.durationS && a.speechS == b.speechS && a.stretch == b.stretch && a.overflowS == b.overflowS && a.clippedSamples == b.clippedSamples && a.voiceEngine == b.voiceEngine && a.engine == b.engine
                    && a.voiceVariant == b.voiceVariant && a.take == b.take && a.voice == b.voice && a.chosenBy == b.chosenBy)
    }

    init(_ p: JSONObject) {
        durationS = p["duration_s"]?.doubleValue
        speechS = p["speech_s"]?.doubleValue
        stretch = p["stretch"]?.doubleValue
        overflowS = p["overflow_s"]?.doubleValue ?? 0
        clippedSamples = p["clipped_samples"]?.intValue ?? 0
        voiceEngine = p["voice"]?.objectValue?["engine"]?.stringValue
        engine = p["engine"]?.stringValue
        voiceVariant = p["voice"]?.objectValue?["variant"]?.stringValue
        take = p["take"]?.stringValue
        voice = Voice(json: p["voice"])
        chosenBy = p["chosen_by"]?.stringValue
    }
}

/// A spoken-length prediction: for this text in this voice (a line whose text or voice changed
/// since has none until it is predicted again).
public struct SpokenPrediction: Equatable, Sendable {
    public var text: String
    public var voice: Voice
    public var seconds: Double
    public init(text: String, voice: Voice, seconds: Double) {
        self.text = text
        self.voice = voice
        self.seconds = seconds
    }

    /// The seconds as shown: `~2.4 s`.
    public static func format(_ s: Double) -> String {
        let t = Int((max(0, min(s, 1e6)) * 10).rounded())
        return "~\(t / 10).\(t % 10) s"
    }
}

/// A dub line's times (seconds), checked as every time from outside is: 0 ≤ start ≤ end ≤ 48 h.
public struct TimeSlot: Equatable, Sendable {
    public var start: Double
    public var end: Double
    public var duration: Double { end - start }

    /// nil when the two are not a slot (the reader refuses them, a writer never writes them).
    public init?(start: Double, end: Double) {
        guard Bounds.isTime(start), Bounds.isTime(end), end >= start else { return nil }
        self.start = start
        self.end = end
    }

    public static let rule = "two times within 0–\(Int(Bounds.maxTime)) s, end not before start"
}
