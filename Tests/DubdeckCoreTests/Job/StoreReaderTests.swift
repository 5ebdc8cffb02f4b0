import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// transcript_store.json's one reader (states read from the bytes, no objects built) against
/// Foundation's JSONSerialization read by the format's rules (TestSupport's JSONOracle): the same
/// lines' states on every store both accept, refused where the rules refuse, the exact errors.
final class StoreReaderTests: XCTestCase {
    var dir: TempDir!
    var job: Job!

    override func setUpWithError() throws {
        dir = TempDir()
        job = try JobLoader.load(Fixtures.job(in: dir))
    }

    func document(_ entries: [(String, String)], version: String = "3", extra: String = "") -> [UInt8] {
        let body = entries.map { "\n    \"\($0.0)\": \($0.1)" }.joined(separator: ",")
        return Array("{\n  \"version\": \(version),\n  \"updated_at\": \"2026-01-01T00:00:00Z\",\(extra)\n  \"segments\": {\(body)\n  }\n}\n".utf8)
    }

    func entry(_ n: Int, _ fields: String = "") -> String {
        let seg = job.segments[n - 1]
        let base = "\"start\": \(JSONValue.formatNumber(seg.start)), \"end\": \(JSONValue.formatNumber(seg.end)), \"tgt_text\": \"Line \(n)\", \"approved\": true, \"locked\": false, \"locked_at\": null, \"locked_by\": null, \"flags\": [], \"audio_status\": \"none\""
        return "{" + base + (fields.isEmpty ? "" : ", " + fields) + "}"
    }

    /// Everything a snapshot says, in one comparable text.
    func describe(_ s: TranscriptStore.Snapshot) -> String {
        let entries = s.entries.enumerated().map { i, e -> String in
            guard let e else { return "\(i + 1):-" }
            return "\(i + 1):\(String(decoding: JSONWriter.encode(.object(e.object)), as: UTF8.self)) raw=\(e.raw.map { String(decoding: $0, as: UTF8.self) } ?? "nil")"
        }
        let extra = s.extra.map { "\($0.key)=\(String(decoding: JSONWriter.encode($0.value), as: UTF8.self))" }
        return "v\(s.version) at=\(s.updatedAt ?? "nil") extra=\(extra) foreign=\(s.foreign.count) mismatch=\(s.mismatch ?? "nil")\n"
            + entries.joined(separator: "\n")
    }

    func oracleLines() -> [(start: Double, end: Double, text: String)] { job.segments.map { ($0.start, $0.end, $0.text) } }

    func describe(_ st: ReviewState) -> String {
        "\(st.text)|\(st.approved)|\(st.locked)|\(st.flags.joined(separator: ","))|\(st.audioStatus)|\(st.speakerOverride ?? "-")"
    }

    /// Read by the one reader and by the oracle: both accept it and agree on every line's state.
    /// `built`: whether the reading had to build entries (an old version, an entry without times).
    func check(_ doc: [UInt8], built: Bool, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let expected = JSONOracle.storeStates(doc, lines: oracleLines())
        XCTAssertNotNil(expected, "the rules accept it: \(what)", file: file, line: line)
        do {
            let snap = try TranscriptStore.parse(doc, job: job)
            XCTAssertEqual(snap.stored.map(describe), expected, "the lines' states: \(what)", file: file, line: line)
            XCTAssertEqual(snap.entries.contains { $0?.parsed != nil }, built, "objects built at open: \(what)", file: file, line: line)
        } catch {
            XCTFail("refused: \(what): \(error)", file: file, line: line)
        }
    }

    func testTheSameStatesAsFoundationReadByTheRules() {
        let preview = #""last_preview": {"wav": "segments_preview/0001.wav", "take": "segments_preview/0001.take-3.wav", "duration_s": 2, "speech_s": 1.75, "overflow_s": 0, "voice": {"engine": "espeak", "variant": "Alex", "pitch": 55, "rate": 175}}"#
        let plain: [(String, [UInt8])] = [
            ("every line", document((1...5).map { ("\($0)", entry($0)) })),
            ("no lines", document([])),
            ("some lines, out of order", document([("3", entry(3)), ("1", entry(1))])),
            ("flags, a speaker, a take", document([("1", entry(1, #""speaker": "SPEAKER_03""#).replacingOccurrences(of: "\"flags\": []", with: #""flags": ["needs_retranslate", "x"]"#)),
                                                   ("2", entry(1, preview).replacingOccurrences(of: "\"none\"", with: "\"fresh\"")
                                                       .replacingOccurrences(of: "\"start\": 1, \"end\": 3", with: "\"start\": 3.5, \"end\": 5")
                                                       .replacingOccurrences(of: "0001.take", with: "0002.take"))])),
            ("nulls as good as absent", document([("1", #"{"start": 1, "end": 3, "tgt_text": null, "approved": null, "locked": null, "flags": null, "audio_status": null, "speaker": null, "last_preview": null}"#)])),
            ("locked_at/by of other types (read as no string)", document([("1", entry(1).replacingOccurrences(of: "\"locked_at\": null", with: "\"locked_at\": 5")
                                                                              .replacingOccurrences(of: "\"locked_by\": null", with: "\"locked_by\": [\"x\", {\"y\": 1}]"))])),
            ("unknown fields kept", document([("1", entry(1, #""note": {"a": [1, 2.5e3, true, null, "ü"]}, "zz": -0.0"#))], extra: "\n  \"meta\": {\"x\": [1]},")),
            ("times spelled otherwise", document([("1", entry(1).replacingOccurrences(of: "\"start\": 1,", with: "\"start\": 1.0000,")), ("2", entry(2))])),
            ("unicode and escapes in values", document([("1", entry(1, #""tgt_text2": "x", "src": "日本語 \u00e9\n\"q\"""#).replacingOccurrences(of: "Line 1", with: #"Dü \"ok\"\n日本"#))])),
            ("times of other lines (first mismatch by number)", document([("4", entry(2)), ("2", entry(3)), ("5", entry(5))])),
            ("version written 3.0", document([("1", entry(1))], version: "3.0")),
            ("a BOM", [0xEF, 0xBB, 0xBF] + document([("1", entry(1))])),
            ("an empty text", document([("1", entry(1).replacingOccurrences(of: "\"Line 1\"", with: "\"\""))])),
            // The reading speed is counted over translated.json's times, not the store's.
            ("times a little off (within the tolerance)", document([("1", entry(1).replacingOccurrences(of: "\"start\": 1, \"end\": 3", with: "\"start\": 1.0004, \"end\": 2.9996")),
                                                                   ("2", entry(2).replacingOccurrences(of: "\"Line 2\"", with: "\"a much longer line of text\""))])),
        ]
        for (what, doc) in plain { check(doc, built: false, what) }

        let built: [(String, [UInt8])] = [
            ("version 2 (upgraded)", document([("1", entry(1))], version: "2")),
            ("no version", Array(#"{"segments": {"1": {"start": 1, "end": 3}}}"#.utf8)),
            ("an entry without times", document([("1", #"{"tgt_text": "x"}"#)])),
            ("an entry with a null time", document([("1", #"{"start": null, "end": 3, "tgt_text": "x"}"#)])),
        ]
        for (what, doc) in built { check(doc, built: true, what) }
        let unusual: [(String, [UInt8])] = [
            ("a segment this job does not have", document([("1", entry(1)), ("9", entry(1))])),
            ("an escaped name", document([("1", entry(1, #""tgt\u005ftext2": 1"#))])),
            ("a non-ASCII name", document([("1", entry(1, #""nöte": 1"#))])),
            ("a field named with an escape", document([("1", #"{"start": 1, "end": 3, "tgt\u005ftext": "escaped", "appro\u0076ed": true}"#)])),
        ]
        for (what, doc) in unusual { check(doc, built: false, what) }
        let foreign = try! TranscriptStore.parse(unusual[0].1, job: job)
        XCTAssertEqual(foreign.foreign.map(\.key), ["9"])
        XCTAssertEqual(foreign.mismatch, "transcript_store.json has segment 9 but translated.json has 5 segments (re-segmented?)")

        var refused: [(String, [UInt8])] = [
            ("approved a string", document([("1", entry(1).replacingOccurrences(of: "\"approved\": true", with: "\"approved\": \"yes\""))])),
            ("flags of numbers", document([("1", entry(1).replacingOccurrences(of: "\"flags\": []", with: "\"flags\": [1]"))])),
            ("flags an object", document([("1", entry(1).replacingOccurrences(of: "\"flags\": []", with: "\"flags\": {}"))])),
            ("flags with a null", document([("1", entry(1).replacingOccurrences(of: "\"flags\": []", with: "\"flags\": [null]"))])),
            ("a speaker that is a path", document([("1", entry(1, #""speaker": "../x""#))])),
            ("a speaker that is a number", document([("1", entry(1, #""speaker": 3"#))])),
            ("a preview that is an array", document([("1", entry(1, #""last_preview": []"#))])),
            ("a take of another line", document([("1", entry(1, #""last_preview": {"take": "segments_preview/0002.take-1.wav"}"#))])),
            ("a take that is a path", document([("1", entry(1, #""last_preview": {"take": "../../x.wav"}"#))])),
            ("a take that is null", document([("1", entry(1, #""last_preview": {"take": null}"#))])),
            ("a text that is a number", document([("1", entry(1).replacingOccurrences(of: "\"Line 1\"", with: "5"))])),
            ("a text that is an array", document([("1", entry(1).replacingOccurrences(of: "\"Line 1\"", with: "[\"a\"]"))])),
            ("a time that is a string", document([("1", entry(1).replacingOccurrences(of: "\"start\": 1,", with: "\"start\": \"1\","))])),
            ("a duplicate field", document([("1", entry(1, #""approved": false"#))])),
            ("a duplicate field spelled with an escape", document([("1", entry(1, #""appro\u0076ed": false"#))])),
            ("a duplicate segment", document([("1", entry(1)), ("1", entry(1))])),
            ("an entry that is no object", document([("1", "[]")])),
            ("a newer version", document([("1", entry(1))], version: "4")),
            ("a version that is a string", document([("1", entry(1))], version: "\"3\"")),
            ("data after the document", document([("1", entry(1))]) + Array("x".utf8)),
            ("NaN", document([("1", entry(1, #""x": NaN"#))])),
            ("a number out of range", document([("1", entry(1, #""x": 1e999"#))])),
            ("a raw control character", document([("1", entry(1).replacingOccurrences(of: "Line 1", with: "a\u{1}b"))])),
            ("nesting past 512", document([("1", entry(1, "\"x\": " + String(repeating: "[", count: 520) + String(repeating: "]", count: 520)))])),
            ("a trailing comma", document([("1", entry(1) + ",")])),
        ]
        var invalidUTF8 = document([("1", entry(1))])
        let at = invalidUTF8.firstIndex(of: UInt8(ascii: "L"))!
        invalidUTF8[at] = 0xC3
        invalidUTF8[at + 1] = 0x28
        refused.append(("invalid UTF-8 in a text", invalidUTF8))
        refused += [
            ("a key with a leading zero", document([("01", entry(1))])),
            ("a key that is no number", document([("x", entry(1))])),
        ]
        // Refused by JSON itself (Foundation keeps one of two equal keys; dubdeck refuses them).
        let jsonLevel: Set<String> = ["a duplicate field", "a duplicate field spelled with an escape", "a duplicate segment", "a trailing comma"]
        for (what, doc) in refused {
            XCTAssertThrowsError(try TranscriptStore.parse(doc, job: job), what)
            if !jsonLevel.contains(what) { XCTAssertNil(JSONOracle.storeStates(doc, lines: oracleLines()), "the rules refuse it too: \(what)") }
        }
    }

    /// The desk opens through the direct reading; a change then builds the entry it changes, the
    /// others stay the bytes they were read as.
    func testAChangeBuildsOnlyTheEntryItChanges() throws {
        let doc = document((1...5).map { ("\($0)", entry($0, "\"note\": {\"kept\": [1, 2]}")) })
        dir.write("ep01/transcript_store.json", String(decoding: doc, as: UTF8.self))
        let store = try TranscriptStore(job: job, by: "tester")
        XCTAssertTrue(store.snapshot.entries.allSatisfy { $0?.parsed == nil }, "opened without objects")
        XCTAssertEqual(store.state(4).text, "Line 4")
        XCTAssertEqual(store.entry(2)["note"], .object(JSONObject([("kept", .array([.number("1"), .number("2")]))])))
        try store.commit([.approve(2, false)])
        XCTAssertNotNil(store.snapshot.entries[1]?.parsed)
        XCTAssertEqual(store.snapshot.entries.compactMap { $0?.parsed }.count, 1)
        let written = dir.read("ep01/transcript_store.json")!
        for n in [1, 3, 4, 5] { XCTAssertTrue(written.contains(entry(n, "\"note\": {\"kept\": [1, 2]}")), "entry \(n) kept as written") }
        XCTAssertFalse(store.state(2).approved)
        let again = try TranscriptStore(job: job, by: "tester")
        XCTAssertEqual(again.states, store.states)
    }

    /// The fault reported is the one a whole-tree reading reports: the syntax anywhere first, then
    /// the lowest line's; within an entry, its first member at fault.
    func testTheFaultReportedIsTheFirstByLine() {
        func message(_ doc: [UInt8]) -> String? {
            do { _ = try TranscriptStore.parse(doc, job: job); return nil } catch { return (error as? DubdeckError)?.message.components(separatedBy: "transcript_store.json: ").last }
        }
        let late = document([("4", entry(4).replacingOccurrences(of: "\"approved\": true", with: "\"approved\": 1")),
                             ("2", entry(2, #""speaker": 3, "flags2": 1"#).replacingOccurrences(of: "\"locked\": false", with: "\"locked\": \"no\""))])
        XCTAssertEqual(message(late), "segment 2: \"locked\" must be a boolean, not string")
        XCTAssertTrue(message(late + Array(" x".utf8))?.contains("unexpected data after the JSON value") == true, "the syntax first")
        XCTAssertEqual(message(document([("1", entry(1))], version: "9")), "store version 9 is newer than this dubdeck knows (3); refusing to touch it")
        XCTAssertEqual(message(document([("0", "[]")])), "segment 0: expected an object, not array")
        XCTAssertEqual(message(document([("1", entry(1, #""last_preview": {"take": "../x"}"#))])), "segment 1: last_preview.take is not a take file of this segment")
    }

    /// The desk opens through `open` (the directory once): the same store as `init(job:)` gives,
    /// the same errors in the same order (the job's before its store's).
    func testOpeningIsReadingTheJobThenItsStore() throws {
        let doc = document([("2", entry(2, #""speaker": "SPEAKER_03""#)), ("5", entry(5))])
        dir.write("ep01/transcript_store.json", String(decoding: doc, as: UTF8.self))
        let one = try TranscriptStore(job: job, by: "tester")
        try one.commit([.edit(1, text: "Edited")])
        try one.commit([.approve(3, true)])
        let two = try TranscriptStore.open(dir.file("ep01") + "/", by: "tester")
        let again = try TranscriptStore(job: job, by: "tester")
        XCTAssertEqual(two.states, again.states)
        XCTAssertEqual(two.fingerprint, again.fingerprint, "hashed when asked for")
        XCTAssertEqual(two.fingerprint.sha256, SHA256.digest(Array(dir.read("ep01/transcript_store.json")!.utf8)))
        XCTAssertEqual(try two.recentHistory(maxBytes: 4096).records.count, 2)
        try two.commit([.approve(4, true)])
        XCTAssertTrue(try TranscriptStore(job: job, by: "tester").state(4).approved)

        // A bad job is reported before its bad store; a bad store is refused as init(job:) refuses it.
        let broken = TempDir()
        broken.write("ep01/transcript_store.json", "{not json")
        XCTAssertThrowsError(try TranscriptStore.open(broken.file("ep01"))) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .noInput, "translated.json is missing: that is the error, \(e)")
        }
        Fixtures.job(in: broken)
        XCTAssertThrowsError(try TranscriptStore.open(broken.file("ep01"))) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .dataError)
            XCTAssertTrue((e as? DubdeckError)?.message.contains("transcript_store.json") == true, "\(e)")
        }
        XCTAssertEqual(broken.read("ep01/transcript_store.json"), "{not json", "never replaced")
        let linked = TempDir()
        Fixtures.job(in: linked)
        linked.write("elsewhere.json", String(decoding: doc, as: UTF8.self))
        XCTAssertEqual(symlink(linked.file("elsewhere.json"), linked.file("ep01/transcript_store.json")), 0)
        XCTAssertThrowsError(try TranscriptStore.open(linked.file("ep01"))) { e in
            XCTAssertTrue((e as? DubdeckError)?.message.contains("symbolic link") == true, "\(e)")
        }
        let fifo = TempDir()
        Fixtures.job(in: fifo)
        XCTAssertEqual(mkfifo(fifo.file("ep01/transcript_store.json"), 0o600), 0)
        XCTAssertThrowsError(try TranscriptStore.open(fifo.file("ep01")), "a FIFO is refused, never waited on")
    }
}
