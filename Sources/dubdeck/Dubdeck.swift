import ArgumentParser
import DubdeckCore

@main
struct Dubdeck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dubdeck",
        abstract: "A full-screen terminal review desk for machine-dubbed episodes.",
        discussion: "Exit codes: 0 ok, 64 usage, 65 bad input data, 66 missing input, 73 cannot create output, 74 I/O error, 75 conflict (locked line, another writer), 77 key/crypto failure.",
        subcommands: [Review.self, Demo.self, Status.self, Segments.self, Set.self, Synth.self, Play.self, History.self, Undo.self, Redo.self, Apply.self, MergeMT.self, Import.self, Export.self, Characters.self, Key.self, Actions.self],
        defaultSubcommand: Review.self)
}
