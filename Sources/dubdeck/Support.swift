import ArgumentParser
import DubdeckCore
import DubdeckTUI
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
    Console.err(line)
}

/// Human-readable output: every byte passes the sanitizer (only line breaks and tabs stay).
func printOut(_ text: String) {
    Console.out(Sanitizer.displayKeepingLayout(text))
}

/// JSON output: the writer escapes every control, C1 and bidi character as \u.
func printJSON(_ value: JSONValue) {
    Console.out(String(decoding: JSONWriter.encodePretty(value), as: UTF8.self))
}

/// A data stream (export to standard output): written raw, as documented.
func printRaw(_ bytes: [UInt8]) throws {
    if let e = Console.outputFailed { throw DubdeckError.io("standard output", "write failed: \(errnoText(e))") }
    try FileIO.writeOutput("-", bytes)
}

/// One warning line each (repairs a commit made on the way).
func printWarnings(_ warnings: [String]) {
    for w in warnings { printError("warning: " + w) }
}

/// A name argument that becomes a path or a key must be a safe name (a usage error, exit 64).
func checkName(_ value: String, _ option: String) throws {
    do {
        _ = try SafeName.checkArgument(value, option: option)
    } catch let e as DubdeckError {
        throw ValidationError(e.message)
    }
}

/// A number option must be finite and in range (NaN passes every comparison: check it first).
func checkRange(_ value: Double, _ range: ClosedRange<Double>, _ option: String, open lower: Bool = false) throws {
    guard value.isFinite, range.contains(value), !(lower && value == range.lowerBound) else {
        throw ValidationError("\(option) must be a number \(lower ? "above" : "from") \(JSONValue.formatNumber(range.lowerBound)) \(lower ? "up " : "")to \(JSONValue.formatNumber(range.upperBound))")
    }
}

func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

/// --out, when given, names something: an empty one is refused (64), never taken as "here" or "/".
func checkOut(_ out: String?) throws {
    if let out, out.isEmpty { throw ValidationError("--out must not be empty (a file, a directory, or - for standard output)") }
}

func openStore(_ jobDir: String, by: String? = nil, series: String? = nil) throws -> TranscriptStore {
    try TranscriptStore.open(jobDir, series: series, by: by)
}

/// The character store without embeddings, for names and voices; nil when there is none or it
/// cannot be opened (a listing still works without names).
/// `--store ""` names no store: refused (64), never read as "the default" (a silent fallback).
func checkStore(_ store: String?) throws {
    if let store, store.isEmpty {
        throw ValidationError("--store is empty: give a store file or a postgresql:// URL, or leave it out (DUBDECK_STORE, else data/characters.json)")
    }
}

func openCast(_ explicit: String?) -> CharacterStore? {
    let path = CharacterStore.defaultPath(explicit)
    guard CharacterStore.mayExist(path) else { return nil }
    do {
        return try CharacterStore.open(path, withEmbeddings: false)
    } catch let e as DubdeckError {
        printError("warning: character names and voices unavailable: " + e.message)
        return nil
    } catch {
        return nil
    }
}

/// The character store for a job's command: its map brought up to date with the store first (a
/// reconcile or assignment made elsewhere reaches this job's map, SPEC §11.4).
func openCast(_ explicit: String?, following transcript: TranscriptStore) -> CharacterStore? {
    guard let cast = openCast(explicit) else { return nil }
    do {
        try CharacterIdentifier.followStore(transcript, cast: cast)
    } catch let e as DubdeckError {
        printError("warning: characters.map.json not brought up to date with the store: " + e.message)
    } catch {}
    return cast
}

/// Makes the store judge takes against the characters' current voices (a changed voice is stale).
func applyVoices(_ cast: CharacterStore?, to store: TranscriptStore) {
    guard let cast else { return }
    store.characterVoices = cast.voices()
}

/// A `segments --json` row (SPEC §8).
func segmentJSON(_ store: TranscriptStore, _ seg: Segment, cast: CharacterStore? = nil, voiceMatch: Double? = nil) -> JSONValue {
    let st = store.state(seg.number)
    let character = store.characterID(seg.number)
    let dub = store.segment(seg.number)  // the reviewer's label and times
    let label = dub.speaker
    let takes = PlaybackSource.takes(store, seg.number)
    let k = PlaybackSource.currentListed(store, seg.number)
    let name = character.flatMap { cast?.resolve($0)?.name }.flatMap { $0.isEmpty ? nil : $0 }
    return .object(JSONObject([
        ("n", .number(seg.number)), ("start", .number(dub.start)), ("end", .number(dub.end)),
        ("orig_start", .number(seg.start)), ("orig_end", .number(seg.end)),
        ("speaker", .string(label)), ("label_override", .bool(st.speakerOverride != nil && st.speakerOverride != seg.speaker)),
        ("character", character.map { .string($0) } ?? .null),
        ("character_name", name.map { .string($0) } ?? .null), ("src_text", .string(seg.srcText)), ("tgt_text", .string(st.text)),
        ("approved", .bool(st.approved)), ("locked", .bool(st.locked)),
        ("flags", .array(st.flags.map { .string($0) })), ("audio_status", .string(st.audioStatus)),
        ("cps", .number((st.cps * 100).rounded() / 100)), ("too_fast", .bool(st.tooFast)),
        ("predicted_s", st.predictedS.map { .number(($0 * 100).rounded() / 100) } ?? .null), ("will_not_fit", .bool(st.willNotFit)),
        ("take", k.map { .object(JSONObject([("k", .number($0)), ("of", .number(takes.count))])) } ?? .null),
        ("voice_match", voiceMatch.map { .number($0) } ?? .null),
    ]))
}
