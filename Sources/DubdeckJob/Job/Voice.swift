#if canImport(Glibc)
import Glibc
#endif

/// A character's (or a diarization label's) voice: persisted once, the same in every episode.
public struct Voice: Equatable, Sendable {
    public var engine: String
    public var variant: String
    public var pitch: Int
    public var rate: Int

    public init(engine: String = "espeak", variant: String, pitch: Int, rate: Int) {
        self.engine = engine
        self.variant = variant
        self.pitch = pitch
        self.rate = rate
    }

    /// Natural-sounding espeak-ng variants (voices/!v), in a fixed order: a voice is chosen from this
    /// list by a hash of the ID, so the same ID always gets the same voice.
    public static let variants = ["Alex", "Andrea", "Annie", "Andy", "Denis", "Gene", "Hugo", "Jacky", "Lee", "Michael",
                                  "Mike", "adam", "belinda", "caleb", "david", "ed", "linda", "max", "norbert", "paul",
                                  "f1", "f2", "f3", "f4", "m1", "m2", "m3", "m4"]

    /// FNV-1a: stable across runs and platforms (Swift's Hasher is seeded per process).
    public static func stableHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100000001b3
        }
        return h
    }

    /// The deterministic voice of an ID (a character ID or, without one, a diarization label).
    public static func deterministic(for id: String) -> Voice {
        let h = stableHash(id)
        return Voice(variant: variants[Int(h % UInt64(variants.count))], pitch: 35 + Int((h >> 16) % 36),
                     rate: 160 + Int((h >> 32) % 26))
    }

    /// espeak-ng's pitch parameter and speaking rate (words a minute) as a voice may hold them.
    public static let pitchRange = 0...100
    public static let rateRange = 80...450
    public var isValid: Bool { Voice.pitchRange.contains(pitch) && Voice.rateRange.contains(rate) }

    /// A voice as a store holds it, checked: an object with a variant, and pitch and rate integers
    /// when given (nil: not such a voice; the reader refuses it, 65).
    public init?(strictJSON v: JSONValue) {
        guard let o = v.objectValue, let variant = o["variant"]?.stringValue else { return nil }
        if let e = o["engine"], e.stringValue == nil { return nil }
        for key in ["pitch", "rate"] where o[key] != nil && o[key]?.intValue == nil { return nil }
        self.init(json: v)
    }

    public var json: JSONValue {
        .object(JSONObject([("engine", .string(engine)), ("variant", .string(variant)), ("pitch", .number(pitch)),
                            ("rate", .number(rate))]))
    }

    public init?(json: JSONValue?) {
        guard let o = json?.objectValue, let variant = o["variant"]?.stringValue else { return nil }
        self.init(engine: o["engine"]?.stringValue ?? "espeak", variant: variant, pitch: o["pitch"]?.intValue ?? 50,
                  rate: o["rate"]?.intValue ?? 175)
    }

    /// A line's voice: its character's persisted voice, else a deterministic one from the character
    /// ID or the diarization label.
    public static func forSegment(_ seg: Segment, job: Job, characterVoices: [String: Voice]) -> Voice {
        if let id = job.characterID(of: seg), let v = characterVoices[id] { return v }
        let key = job.characterID(of: seg) ?? (seg.speaker.isEmpty ? "segment-\(seg.number)" : seg.speaker)
        return deterministic(for: key)
    }

    /// The engine voice name, `<lang>+<variant>`.
    public func name(lang: String) -> String { "\(lang)+\(variant)" }
}
