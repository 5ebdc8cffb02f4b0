// libFuzzer entry point for dubdeck's parsers (built by `make fuzz` with -sanitize=fuzzer, compiled
// into the same module as DubdeckCore's sources). FUZZ_TARGET picks the parser:
// json, translated, store, history, historyend, srt, vtt, ass, envelope, charstore, npy, keymap,
// sanitizer, names.
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var fuzzTarget: String = {
    if let v = getenv("FUZZ_TARGET") { return String(cString: v) }
    return "json"
}()

let fuzzDir: String = {
    var t = Array("/tmp/dubdeck-fuzz.XXXXXX".utf8CString)
    return String(cString: t.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!)! })
}()

func fuzzJob() -> Job {
    let bytes = Array(#"{"segments":[{"start":0,"end":1,"text":"a"},{"start":1,"end":2,"text":"b"}]}"#.utf8)
    try! FileIO.writeAtomically(fuzzDir + "/translated.json", bytes)
    return try! JobLoader.load(fuzzDir)
}

let fuzzJobOnce = fuzzJob()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch fuzzTarget {
    case "json":
        if let v = try? JSONParser.parse(bytes) {
            // What we write must read back the same.
            let again = try! JSONParser.parse(JSONWriter.encode(v))
            precondition(again == v, "JSON round trip changed the value")
        }
    case "translated":
        // The one reader against Foundation read by the rules: the same lines whenever both accept.
        let lines = try? JobLoader.segments(from: bytes, file: "fuzz")
        if let lines, JSONOracle.tree(bytes) != nil {
            let mine = lines.map { "\($0.number)|\($0.start)|\($0.end)|\($0.speaker)|\($0.srcText)|\($0.text)|\($0.characterID ?? "-")" }
            precondition(mine == JSONOracle.segments(bytes), "translated.json: the reader and Foundation disagree")
        }
    case "store":
        let job = fuzzJobOnce
        if let snap = try? TranscriptStore.parse(bytes, job: job), JSONOracle.tree(bytes) != nil {
            let mine = snap.stored.map { "\($0.text)|\($0.approved)|\($0.locked)|\($0.flags.joined(separator: ","))|\($0.audioStatus)|\($0.speakerOverride ?? "-")" }
            precondition(mine == JSONOracle.storeStates(bytes, lines: job.segments.map { ($0.start, $0.end, $0.text) }),
                         "transcript_store.json: the reader and Foundation disagree")
        }
    case "history":
        _ = try? HistoryLog(path: "/nonexistent").parse(bytes, fileOffset: 0, fd: nil)
    case "historyend":
        // The backward scan a commit uses: any torn tail, any record length, no crash.
        if let scan = try? HistoryLog(path: "/nonexistent").scanBackwards(bytes, fileOffset: 0, fd: -1, sameGroup: { _, _ in true }) {
            precondition(scan.records.count == scan.offsets.count)
            if let torn = scan.tornOffset { precondition(torn >= 0 && torn <= bytes.count) }
        }
    case "charstore":
        let store = CharacterStore(path: fuzzDir + "/characters.json", withEmbeddings: size % 2 == 0)
        _ = try? store.parse(bytes, 0..<bytes.count)
    case "names":
        let text = String(decoding: bytes, as: UTF8.self)
        if SafeName.isValid(text) {
            precondition(!text.contains("/") && !text.hasPrefix(".") && text.utf8.count <= 64 && !text.utf8.contains(0))
        }
        precondition(SafeName.isValid(SafeName.make(text)), "make() must give a safe name")
        for n in [1, 42, 12345] {
            if Takes.parse(text, n: n) != nil { precondition(!text.contains("/") && text.hasPrefix(Takes.padded(n) + ".take-")) }
        }
    case "srt", "vtt", "ass":
        if let doc = try? SubtitleParser.parse(bytes, format: SubtitleFormat(rawValue: fuzzTarget)!) {
            let entries = doc.cues.map { SubtitleWriter.Entry(startMs: $0.startMs, endMs: $0.endMs, text: $0.text, original: $0, originalFormat: doc.format) }
            // Whatever was read is written in every format so that it reads back: as many cues.
            for target in SubtitleFormat.allCases {
                let out = SubtitleWriter.write(entries, format: target)
                let back = try? SubtitleParser.parse(Array(out.utf8), format: target)
                precondition(back?.cues.count ?? 0 == entries.count || entries.isEmpty, "export of \(target) does not read back")
            }
            _ = SubtitleWriter.writeLayout(doc.items, entries: entries, format: doc.format, eventFormat: doc.eventFormat)
        }
    case "envelope":
        var copy = bytes
        _ = try? Envelope.open(&copy, key: [UInt8](repeating: 1, count: 32), file: "fuzz")
    case "npy":
        try? FileIO.writeAtomically(fuzzDir + "/x.npy", bytes)
        _ = try? NPY.readMean(fuzzDir + "/x.npy")
    case "keymap":
        var k = Keymap.builtIn()
        try? k.load(String(decoding: bytes, as: UTF8.self), file: "fuzz")
    case "sanitizer":
        let s = Sanitizer.display(String(decoding: bytes, as: UTF8.self))
        for u in s.unicodeScalars {
            precondition(!(u.value < 0x20 || (0x7F...0x9F).contains(u.value) || Sanitizer.isBidiControl(u.value)),
                         "a control or bidi character survived the sanitizer")
        }
        var grid = CellGridProbe(width: 40)
        grid.put(String(decoding: bytes, as: UTF8.self))
    default:
        break
    }
    return 0
}

/// The sanitizer as the grid uses it: every cell's character is checked.
struct CellGridProbe {
    let width: Int
    mutating func put(_ s: String) {
        for ch in s {
            if let first = ch.unicodeScalars.first, Sanitizer.placeholder(for: first.value) != nil { continue }
            let shown = Sanitizer.display(String(ch))
            for u in shown.unicodeScalars {
                precondition(!(u.value < 0x20 || (0x7F...0x9F).contains(u.value) || Sanitizer.isBidiControl(u.value)))
            }
        }
    }
}
