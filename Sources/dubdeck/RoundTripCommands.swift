import ArgumentParser
import DubdeckCore

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Write translated.edited.json and <stem>.edited.srt for the pipeline.",
        discussion: "Each segment's text comes from the review (locked text wins), with \"locked\" and \"approved\", and the reviewer's speaker label where one was fixed. With --approved-only, segments that are not approved get \"silence\": true and keep their timing. voice_map.json gives every label of the episode its character_id, name, voice and speaker_wav for the pipeline's TTS.")
    @Argument(help: "The job directory.") var job: String
    @Flag(name: .customLong("approved-only"), help: "Silence the lines that are not approved.") var approvedOnly = false
    @Option(help: "Where to write (default: the job directory).") var out: String?
    @Option(help: "Character store, for voice_map.json's names, voices and references (else DUBDECK_STORE, else data/characters.json).") var store: String?

    /// An empty --out would make every write land in the current directory or / (SPEC §11.2).
    func validate() throws {
        try checkOut(out)
        try checkStore(store)
    }

    func run() throws {
        try guarded {
            let transcript = try openStore(job)
            let r = try RoundTrip.apply(transcript, approvedOnly: approvedOnly, outDir: out, cast: openCast(store, following: transcript))
            printOut("wrote \(Sanitizer.display(r.json)) (\(r.segments) segments\(approvedOnly ? ", \(r.silenced) silenced" : "")), \(Sanitizer.display(r.srt)) and \(Sanitizer.display(r.voiceMap))\n")
        }
    }
}

struct MergeMT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-mt",
        abstract: "Take a machine-translation refresh: new text for every unlocked line (never a locked one).")
    @Argument(help: "The job directory.") var job: String
    @Argument(help: "The new translated.json (same segments and times).") var new: String
    @Flag(name: .customLong("only-flagged"), help: "Only lines flagged needs_retranslate (the flag is cleared).") var onlyFlagged = false

    func run() throws {
        try guarded {
            let store = try openStore(job)
            let r = try RoundTrip.mergeMT(store, newPath: new, onlyFlagged: onlyFlagged)
            printOut("changed \(r.changed), skipped-locked \(r.skippedLocked), unchanged \(r.unchanged)\(onlyFlagged ? ", not flagged \(r.notFlagged)" : "")\n")
        }
    }
}

struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Re-translate lines from their source text: the current and the proposed text, written with --apply.",
        discussion: """
        The engine: apertium (the default: Debian's apertium with the job's language pair installed, e.g. apertium-eng-spa for en↔es) \
        or command (--mt-command ARGV...: the rest of the line, {src_lang} and {tgt_lang} replaced, the source text on its standard \
        input, the translation on its standard output; no shell) or server (--mt-command is its command line: one JSON-lines process \
        for the run, docs/ENGINES.md; scripts/mt_server.py is a reference over Apertium). --apply writes each proposal as one retranslate record (undoable \
        with dubdeck undo) and clears the line's needs_retranslate flag. A locked line is refused (75) when named, left out with \
        --flagged. The job's languages are job.json's src_lang (else --src-lang) and tgt_lang. A line predicted to run past its slot \
        asks the engine for at most the characters the slot holds (max_chars: the server engine reads it); every answer is listed \
        with its predicted length against the slot, the best fit first, and --apply takes the first.
        """)
    @Argument(help: "The job directory.") var job: String
    @Argument(help: "Line numbers (1-based).") var numbers: [Int] = []
    @Flag(help: "Every line flagged needs_retranslate.") var flagged = false
    @Flag(help: "Write the proposals.") var apply = false
    @Flag(help: "One JSON document on stdout.") var json = false
    @Option(name: .customLong("mt-engine"), help: "apertium (default), command or server.") var engine: String?
    @Option(name: .customLong("src-lang"), help: "The source language when job.json has no src_lang (en, es, …).") var srcLang: String?
    @Option(help: "Who is writing (default: $USER).") var by: String?
    @Option(name: .customLong("mt-timeout"), help: "Seconds the engine may take for one line (1 … 600; default 30).") var timeout: Double = Translation.defaultTimeout
    @Option(name: .customLong("mt-command"), parsing: .remaining, help: "The MT command's argv template (the rest of the line).")
    var command: [String] = []

    func validate() throws {
        if numbers.isEmpty && !flagged { throw ValidationError("give line numbers or --flagged") }
        if numbers.contains(where: { $0 < 1 }) { throw ValidationError("N counts from 1") }
        if let srcLang { try checkName(srcLang, "--src-lang") }
        if let engine, !["apertium", "command", "server"].contains(engine) { throw ValidationError("--mt-engine is apertium, command or server") }
        if !command.isEmpty && !["command", "server"].contains(engine ?? "") { throw ValidationError("--mt-command goes with --mt-engine command or server") }
        if !(timeout.isFinite && timeout >= 1 && timeout <= 600) { throw ValidationError("--mt-timeout is 1 … 600 seconds") }
    }

    func run() throws {
        try guarded {
            let store = try openStore(job, by: by)
            let count = store.job.segments.count
            if let bad = numbers.first(where: { $0 > count }) {
                throw DubdeckError(.usage, "\(Sanitizer.display(store.job.translatedPath)): no segment \(bad) (the job has \(count))")
            }
            if apply, let locked = numbers.first(where: { store.state($0).locked }) {
                throw DubdeckError.conflict("segment \(locked) is locked: text cannot change: unlock first")
            }
            var lines: [Int] = []
            for n in numbers + (flagged ? (1...max(1, count)).filter { $0 <= count && store.state($0).flaggedForRetranslation } : []) where !lines.contains(n) {
                lines.append(n)
            }
            guard let src = srcLang ?? store.job.info.srcLang else {
                throw DubdeckError(.usage, "\(Sanitizer.display(job)): no source language (src_lang in job.json, or --src-lang)")
            }
            let engine = try Translation.engine(engine, command: command, srcLang: src, tgtLang: store.job.info.tgtLang, timeout: timeout)
            // The present texts' predicted lengths: a line that runs past its slot asks for shorter
            // ones (max_chars), and every answer is ranked by its own (the desk's R does the same).
            let predictor = try? SpokenLength()
            predictor?.predictAll(store, lines: lines)
            let proposals = try Translation.propose(store, lines, engine: engine, srcLang: src, predictor: predictor)
            // What was shown beside the proposals, before any is written.
            var before: [Int: (slot: Double, predicted: Double?)] = [:]
            for p in proposals { before[p.number] = (store.segment(p.number).duration, store.state(p.number).predictedS) }
            let written = apply ? try Translation.apply(store, proposals) : []
            func rounded(_ s: Double) -> Double { (s * 100).rounded() / 100 }
            func seconds(_ s: Double?) -> JSONValue { s.map { .number(rounded($0)) } ?? .null }
            if json {
                printJSON(.array(proposals.map { p in
                    .object(JSONObject([("segment", .number(p.number)), ("current", .string(p.current)), ("proposed", .string(p.proposed)),
                                        ("slot_s", seconds(before[p.number]?.slot)),
                                        ("current_predicted_s", seconds(before[p.number]?.predicted)),
                                        ("max_chars", p.maxChars.map { .number(Double($0)) } ?? .null),
                                        ("alternatives", .array(p.alternatives.map { a in
                                            .object(JSONObject([("text", .string(a.text)), ("predicted_s", seconds(a.seconds))]))
                                        })),
                                        ("locked", .bool(p.locked)), ("written", .bool(written.contains(p.number)))]))
                }))
                return
            }
            var out = lines.isEmpty ? "no line flagged needs_retranslate\n" : ""
            for p in proposals {
                // Each answer with its predicted length against the slot, the best fit first.
                let shown = before[p.number]!
                func fit(_ s: Double?) -> String { "~\(s.map { JSONValue.formatNumber(($0 * 10).rounded() / 10) } ?? "?") s / \(JSONValue.formatNumber(rounded(shown.slot))) s" }
                out += "#\(p.number)\(p.locked ? " (locked: kept)" : "")\(p.maxChars.map { " (runs past its slot: asked for at most \($0) characters)" } ?? "")\n"
                out += "  now  \(Sanitizer.display(p.current))  \(fit(shown.predicted))\n"
                for (k, a) in p.alternatives.enumerated() {
                    out += "  \(k == 0 ? engine.name : String(repeating: " ", count: engine.name.count))  \(Sanitizer.display(a.text))  \(fit(a.seconds))\n"
                }
            }
            if apply { out += "wrote \(written.count) line\(written.count == 1 ? "" : "s") (dubdeck undo takes them back)\n" }
            printOut(out)
        }
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Create a job from subtitles (SRT, WebVTT, ASS/SSA, SBV, MicroDVD, TTML/IMSC): their text becomes the target text.",
        discussion: "The format is found from the content (the file name only breaks ties; a mismatch is a warning). The character set: --encoding NAME (an iconv name), else a byte-order mark, else UTF-16/32 found from its zero bytes, else UTF-8 (a few lines in a legacy character set repaired, counted in a warning), else libuchardet's guess (named in a warning). A cue that cannot be read is skipped with one warning line naming its line; --strict makes it an error (65). MicroDVD counts frames: --fps, else the file's {1}{1}FPS line, else 65 with a hint. TTML is read with libxml2 (a DOCTYPE is refused); its ttm:agent names the speaker.")
    @Argument(help: "The subtitle file (.srt, .vtt, .webvtt, .ass, .ssa, .sbv, .sub, .ttml, .dfxp, .xml).") var subs: String
    @Option(help: "MicroDVD's frame rate (1 … 240; else the file's {1}{1}FPS line).") var fps: Double?
    @Option(help: "The job directory to create.") var out: String
    @Option(help: "The episode's audio (becomes the job's source audio).") var audio: String?
    @Option(help: "Series ID.") var series: String?
    @Option(help: "The file's character set (iconv names: UTF-16, WINDOWS-1251, GB2312, …).") var encoding: String?
    @Flag(help: "Refuse the file when any cue cannot be read.") var strict = false

    func validate() throws {
        try checkOut(out)
        if let fps { try checkRange(fps, MicroDVD.fpsRange, "--fps") }
    }

    func run() throws {
        try guarded {
            let r = try RoundTrip.importSubtitles(subs, into: out, audio: audio, series: series, encoding: encoding, strict: strict, fps: fps)
            for w in r.warnings { printError("warning: \(Sanitizer.display(subs)): \(Sanitizer.display(w))") }
            printOut("imported \(r.cues) subtitles into \(Sanitizer.display(out))\n")
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Write the current target texts as subtitles.")
    @Argument(help: "The job directory.") var job: String
    @Option(help: "srt, ass, vtt, sbv, microdvd or ttml (IMSC 1.1 Text).") var format: String
    @Option(help: "The file to write; - or none: standard output (raw: a data stream).") var out: String?
    @Option(help: "The character set to write (iconv names; default UTF-8).") var encoding: String = "UTF-8"
    @Flag(help: "Windows line ends (CRLF; the same as --line-ends crlf).") var crlf = false
    @Option(name: .customLong("line-ends"), help: "lf (default), crlf (Windows) or cr (old Mac).") var lineEnds: String?
    @Flag(help: "Begin with a byte-order mark.") var bom = false
    @Option(help: "MicroDVD's frame rate (1 … 240; else the imported MicroDVD file's).") var fps: Double?

    func validate() throws {
        try checkOut(out)
        if SubtitleFormat(rawValue: format) == nil { throw ValidationError("--format must be srt, ass, vtt, sbv, microdvd or ttml") }
        if let lineEnds, !["lf", "crlf", "cr"].contains(lineEnds) { throw ValidationError("--line-ends must be lf, crlf or cr") }
        if crlf, let lineEnds, lineEnds != "crlf" { throw ValidationError("--crlf and --line-ends \(lineEnds) disagree") }
        if let fps { try checkRange(fps, MicroDVD.fpsRange, "--fps") }
    }

    func run() throws {
        try guarded {
            let store = try openStore(job)
            // Characters' names for ASS's Name and WebVTT's <v> (the labels where none is known).
            var text = try RoundTrip.export(store, format: SubtitleFormat(rawValue: format)!, cast: openCast(nil, following: store), fps: fps)
            // An XML declaration names the character set it is written in, by its IANA name; UTF-16
            // begins with its byte-order mark (XML requires it).
            var bom = bom
            if format == "ttml" {
                guard let name = TextEncoding.xmlName(encoding) else {
                    throw DubdeckError(.usage, "--encoding \(Sanitizer.display(encoding)): TTML names its character set in its XML declaration; give UTF-8, UTF-16, ISO-8859-1 … 16, WINDOWS-1250 … 1258, KOI8-R, KOI8-U, SHIFT_JIS, EUC-JP, EUC-KR, GB2312, GBK, GB18030 or BIG5")
                }
                text = text.replacingAll("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", with: "<?xml version=\"1.0\" encoding=\"\(name)\"?>")
                if name == "UTF-16" { bom = true }
            }
            let bytes: [UInt8]
            do {
                bytes = try TextEncoding.encode(text, to: encoding, bom: bom, crlf: crlf || lineEnds == "crlf", cr: lineEnds == "cr")
            } catch let e as TextEncoding.Failure {
                throw DubdeckError(e.message.hasPrefix("unknown") ? .usage : .dataError, "--encoding \(Sanitizer.display(encoding)): \(e.message)")
            }
            // A FIFO, a device or a link such as /dev/stdout is written through, a regular file replaced atomically.
            if let out, out != "-" {
                try FileIO.writeOutput(out, bytes, terminalText: text)  // /dev/tty, /dev/stdout: sanitized there too
            } else if isTerminal(1) {
                // A terminal runs what it is sent: the subtitles' text is shown sanitized there
                // (raw bytes go only to files and pipes, SPEC §11.7).
                printOut(text)
            } else {
                try printRaw(bytes)
            }
        }
    }
}

struct Undo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undo",
        abstract: "Undo your last change (a batch as one), across processes.",
        discussion: "Yours: made with the same --by (else $USER). Refused (75) only when it would change the text of a line that is locked now.")
    @Argument(help: "The job directory.") var job: String
    @Flag(help: "Undo the newest change by anyone.") var any = false
    @Option(help: "Whose change (else $USER).") var by: String?

    func run() throws {
        try guarded { try runUndoRedo(.undo, job, any: any, by: by) }
    }
}

struct Redo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "redo", abstract: "Redo your last undone change.")
    @Argument(help: "The job directory.") var job: String
    @Flag(help: "Redo the newest undo by anyone.") var any = false
    @Option(help: "Whose undo (else $USER).") var by: String?

    func run() throws {
        try guarded { try runUndoRedo(.redo, job, any: any, by: by) }
    }
}

func runUndoRedo(_ d: UndoRedo.Direction, _ job: String, any: Bool, by: String?) throws {
    let store = try openStore(job, by: by)
    let result = try UndoRedo.runWithResult(d, store: store, any: any)
    printWarnings(result.warnings)
    let records = result.records
    let lines = Array(Swift.Set(records.map { $0.segment })).sorted().map(String.init).joined(separator: ", ")
    printOut("\(d.rawValue): \(records.count) change\(records.count == 1 ? "" : "s") (line \(lines))\n")
}
