import CEspeak
import CLazyLibs
#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// libespeak-ng in-process. espeak-ng keeps global state, so every call is serialized.
public final class EspeakEngine: SpeechEngine {
    public let name = "espeak"
    public let canChangeRate = true

    // espeak-ng's global state, and what its callback collects: used only under `lock`.
    nonisolated(unsafe) static var sampleRate: Int32 = 0
    nonisolated(unsafe) static var collected: [Int16] = []
    static let lock = Synchronization.Mutex(())

    public init() throws {
        try EspeakEngine.lock.withLock { _ in
            if EspeakEngine.sampleRate > 0 { return }
            if let why = LazyLibrary.failure(dd_espeak_load, Soname.espeak) { throw DubdeckError(.ioError, "espeak-ng: \(why)") }
            let rate = dd_espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, nil, 0)
            guard rate > 0 else { throw DubdeckError(.ioError, "espeak-ng: cannot initialize (is espeak-ng-data installed?)") }
            EspeakEngine.sampleRate = rate
            dd_espeak_SetSynthCallback { wav, count, _ in
                if let wav, count > 0 { EspeakEngine.collected.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count))) }
                return 0
            }
        }
    }

    public func synthesize(_ request: SpeechRequest) throws -> AudioBuffer {
        let text = request.text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        return try EspeakEngine.lock.withLock { _ in
            // A language or variant from a file must be a plain name espeak-ng lists: espeak-ng opens
            // a voice name with a path in it as a file (and aborts on what it reads).
            guard SafeName.isValid(request.lang), EspeakEngine.languages().contains(request.lang.lowercased()) else {
                throw DubdeckError.data("job.json", "tgt_lang \"\(Sanitizer.display(String(request.lang.prefix(80))))\" is not a language espeak-ng lists")
            }
            guard SafeName.isValid(request.voice.variant) else {
                throw DubdeckError.data("voice", "variant \"\(Sanitizer.display(String(request.voice.variant.prefix(80))))\" is not a safe name")
            }
            if dd_espeak_SetVoiceByName(request.voice.name(lang: request.lang)) != EE_OK,
               dd_espeak_SetVoiceByName(request.lang) != EE_OK {
                throw DubdeckError(.dataError, "espeak-ng has no voice for language '\(Sanitizer.display(request.lang))'")
            }
            let rate = Int32(min(450, max(80, (Double(request.voice.rate) * request.rateFactor).rounded())))
            dd_espeak_SetParameter(espeakRATE, rate, 0)
            dd_espeak_SetParameter(espeakPITCH, Int32(min(100, max(0, request.voice.pitch))), 0)
            EspeakEngine.collected.removeAll(keepingCapacity: true)
            let bytes = Array(text.utf8) + [0]
            let err = bytes.withUnsafeBufferPointer { b in
                dd_espeak_Synth(b.baseAddress, b.count, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, nil)
            }
            dd_espeak_Synchronize()
            guard err == EE_OK else { throw DubdeckError(.ioError, "espeak-ng: synthesis failed (\(err.rawValue))") }
            let samples = EspeakEngine.collected.map { Float($0) / 32768 }
            EspeakEngine.collected.removeAll(keepingCapacity: true)
            return AudioBuffer(samples: samples, rate: Int(EspeakEngine.sampleRate), channels: 1)
        }
    }
}

extension EspeakEngine {
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
