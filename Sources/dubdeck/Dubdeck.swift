import ArgumentParser
import DubdeckCore
#if canImport(Glibc)
import Glibc
#endif

struct Dubdeck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dubdeck",
        abstract: "A full-screen terminal review desk for machine-dubbed episodes.",
        discussion: "dubdeck \(DubdeckVersion.string). Exit codes: 0 ok, 64 usage, 65 bad input data, 66 missing input, 73 cannot create output, 74 I/O error, 75 conflict (locked line, another writer, a busy or unreachable database), 77 key/crypto or database access failure, 78 a database, role or schema that does not exist.",
        version: DubdeckVersion.string,
        subcommands: [Review.self, Demo.self, Status.self, Segments.self, Set.self, Synth.self, Play.self, Take.self, History.self, Undo.self, Redo.self, Apply.self, MergeMT.self, Translate.self, Import.self, Export.self, Characters.self, Key.self, Actions.self],
        defaultSubcommand: Review.self)
}

/// The entry point: the argument parser's own messages pass through the sanitizer (they echo
/// arguments), Ctrl-C stops cleanly (exit 130), and a failed write to standard output is exit 74.
/// A C string's bytes as they are (no decoding: what is not UTF-8 stays visible).
func cBytes(_ s: UnsafePointer<CChar>) -> [UInt8] {
    Array(UnsafeBufferPointer(start: UnsafeRawPointer(s).assumingMemoryBound(to: UInt8.self), count: strlen(s)))
}

@main
enum DubdeckMain {
    static func main() {
        OpenSSLLibrary.ready()
        Interrupt.install()
        var code: Int32 = 0
        // An argument that is not UTF-8 would reach the command as U+FFFD (a name that names nothing,
        // a text stored broken): refused, shown byte by byte.
        for k in 1..<Int(CommandLine.argc) {
            guard let p = CommandLine.unsafeArgv[k] else { continue }
            let bytes = cBytes(p)
            if String(validating: bytes, as: UTF8.self) == nil {
                Console.err("dubdeck: argument \(k) is not UTF-8 text: \(Sanitizer.display(bytes: bytes.prefix(200))) (names and texts are read as UTF-8)\n")
                exit(ExitStatus.usage.rawValue)
            }
        }
        // So is dubdeck's own environment (a store path, a key file, a command): never a silent
        // fallback to the default because a value could not be read.
        var k = 0
        while let entry = environ[k] {
            k += 1
            let bytes = cBytes(entry)
            guard bytes.starts(with: Array("DUBDECK_".utf8)), String(validating: bytes, as: UTF8.self) == nil else { continue }
            let name = bytes.prefix { $0 != UInt8(ascii: "=") }
            let value = bytes.dropFirst(name.count + 1)
            Console.err("dubdeck: \(Sanitizer.display(bytes: name)) is not UTF-8 text: \(Sanitizer.display(bytes: value.prefix(200)))\n")
            exit(ExitStatus.usage.rawValue)
        }
        do {
            var command = try Dubdeck.parseAsRoot()
            try command.run()
        } catch {
            code = Dubdeck.exitCode(for: error).rawValue
            let message = Dubdeck.fullMessage(for: error)
            if !message.isEmpty {
                if code == 0 {
                    printOut(message + "\n")  // --help, --version
                } else {
                    // One line, as every error: the usage lines the parser adds are what --help shows.
                    let first = message.split(separator: "\n").first.map(String.init) ?? message
                    let name = (CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") }).map { " \($0)" } ?? ""
                    let hint = first.hasPrefix("Error: ") ? " (see 'dubdeck\(Dubdeck.configuration.subcommands.contains { $0.configuration.commandName == String(name.dropFirst()) } ? name : "") --help')" : ""
                    Console.err(Sanitizer.display(first) + hint + "\n")
                }
            }
        }
        BackgroundWork.finish()  // a hash begun on the other core ends before the process does
        Interrupt.cleanUpAtExit()  // q mid-batch, an error: no engine left running, no temporary left
        if let e = Console.outputFailed {
            Console.err("dubdeck: standard output: write failed: \(errnoText(e))\n")
            exit(ExitStatus.ioError.rawValue)
        }
        exit(code)
    }
}
