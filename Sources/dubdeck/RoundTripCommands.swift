import ArgumentParser
import DubdeckCore

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write translated.edited.json and <stem>.edited.srt for the pipeline.",
        discussion: "Each segment's text comes from the review (locked text wins), with \"locked\" and \"approved\". With --approved-only, segments that are not approved get \"silence\": true and keep their timing.")
    @Argument(help: "The job directory.") var job: String
    @Flag(name: .customLong("approved-only"), help: "Silence the lines that are not approved.") var approvedOnly = false
    @Option(help: "Where to write (default: the job directory).") var out: String?

    func run() throws {
        try guarded {
            let store = try openStore(job)
            let r = try RoundTrip.apply(store, approvedOnly: approvedOnly, outDir: out)
            printOut("wrote \(Sanitizer.display(r.json)) (\(r.segments) segments\(approvedOnly ? ", \(r.silenced) silenced" : "")) and \(Sanitizer.display(r.srt))\n")
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

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a job from subtitles (SRT, WebVTT, ASS/SSA): their text becomes the target text.")
    @Argument(help: "The subtitle file.") var subs: String
    @Option(help: "The job directory to create.") var out: String
    @Option(help: "The episode's audio (becomes the job's source audio).") var audio: String?
    @Option(help: "Series ID.") var series: String?

    func run() throws {
        try guarded {
            let n = try RoundTrip.importSubtitles(subs, into: out, audio: audio, series: series)
            printOut("imported \(n) subtitles into \(Sanitizer.display(out))\n")
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the current target texts as subtitles.")
    @Argument(help: "The job directory.") var job: String
    @Option(help: "srt, ass or vtt.") var format: String
    @Option(help: "The file to write (default: standard output).") var out: String?

    func validate() throws {
        if SubtitleFormat(rawValue: format) == nil { throw ValidationError("--format must be srt, ass or vtt") }
    }

    func run() throws {
        try guarded {
            let store = try openStore(job)
            let text = try RoundTrip.export(store, format: SubtitleFormat(rawValue: format)!)
            if let out {
                try FileIO.writeAtomically(out, Array(text.utf8))
            } else {
                printOut(text)
            }
        }
    }
}

struct Undo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Undo the last change (a batch as one), across processes.")
    @Argument(help: "The job directory.") var job: String

    func run() throws {
        try guarded { try runUndoRedo(.undo, job) }
    }
}

struct Redo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Redo the last undone change.")
    @Argument(help: "The job directory.") var job: String

    func run() throws {
        try guarded { try runUndoRedo(.redo, job) }
    }
}

func runUndoRedo(_ d: UndoRedo.Direction, _ job: String) throws {
    let store = try openStore(job)
    let records = try UndoRedo.run(d, store: store)
    let lines = Array(Swift.Set(records.map { $0.segment })).sorted().map(String.init).joined(separator: ", ")
    printOut("\(d.rawValue): \(records.count) change\(records.count == 1 ? "" : "s") (line \(lines))\n")
}
