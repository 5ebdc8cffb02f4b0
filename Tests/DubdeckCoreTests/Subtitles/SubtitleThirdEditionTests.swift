import XCTest
import Foundation
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckCore

/// SPEC §11.10: SBV and MicroDVD, the format from the content, files that are almost right, nothing
/// spoken that a player would not show, clean files delivered.
final class SubtitleThirdEditionTests: XCTestCase {
    static let fixtures = DubdeckBinary.packageRoot + "/Tests/Fixtures/subtitles/"

    func fixture(_ name: String) throws -> [UInt8] { try FileIO.read(SubtitleThirdEditionTests.fixtures + name) }

    func parse(_ text: String, _ format: SubtitleFormat, strict: Bool = true, fps: Double? = nil) throws -> SubtitleDocument {
        try SubtitleParser.parse(Array(text.utf8), format: format, strict: strict, fps: fps)
    }

    func testARealYouTubeSBVFileReadsAndWritesBackAsItWas() throws {
        let bytes = try fixture("sbv-youtube.sbv")
        XCTAssertEqual(SubtitleFormat.of(content: String(decoding: bytes, as: UTF8.self)), .sbv)
        let doc = try SubtitleParser.parse(bytes, format: .sbv, strict: true)
        XCTAssertEqual(doc.cues.count, 6)
        XCTAssertEqual(doc.cues[0].startMs, 940)
        XCTAssertEqual(doc.cues[0].endMs, 5050)
        XCTAssertEqual(doc.cues[2].text, "Then, after the video had been processed and\nhad captions auto-generated for it by Youtube,")
        XCTAssertEqual(doc.cues[5].endMs, 25_430)
        let entries = doc.cues.map { SubtitleWriter.Entry(startMs: $0.startMs, endMs: $0.endMs, text: $0.text, original: $0, originalFormat: .sbv) }
        XCTAssertEqual(Array(SubtitleWriter.writeLayout(doc.items, entries: entries, format: .sbv, eventFormat: []).utf8), bytes, "written back as read")
        XCTAssertEqual(SubtitleWriter.sbvTime(3_723_004), "1:02:03.004")
    }

    func testMicroDVDFramesTheFilesRateAndFPS() throws {
        let bytes = try fixture("microdvd-23976.sub")
        XCTAssertEqual(SubtitleFormat.of(content: String(decoding: bytes, as: UTF8.self)), .microdvd)
        let doc = try SubtitleParser.parse(bytes, format: .microdvd, strict: true)
        XCTAssertEqual(doc.fps, 23.976)
        XCTAssertEqual(doc.cues.map(\.text), ["Hello there\nsecond line", "In italics", "Plain \n with a bar"])
        XCTAssertEqual(doc.cues[0].startMs, Int((24 / 23.976 * 1000).rounded()))
        XCTAssertEqual(doc.cues[0].endMs, Int((72 / 23.976 * 1000).rounded()))
        // pysubs2 reads the same events.
        let py = try pysubs2Events(SubtitleThirdEditionTests.fixtures + "microdvd-23976.sub")
        XCTAssertEqual(py.map { $0.2 }, doc.cues.map(\.text))
        for (p, c) in zip(py, doc.cues) {
            XCTAssertEqual(Double(p.0), Double(c.startMs), accuracy: 1)
            XCTAssertEqual(Double(p.1), Double(c.endMs), accuracy: 1)
        }
        // No rate line: --fps, else refused with a hint.
        XCTAssertThrowsError(try parse("{10}{20}Hi\n", .microdvd)) { e in
            XCTAssertTrue((e as! SubtitleError).message.contains("--fps"), "\(e)")
        }
        XCTAssertEqual(try parse("{10}{20}Hi\n", .microdvd, fps: 25).cues[0].startMs, 400)
        // Written back at its rate, in frames.
        let entries = doc.cues.map { SubtitleWriter.Entry(startMs: $0.startMs, endMs: $0.endMs, text: $0.text, original: $0, originalFormat: .microdvd) }
        XCTAssertEqual(Array(SubtitleWriter.writeLayout(doc.items, entries: entries, format: .microdvd, eventFormat: [], fps: doc.fps).utf8), bytes)
        // A fresh file names its rate first; `|` in a text cannot be a line break there.
        let fresh = SubtitleWriter.write([SubtitleWriter.Entry(startMs: 1000, endMs: 2000, text: "a|b\nc")], format: .microdvd, fps: 25)
        XCTAssertEqual(fresh, "{1}{1}25\n{25}{50}a¦b|c\n")
    }

    func testTheContentDecidesTheFormat() throws {
        XCTAssertEqual(SubtitleFormat.of(content: "1\n00:00:01,000 --> 00:00:02,000\nHi\n"), .srt)
        XCTAssertEqual(SubtitleFormat.of(content: "WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n"), .vtt)
        XCTAssertEqual(SubtitleFormat.of(content: "[Script Info]\nScriptType: v4.00+\n"), .ass)
        XCTAssertEqual(SubtitleFormat.of(content: "\n\n0:00:01.000,0:00:02.000\nHi\n"), .sbv)
        XCTAssertEqual(SubtitleFormat.of(content: "{0}{25}Hi\n"), .microdvd)
        XCTAssertNil(SubtitleFormat.of(content: "just some text\nand more\n"))
        // An SRT named .vtt is imported as SRT, with a warning.
        let dir = TempDir()
        dir.write("named.vtt", "1\n00:00:01,000 --> 00:00:02,500\nHello\n\n2\n00:00:03,000 --> 00:00:04,000\nThere\n")
        let r = try RoundTrip.importSubtitles(dir.file("named.vtt"), into: dir.file("job"), audio: nil, series: nil)
        XCTAssertEqual(r.cues, 2)
        XCTAssertTrue(r.warnings.first?.contains("the content is SubRip (SRT), not WebVTT") == true, "\(r.warnings)")
        let store = try TranscriptStore(job: try JobLoader.load(dir.file("job")), by: "t")
        XCTAssertEqual(store.job.segments[0].end, 2.5)
        // A MicroDVD export needs a frame rate this job does not have.
        XCTAssertThrowsError(try RoundTrip.export(store, format: .microdvd)) { e in XCTAssertEqual((e as? DubdeckError)?.status, .usage) }
        XCTAssertTrue(try RoundTrip.export(store, format: .microdvd, fps: 25).hasPrefix("{1}{1}25\n{25}{63}Hello\n"))
    }

    func testUnicodeWithoutAByteOrderMarkIsFoundFromItsZeroBytes() throws {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nHéllo wörld\n"
        for form in ["UTF-16LE", "UTF-16BE", "UTF-32LE", "UTF-32BE"] {
            let bytes = try TextEncoding.encode(text, to: form, bom: false)
            let d = try TextEncoding.decode(bytes)
            XCTAssertEqual(d.text, text, form)
            XCTAssertEqual(d.encoding, form)
            XCTAssertTrue(d.warning?.contains("without a byte-order mark") == true, form)
            XCTAssertEqual(try SubtitleParser.parse(bytes, format: .srt, strict: true).cues.first?.text, "Héllo wörld", form)
        }
    }

    func testNearlyUTF8IsRepairedLineByLineAndSaysHowMany() throws {
        // A UTF-8 file (é, —) with a line of Windows-1252 smart quotes pasted in.
        var bytes = Array("1\n00:00:01,000 --> 00:00:02,000\nCafé — fine\n\n2\n00:00:03,000 --> 00:00:04,000\n".utf8)
        bytes += [0x93, 0x48, 0x69, 0x94, 0x0A]  // “Hi” in Windows-1252
        let d = try TextEncoding.decode(bytes)
        XCTAssertEqual(d.encoding, "UTF-8")
        XCTAssertTrue(d.text.contains("Café — fine"))
        XCTAssertTrue(d.text.contains("\u{201C}Hi\u{201D}"), d.text)
        XCTAssertTrue(d.warning?.contains("1 line") == true && d.warning?.contains("WINDOWS-1252") == true, d.warning ?? "")
        // Cut inside its last character: the cut character dropped, said.
        let cut = Array("1\n00:00:01,000 --> 00:00:02,000\nnaïve 日本".utf8).dropLast(2)
        let c = try TextEncoding.decode(Array(cut))
        XCTAssertTrue(c.text.hasSuffix("naïve 日"), c.text)
        XCTAssertTrue(c.warning?.contains("ends inside a character") == true, c.warning ?? "")
        // A file that is Windows-1252 throughout is still the whole file's guess, not a repair.
        let legacy = try TextEncoding.decode([0x93, 0x48, 0x69, 0x94, 0x0A, 0x63, 0x61, 0x66, 0xE9, 0x0A])
        XCTAssertNotEqual(legacy.encoding, "UTF-8")
    }

    func testTheReaderResynchronisesAtTheNextTimingLine() throws {
        // A bad timing line, then a valid cue without a blank line between: the valid one is kept.
        let srt = "1\n00:00:01,000 --> 00:00:xx,000\nbroken\n2\n00:00:03,000 --> 00:00:04,000\nkept\n"
        let doc = try parse(srt, .srt, strict: false)
        XCTAssertEqual(doc.cues.map(\.text), ["kept"])
        XCTAssertEqual(doc.warnings.count, 1)
        // A timing line right after WEBVTT starts a cue; settings glued to the end time are settings.
        let vtt = try parse("WEBVTT\n00:00:01.000 --> 00:00:02.000align:start line:0\nFirst\n", .vtt)
        XCTAssertEqual(vtt.cues.map(\.text), ["First"])
        XCTAssertEqual(vtt.cues[0].endMs, 2000)
        XCTAssertEqual(vtt.cues[0].vttSettings, "align:start line:0")
        // &nbsp; in SRT as in WebVTT.
        XCTAssertEqual(try parse("1\n00:00:01,000 --> 00:00:02,000\nA&nbsp;B\n", .srt).cues[0].text, "A\u{00A0}B")
    }

    func testNothingIsSpokenThatABrowserWouldNotShow() throws {
        let vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\n<font color=\"red\">Red</font> and <span>span</span> <c.yellow>c</c>\n\n"
            + "00:03.000 --> 00:04.000\nOpen <a href\n\n00:05.000 --> 00:06.000\nI <3 you & < x\n"
        let doc = try parse(vtt, .vtt)
        XCTAssertEqual(doc.cues.map(\.text), ["Red and span c", "Open ", "I <3 you & < x"])
        // Kept as written for a WebVTT export.
        let entries = doc.cues.map { SubtitleWriter.Entry(startMs: $0.startMs, endMs: $0.endMs, text: $0.text, original: $0, originalFormat: .vtt) }
        XCTAssertEqual(SubtitleWriter.writeLayout(doc.items, entries: entries, format: .vtt, eventFormat: []), vtt)
    }

    func testAnASSLineMixingTextAndAnInlineDrawingKeepsItsText() throws {
        let ass = """
        [Script Info]
        ScriptType: v4.00+

        [Events]
        Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
        Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\p1}m 0 0 l 10 0 10 10{\\p0}Hello there
        Dialogue: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,{\\p1}m 0 0 l 1 1 0 1{\\p0}
        Dialogue: 0,0:00:05.00,0:00:06.00,Default,,0,0,0,,Before {\\p2}m 0 0 l 5 5{\\p0} after

        """
        let doc = try parse(ass, .ass)
        XCTAssertEqual(doc.cues.map(\.text), ["Hello there", "Before  after"], "the shape alone is no cue; a shape's commands are never spoken")
        var entries = doc.cues.map { SubtitleWriter.Entry(startMs: $0.startMs, endMs: $0.endMs, text: $0.text, original: $0, originalFormat: .ass) }
        XCTAssertEqual(SubtitleWriter.writeLayout(doc.items, entries: entries, format: .ass, eventFormat: doc.eventFormat), ass, "kept as written")
        entries[0].text = "Hi"
        let out = SubtitleWriter.writeLayout(doc.items, entries: entries, format: .ass, eventFormat: doc.eventFormat)
        XCTAssertTrue(out.contains("{\\p1}m 0 0 l 10 0 10 10{\\p0}Hi\n"), out)
    }

    /// SRT's `<font color>` becomes WebVTT's `<c.red>` (the default palette's nearest class) and ASS's
    /// `\c&HBBGGRR&` on conversion, and back; the text is the same everywhere.
    func testColoursCarryAcrossFormats() throws {
        let srt = Markup.styled("<font color=\"#FF0000\">Red</font> plain", format: .srt)
        XCTAssertEqual(Markup.render(srt, to: .vtt), "<c.red>Red</c> plain")
        XCTAssertEqual(Markup.render(srt, to: .ass), "{\\c&H0000FF&}Red{\\c} plain")
        XCTAssertEqual(Markup.render(srt, to: .sbv), "Red plain")
        let ass = Markup.styled("{\\1c&H00FFFF&}Yellow{\\c} and {\\c&HFF0000&}blue", format: .ass)
        XCTAssertEqual(Markup.render(ass, to: .srt), "<font color=\"#FFFF00\">Yellow</font> and <font color=\"#0000FF\">blue")
        XCTAssertEqual(Markup.render(Markup.styled("<c.yellow.bg_black>x</c> <font color=lime>y</font> <font color=\"#FE0101\">z</font>", format: .vtt), to: .vtt),
                       "<c.yellow>x</c> <c.lime>y</c> <c.red>z</c>")
        for (raw, from) in [("<font color=\"#FF0000\">Red</font> plain", SubtitleFormat.srt), ("{\\c&H00FF00&}Green", .ass), ("<c.cyan>C</c>", .vtt)] {
            let styled = Markup.styled(raw, format: from)
            for to in SubtitleFormat.allCases {
                XCTAssertEqual(Markup.plain(Markup.render(styled, to: to), format: to), Markup.plain(raw, format: from), "\(from) → \(to)")
            }
        }
        // An edited line keeps the colour its whole line had.
        XCTAssertEqual(Markup.render(Markup.styled(plain: "New words", like: srt), to: .vtt), "<c.red>New words</c>")
    }

    func testAnEditedOrMovedCueIsWrittenWithCanonicalTimes() throws {
        let srt = "1\n00:00:01 --> 00:00:03,5\nTolerated\n\n2\n0:00:04,000 --> 0:00:05,000\nUntouched\n"
        let doc = try parse(srt, .srt)
        XCTAssertEqual(doc.cues[0].endMs, 3500)
        var entries = doc.cues.map { SubtitleWriter.Entry(startMs: $0.startMs, endMs: $0.endMs, text: $0.text, original: $0, originalFormat: .srt) }
        // Untouched, a tolerated timing is written canonical all the same (SPEC §11.10); the rest as read.
        XCTAssertEqual(SubtitleWriter.writeLayout(doc.items, entries: entries, format: .srt, eventFormat: []),
                       "1\n00:00:01,000 --> 00:00:03,500\nTolerated\n\n2\n00:00:04,000 --> 00:00:05,000\nUntouched\n")
        let clean = "1\n00:00:01,000 --> 00:00:03,500\n<i>Tags</i> kept\n\n"
        let cleanDoc = try parse(clean, .srt)
        let cleanEntries = cleanDoc.cues.map { SubtitleWriter.Entry(startMs: $0.startMs, endMs: $0.endMs, text: $0.text, original: $0, originalFormat: .srt) }
        XCTAssertEqual(SubtitleWriter.writeLayout(cleanDoc.items, entries: cleanEntries, format: .srt, eventFormat: []), clean, "a canonical cue: as read")
        // A tolerated timing with position coordinates: the times canonical, the coordinates kept
        // (edited too).
        let coords = "1\n0:00:03,000 --> 0:00:04,000  X1:1 X2:2 Y1:3 Y2:4\nPlaced\n"
        let coordsDoc = try parse(coords, .srt)
        var coordsEntries = coordsDoc.cues.map { SubtitleWriter.Entry(startMs: $0.startMs, endMs: $0.endMs, text: $0.text, original: $0, originalFormat: .srt) }
        XCTAssertEqual(SubtitleWriter.writeLayout(coordsDoc.items, entries: coordsEntries, format: .srt, eventFormat: []),
                       "1\n00:00:03,000 --> 00:00:04,000 X1:1 X2:2 Y1:3 Y2:4\nPlaced\n")
        coordsEntries[0].text = "Moved"
        XCTAssertTrue(SubtitleWriter.writeLayout(coordsDoc.items, entries: coordsEntries, format: .srt, eventFormat: []).contains("00:00:04,000 X1:1 X2:2 Y1:3 Y2:4\nMoved"))
        entries[0].endMs = 3600  // moved
        let out = SubtitleWriter.writeLayout(doc.items, entries: entries, format: .srt, eventFormat: [])
        XCTAssertEqual(out, "1\n00:00:01,000 --> 00:00:03,600\nTolerated\n\n2\n00:00:04,000 --> 00:00:05,000\nUntouched\n")
        entries[0].endMs = 3500
        entries[0].text = "Edited"
        XCTAssertTrue(SubtitleWriter.writeLayout(doc.items, entries: entries, format: .srt, eventFormat: []).hasPrefix("1\n00:00:01,000 --> 00:00:03,500\nEdited\n"))
    }

    func testOldMacLineEnds() throws {
        XCTAssertEqual(try TextEncoding.encode("1\nHi\n", to: "UTF-8", bom: false, cr: true), Array("1\rHi\r".utf8))
        XCTAssertEqual(try SubtitleParser.parse(Array("1\r00:00:01,000 --> 00:00:02,000\rHi\r".utf8), format: .srt, strict: true).cues[0].text, "Hi")
    }

    /// The command line: SBV and MicroDVD in and out, --fps and --line-ends checked.
    func testImportAndExportFromTheCommandLine() throws {
        let dir = TempDir()
        let sbv = SubtitleThirdEditionTests.fixtures + "sbv-youtube.sbv"
        var r = DubdeckBinary.run(["import", sbv, "--out", dir.file("job")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("imported 6 subtitles"), r.stdout)
        r = DubdeckBinary.run(["export", dir.file("job"), "--format", "sbv", "--out", dir.file("back.sbv")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(dir.bytes("back.sbv"), try fixture("sbv-youtube.sbv"), "an SBV job exported as SBV is the file it came from")
        XCTAssertEqual(DubdeckBinary.run(["export", dir.file("job"), "--format", "microdvd"]).status, 64, "no frame rate")
        r = DubdeckBinary.run(["export", dir.file("job"), "--format", "microdvd", "--fps", "25", "--line-ends", "cr", "--out", dir.file("x.sub")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let sub = try XCTUnwrap(dir.bytes("x.sub"))
        XCTAssertTrue(sub.starts(with: Array("{1}{1}25\r{24}{126}This is a test".utf8)), String(decoding: sub.prefix(60), as: UTF8.self))
        XCTAssertFalse(sub.contains(0x0A), "CR only")
        for bad in [["--line-ends", "lfcr"], ["--fps", "0"], ["--fps", "241"], ["--fps", "nan"], ["--crlf", "--line-ends", "cr"]] {
            XCTAssertEqual(DubdeckBinary.run(["export", dir.file("job"), "--format", "srt"] + bad).status, 64, "\(bad)")
        }
        XCTAssertEqual(DubdeckBinary.run(["import", SubtitleThirdEditionTests.fixtures + "microdvd-23976.sub", "--out", dir.file("m"), "--fps", "500"]).status, 64)
        r = DubdeckBinary.run(["import", SubtitleThirdEditionTests.fixtures + "microdvd-23976.sub", "--out", dir.file("m")])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = DubdeckBinary.run(["export", dir.file("m"), "--format", "microdvd"])
        XCTAssertEqual(r.stdout, String(decoding: try fixture("microdvd-23976.sub"), as: UTF8.self), "the file's own rate")
        dir.write("plain.txt", "just words\nno times\n")
        r = DubdeckBinary.run(["import", dir.file("plain.txt"), "--out", dir.file("p")])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    /// pysubs2's reading: (start, end, plaintext) per dialogue event.
    func pysubs2Events(_ path: String) throws -> [(Int, Int, String)] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", SubtitleThirdEditionTests.fixtures + "pysubs2_events.py", path]
        var env = ProcessInfo.processInfo.environment
        env["PYTHONPATH"] = DubdeckBinary.packageRoot + "/.build/pylib"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let rows = try JSONSerialization.jsonObject(with: data) as! [[Any]]
        return rows.map { ($0[0] as! Int, $0[1] as! Int, $0[2] as! String) }
    }
}
