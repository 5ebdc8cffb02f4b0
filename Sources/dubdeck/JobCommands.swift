import ArgumentParser
import DubdeckCore
import DubdeckTUI

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Write the sample job (reused when DIR already holds it) and open it.")

    @Argument(help: "Where to write it.") var dir: String = "./dubdeck-demo"
    @Flag(name: .customLong("no-tui"), help: "Only write the job.") var noTUI = false

    func run() throws {
        try guarded {
            let wrote = try DemoJob.write(to: dir)
            if noTUI || !isTerminal(0) || !isTerminal(1) {
                printOut("\(wrote ? "wrote" : "reusing") the demo job in \(Sanitizer.display(dir)); open it with: dubdeck review \(Sanitizer.display(dir))\n")
                return
            }
            try openDesk(jobDir: dir, keymapFile: nil, script: nil)
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Counts of a job's review state.")
    @Argument(help: "The job directory.") var job: String
    @Flag(help: "One JSON document on stdout.") var json = false
    @Option(help: "Character store, for voices (else DUBDECK_STORE, else data/characters.json).") var store: String?

    func validate() throws { try checkStore(store) }

    func run() throws {
        try guarded {
            let transcript = try openStore(job)
            applyVoices(openCast(self.store, following: transcript), to: transcript)
            let store = transcript
            let c = store.counts()
            if json {
                var o = JSONObject([
                    ("job", .string(store.job.directory)), ("episode", .string(store.job.info.episode)),
                    ("series_id", store.job.info.seriesID.map { .string($0) } ?? .null),
                    ("segments", .number(c.segments)), ("approved", .number(c.approved)), ("locked", .number(c.locked)),
                    ("flagged", .number(c.flagged)), ("stale", .number(c.stale)), ("overflow", .number(c.overflow)),
                    ("edited", .number(c.edited)),
                    ("overlapping", .number(store.job.overlapping.count)),
                ])
                o["read_only"] = store.readOnlyReason.map { .string($0) } ?? .null
                o["dubdeck_version"] = .string(DubdeckVersion.string)
                printJSON(.object(o))
            } else {
                var out = "\(Sanitizer.display(store.job.info.episode))"
                if let s = store.job.info.seriesID { out += " (\(Sanitizer.display(s)))" }
                out += ": \(c.segments) segments, \(c.approved) approved, \(c.locked) locked, \(c.flagged) flagged, \(c.stale) stale, \(c.overflow) overflow, \(c.edited) edited\n"
                if let r = store.readOnlyReason { out += "read-only: \(Sanitizer.display(r))\n" }
                printOut(out)
            }
        }
    }
}

struct Segments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "segments", abstract: "List a job's lines with their review state.")
    @Argument(help: "The job directory.") var job: String
    @Option(help: "all, unapproved, unlocked, locked, flagged, stale, overflow, too-fast (subtitle reading speed), will-not-fit (predicted speech past --max-speedup) or problems (unapproved, flagged, stale, overflow or will not fit).") var filter: String = "all"
    @Option(help: "Reading-speed limit in characters per second (1 … 100; else job.json max_cps, else the target language's).") var maxCps: Double?
    @Option(name: .customLong("max-speedup"), help: "The speed-up a fit may use (1 … 4, default 1.30): predicted speech longer than slot × this will not fit (!).") var maxSpeedup: Double = 1.30
    @Flag(help: "One JSON document on stdout.") var json = false
    @Option(help: "Character store for names (else DUBDECK_STORE, else data/characters.json).") var store: String?

    func validate() throws {
        try checkStore(store)
        if SegmentFilter(rawValue: filter) == nil {
            throw ValidationError("--filter must be one of: \(SegmentFilter.allCases.map { $0.rawValue }.joined(separator: ", "))")
        }
        if let maxCps { try checkRange(maxCps, ReadingSpeed.limitRange, "--max-cps") }
        try checkRange(maxSpeedup, 1...4, "--max-speedup")
    }

    func run() throws {
        try guarded {
            let transcript = try openStore(job)
            let cast = openCast(store, following: transcript)
            applyVoices(cast, to: transcript)
            if let maxCps { transcript.cpsLimit = maxCps }
            transcript.maxSpeedup = maxSpeedup
            // How long each line will be spoken (espeak-ng counting, scaled by the voice's takes):
            // every line when the filter asks about the fit, else the lines shown; without
            // espeak-ng the lines are listed without a prediction.
            let store = transcript
            let f = SegmentFilter(rawValue: filter)!
            let predictor = try? SpokenLength()
            let needsFit = f == .willNotFit || f == .problems
            if needsFit { predictor?.predictAll(transcript) }
            let shown = store.job.segments.filter { f.includes(store.state($0.number)) }
            if !needsFit { predictor?.predictAll(transcript, lines: shown.map(\.number)) }
            if json {
                // The encoder is loaded once, and only when some line has a take and a reference.
                var encoder: SpeakerEncoder?
                var loaded = false
                let load = { () -> SpeakerEncoder? in
                    if !loaded { loaded = true; encoder = try? SpeakerEncoder() }
                    return encoder
                }
                printJSON(.array(shown.map { segmentJSON(store, $0, cast: cast, voiceMatch: VoiceMatch.score(store, $0.number, cast: cast, encoder: load)) }))
                return
            }
            var out = ""
            for seg in shown {
                let st = store.state(seg.number)
                let glyphs = (st.approved ? "A" : ".") + (st.locked ? "L" : ".") + (st.flags.isEmpty ? "." : "R") + (st.willNotFit ? "!" : ".")
                let id = store.characterID(seg.number)
                let dub = store.segment(seg.number)  // the reviewer's label and times
                let label = dub.speaker
                // The character's name, else `unnamed 07` (a character ID looks like a label); no character: the label.
                let who = id.map { id in cast?.resolve(id)?.displayName ?? CharacterRecord.shownName(id: id, name: "") } ?? (label.isEmpty ? "?" : label)
                out += "\(seg.number)\t\(Clock.formatTime(dub.start))\t\(Sanitizer.display(who))\t\(glyphs)\t\(st.audioStatus)\t"
                out += Sanitizer.display(st.text) + "\n"
            }
            printOut(out)
        }
    }
}

struct Set: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change one line: text, times, approval, lock, flags (durable; recorded in the history).",
        discussion: "Applied in this order: unlock, text, times, approve/unapprove, flags, lock. A locked line's text and times are refused (exit 75) unless --unlock is given. New times that overlap the line before or after are refused (exit 75, naming it) unless --allow-overlap; the take goes stale.")

    @Argument(help: "The job directory.") var job: String
    @Argument(help: "The segment number (1-based).") var n: Int
    @Option(help: "New target text.") var text: String?
    @Flag(help: "Back to the machine translation (translated.json's text).") var resetText = false
    @Flag(help: "Approve the line.") var approve = false
    @Flag(help: "Unapprove the line.") var unapprove = false
    @Flag(help: "Lock the line (its text becomes final).") var lock = false
    @Flag(help: "Unlock the line.") var unlock = false
    @Option(help: "Add a flag (e.g. needs_retranslate).") var flag: [String] = []
    @Option(help: "Remove a flag.") var unflag: [String] = []
    @Option(help: "The line's diarization label (a diarization error fixed; the pipeline's label removes the fix).") var speaker: String?
    @Option(help: "The dub line's new start, in seconds (the original cue stays in translated.json).") var start: Double?
    @Option(help: "The dub line's new end, in seconds.") var end: Double?
    @Option(help: "Move the dub line by this many seconds (earlier: --shift=-0.25).", transform: { s in
        guard let v = Double(s) else { throw ValidationError("--shift takes seconds (e.g. -0.25)") }
        return v
    }) var shift: Double?
    @Flag(help: "Allow the new times to overlap the line before or after.") var allowOverlap = false
    @Option(help: "Who made the change (else $USER).") var by: String?

    var retiming: Bool { start != nil || end != nil || shift != nil }

    func validate() throws {
        if approve && unapprove { throw ValidationError("--approve and --unapprove exclude each other") }
        if lock && unlock { throw ValidationError("--lock and --unlock exclude each other") }
        if text != nil && resetText { throw ValidationError("--text and --reset-text exclude each other") }
        if text == nil && !resetText && !approve && !unapprove && !lock && !unlock && flag.isEmpty && unflag.isEmpty && speaker == nil && !retiming {
            throw ValidationError("nothing to change: give --text, --reset-text, --start, --end, --shift, --approve, --unapprove, --lock, --unlock, --flag, --unflag or --speaker")
        }
        if shift != nil && (start != nil || end != nil) { throw ValidationError("--shift moves both times: give it alone, or --start and --end") }
        for (name, v) in [("--start", start), ("--end", end), ("--shift", shift)] {
            if let v, !v.isFinite || abs(v) > Bounds.maxTime { throw ValidationError("\(name) must be a number of seconds within \(Int(Bounds.maxTime))") }
        }
        if allowOverlap && !retiming { throw ValidationError("--allow-overlap goes with --start, --end or --shift") }
        if let speaker { try checkName(speaker, "--speaker") }
        if n < 1 { throw ValidationError("N counts from 1") }
        for f in flag + unflag where f.isEmpty || f.contains(where: { $0.isWhitespace }) {
            throw ValidationError("a flag is one word")
        }
    }

    func run() throws {
        try guarded {
            let store = try openStore(job, by: by)
            guard n <= store.job.segments.count else {
                throw DubdeckError(.usage, "\(Sanitizer.display(store.job.translatedPath)): no segment \(n) (the job has \(store.job.segments.count))")
            }
            var changes: [SegmentChange] = []
            if unlock { changes.append(.lock(n, false, by: store.by)) }
            if let text { changes.append(.edit(n, text: text)) }
            if resetText { changes.append(.resetText(n, to: store.job.segments[n - 1].text)) }
            if retiming {
                let now = store.segment(n)
                let a = shift.map { now.start + $0 } ?? start ?? now.start, b = shift.map { now.end + $0 } ?? end ?? now.end
                guard let slot = TimeSlot(start: a, end: b) else {
                    throw DubdeckError(.usage, "segment \(n): \(JSONValue.formatNumber(a))–\(JSONValue.formatNumber(b)) s are not \(TimeSlot.rule)")
                }
                changes.append(store.retime(n, to: slot, allowOverlap: allowOverlap, hint: "; --allow-overlap allows it"))
            }
            if let speaker {
                // One of the episode's labels, as `characters assign` takes them (a typo is no new speaker).
                let labels = CharacterIdentifier.episodeLabels(store)
                guard labels.contains(speaker) else {
                    throw DubdeckError(.usage, "no label \(Sanitizer.display(speaker)) in \(Sanitizer.display(store.job.info.episode)) (its labels: \(labels.joined(separator: ", ")))")
                }
                changes.append(store.speakerChange(n, speaker))
            }
            if approve { changes.append(.approve(n, true)) }
            if unapprove { changes.append(.approve(n, false)) }
            for f in flag { changes.append(.flag(n, f, true)) }
            for f in unflag { changes.append(.flag(n, f, false)) }
            if lock { changes.append(.lock(n, true, by: store.by)) }
            let result = try store.commit(changes)
            printWarnings(result.warnings)
            if result.records.isEmpty {
                printOut("segment \(n): no change\n")
            } else {
                printOut("segment \(n): \(result.records.map { $0.action }.joined(separator: ", ")) (history seq \(result.records.map { String($0.seq) }.joined(separator: ",")))\n")
            }
        }
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "The change history of a job, or of one line.")
    @Argument(help: "The job directory.") var job: String
    @Argument(help: "Only this segment.") var n: Int?
    @Flag(help: "One JSON document on stdout.") var json = false

    func run() throws {
        try guarded {
            let loaded = try JobLoader.load(job)
            if let n, n < 1 || n > loaded.segments.count {
                throw DubdeckError(.usage, "\(Sanitizer.display(loaded.translatedPath)): no segment \(n) (the job has \(loaded.segments.count))")
            }
            let log = HistoryLog(loaded.historyPlace)
            let all = try log.readAll()
            if let w = all.warning { printError("warning: " + w) }
            let records = all.records.filter { n == nil || $0.segment == n }
            if json {
                printJSON(.array(records.map { $0.json }))
                return
            }
            var out = ""
            for r in records {
                out += "\(r.seq)\t\(r.ts)\t\(Sanitizer.display(r.by))\tsegment \(r.segment)\t\(r.action)"
                if let b = r.batch { out += "\tbatch \(Sanitizer.display(b))" }
                if r.changesText,
                   let before = r.before.objectValue?["tgt_text"]?.stringValue,
                   let after = r.after.objectValue?["tgt_text"]?.stringValue {
                    out += "\t\"\(Sanitizer.display(before))\" → \"\(Sanitizer.display(after))\""
                }
                out += "\n"
            }
            printOut(out)
        }
    }
}

/// Prints the action table (the source of docs/KEYMAPS.md's table).
struct Actions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "actions",
        abstract: "Print the table of desk actions and their default keys (Markdown).", shouldDisplay: false)

    func run() throws {
        printOut(Action.markdown(keymap: Keymap.builtIn()))
    }
}
