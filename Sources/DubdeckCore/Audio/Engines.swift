import CEspeak
import CInterrupt
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
    static func stableHash(_ s: String) -> UInt64 {
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

/// libespeak-ng in-process. espeak-ng keeps global state, so every call is serialized.
public final class EspeakEngine: SpeechEngine {
    public let name = "espeak"
    public let canChangeRate = true

    // espeak-ng's global state, and what its callback collects: used only under `lock`.
    nonisolated(unsafe) static var sampleRate: Int32 = 0
    nonisolated(unsafe) static var collected: [Int16] = []
    static let lock = Mutex()

    public init() throws {
        try EspeakEngine.lock.locked {
            if EspeakEngine.sampleRate > 0 { return }
            let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, nil, 0)
            guard rate > 0 else { throw DubdeckError(.ioError, "espeak-ng: cannot initialize (is espeak-ng-data installed?)") }
            EspeakEngine.sampleRate = rate
            espeak_SetSynthCallback { wav, count, _ in
                if let wav, count > 0 { EspeakEngine.collected.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count))) }
                return 0
            }
        }
    }

    public func synthesize(_ request: SpeechRequest) throws -> AudioBuffer {
        let text = request.text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        return try EspeakEngine.lock.locked {
            // A language or variant from a file must be a plain name espeak-ng lists: espeak-ng opens
            // a voice name with a path in it as a file (and aborts on what it reads).
            guard SafeName.isValid(request.lang), EspeakEngine.languages().contains(request.lang.lowercased()) else {
                throw DubdeckError.data("job.json", "tgt_lang \"\(Sanitizer.display(String(request.lang.prefix(80))))\" is not a language espeak-ng lists")
            }
            guard SafeName.isValid(request.voice.variant) else {
                throw DubdeckError.data("voice", "variant \"\(Sanitizer.display(String(request.voice.variant.prefix(80))))\" is not a safe name")
            }
            if espeak_SetVoiceByName(request.voice.name(lang: request.lang)) != EE_OK,
               espeak_SetVoiceByName(request.lang) != EE_OK {
                throw DubdeckError(.dataError, "espeak-ng has no voice for language '\(Sanitizer.display(request.lang))'")
            }
            let rate = Int32(min(450, max(80, (Double(request.voice.rate) * request.rateFactor).rounded())))
            espeak_SetParameter(espeakRATE, rate, 0)
            espeak_SetParameter(espeakPITCH, Int32(min(100, max(0, request.voice.pitch))), 0)
            EspeakEngine.collected.removeAll(keepingCapacity: true)
            let bytes = Array(text.utf8) + [0]
            let err = bytes.withUnsafeBufferPointer { b in
                espeak_Synth(b.baseAddress, b.count, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, nil)
            }
            espeak_Synchronize()
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
        if let list = espeak_ListVoices(nil) {
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

/// A small pthread mutex (Core does not use Foundation). The pthread_mutex_t lives on the heap at
/// a fixed address (a value stored inline in a class must not be passed by `&`: Swift may move it).
/// Sendable: the lock is the synchronization.
public final class Mutex: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deinitialize(count: 1)
        m.deallocate()
    }

    public func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}

/// Any external TTS (Piper, Coqui XTTS, the pipeline's own) through an argv template with
/// `{text_file} {out} {ref_wav} {lang} {voice}`: run without a shell, the text passed only through
/// a file, with a timeout; its stderr is shown on failure.
public final class CommandEngine: SpeechEngine {
    public let name = "command"
    public let canChangeRate = false
    public let template: [String]
    public let timeout: Double

    public init(template: [String], timeout: Double = 60) throws {
        guard let first = template.first, !first.isEmpty else {
            throw DubdeckError(.usage, "the command engine needs an argv template (--engine-command or DUBDECK_ENGINE_COMMAND)")
        }
        guard template.contains(where: { $0.contains("{out}") }) else {
            throw DubdeckError(.usage, "the engine command must write {out}: \(template.joined(separator: " "))")
        }
        self.template = template
        self.timeout = timeout
    }

    /// DUBDECK_ENGINE_COMMAND: a JSON array of strings.
    public static func templateFromEnvironment() throws -> [String]? {
        guard let text = Environment.get("DUBDECK_ENGINE_COMMAND"), !text.isEmpty else { return nil }
        guard let v = try? JSONParser.parse(Array(text.utf8)), let items = v.arrayValue,
              items.allSatisfy({ $0.stringValue != nil }) else {
            throw DubdeckError(.usage, "DUBDECK_ENGINE_COMMAND must be a JSON array of strings")
        }
        return items.map { $0.stringValue! }
    }

    public func synthesize(_ request: SpeechRequest) throws -> AudioBuffer {
        let usesRef = template.contains { $0.contains("{ref_wav}") }
        if usesRef, request.referenceWav == nil {
            throw DubdeckError(.dataError, "the engine command uses {ref_wav} but \(Sanitizer.display(request.speakerName)) has no reference recording")
        }
        var tmpl = Array("/tmp/dubdeck-tts.XXXXXX".utf8CString)
        guard let dirPtr = tmpl.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw DubdeckError(.cannotCreate, "cannot create a temporary directory: \(errnoText())")
        }
        let dir = String(cString: dirPtr)
        let textFile = dir + "/text.txt", out = dir + "/out.wav", errFile = dir + "/stderr.txt"
        // Ctrl-C removes the directory and what is in it (the line's text): registered before use.
        var slots: [Int32] = [dd_cleanup_register(dir, 1)]
        for f in [textFile, out, errFile] { slots.append(dd_cleanup_register(f, 0)) }
        defer {
            for name in DirectoryListing.names(dir) { unlink(dir + "/" + name) }
            rmdir(dir)
            for s in slots { dd_cleanup_unregister(s) }
        }
        try FileIO.writeAtomically(textFile, Array(request.text.utf8))
        let argv = template.map { arg in
            arg.replacingPlaceholders([
                "{text_file}": textFile, "{out}": out, "{ref_wav}": request.referenceWav ?? "",
                "{lang}": request.lang, "{voice}": request.voice.name(lang: request.lang),
            ])
        }
        let status = try Subprocess.run(argv, stdoutPath: "/dev/null", stderrPath: errFile, timeout: timeout)
        let stderrText = ((try? FileIO.readIfExists(errFile, limit: 1 << 20)) ?? nil).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let lastLines = stderrText.split(separator: "\n").suffix(3).joined(separator: " | ")
        switch status {
        case .timedOut:
            throw DubdeckError(.ioError, "engine command timed out after \(JSONValue.formatNumber(timeout)) s: \(Sanitizer.display(argv[0]))")
        case .interrupted:
            throw Interrupt.error
        case .exited(let code) where code != 0:
            throw DubdeckError(.ioError, "engine command failed (exit \(code)): \(Sanitizer.display(argv[0]))\(lastLines.isEmpty ? "" : ": " + Sanitizer.display(lastLines))")
        case .signaled(let sig):
            throw DubdeckError(.ioError, "engine command killed by signal \(sig): \(Sanitizer.display(argv[0]))")
        default:
            break
        }
        guard FileIO.exists(out) else {
            throw DubdeckError(.ioError, "engine command wrote no audio to {out}\(lastLines.isEmpty ? "" : ": " + Sanitizer.display(lastLines))")
        }
        var st = stat()
        if lstat(out, &st) == 0, Int(st.st_size) > FileIO.engineAudioLimit {
            throw DubdeckError.data("the engine's audio", "\(st.st_size) bytes is over the \(FileIO.engineAudioLimit)-byte limit")
        }
        return try AudioFile.read(out).mono()
    }
}

extension String {
    func replacingPlaceholders(_ table: [String: String]) -> String {
        var out = ""
        var rest = Substring(self)
        outer: while !rest.isEmpty {
            if rest.first == "{" {
                for (key, value) in table where rest.hasPrefix(key) {
                    out += value
                    rest = rest.dropFirst(key.count)
                    continue outer
                }
            }
            out.append(rest.removeFirst())
        }
        return out
    }
}

/// Runs a program without a shell (posix_spawn), in its own process group so a timeout kills
/// everything it started.
public enum Subprocess {
    public enum Status: Equatable { case exited(Int32), signaled(Int32), timedOut, interrupted }

    public static func run(_ argv: [String], stdoutPath: String, stderrPath: String, timeout: Double) throws -> Status {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else of ours reaches the engine (a pipe it kept open would outlive it).
        dd_spawn_close_from(&actions, 3)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, 0)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, &cargs, environ)
        guard rc == 0 else {
            throw DubdeckError(.noInput, "cannot run \(Sanitizer.display(argv[0])): \(errnoText(rc))")
        }
        let childSlot = Interrupt.registerChild(pid)
        defer {
            // Whatever the engine left running in its group (a background child) ends with it.
            kill(-pid, SIGKILL)
            Interrupt.unregisterChild(childSlot)
        }
        let deadline = Clock.monotonic() + timeout
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .exited(-1) }
            let stop: Status? = Interrupt.requested ? .interrupted : Clock.monotonic() >= deadline ? .timedOut : nil
            if let stop {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return stop
            }
            usleep(5_000)
        }
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(status & 0x7f)
    }
}
