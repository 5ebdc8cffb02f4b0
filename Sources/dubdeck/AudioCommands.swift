import ArgumentParser
import DubdeckCore
#if canImport(Glibc)
import Glibc
#endif

/// The speech engine named on the command line (or by DUBDECK_ENGINE_COMMAND for `command`).
func makeEngine(_ name: String?, template: [String], timeout: Double) throws -> SpeechEngine {
    if name == "server" {
        // A persistent process: the command is started once and spoken to in JSON lines.
        guard let argv = template.isEmpty ? try CommandEngine.templateFromEnvironment() : template else {
            throw DubdeckError(.usage, "--engine server needs --engine-command ARGV... or DUBDECK_ENGINE_COMMAND (a JSON array)")
        }
        return try ServerEngine(argv: argv, timeout: timeout)
    }
    // A command engine may print how long it would speak (the desk's predicted fit).
    let predict = try CommandEngine.templateFromEnvironment("DUBDECK_ENGINE_PREDICT_COMMAND")
    if !template.isEmpty { return try CommandEngine(template: template, timeout: timeout, predictTemplate: predict) }
    switch name ?? "espeak" {
    case "espeak": return try EspeakEngine()
    case "command":
        guard let t = try CommandEngine.templateFromEnvironment() else {
            throw DubdeckError(.usage, "--engine command needs --engine-command ARGV... or DUBDECK_ENGINE_COMMAND (a JSON array)")
        }
        return try CommandEngine(template: t, timeout: timeout, predictTemplate: predict)
    default:
        throw DubdeckError(.usage, "unknown engine '\(Sanitizer.display(name ?? ""))' (espeak, command or server)")
    }
}

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Regenerate the speech of lines, fitted to their time slots.",
        discussion: """
        Named lines are always synthesized (locked ones with their locked text). --approved and --all skip \
        lines whose take matches their text and voice (fresh or overflow) and lines whose take a reviewer \
        chose (dubdeck take, the desk's K); --force regenerates them all. --engine-command takes the rest of the command line as the argv \
        template ({text_file} {out} {ref_wav} {lang} {voice}) and implies --engine command, e.g.
          dubdeck synth JOB 5 --engine-command espeak-ng -v en -w {out} -f {text_file}
        --engine server starts the command once and talks JSON lines with it (a neural TTS loads its \
        model once), e.g.
          dubdeck synth JOB --all --engine server --engine-command python3 scripts/tts_server.py
        --timeout is then per line; a server that dies is started again once (docs/ENGINES.md).
        """)

    @Argument(help: "The job directory.") var job: String
    @Argument(help: "Segment numbers.") var numbers: [Int] = []
    @Flag(help: "Every approved line.") var approved = false
    @Flag(help: "Every line.") var all = false
    @Flag(help: "With --approved or --all: every line, fresh and chosen takes too.") var force = false
    @Option(help: "espeak (default), command (one process per line) or server (one process, JSON lines).") var engine: String?
    @Option(name: .customLong("max-speedup"), help: "Largest speed-up to fit a slot (default 1.30).") var maxSpeedup: Double = 1.30
    @Option(help: "Seconds an engine command may take (default 60).") var timeout: Double = 60
    @Option(help: "Character store (else DUBDECK_STORE, else data/characters.json).") var store: String?
    @Option(name: .customLong("engine-command"), parsing: .remaining, help: "The argv template (the rest of the line).")
    var engineCommand: [String] = []

    func validate() throws {
        try checkStore(store)
        let modes = (numbers.isEmpty ? 0 : 1) + (approved ? 1 : 0) + (all ? 1 : 0)
        if modes != 1 { throw ValidationError("give segment numbers, --approved or --all (one of them)") }
        if force && numbers.count > 0 { throw ValidationError("--force goes with --approved or --all (named lines are always synthesized)") }
        try checkRange(maxSpeedup, 1...4, "--max-speedup")
        try checkRange(timeout, 0...86_400, "--timeout", open: true)
        if let e = engine, !["espeak", "command", "server"].contains(e) { throw ValidationError("--engine must be espeak, command or server") }
    }

    func run() throws {
        try guarded {
            let transcript = try openStore(job)
            let synth = SegmentSynthesizer(store: transcript, engine: try makeEngine(engine, template: engineCommand, timeout: timeout),
                                           maxSpeedup: maxSpeedup)
            // Each character speaks with its persisted voice.
            if let cast = openCast(store, following: transcript) {
                synth.characterVoices = cast.voices()
                synth.referenceWavs = cast.referenceWavs()
                applyVoices(cast, to: transcript)
            }
            for n in numbers where n < 1 || n > transcript.job.segments.count {
                throw DubdeckError(.usage, "no segment \(n) (the job has \(transcript.job.segments.count))")
            }
            if numbers.count == 1 {
                // Ctrl-C here: the handler removes the temporaries and exits 130.
                let r = try synth.synthesize(numbers[0])
                printWarnings(synth.lastWarnings)
                printOut(describe(r) + "\n")
                if r.clippedSamples > 0 {
                    printError("warning: segment \(r.segment): the engine's audio came clipped (\(r.clippedSamples) samples at full scale): turned down, but the distortion stays")
                }
                return
            }
            let list = numbers.isEmpty ? SegmentSynthesizer.batchSelection(transcript, approvedOnly: approved, force: force) : numbers
            let tty = isTerminal(2)
            // Ctrl-C stops the batch after the current line; what was done is printed.
            let summary = Interrupt.polling { synth.batch(list, cancelled: { Interrupt.requested }) { done, total, n in
                guard tty, total > 0 else { return }
                let width = 30
                let filled = done * width / total
                let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
                Console.err("\r[\(bar)] \(done)/\(total)\(n > 0 ? " segment \(n)" : "")   ")
            } }
            if tty { Console.err("\n") }
            for f in summary.failures { printError(f) }
            if !summary.clipped.isEmpty {
                printError("warning: the engine's audio came clipped on \(summary.clipped.count) line\(summary.clipped.count == 1 ? "" : "s") (\(summary.clipped.prefix(10).map(String.init).joined(separator: ", "))\(summary.clipped.count > 10 ? ", …" : "")): turned down, but the distortion stays")
            }
            printOut("synthesized \(summary.done) of \(list.count) lines: \(summary.fresh) fresh, \(summary.overflow) overflow, \(summary.failed) failed\(summary.cancelled ? " (interrupted)" : "")\n")
            if summary.cancelled || Interrupt.requested { throw ExitCode(130) }
            if summary.failed > 0 { throw DubdeckError(.ioError, "\(summary.failed) line(s) failed") }
        }
    }

    func describe(_ r: SegmentSynthesizer.Result) -> String {
        "segment \(r.segment): \(r.status), speech \(fmt(r.speechS)) s in a \(fmt(r.durationS)) s take, stretch \(fmt(r.stretch))"
            + (r.overflowS > 0 ? ", overflow \(fmt(r.overflowS)) s" : "") + " → \(r.wav)"
    }
}

func fmt(_ v: Double) -> String {
    let t = Int((v * 100).rounded())
    let f = abs(t % 100)
    return "\(t / 100).\(f < 10 ? "0" : "")\(f)"
}

struct Play: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "play",
        abstract: "Play a line's take (or the original line, or the line in context) and return when it has finished.",
        discussion: "--context plays the previous, current and next lines at their real times (takes that match their text, else the original) over the source ducked by --duck dB, from --before seconds before to --after seconds after; mixed by dubdeck, sample-exact (docs/AUDIO.md). Ctrl-C stops the device cleanly. --device file:FILE=/tmp/x.wav,FORMAT=wav records instead of playing.")

    @Argument(help: "The job directory.") var job: String
    @Argument(help: "The segment number.") var n: Int
    @Flag(help: "The original line, cut from the source audio.") var original = false
    @Option(help: "Take K: 1 (current) … 5.") var take: Int?
    @Flag(help: "The previous, current and next lines at their real times over the ducked source.") var context = false
    @Option(help: "With --context: seconds before the first line (0 … 30).") var before: Double = 1
    @Option(help: "With --context: seconds after the last line (0 … 30).") var after: Double = 1
    @Option(help: "With --context: how far the source is lowered under the lines, in dB (0 … 96).") var duck: Double = 12
    @Option(help: "ALSA PCM (else DUBDECK_AUDIO_DEVICE, else default).") var device: String?

    func validate() throws {
        if [original, take != nil, context].filter({ $0 }).count > 1 { throw ValidationError("--original, --take and --context exclude each other") }
        if let k = take, k < 1 || k > SegmentSynthesizer.takesKept { throw ValidationError("--take is 1 … 5") }
        try checkRange(before, 0...ContextMix.Options.maxPadding, "--before")
        try checkRange(after, 0...ContextMix.Options.maxPadding, "--after")
        try checkRange(duck, 0...ContextMix.Options.maxDuck, "--duck")
    }

    func run() throws {
        try guarded {
            let store = try openStore(job)
            guard n >= 1, n <= store.job.segments.count else {
                throw DubdeckError(.usage, "no segment \(n) (the job has \(store.job.segments.count))")
            }
            let pcm: PCM16, label: String
            if context {
                pcm = try ContextMix.mix(store, n, .init(before: before, after: after, duckDB: duck)).pcm
                label = "line \(n) in context"
            } else if original {
                (pcm, label) = (try PlaybackSource.original(store, n), "original \(n)")
            } else {
                (pcm, label) = (try PlaybackSource.take(store, n, take: take ?? 1), "take \(take ?? 1) of \(n)")
            }
            let sink = ALSASink(device: device)
            try Interrupt.polling {
                try sink.play(pcm, label: label)
                while sink.isPlaying {
                    if Interrupt.requested {
                        sink.stop()
                        sink.wait()
                        throw ExitCode(130)
                    }
                    usleep(20_000)
                }
                sink.wait()
            }
            // ALSA keeps going when a plugin fails (a file device that cannot be written plays into
            // nothing): what it said is the failure, never an exit 0 with nothing played.
            if let said = ALSAMessages.take() {
                throw DubdeckError(.ioError, "audio device '\(Sanitizer.display(sink.device))': \(said)")
            }
        }
    }
}

struct Take: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "take",
        abstract: "Make take K (1 = newest) of a line the current one (recorded in the history; undoable).")

    @Argument(help: "The job directory.") var job: String
    @Argument(help: "The segment number.") var n: Int
    @Argument(help: "The take: 1 (newest) … 5.") var k: Int

    func validate() throws {
        if n < 1 { throw ValidationError("N counts from 1") }
        if k < 1 || k > SegmentSynthesizer.takesKept { throw ValidationError("K is 1 (newest) … \(SegmentSynthesizer.takesKept)") }
    }

    func run() throws {
        try guarded {
            let store = try openStore(job)
            let result = try TakeChoice.choose(store, n, k)
            printWarnings(result.warnings)
            let current = Takes.current(of: store.entry(n), n) ?? "-"
            printOut(result.records.isEmpty ? "segment \(n): take \(k) is already the current one (\(current))\n"
                                            : "segment \(n): take \(k) is now current (\(current)); history seq \(result.records[0].seq)\n")
        }
    }
}
