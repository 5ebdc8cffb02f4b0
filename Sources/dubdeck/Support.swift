import ArgumentParser
import DubdeckCore
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command body; a dubdeck error becomes one line on stderr and its sysexits code.
func guarded(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as DubdeckError {
        printError(e.message)
        throw ExitCode(e.status.rawValue)
    } catch let e as KeymapError {
        printError(e.description)
        throw ExitCode(ExitStatus.dataError.rawValue)
    }
}

func printError(_ message: String) {
    let line = "dubdeck: " + Sanitizer.display(message) + "\n"
    fputs(line, stderr)
}

func printOut(_ text: String) {
    fputs(text, stdout)
}

func printJSON(_ value: JSONValue) {
    printOut(String(decoding: JSONWriter.encodePretty(value), as: UTF8.self))
}

func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

func openStore(_ jobDir: String, by: String? = nil, series: String? = nil) throws -> TranscriptStore {
    let job = try JobLoader.load(jobDir, series: series)
    return try TranscriptStore(job: job, by: by)
}

/// A `segments --json` row (SPEC §8).
func segmentJSON(_ store: TranscriptStore, _ seg: Segment) -> JSONValue {
    let st = store.state(seg.number)
    let character = store.job.characterID(of: seg)
    return .object(JSONObject([
        ("n", .number(seg.number)), ("start", .number(seg.start)), ("end", .number(seg.end)),
        ("speaker", .string(seg.speaker)), ("character", character.map { .string($0) } ?? .null),
        ("character_name", .null), ("src_text", .string(seg.srcText)), ("tgt_text", .string(st.text)),
        ("approved", .bool(st.approved)), ("locked", .bool(st.locked)),
        ("flags", .array(st.flags.map { .string($0) })), ("audio_status", .string(st.audioStatus)),
    ]))
}
