import ArgumentParser
import DubdeckCore
import DubdeckTUI

struct Review: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Open the review desk on a job (the default command).",
        discussion: "Keys: ? shows them all. --script FILE drives the desk headless (one key per line, :size WxH, :dump PATH, :wait-idle, :type TEXT, :quit).")

    @Argument(help: "The job directory.") var job: String
    @Option(help: "Series ID (else job.json's series_id).") var series: String?
    @Option(help: "A keymap file loaded after the built-in and user keymaps.") var keymap: String?
    @Option(help: "ALSA PCM for playback (else DUBDECK_AUDIO_DEVICE, else default).") var device: String?
    @Option(help: "Character store (else DUBDECK_STORE, else data/characters.json).") var store: String?
    @Option(help: "Speech engine: espeak, command (DUBDECK_ENGINE_COMMAND per line) or server (DUBDECK_ENGINE_COMMAND started once).") var engine: String?
    @Option(help: "Run headless: keys from this file, no terminal.") var script: String?
    @Option(help: "Reading-speed limit in characters per second (1 … 100; else job.json max_cps, else the target language's).") var maxCps: Double?
    @Option(name: .customLong("max-speedup"), help: "Largest speed-up to fit a slot (1 … 4, default 1.30); predicted speech past it is marked !.") var maxSpeedup: Double = 1.30
    @Option(name: .customLong("mt-engine"), help: "Machine translation for the R key: apertium (default), command or server (DUBDECK_MT_COMMAND, a JSON array).") var mtEngine: String?
    @Option(name: .customLong("src-lang"), help: "The source language when job.json has no src_lang (for R).") var srcLang: String?

    func validate() throws {
        try checkStore(store)
        if let maxCps { try checkRange(maxCps, ReadingSpeed.limitRange, "--max-cps") }
        try checkRange(maxSpeedup, 1...4, "--max-speedup")
        if let e = engine, !["espeak", "command", "server"].contains(e) {
            throw ValidationError("--engine must be espeak, command or server")
        }
        if let mtEngine, !["apertium", "command", "server"].contains(mtEngine) { throw ValidationError("--mt-engine is apertium, command or server") }
        if let srcLang { try checkName(srcLang, "--src-lang") }
    }

    func run() throws {
        try guarded {
            try openDesk(jobDir: job, keymapFile: keymap, script: script, series: series, engine: engine, device: device, store: store,
                         maxCPS: maxCps, maxSpeedup: maxSpeedup, mtEngine: mtEngine, srcLang: srcLang)
        }
    }
}

/// Loads the keymaps in order: built-in, then the user's file, then --keymap.
func loadKeymap(_ extra: String?) throws -> Keymap {
    var keymap = Keymap.builtIn()
    let config = Environment.get("XDG_CONFIG_HOME").flatMap { $0.isEmpty ? nil : $0 }
        ?? ((Environment.get("HOME") ?? ".") + "/.config")
    let userFile = config + "/dubdeck/keys"
    if let bytes = try FileIO.readIfExists(userFile) {
        try keymap.load(String(decoding: bytes, as: UTF8.self), file: userFile)
    }
    if let extra {
        let bytes = try FileIO.read(extra)
        try keymap.load(String(decoding: bytes, as: UTF8.self), file: extra)
    }
    return keymap
}

func openDesk(jobDir: String, keymapFile: String?, script: String?, series: String? = nil, engine: String? = nil,
              device: String? = nil, store storeOption: String? = nil, maxCPS: Double? = nil, maxSpeedup: Double = 1.30,
              mtEngine: String? = nil, srcLang: String? = nil) throws {
    let keymap = try loadKeymap(keymapFile)
    let store = try openStore(jobDir, series: series)
    // The engine is made on first use (by the synthesis worker), so a desk opens even without one.
    let engineName = engine ?? ((try? CommandEngine.templateFromEnvironment()) != nil ? "command" : "espeak")
    let audio = DeskAudio(makeEngine: { try makeEngine(engineName, template: [], timeout: 60) }, maxSpeedup: maxSpeedup, sink: ALSASink(device: device))
    let desk = Desk(store: store, keymap: keymap, audio: audio, characterStorePath: CharacterStore.defaultPath(storeOption),
                    predictor: EngineLengthPredictor(fallback: try? SpokenLength()))
    desk.cpsOverride = maxCPS
    // The MT command, like the TTS one, from the environment (a JSON array): the desk's options take no argv.
    let mtCommand = try CommandEngine.templateFromEnvironment("DUBDECK_MT_COMMAND") ?? []
    if ["command", "server"].contains(mtEngine ?? "") && mtCommand.isEmpty { throw DubdeckError(.usage, "--mt-engine \(mtEngine!) needs DUBDECK_MT_COMMAND (a JSON array)") }
    desk.useTranslation(engine: mtEngine, command: mtCommand, srcLang: srcLang)
    if let script {
        let text = String(decoding: try FileIO.read(script), as: UTF8.self)
        var runner = ScriptRunner(desk: desk, baseDirectory: ".")
        defer { desk.stopForExit() }
        try runner.run(script: text, file: script)
        if let note = desk.exitNote { printOut(note + "\n") }
        return
    }
    guard isTerminal(0), isTerminal(1) else {
        throw DubdeckError(.usage, "the review desk needs a terminal (use --script FILE to run it headless)")
    }
    DeskApp.run(desk)
    desk.stopForExit()
    if let note = desk.exitNote { printOut(note + "\n") }  // on the terminal the desk gave back
}
