import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

final class SubtitleParserTests: XCTestCase {
    func parse(_ text: String, _ f: SubtitleFormat, bom: Bool = false) throws -> SubtitleDocument {
        try SubtitleParser.parse((bom ? [0xEF, 0xBB, 0xBF] : []) + Array(text.utf8), format: f)
    }

    func testSRTWithCRLFBOMMultiLineAndNoFinalBlank() throws {
        let srt = "1\r\n00:00:01,200 --> 00:00:03,450\r\n<i>俺は</i>海賊王に\r\nなる男だ！\r\n\r\n2\r\n00:00:05,000 --> 00:00:07,005 X1:10 X2:20\r\n- Zoro!\r\n- What?"
        let doc = try parse(srt, .srt, bom: true)
        XCTAssertEqual(doc.cues.count, 2)
        XCTAssertEqual(doc.cues[0].startMs, 1200)
        XCTAssertEqual(doc.cues[0].endMs, 3450)
        XCTAssertEqual(doc.cues[0].text, "俺は海賊王に\nなる男だ！")
        XCTAssertEqual(doc.cues[0].raw, "<i>俺は</i>海賊王に\nなる男だ！")
        XCTAssertEqual(doc.cues[1].endMs, 7005)
        XCTAssertEqual(doc.cues[1].text, "- Zoro!\n- What?")
    }

    func testVTTSettingsOptionalHoursNotesIdentifiersAndVoices() throws {
        let vtt = """
        WEBVTT - an episode

        NOTE a comment
        spanning lines

        STYLE
        ::cue { color: yellow }

        intro
        00:01.000 --> 00:02.500 align:start position:10%
        <v Nami>Hello &amp; welcome</v>

        01:00:03.100 --> 01:00:04.000
        <c.loud>Two</c>
        lines
        """
        let doc = try parse(vtt, .vtt)
        XCTAssertEqual(doc.cues.count, 2)
        XCTAssertEqual(doc.cues[0].startMs, 1000)
        XCTAssertEqual(doc.cues[0].vttSettings, "align:start position:10%")
        XCTAssertEqual(doc.cues[0].speaker, "Nami")
        XCTAssertEqual(doc.cues[0].text, "Hello & welcome")
        XCTAssertEqual(doc.cues[1].startMs, 3_603_100)
        XCTAssertEqual(doc.cues[1].text, "Two\nlines")
    }

    func testASSFormatInAnyOrderNamesTagsBreaksAndComments() throws {
        let ass = """
        [Script Info]
        Title: Episode 1
        ScriptType: v4.00+

        [V4+ Styles]
        Format: Name, Fontname, Fontsize
        Style: Default,Arial,48

        [Events]
        Format: Start, End, Text
        Dialogue: 0:00:01.20,0:00:03.45,wrong
        """
        // The Format's last field must be Text; a reordered one works:
        let reordered = ass.replacingOccurrences(of: "Format: Start, End, Text\nDialogue: 0:00:01.20,0:00:03.45,wrong",
                                                 with: "Format: Name, End, Style, Start, Layer, Text\nDialogue: Luffy,0:00:03.45,Default,0:00:01.20,0,{\\i1}Pirate{\\i0} king,\\Nme\nComment: ,0:00:05.00,Default,0:00:04.00,0,skip me\nDialogue: ,0:00:09.99,Default,0:00:08.00,0,Plain")
        let doc = try parse(reordered, .ass)
        XCTAssertEqual(doc.cues.count, 2, "comments are skipped")
        XCTAssertEqual(doc.cues[0].startMs, 1200)
        XCTAssertEqual(doc.cues[0].endMs, 3450)
        XCTAssertEqual(doc.cues[0].speaker, "Luffy")
        XCTAssertEqual(doc.cues[0].text, "Pirate king,\nme", "tags removed, \\N a line break, commas inside the text kept")
        XCTAssertEqual(doc.cues[0].raw, "{\\i1}Pirate{\\i0} king,\\Nme")
        XCTAssertEqual(doc.scriptInfo.first, "[Script Info]")
        XCTAssertTrue(doc.styles.contains("Style: Default,Arial,48"))
        XCTAssertEqual(doc.cues[1].endMs, 9990)
    }

    func testMalformedFilesNameTheLine() {
        let cases: [(String, SubtitleFormat, Int, String)] = [
            ("1\n00:00:01,000 -> 00:00:02,000\nx\n", .srt, 2, "start --> end"),
            ("1\n00:00:01,000 --> 00:00:0x,000\nx\n", .srt, 2, "bad time"),
            ("hello\n", .srt, 1, "cue number"),
            ("1\n00:00:05,000 --> 00:00:02,000\nx\n", .srt, 2, "before start"),
            ("NOT VTT\n\n00:01.000 --> 00:02.000\nx\n", .vtt, 1, "WEBVTT"),
            ("WEBVTT\n\nid\nno timing here\n", .vtt, 3, "cue timing"),
            ("[Script Info]\n\n[Events]\nDialogue: 0,0:00:01.00,0:00:02.00,x\n", .ass, 4, "before the [Events] Format"),
            ("[Script Info]\n[Events]\nFormat: Start, End, Text\nDialogue: 0:00:01.00,0:00:02.00\n", .ass, 4, "fields"),
            ("[Script Info]\n[Events]\nFormat: Start, End, Text\nDialogue: 0:00:01.00,bad,x\n", .ass, 4, "bad time"),
        ]
        for (text, f, line, cause) in cases {
            XCTAssertThrowsError(try parse(text, f), text) { e in
                let e = e as! SubtitleError
                XCTAssertEqual(e.line, line, text)
                XCTAssertTrue(e.message.contains(cause), "\(e.message) lacks \(cause)")
            }
        }
        XCTAssertThrowsError(try SubtitleParser.parse([0xFF, 0xFE, 0x00], format: .srt))
    }

    func testSRTWithoutBlankLinesBetweenCuesReadsLikePysubs2() throws {
        let doc = try parse("1\n00:00:01,000 --> 00:00:02,000\nFirst\n2\n00:00:03,000 --> 00:00:04,000\nSecond\n\n3\n00:00:05.500 --> 00:00:06.250\n42\nanswer\n\n\n4\n00:00:07,000-->00:00:08,000\n  spaced  \n", .srt)
        XCTAssertEqual(doc.cues.map { $0.text }, ["First", "Second", "42\nanswer", "spaced"])
        XCTAssertEqual(doc.cues.map { $0.startMs }, [1000, 3000, 5500, 7000])
    }

    func testOverrideBlocksInSRTAndHardSpacesInASS() throws {
        let srt = try parse("1\n00:00:01,000 --> 00:00:02,000\n{\\an8}Top {not a tag}\n", .srt)
        XCTAssertEqual(srt.cues[0].text, "Top {not a tag}", "as pysubs2 reads it")
        let ass = try parse("[Script Info]\n[Events]\nFormat: Start, End, Text\nDialogue: 0:00:01.00,0:00:02.00,a\\hb\\nc\n", .ass)
        XCTAssertEqual(ass.cues[0].text, "a b\nc")
    }

    func testTimesFormatting() {
        XCTAssertEqual(SubtitleWriter.srtTime(3_723_004), "01:02:03,004")
        XCTAssertEqual(SubtitleWriter.vttTime(1200), "00:00:01.200")
        XCTAssertEqual(SubtitleWriter.assTime(3_723_455), "1:02:03.46")
    }
}

final class RoundTripTests: XCTestCase {
    func importJob(_ dir: TempDir, _ name: String, _ text: String) throws -> TranscriptStore {
        dir.write(name, text)
        _ = try RoundTrip.importSubtitles(dir.file(name), into: dir.file("job"), audio: nil, series: "s1")
        return try TranscriptStore(job: try JobLoader.load(dir.file("job")), by: "t")
    }

    func testSRTRoundTripToTheMillisecond() throws {
        let dir = TempDir()
        let srt = "1\n00:00:01,201 --> 00:00:03,449\n<i>こんにちは</i>\n世界\n\n2\n00:01:05,007 --> 00:01:07,999\nSecond\n\n"
        let store = try importJob(dir, "ep.srt", srt)
        XCTAssertEqual(store.job.segments[0].start, 1.201)
        XCTAssertEqual(store.job.info.seriesID, "s1")
        XCTAssertEqual(store.job.info.stem, "ep")
        XCTAssertEqual(try RoundTrip.export(store, format: .srt), srt, "unchanged lines keep their tags")
        try store.commit([.edit(2, text: "Changed\ntwo lines")])
        let out = try SubtitleParser.parse(Array(try RoundTrip.export(store, format: .srt).utf8), format: .srt)
        XCTAssertEqual(out.cues.map { $0.startMs }, [1201, 65007])
        XCTAssertEqual(out.cues.map { $0.endMs }, [3449, 67999])
        XCTAssertEqual(out.cues[1].text, "Changed\ntwo lines")
    }

    func testASSKeepsScriptInfoStylesActorsAndTags() throws {
        let dir = TempDir()
        let ass = """
        [Script Info]
        ; Script generated by Aegisub
        Title: ep01
        ScriptType: v4.00+
        PlayResX: 1920

        [V4+ Styles]
        Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
        Style: Main,Noto Sans CJK JP,52,&H00FFFFFF,&H000000FF,&H00000000,&H64000000,0,0,0,0,100,100,0,0,1,2,1,2,60,60,40,1

        [Events]
        Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
        Dialogue: 0,0:00:01.23,0:00:03.45,Main,Luffy,0,0,0,,{\\an8}俺は{\\i1}海賊王{\\i0}に\\Nなる！
        Comment: 0,0:00:04.00,0:00:05.00,Main,,0,0,0,,note to self
        Dialogue: 1,0:00:05.00,0:00:07.50,Main,Zoro,10,10,20,,Hmph.

        """
        let store = try importJob(dir, "ep01.ass", ass)
        XCTAssertEqual(store.job.segments.map { $0.speaker }, ["Luffy", "Zoro"])
        XCTAssertEqual(store.job.segments[0].text, "俺は海賊王に\nなる！")
        try store.commit([.edit(2, text: "Hmph!\nWhatever.")])
        let out = try RoundTrip.export(store, format: .ass)
        XCTAssertTrue(out.contains("Title: ep01"))
        XCTAssertTrue(out.contains("Style: Main,Noto Sans CJK JP,52"))
        XCTAssertTrue(out.contains("Dialogue: 0,0:00:01.23,0:00:03.45,Main,Luffy,0,0,0,,{\\an8}俺は{\\i1}海賊王{\\i0}に\\Nなる！"))
        XCTAssertTrue(out.contains("Dialogue: 1,0:00:05.00,0:00:07.50,Main,Zoro,10,10,20,,Hmph!\\NWhatever."))
        let back = try SubtitleParser.parse(Array(out.utf8), format: .ass)
        XCTAssertEqual(back.cues.map { $0.startMs }, [1230, 5000], "to the centisecond")
    }

    func testVTTExportKeepsSettings() throws {
        let dir = TempDir()
        let store = try importJob(dir, "x.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000 line:0 align:start\nTop text\n")
        try store.commit([.edit(1, text: "New <top> & text")])
        let out = try RoundTrip.export(store, format: .vtt)
        XCTAssertTrue(out.contains("00:00:01.000 --> 00:00:02.000 line:0 align:start\nNew &lt;top&gt; &amp; text"), out)
        XCTAssertEqual(try SubtitleParser.parse(Array(out.utf8), format: .vtt).cues[0].text, "New <top> & text")
    }

    func testImportRefusesAnExistingJobAndBadFiles() throws {
        let dir = TempDir()
        _ = try importJob(dir, "a.srt", "1\n00:00:01,000 --> 00:00:02,000\nx\n")
        XCTAssertThrowsError(try RoundTrip.importSubtitles(dir.file("a.srt"), into: dir.file("job"), audio: nil, series: nil)) {
            XCTAssertEqual(($0 as! DubdeckError).status, .cannotCreate)
        }
        dir.write("bad.srt", "1\n00:00:01,000 --> nope\nx\n")
        XCTAssertThrowsError(try RoundTrip.importSubtitles(dir.file("bad.srt"), into: dir.file("job2"), audio: nil, series: nil)) { e in
            let e = e as! DubdeckError
            XCTAssertEqual(e.status, .dataError)
            XCTAssertTrue(e.message.contains("bad.srt: line 2"), e.message)
        }
        XCTAssertFalse(FileIO.exists(dir.file("job2/translated.json")))
    }

    func testApplyApprovedOnlyAndLockedText() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let text = dir.read("ep01/translated.json")!.replacingOccurrences(of: "\"text\": \"Good morning\"", with: "\"text\": \"Good morning\", \"emotion\": \"happy\"")
        dir.write("ep01/translated.json", text)
        let store = try TranscriptStore(job: try JobLoader.load(job))
        try store.commit([.edit(1, text: "Morning!"), .approve(1, true), .lock(1, true, by: "t"), .edit(3, text: "Bye"), .approve(4, true)])
        let r = try RoundTrip.apply(store, approvedOnly: true, outDir: nil)
        XCTAssertEqual(r.silenced, 3)
        let out = try JSONParser.parse(Array(dir.bytes("ep01/translated.edited.json")!)).objectValue!["segments"]!.arrayValue!
        let s1 = out[0].objectValue!
        XCTAssertEqual(s1["text"], .string("Morning!"))
        XCTAssertEqual(s1["locked"], .bool(true))
        XCTAssertEqual(s1["approved"], .bool(true))
        XCTAssertEqual(s1["emotion"], .string("happy"), "extra fields are kept")
        XCTAssertNil(s1["silence"])
        let s3 = out[2].objectValue!
        XCTAssertEqual(s3["silence"], .bool(true))
        XCTAssertEqual(s3["text"], .string("Bye"))
        XCTAssertEqual(s3["start"]?.doubleValue, 5.5, "timing kept")
        let srt = try SubtitleParser.parse(Array(dir.bytes("ep01/ep01.edited.srt")!), format: .srt)
        XCTAssertEqual(srt.cues.map { $0.text }, ["Morning!", "Thank you"])
        let all = try RoundTrip.apply(store, approvedOnly: false, outDir: dir.file("out"))
        XCTAssertEqual(all.silenced, 0)
        XCTAssertTrue(FileIO.exists(dir.file("out/translated.edited.json")))
    }

    func testMergeMTRespectsLocksFlagsAndRefusesMismatches() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let store = try TranscriptStore(job: try JobLoader.load(job))
        try store.commit([.edit(1, text: "Reviewed"), .lock(1, true, by: "t"), .flag(2, "needs_retranslate", true)])
        var lines = Fixtures.sample
        for i in lines.indices { lines[i].text = "MT2 \(i + 1)" }
        dir.write("new.json", Fixtures.translatedJSON(lines))
        let flagged = try RoundTrip.mergeMT(store, newPath: dir.file("new.json"), onlyFlagged: true)
        XCTAssertEqual(flagged.changed, 1)
        XCTAssertEqual(store.state(2).text, "MT2 2")
        XCTAssertTrue(store.state(2).flags.isEmpty, "the flag is cleared")
        XCTAssertEqual(store.state(3).text, "Goodbye for now")
        let all = try RoundTrip.mergeMT(store, newPath: dir.file("new.json"), onlyFlagged: false)
        XCTAssertEqual(all.changed, 3)
        XCTAssertEqual(all.skippedLocked, 1)
        XCTAssertEqual(store.state(1).text, "Reviewed", "a locked line is never touched")
        let records = try store.history.readAll().records.filter { $0.action == "merge-mt" }
        XCTAssertEqual(records.count, 4)
        XCTAssertEqual(Set(records.suffix(3).compactMap { $0.batch }).count, 1, "one batch for the run")

        lines[2].start = 5.6
        dir.write("shifted.json", Fixtures.translatedJSON(lines))
        XCTAssertThrowsError(try RoundTrip.mergeMT(store, newPath: dir.file("shifted.json"), onlyFlagged: false)) { e in
            XCTAssertEqual((e as! DubdeckError).status, .dataError)
            XCTAssertTrue((e as! DubdeckError).message.contains("segment 3"), (e as! DubdeckError).message)
        }
        dir.write("short.json", Fixtures.translatedJSON(Array(lines.prefix(3))))
        XCTAssertThrowsError(try RoundTrip.mergeMT(store, newPath: dir.file("short.json"), onlyFlagged: false)) { e in
            XCTAssertTrue((e as! DubdeckError).message.contains("3 segments"), (e as! DubdeckError).message)
        }
    }
}

final class UndoRedoTests: XCTestCase {
    func testUndoRedoBatchesLocksAndRestore() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        func open() throws -> TranscriptStore { try TranscriptStore(job: try JobLoader.load(job), by: "t") }
        try open().commit([.edit(1, text: "A1")])
        try open().commit([.edit(2, text: "B1"), .approve(2, true)])  // one batch
        try UndoRedo.run(.undo, store: try open())
        XCTAssertEqual(try open().state(2).text, "Hello there", "the batch is undone as one")
        XCTAssertFalse(try open().state(2).approved)
        XCTAssertEqual(try open().state(1).text, "A1")
        try UndoRedo.run(.undo, store: try open())
        XCTAssertEqual(try open().state(1).text, "Good morning")
        XCTAssertThrowsError(try UndoRedo.run(.undo, store: try open())) { XCTAssertEqual(($0 as! DubdeckError).status, .usage) }
        try UndoRedo.run(.redo, store: try open())
        XCTAssertEqual(try open().state(1).text, "A1")
        try UndoRedo.run(.redo, store: try open())
        XCTAssertEqual(try open().state(2).text, "B1")
        XCTAssertTrue(try open().state(2).approved)
        XCTAssertThrowsError(try UndoRedo.run(.redo, store: try open()))
        // A new change clears what could be redone.
        try UndoRedo.run(.undo, store: try open())
        try open().commit([.edit(3, text: "C1")])
        XCTAssertThrowsError(try UndoRedo.run(.redo, store: try open()))

        // Lock and unlock are undoable.
        try open().commit([.lock(4, true, by: "t")])
        try UndoRedo.run(.undo, store: try open())
        XCTAssertFalse(try open().state(4).locked, "undoing a lock unlocks")
        try UndoRedo.run(.redo, store: try open())
        XCTAssertTrue(try open().state(4).locked)
        // Undo of a plain toggle.
        try open().commit([.edit(5, text: "E1")])
        try open().commit([.approve(1, true)])
        try UndoRedo.run(.undo, store: try open())
        XCTAssertFalse(try open().state(1).approved)
        // Restore an earlier text of line 1.
        let first = try open().history.readAll().records.first { $0.segment == 1 }!
        try open().commit([.edit(1, text: "later")])
        try UndoRedo.restore(seq: first.seq, store: try open())
        XCTAssertEqual(try open().state(1).text, "A1")
        XCTAssertEqual(try open().history.readAll().records.last?.action, "restore")
    }

    func testUndoOfAChangeToALineLockedSinceIsRefused() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        func open() throws -> TranscriptStore { try TranscriptStore(job: try JobLoader.load(job), by: "t") }
        try open().commit([.edit(2, text: "X")])
        // Locked since, by a write that bypasses the history (another tool): the undo must not change it.
        var text = dir.read("ep01/transcript_store.json")!
        text = text.replacingOccurrences(of: "\"locked\":false", with: "\"locked\":true")
        dir.write("ep01/transcript_store.json", text)
        let s = try open()
        XCTAssertThrowsError(try UndoRedo.run(.undo, store: s)) { e in
            XCTAssertEqual((e as! DubdeckError).status, .conflict)
            XCTAssertTrue((e as! DubdeckError).message.contains("line 2 is locked"), (e as! DubdeckError).message)
        }
        XCTAssertEqual(try open().state(2).text, "X")
    }
}
