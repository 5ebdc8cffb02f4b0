import DubdeckBase
import DubdeckJob
import DubdeckAudio
#if canImport(Glibc)
import Glibc
#endif

/// One line to translate (SPEC §11.11): its source text, the languages, the neighbours' source
/// lines as context (for engines that take it) and the most characters the slot holds (nil: any).
public struct TranslationRequest: Sendable {
    public var text: String
    public var srcLang: String
    public var tgtLang: String
    public var context: [String] = []
    public var maxChars: Int?

    public init(text: String, srcLang: String, tgtLang: String, context: [String] = [], maxChars: Int? = nil) {
        self.text = text
        self.srcLang = srcLang
        self.tgtLang = tgtLang
        self.context = context
        self.maxChars = maxChars
    }
}

/// A machine translation engine, shaped like the TTS engines: the translations of one line, the
/// best first (an engine that gives one answer gives one).
public protocol TranslationEngine: Sendable {
    var name: String { get }
    func translate(_ request: TranslationRequest) throws -> [String]
}

public enum Translation {
    /// The most an engine may print for one line (bytes), and how long it may take (seconds).
    public static let outputLimit = 64 * 1024
    public static let defaultTimeout = 30.0

    /// What an engine printed, as a line's text: UTF-8 without NUL, trailing blanks and line ends
    /// cut, not empty, within `outputLimit`. The one check of every engine's answer.
    static func answer(_ bytes: [UInt8], engine: String) throws -> String {
        guard bytes.count <= outputLimit else {
            throw DubdeckError(.ioError, "\(engine) printed more than \(outputLimit) bytes for one line")
        }
        guard !bytes.contains(0) else { throw DubdeckError(.ioError, "\(engine) printed a NUL byte: not text") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DubdeckError(.ioError, "\(engine) printed something that is not UTF-8 text")
        }
        var t = Substring(text)
        while let last = t.last, last.isWhitespace { t = t.dropLast() }
        while let first = t.first, first.isWhitespace { t = t.dropFirst() }
        guard !t.isEmpty else { throw DubdeckError(.ioError, "\(engine) printed no translation") }
        return String(t)
    }

    /// Runs `argv` with `text` on its standard input (the text in a file of the command's temporary
    /// directory, never an argument); what it printed, checked by `answer`.
    static func run(_ argv: [String], text: String, engine: String, timeout: Double) throws -> String {
        try EngineCommand.run(what: engine, timeout: timeout, files: ["text.txt", "out.txt"], limits: ["out.txt": outputLimit]) { dir in
            try FileIO.writeAtomically(dir + "/text.txt", Array((text + "\n").utf8))
            return (argv, dir + "/text.txt", dir + "/out.txt")
        } done: { dir, _ in
            // A flood is refused, never cut into a line.
            var st = stat()
            if lstat(dir + "/out.txt", &st) == 0, Int(st.st_size) > outputLimit {
                throw DubdeckError(.ioError, "\(engine) printed more than \(outputLimit) bytes for one line")
            }
            return try answer(FileIO.readIfExists(dir + "/out.txt", limit: outputLimit) ?? [], engine: engine)
        }
    }

    /// The engine `name` (nil: apertium) for a job's languages; `command` is the argv template of
    /// the command engine.
    public static func engine(_ name: String?, command: [String], srcLang: String, tgtLang: String,
                              timeout: Double = defaultTimeout) throws -> TranslationEngine {
        switch name ?? "apertium" {
        case "apertium": return try ApertiumEngine(srcLang: srcLang, tgtLang: tgtLang, timeout: timeout)
        case "command": return try CommandTranslationEngine(template: command, timeout: timeout)
        case "server": return try ServerTranslationEngine(argv: command, timeout: timeout)
        case let other:
            throw DubdeckError(.usage, "unknown --mt-engine \(Sanitizer.display(other)) (apertium, command or server)")
        }
    }
}

/// Apertium, the offline default: `apertium -u MODE`, the text on its standard input. `-u` leaves
/// unknown words unmarked (without it a word Apertium does not know comes back as `*word`, which
/// would be spoken). The pair packages name their modes with three-letter codes (`eng-spa`) or, the
/// older ones, two-letter codes (`fr-es`): the job's `en`/`es` are looked up both ways.
public struct ApertiumEngine: TranslationEngine {
    public let name = "apertium"
    public let mode: String
    public let timeout: Double
    /// Where Debian's pair packages put their modes.
    public static let modesDirectory = "/usr/share/apertium/modes"

    /// ISO 639-1 → the three-letter codes Apertium's pairs use.
    static let threeLetter: [String: String] = [
        "en": "eng", "es": "spa", "ca": "cat", "fr": "fra", "pt": "por", "it": "ita", "de": "deu", "nl": "nld", "ro": "ron",
        "eu": "eus", "gl": "glg", "oc": "oci", "an": "arg", "ast": "ast", "sv": "swe", "da": "dan", "nb": "nob", "nn": "nno",
        "is": "isl", "cy": "cym", "br": "bre", "ga": "gle", "mt": "mlt", "ar": "ara", "eo": "epo", "kk": "kaz", "tt": "tat", "ja": "jpn", "zh": "zho", "ru": "rus", "uk": "ukr", "pl": "pol",
    ]

    /// The mode names a pair could have for `src` → `tgt`, in the order tried.
    static func modeNames(_ src: String, _ tgt: String) -> [String] {
        let base = { (l: String) in String(l.lowercased().split(separator: "-").first ?? "").split(separator: "_").first.map(String.init) ?? "" }
        let s = base(src), t = base(tgt)
        var out = [String]()
        if let s3 = threeLetter[s], let t3 = threeLetter[t] { out.append("\(s3)-\(t3)") }
        out.append("\(s)-\(t)")
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    public init(srcLang: String, tgtLang: String, timeout: Double = Translation.defaultTimeout) throws {
        let candidates = Self.modeNames(srcLang, tgtLang)
        guard let found = candidates.first(where: { SafeName.isValid($0) && FileIO.isRegularFile(Self.modesDirectory + "/" + $0 + ".mode") }) else {
            let package = candidates.first.map { "apertium-\($0)" } ?? "an apertium pair"
            throw DubdeckError(.noInput, "Apertium has no \(Sanitizer.display(srcLang))→\(Sanitizer.display(tgtLang)) pair installed (mode \(Sanitizer.display(candidates.joined(separator: " or "))) in \(Self.modesDirectory)): install its pair package, e.g. \(Sanitizer.display(package)) (the pair may be packaged the other way round), or give --mt-engine command")
        }
        mode = found
        self.timeout = timeout
    }

    public func translate(_ request: TranslationRequest) throws -> [String] {
        // One line in, one line out: Apertium would keep a line break, the dub has none.
        let text = request.text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return [try Translation.run(["apertium", "-u", mode], text: text, engine: "apertium \(mode)", timeout: timeout)]
    }
}

/// Any MT a studio runs, through an argv template with `{src_lang}` and `{tgt_lang}`: run without a
/// shell, the text on its standard input, the translation on its standard output.
public struct CommandTranslationEngine: TranslationEngine {
    public let name = "command"
    public let template: [String]
    public let timeout: Double

    public init(template: [String], timeout: Double = Translation.defaultTimeout) throws {
        guard let first = template.first, !first.isEmpty else {
            throw DubdeckError(.usage, "--mt-engine command needs --mt-command ARGV... (the rest of the line)")
        }
        self.template = template
        self.timeout = timeout
    }

    public func translate(_ request: TranslationRequest) throws -> [String] {
        let argv = template.map { $0.replacingPlaceholders(["{src_lang}": request.srcLang, "{tgt_lang}": request.tgtLang]) }
        return [try Translation.run(argv, text: request.text, engine: "the MT command \(Sanitizer.display(template[0]))", timeout: timeout)]
    }
}

/// `dubdeck translate` and the desk's R (SPEC §11.11): proposals for lines of a job, and taking them.
extension Translation {
    public struct Proposal: Sendable {
        public var number: Int
        public var current: String
        /// The engine's answers, ranked by their predicted fit (`ranked`); the first is the proposal.
        public var alternatives: [Alternative]
        /// What was asked for (a line predicted to run past its slot), nil: any length.
        public var maxChars: Int?
        /// Locked lines are proposed for but never written.
        public var locked: Bool
        public var proposed: String { alternatives[0].text }
    }

    /// One answer of the engine and how long it would be spoken in the line's voice (nil: not known).
    public struct Alternative: Sendable, Equatable {
        public var text: String
        public var seconds: Double?
        public init(text: String, seconds: Double?) {
            self.text = text
            self.seconds = seconds
        }
    }

    /// The engine's proposals for each of `numbers` (1-based, in order, each once), from the line's
    /// source text with its neighbours' as context, shorter ones asked for where the line runs past
    /// its slot; each answer's length predicted by `predictor` and the answers ranked. A line
    /// without source text is refused (65).
    public static func propose(_ store: TranscriptStore, _ numbers: [Int], engine: TranslationEngine, srcLang: String,
                               predictor: (any SpeechLengthPredicting)?) throws -> [Proposal] {
        try numbers.map { n in
            let st = store.state(n)
            let req = try request(store, n, srcLang: srcLang)
            let answers = measured(try engine.translate(req), predictor: predictor, spoken: SpokenLength.input(store, n))
            return Proposal(number: n, current: st.text, alternatives: ranked(answers, slot: store.segment(n).duration),
                            maxChars: req.maxChars, locked: st.locked)
        }
    }

    /// What is sent for line `n`: its source text, its neighbours' as context, and for a line
    /// predicted to run past its slot (the store's prediction for its present text) `max_chars`: as
    /// many characters as that text's speaking rate says the slot holds. A line without source text
    /// is refused (65).
    public static func request(_ store: TranscriptStore, _ n: Int, srcLang: String) throws -> TranslationRequest {
        let segments = store.job.segments
        let seg = segments[n - 1]
        guard !seg.srcText.trimmingCharacters().isEmpty else {
            throw DubdeckError(.dataError, "line \(n) has no source text to translate")
        }
        let context = [n - 2, n].filter { segments.indices.contains($0) }.map { segments[$0].srcText }
        var request = TranslationRequest(text: seg.srcText, srcLang: srcLang, tgtLang: store.job.info.tgtLang, context: context)
        let st = store.state(n), slot = store.segment(n).duration
        if let predicted = st.predictedS, predicted > slot, !st.text.isEmpty {
            request.maxChars = max(1, Int(Double(st.text.count) * slot / predicted))
        }
        return request
    }

    /// Each answer with how long it would be spoken: `spoken` (the line's voice and the takes that
    /// scale it) with the answer as its text. Safe off the store's thread (`spoken` is a copy).
    public static func measured(_ texts: [String], predictor: (any SpeechLengthPredicting)?, spoken: SpokenLength.Input) -> [Alternative] {
        texts.map { text in
            var input = spoken
            input.text = text
            return Alternative(text: text, seconds: predictor?.predict(input)?.seconds)
        }
    }

    /// Those that fit the slot first, the fullest first (the closest to what was said); then those
    /// that do not, the shortest first; those whose length is not known last, in the engine's order.
    public static func ranked(_ alternatives: [Alternative], slot: Double) -> [Alternative] {
        alternatives.enumerated().sorted { a, b in
            func key(_ p: Alternative) -> (Int, Double) {
                guard let s = p.seconds else { return (2, 0) }
                return s <= slot ? (0, -s) : (1, s)
            }
            let (ka, kb) = (key(a.element), key(b.element))
            return ka != kb ? ka < kb : a.offset < b.offset
        }.map(\.element)
    }

    /// Line `n` takes `text` from the engine in place of `current`, the text the proposal was shown
    /// against: one `retranslate` record, the needs_retranslate flag cleared. A line locked
    /// (meanwhile, by anyone) is refused like any edit, and so is one whose text is no longer
    /// `current` (another writer's edit is never overwritten by a proposal made before it) (75).
    public static func change(_ n: Int, _ text: String, replacing current: String) -> SegmentChange {
        SegmentChange(segment: n, action: "retranslate", fields: ["tgt_text", "flags"]) { e in
            try SegmentChange.refuseIfLocked(e, n, what: "text")
            guard (e["tgt_text"]?.stringValue ?? "") == current else {
                throw DubdeckError.conflict("segment \(n)'s text changed since the translation was proposed: nothing written, ask again")
            }
            e["tgt_text"] = .string(text)
            SegmentChange.markTakeAgainstText(&e, text)
            e["flags"] = .array((e["flags"]?.arrayValue ?? []).filter { $0 != .string(ReviewState.needsRetranslate) })
        }
    }

    /// Takes the proposals: one `retranslate` history record a line (undoable like an edit), the
    /// needs_retranslate flag cleared; proposals for locked lines left out, a line locked since
    /// refused (75, nothing written).
    /// Returns the lines changed.
    public static func apply(_ store: TranscriptStore, _ proposals: [Proposal]) throws -> [Int] {
        let changes = proposals.filter { !$0.locked && $0.proposed != $0.current }.map { change($0.number, $0.proposed, replacing: $0.current) }
        guard !changes.isEmpty else { return [] }
        return try store.commit(changes, batch: "retranslate-\(Clock.isoNow())-\(getpid())").records.map(\.segment)
    }
}

/// One JSON-lines process for the run's (or the desk's) life, over the TTS server's connection
/// (ServerEngine: one request at a time until it says more, a timeout each, a dead server started
/// again once, its process group killed at the end):
///
///     → {"id":1,"text":"…","src_lang":"en","tgt_lang":"es","context":["previous","next"],"max_chars":40|null}
///     ← {"id":1,"ok":true,"text":"…"}  or  {"id":1,"ok":true,"alternatives":["…","…"]}  or  {"id":1,"ok":false,"error":"…"}
///
/// Each text is checked as every engine's answer is; at most `maxAlternatives` are taken.
public struct ServerTranslationEngine: TranslationEngine {
    public let name = "server"
    let server: ServerEngine
    public static let maxAlternatives = 10

    public init(argv: [String], timeout: Double = Translation.defaultTimeout) throws {
        guard let first = argv.first, !first.isEmpty else {
            throw DubdeckError(.usage, "--mt-engine server needs --mt-command ARGV... (the server's command line)")
        }
        server = try ServerEngine(argv: argv, timeout: timeout)
    }

    public func translate(_ request: TranslationRequest) throws -> [String] {
        let what = "the MT server \(Sanitizer.display(server.command[0]))"
        let o = try server.request([
            ("text", .string(request.text)), ("src_lang", .string(request.srcLang)), ("tgt_lang", .string(request.tgtLang)),
            ("context", .array(request.context.map { .string($0) })), ("max_chars", request.maxChars.map { .number($0) } ?? .null),
        ])
        guard let ok = o["ok"]?.boolValue else { throw DubdeckError(.ioError, "\(what) answered without \"ok\"") }
        guard ok else {
            throw DubdeckError(.ioError, "\(what) could not translate the line: \(Sanitizer.display(String((o["error"]?.stringValue ?? "no reason given").prefix(200))))")
        }
        let texts: [JSONValue]
        if let one = o["text"] { texts = [one] } else if let many = o["alternatives"]?.arrayValue, !many.isEmpty { texts = Array(many.prefix(Self.maxAlternatives)) } else {
            throw DubdeckError(.ioError, "\(what) answered ok with no \"text\" and no \"alternatives\"")
        }
        return try texts.map { t in
            guard let s = t.stringValue else { throw DubdeckError(.ioError, "\(what) answered a translation that is not a string") }
            return try Translation.answer(Array(s.utf8), engine: what)
        }
    }
}

