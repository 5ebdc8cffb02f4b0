import CInterrupt
#if canImport(Glibc)
import Glibc
#endif

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
            dd_empty_directory(dir)  // what the engine left beside {out} too (the same rule as Ctrl-C's)
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
        let lastLines = Subprocess.lastLines(of: errFile)
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
        return try AudioFile.read(out, maxSeconds: request.maxSeconds, what: "the engine's audio", mono: true)
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
