import CEspeak
import CLazyLibs
#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// libespeak-ng in-process. espeak-ng keeps global state, so every call is serialized.
public final class EspeakEngine: SpeechEngine, Sendable {
    public let name = "espeak"
    public let canChangeRate = true
    public let retakesFaster = true

    // espeak-ng's global state, and what its callback collects: used only under `lock`.
    nonisolated(unsafe) static var sampleRate: Int32 = 0
    nonisolated(unsafe) static var collected: [Int16] = []
    /// Counting instead of collecting (a prediction keeps no audio): frames seen, first and last loud one.
    nonisolated(unsafe) static var counting = false
    nonisolated(unsafe) static var counted = 0
    nonisolated(unsafe) static var firstLoud = -1
    nonisolated(unsafe) static var lastLoud = -1
    /// `AudioBuffer.trimmedSilence`'s −50 dBFS in 16-bit units: a count trims as the take is trimmed.
    static let loudThreshold = Int32((32768 * 0.0031622776601683794) as Double)
    static let lock = Synchronization.Mutex(())

    public init() throws {
        try EspeakEngine.lock.withLock { _ in
            if EspeakEngine.sampleRate > 0 { return }
            if let why = LazyLibrary.failure(dd_espeak_load, Soname.espeak) { throw DubdeckError(.ioError, "espeak-ng: \(why)") }
            let rate = dd_espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, nil, 0)
            guard rate > 0 else { throw DubdeckError(.ioError, "espeak-ng: cannot initialize (is espeak-ng-data installed?)") }
            EspeakEngine.sampleRate = rate
            dd_espeak_SetSynthCallback { wav, count, _ in
                guard let wav, count > 0 else { return 0 }
                let samples = UnsafeBufferPointer(start: wav, count: Int(count))
                if EspeakEngine.counting {
                    // Only the first loud frame of all and the last of each chunk matter: each
                    // chunk is scanned from its end back, and forward only until speech begins.
                    let loud = { (v: Int16) in abs(Int32(v)) > EspeakEngine.loudThreshold }
                    if EspeakEngine.firstLoud < 0, let i = samples.firstIndex(where: loud) { EspeakEngine.firstLoud = EspeakEngine.counted + i }
                    if EspeakEngine.firstLoud >= 0, let i = samples.lastIndex(where: loud) { EspeakEngine.lastLoud = EspeakEngine.counted + i }
                    EspeakEngine.counted += samples.count
                } else {
                    EspeakEngine.collected.append(contentsOf: samples)
                }
                return 0
            }
        }
    }

    public func synthesize(_ request: SpeechRequest) throws -> AudioBuffer {
        try EspeakEngine.lock.withLock { _ in
            EspeakEngine.collected.removeAll(keepingCapacity: true)
            try speak(request)
            let samples = EspeakEngine.collected.map { Float($0) / 32768 }
            EspeakEngine.collected.removeAll(keepingCapacity: true)
            return AudioBuffer(samples: samples, rate: Int(EspeakEngine.sampleRate), channels: 1)
        }
    }

    /// How long `synthesize` would speak (seconds, silence at either end trimmed as a take is),
    /// counted as espeak-ng produces it: the same phonemes at the same rate, no audio kept.
    public func spokenSeconds(_ request: SpeechRequest) throws -> Double {
        try EspeakEngine.lock.withLock { _ in
            EspeakEngine.counting = true
            (EspeakEngine.counted, EspeakEngine.firstLoud, EspeakEngine.lastLoud) = (0, -1, -1)
            defer { EspeakEngine.counting = false }
            try speak(request)
            guard EspeakEngine.firstLoud >= 0 else { return 0 }
            return Double(EspeakEngine.lastLoud - EspeakEngine.firstLoud + 1) / Double(EspeakEngine.sampleRate)
        }
    }

    /// One synthesis into the callback. Call under `lock`.
    private func speak(_ request: SpeechRequest) throws {
        let text = request.text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        // A language or variant from a file must be a plain name espeak-ng lists: espeak-ng opens
        // a voice name with a path in it as a file (and aborts on what it reads).
        guard SafeName.isValid(request.lang), let lang = EspeakEngine.language(request.lang) else {
            throw DubdeckError.data("job.json", "tgt_lang \"\(Sanitizer.display(String(request.lang.prefix(80))))\" is not a language espeak-ng lists")
        }
        guard SafeName.isValid(request.voice.variant) else {
            throw DubdeckError.data("voice", "variant \"\(Sanitizer.display(String(request.voice.variant.prefix(80))))\" is not a safe name")
        }
        if dd_espeak_SetVoiceByName(request.voice.name(lang: lang)) != EE_OK,
           dd_espeak_SetVoiceByName(lang) != EE_OK {
            throw DubdeckError.data("job.json", "espeak-ng has no voice for tgt_lang '\(Sanitizer.display(request.lang))'")
        }
        let rate = Int32(min(450, max(80, (Double(request.voice.rate) * request.rateFactor).rounded())))
        dd_espeak_SetParameter(espeakRATE, rate, 0)
        dd_espeak_SetParameter(espeakPITCH, Int32(min(100, max(0, request.voice.pitch))), 0)
        let bytes = Array(text.utf8) + [0]
        let err = bytes.withUnsafeBufferPointer { b in
            dd_espeak_Synth(b.baseAddress, b.count, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, nil)
        }
        dd_espeak_Synchronize()
        guard err == EE_OK else { throw DubdeckError(.ioError, "espeak-ng: synthesis failed (\(err.rawValue))") }
    }
}

extension EspeakEngine {
    /// Language tags espeak-ng knows by another name (Chinese is Mandarin `cmn`, Cantonese `yue`).
    static let aliases = ["zh": "cmn", "zh-cn": "cmn", "zh-hans": "cmn", "zh-sg": "cmn", "zh-tw": "cmn", "zh-hant": "cmn",
                          "zh-hk": "yue", "zh-yue": "yue"]

    /// The name espeak-ng speaks `tag` by (nil: none it lists). Call under `lock`.
    static func language(_ tag: String) -> String? {
        let lower = tag.lowercased()
        // `zh` is listed as another language of cmn, but no voice file is named so: the alias first.
        if let alias = aliases[lower], languages().contains(alias) { return alias }
        if languages().contains(lower) { return tag }
        return nil
    }

    nonisolated(unsafe) static var languageCache: Swift.Set<String>? = nil  // used only under `lock`

    /// The languages espeak-ng lists (voice files' language entries, lower case). Call under `lock`.
    static func languages() -> Swift.Set<String> {
        if let cached = languageCache { return cached }
        var out = Swift.Set<String>()
        if let list = dd_espeak_ListVoices(nil) {
            var i = 0
            while let voice = list[i] {
                // `languages`: repeated (priority byte, NUL-terminated name), ended by a 0 byte.
                if var p = voice.pointee.languages {
                    while p.pointee != 0 {
                        p += 1  // priority
                        let name = String(cString: p)
                        if !name.isEmpty { out.insert(name.lowercased()) }
                        p += name.utf8.count + 1
                    }
                }
                i += 1
            }
        }
        languageCache = out
        return out
    }
}
