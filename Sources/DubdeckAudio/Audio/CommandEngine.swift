import CInterrupt
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Any external TTS (Piper, Coqui XTTS, the pipeline's own) through an argv template with
/// `{text_file} {out} {ref_wav} {lang} {voice} {rate}`: run without a shell, the text passed only
/// through a file, with a timeout; its stderr is shown on failure.
public final class CommandEngine: SpeechEngine, Sendable {
    public let name = "command"
    /// A template that takes `{rate}` is told how much faster to speak (one call a line, as a
    /// server is); one without it is stretched.
    public var canChangeRate: Bool { template.contains { $0.contains("{rate}") } }
    public let template: [String]
    public let timeout: Double
    /// Prints how long it would speak the text (the desk's predicted fit); nil: none.
    public let predictTemplate: [String]?
    let predictFailed = Mutex(false)

    public init(template: [String], timeout: Double = 60, predictTemplate: [String]? = nil) throws {
        self.predictTemplate = predictTemplate
        guard let first = template.first, !first.isEmpty else {
            throw DubdeckError(.usage, "the command engine needs an argv template (--engine-command or DUBDECK_ENGINE_COMMAND)")
        }
        guard template.contains(where: { $0.contains("{out}") }) else {
            throw DubdeckError(.usage, "the engine command must write {out}: \(template.joined(separator: " "))")
        }
        self.template = template
        self.timeout = timeout
    }

    /// DUBDECK_ENGINE_COMMAND (or `variable`): a JSON array of strings.
    public static func templateFromEnvironment(_ variable: String = "DUBDECK_ENGINE_COMMAND") throws -> [String]? {
        guard let text = Environment.get(variable), !text.isEmpty else { return nil }
        guard let v = try? JSONParser.parse(Array(text.utf8)), let items = v.arrayValue, !items.isEmpty,
              items.allSatisfy({ $0.stringValue != nil }) else {
            throw DubdeckError(.usage, "\(variable) must be a JSON array of strings")
        }
        return items.map { $0.stringValue! }
    }

    public func synthesize(_ request: SpeechRequest) throws -> AudioBuffer {
        let usesRef = template.contains { $0.contains("{ref_wav}") }
        if usesRef, request.referenceWav == nil {
            throw DubdeckError(.dataError, "the engine command uses {ref_wav} but \(Sanitizer.display(request.speakerName)) has no reference recording")
        }
        return try run(template, request, stdout: nil) { out, _, lastLines in
            guard FileIO.exists(out) else {
                throw DubdeckError(.ioError, "engine command wrote no audio to {out}\(lastLines.isEmpty ? "" : ": " + Sanitizer.display(lastLines))")
            }
            var st = stat()
            if lstat(out, &st) == 0, Int(st.st_size) > FileIO.engineAudioLimit {
                throw DubdeckError.data("the engine's audio", "\(st.st_size) bytes is over the \(FileIO.engineAudioLimit)-byte limit")
            }
            return try AudioFile.read(out, maxSeconds: request.maxSeconds, what: "the engine's audio", mono: true)
        }
    }

    /// The predict command's answer (`DUBDECK_ENGINE_PREDICT_COMMAND`: the same placeholders but
    /// {out}; it prints the seconds it would speak): nil without one, and after its first failure
    /// (espeak-ng's count scaled by the takes stands in, SpokenLength).
    public func predictSeconds(_ request: SpeechRequest) -> Double? {
        guard let predictTemplate, !predictFailed.withLock({ $0 }) else { return nil }
        let seconds = try? run(predictTemplate, request, stdout: "seconds.txt") { _, printed, _ -> Double in
            // A number of seconds, 0 … 86,400, and nothing else (at most 64 bytes read).
            let said = String(decoding: (try FileIO.readIfExists(printed!, limit: 64)) ?? [], as: UTF8.self).trimmingCharacters()
            guard let value = Double(said), value.isFinite, (0...86_400).contains(value) else {
                throw DubdeckError(.ioError, "the predict command printed no number of seconds")
            }
            return value
        }
        if seconds == nil { predictFailed.withLock { $0 = true } }
        return seconds
    }

    /// Runs one command of the engine in a temporary directory of its own (the text in a file, never
    /// an argument; removed on return and on Ctrl-C): `stdout` a file name there for its output (else
    /// /dev/null); `done` reads what it wrote ({out}, that file, its last stderr lines) before the
    /// directory goes.
    func run<T>(_ template: [String], _ request: SpeechRequest, stdout: String?, done: (String, String?, String) throws -> T) throws -> T {
        // The audio as large as any engine's may be; a printed answer (the predicted seconds) small.
        var limits = ["out.wav": FileIO.engineAudioLimit]
        if let stdout { limits[stdout] = 4096 }
        return try EngineCommand.run(what: "engine command", timeout: timeout, files: ["text.txt", "out.wav"] + (stdout.map { [$0] } ?? []),
                                     limits: limits) { dir in
            try FileIO.writeAtomically(dir + "/text.txt", Array(request.text.utf8))
            let argv = template.map { arg in
                arg.replacingPlaceholders([
                    "{text_file}": dir + "/text.txt", "{out}": dir + "/out.wav", "{ref_wav}": request.referenceWav ?? "",
                    "{lang}": request.lang, "{voice}": request.voice.name(lang: request.lang),
                    "{rate}": JSONValue.formatNumber((request.rateFactor * 1000).rounded() / 1000),
                ])
            }
            return (argv, nil, stdout.map { dir + "/" + $0 } ?? "/dev/null")
        } done: { dir, lastLines in
            try done(dir + "/out.wav", stdout.map { dir + "/" + $0 }, lastLines)
        }
    }
}

/// An external engine's one command (a TTS's, a machine translation's): run without a shell in a
/// temporary directory of its own — registered so Ctrl-C removes it and what is in it (a line's
/// text), emptied and removed on return — with a timeout; its failure said with its last stderr lines.
package enum EngineCommand {
    /// What a command may write to its standard error (its last lines are all that is read).
    package static let stderrLimit = 1 << 20

    /// `prepare` writes its inputs into the directory and gives the argv, standard input (nil:
    /// /dev/null) and standard output paths; `done` reads what it left (the directory, its last
    /// stderr lines) before the directory goes.
    /// `limits`: the most it may write to each named file of its directory (its standard output's
    /// among them); standard error may take `stderrLimit`. Past one it is killed (74).
    package static func run<T>(what: String, timeout: Double, files: [String], limits: [String: Int],
                               prepare: (String) throws -> ([String], String?, String),
                               done: (String, String) throws -> T) throws -> T {
        let dir = try EngineFolders.make("engine")
        let errFile = dir + "/stderr.txt"
        var slots: [Int32] = [dd_cleanup_register(dir, 1)]
        for f in files + ["stderr.txt"] { slots.append(dd_cleanup_register(dir + "/" + f, 0)) }
        defer {
            dd_empty_directory(dir)  // what the engine left beside its output too (the same rule as Ctrl-C's)
            rmdir(dir)
            for s in slots { dd_cleanup_unregister(s) }
        }
        let (argv, stdin, stdout) = try prepare(dir)
        let watched = limits.map { (dir + "/" + $0.key, $0.key, $0.value) } + [(errFile, "its standard error", stderrLimit)]
        let status = try Subprocess.run(argv, stdinPath: stdin ?? "/dev/null", stdoutPath: stdout, stderrPath: errFile, timeout: timeout) {
            for (path, name, limit) in watched {
                var st = stat()
                if lstat(path, &st) == 0, Int(st.st_size) > limit {
                    return path == stdout ? "printed more than \(limit) bytes" : "wrote more than \(limit) bytes to \(name)"
                }
            }
            return nil
        }
        let lastLines = Subprocess.lastLines(of: errFile)
        switch status {
        case .timedOut:
            throw DubdeckError(.ioError, "\(what) timed out after \(JSONValue.formatNumber(timeout)) s: \(Sanitizer.display(argv[0]))")
        case .interrupted:
            throw Interrupt.error
        case .stopped(let why):
            throw DubdeckError(.ioError, "\(what) \(why): stopped: \(Sanitizer.display(argv[0]))")
        case .exited(let code) where code != 0:
            throw DubdeckError(.ioError, "\(what) failed (exit \(code)): \(Sanitizer.display(argv[0]))\(lastLines.isEmpty ? "" : ": " + Sanitizer.display(lastLines))")
        case .signaled(let sig):
            throw DubdeckError(.ioError, "\(what) killed by signal \(sig): \(Sanitizer.display(argv[0]))")
        default:
            break
        }
        return try done(dir, lastLines)
    }
}

extension String {
    package func replacingPlaceholders(_ table: [String: String]) -> String {
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
