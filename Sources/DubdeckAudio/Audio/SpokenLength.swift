import Synchronization

/// What predicts how long a text will be spoken: `SpokenLength` (espeak-ng) in the product; a
/// test's screen scripts use a double beside it whose figures do not move with espeak-ng's state.
public protocol SpeechLengthPredicting: Sendable {
    func predict(_ input: SpokenLength.Input) -> SpokenPrediction?
}

/// How long a line's text will be spoken in its voice, before any synthesis (SPEC §11.9).
///
/// espeak-ng speaks the text at the voice's variant, pitch and rate and the frames are counted,
/// silence at either end trimmed as a take's is — the same phonemes and durations a synthesis
/// uses, no audio kept. For the espeak engine that is the natural length (within espeak-ng's own
/// variation between calls, docs/AUDIO.md). Another engine's speech is longer or shorter: the count
/// is scaled by what that engine's current takes of the voice measured (natural length ÷ espeak's
/// count of their text, the median of up to five takes nearest the line).
public final class SpokenLength: SpeechLengthPredicting {
    let espeak: EspeakEngine
    /// espeak-ng's counts by (text, voice, language): the desk asks again for every redraw.
    let memo = Mutex<[String: Double]>([:])
    static let memoLimit = 4096

    public init() throws { espeak = try EspeakEngine() }

    /// What predicting one text needs, read from the store on the thread that owns it.
    public struct Input: Sendable {
        public var n: Int
        public var text: String
        public var voice: Voice
        public var lang: String
        /// Takes of this voice: their text and their natural length (seconds), for the engine's scale.
        public var samples: [(text: String, naturalS: Double)]

        public init(n: Int, text: String, voice: Voice, lang: String, samples: [(text: String, naturalS: Double)]) {
            self.n = n
            self.text = text
            self.voice = voice
            self.lang = lang
            self.samples = samples
        }
    }

    /// Line n's prediction input: its text (or `text`, the editor's), its voice as the store has
    /// it now, and up to five current takes of that voice nearest the line.
    public static func input(_ store: TranscriptStore, _ n: Int, text: String? = nil) -> Input {
        let voice = store.voice(n)
        var samples: [(String, Double)] = []
        let count = store.states.count
        var d = 1
        // Nearest first, outwards; a store of thousands of lines is searched no farther than 200 away.
        while samples.count < 5, d <= min(count, 200) {
            for m in [n - d, n + d] where m >= 1 && m <= count && samples.count < 5 {
                let st = store.state(m)
                guard st.takeStatus == .fresh || st.takeStatus == .overflow, let p = st.preview, p.engine != nil, p.engine != "espeak",
                      let speech = p.speechS, speech > 0, let stretch = p.stretch, stretch > 0, store.voice(m) == voice else { continue }
                samples.append((st.text, speech * stretch))
            }
            d += 1
        }
        return Input(n: n, text: text ?? store.state(n).text, voice: voice, lang: store.job.info.tgtLang, samples: samples)
    }

    /// Past this many characters a text is counted on its first ones and scaled by its length: no
    /// dub line is that long, and a pasted page must not cost minutes (about 40 s of speech counted).
    public static let countedCharacters = 600

    /// espeak-ng's length of `text` in `voice` (seconds; 0 for a text with nothing to speak).
    public func espeakSeconds(_ text: String, _ voice: Voice, lang: String) throws -> Double {
        let key = "\(lang)\u{1}\(voice.variant)\u{1}\(voice.pitch)\u{1}\(voice.rate)\u{1}\(text)"
        if let known = memo.withLock({ $0[key] }) { return known }
        guard text.contains(where: { !$0.isWhitespace }) else { return 0 }
        var spoken = text, factor = 1.0
        let scalars = text.unicodeScalars
        if scalars.count > SpokenLength.countedCharacters {
            spoken = String(String.UnicodeScalarView(scalars.prefix(SpokenLength.countedCharacters)))
            factor = Double(scalars.count) / Double(SpokenLength.countedCharacters)
        }
        let s = try espeak.spokenSeconds(SpeechRequest(text: spoken, voice: voice, lang: lang, speakerName: "")) * factor
        memo.withLock { m in
            if m.count >= SpokenLength.memoLimit { m.removeAll(keepingCapacity: true) }
            m[key] = s
        }
        return s
    }

    /// The engine's scale for a voice: the median ratio of its takes' natural length to espeak's
    /// count of their text (1 without takes).
    public func scale(_ input: Input) -> Double {
        var ratios: [Double] = []
        for sample in input.samples {
            if let e = try? espeakSeconds(sample.text, input.voice, lang: input.lang), e > 0.05 { ratios.append(sample.naturalS / e) }
        }
        guard !ratios.isEmpty else { return 1 }
        ratios.sort()
        let mid = ratios.count / 2
        let median = ratios.count % 2 == 1 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2
        return min(4, max(0.25, median))
    }

    /// The prediction (nil when espeak-ng cannot speak the language or the voice).
    public func predict(_ input: Input) -> SpokenPrediction? {
        guard let e = try? espeakSeconds(input.text, input.voice, lang: input.lang) else { return nil }
        return SpokenPrediction(text: input.text, voice: input.voice, seconds: e * scale(input))
    }

    /// Lines of the store predicted and recorded (the command line's `segments`): `lines`, else all.
    public func predictAll(_ store: TranscriptStore, lines: [Int]? = nil) {
        for n in lines ?? Array(0..<store.states.count).map({ $0 + 1 }) where n >= 1 && n <= store.states.count {
            if let p = predict(SpokenLength.input(store, n)) { store.recordPrediction(n, p) }
        }
    }
}

/// The predicted fit through the engine that speaks the takes, when it can say (a server's
/// `predict`): its answer; else espeak-ng's count scaled by its takes (`SpokenLength`). The engine
/// is handed over once it exists (the desk's synthesis makes it on first use).
public final class EngineLengthPredictor: SpeechLengthPredicting {
    let fallback: SpokenLength?
    /// A server (its `predict` request, its conversation under its own lock) or a command engine
    /// (its predict command, a process per question): the engines that can say.
    let engine = Mutex<(any SpeechEngine & Sendable)?>(nil)

    public init(fallback: SpokenLength?) { self.fallback = fallback }

    /// The engine to ask from now on, when it is one that can say.
    public func adopt(_ e: any SpeechEngine) {
        if let server = e as? ServerEngine { engine.withLock { $0 = server } }
        if let command = e as? CommandEngine, command.predictTemplate != nil { engine.withLock { $0 = command } }
    }

    public func predict(_ input: SpokenLength.Input) -> SpokenPrediction? {
        if let e = engine.withLock({ $0 }),
           let s = e.predictSeconds(SpeechRequest(text: input.text, voice: input.voice, lang: input.lang, speakerName: "")) {
            return SpokenPrediction(text: input.text, voice: input.voice, seconds: s)
        }
        return fallback?.predict(input)
    }
}
