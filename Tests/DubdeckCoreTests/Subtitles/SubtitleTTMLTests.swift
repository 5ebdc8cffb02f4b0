import Foundation
import TestSupport
import XCTest
@testable import DubdeckCore

/// TTML / IMSC 1.1 Text (SPEC §11.10): read with libxml2, written as IMSC 1.1 Text, compared with
/// ttconv (the IMSC reference reader) on a studio's real file and on what dubdeck writes.
final class SubtitleTTMLTests: XCTestCase {
    static let fixtures = DubdeckBinary.packageRoot + "/Tests/Fixtures/subtitles/"
    static let head = """
        <?xml version="1.0" encoding="UTF-8"?>
        <tt xmlns="http://www.w3.org/ns/ttml" xmlns:tts="http://www.w3.org/ns/ttml#styling" \
        xmlns:ttp="http://www.w3.org/ns/ttml#parameter" xmlns:ttm="http://www.w3.org/ns/ttml#metadata"
        """

    func read(_ xml: String, strict: Bool = false) throws -> SubtitleDocument {
        try SubtitleParser.parse(Array(xml.utf8), format: .ttml, strict: strict)
    }

    func body(_ content: String, parameters: String = "", head: String = "") -> String {
        Self.head + " \(parameters)>\n<head>\(head)</head>\n<body><div>\n\(content)\n</div></body></tt>\n"
    }

    // MARK: A studio's file, against ttconv

    func testARealIMSCDeliverableReadsAsTTConvReadsIt() throws {
        let path = Self.fixtures + "imsc-nbcu053-25-sdr.ttml"
        let doc = try SubtitleParser.parse(Array(FileManager.default.contents(atPath: path)!), format: .ttml, strict: true)
        XCTAssertEqual(doc.cues.count, 17)
        XCTAssertEqual(doc.language, "sk")
        XCTAssertEqual(doc.cues[12].text, "Áno, zabudla som číslo\ntvojej skrinky. Povedal mi ho Chytrák.")
        XCTAssertEqual(doc.cues[0].startMs, 3_676_202, "01:01:16.202")
        let oracle = try ttconv(path)
        XCTAssertEqual(oracle.problems, [])
        assertAgrees(doc, oracle.cues, "the fixture")
        // Written back as IMSC 1.1 Text: ttconv reads the same cues, without a complaint; so does dubdeck.
        let out = SubtitleWriter.writeLayout(doc.items, entries: entries(doc), format: .ttml, eventFormat: [], language: doc.language)
        XCTAssertTrue(out.contains("xml:lang=\"sk\"") && out.contains("ttp:contentProfiles=\"http://www.w3.org/ns/ttml/profile/imsc1.1/text\""))
        let written = try temp(out)
        let again = try ttconv(written)
        XCTAssertEqual(again.problems, [])
        assertAgrees(doc, again.cues, "the export")
        let back = try read(out, strict: true)
        XCTAssertEqual(back.cues.map(\.text), doc.cues.map(\.text))
        XCTAssertEqual(back.cues.map(\.raw), doc.cues.map(\.raw), "italic spans kept")
        XCTAssertEqual(back.cues.map(\.startMs), doc.cues.map(\.startMs))
        XCTAssertEqual(back.cues.map(\.endMs), doc.cues.map(\.endMs))
    }

    func testEveryFormatExportsIMSCThatTTConvReads() throws {
        let ass = "[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
            + "Dialogue: 0,0:00:01.00,0:00:02.50,Default,Hana,0,0,0,,{\\an8}{\\i1}Up{\\i0} here & <there>\n"
            + "Dialogue: 0,0:00:03.00,0:00:04.00,Default,Kenji \"K\" <3,0,0,0,,{\\c&H0000FF&}Red{\\c} text\\Nsecond  line\n"
            + "Dialogue: 0,0:00:04.50,0:00:05.00,Default,,0,0,0,,  edged \u{0007}bell\n"
        let doc = try SubtitleParser.parse(Array(ass.utf8), format: .ass)
        let out = SubtitleWriter.write(entries(doc), format: .ttml, language: "ja")
        let oracle = try ttconv(try temp(out))
        XCTAssertEqual(oracle.problems, [], out)
        XCTAssertEqual(oracle.cues.map(\.text), ["Up here & <there>", "Red text\nsecond  line", "  edged bell"], "a control character XML cannot hold is left out")
        XCTAssertEqual(oracle.cues.map(\.top), [true, false, false])
        XCTAssertEqual(oracle.cues.map(\.italic), [true, false, false])
        let back = try read(out, strict: true)
        XCTAssertEqual(back.cues.map(\.speaker), ["Hana", "Kenji \"K\" <3", ""], "ttm:agent names the speaker")
        XCTAssertEqual(back.cues.map(\.region), ["top", "", ""])
        XCTAssertEqual(back.cues[1].raw, "<span tts:color=\"#FF0000\">Red</span> text\nsecond  line")
        XCTAssertEqual(back.language, "ja")
        // Converted on: the colour and the top position reach SRT and WebVTT.
        let srt = SubtitleWriter.write(entries(back), format: .srt)
        XCTAssertTrue(srt.contains("{\\an8}<i>Up</i> here & &lt;there>\n"), srt)
        XCTAssertTrue(srt.contains("<font color=\"#FF0000\">Red</font> text\n"), srt)
        XCTAssertTrue(SubtitleWriter.write(entries(back), format: .vtt).contains("<v Kenji \"K\" 3><c.red>Red</c> text"))
        // A language that is not a tag is written as unknown (xml:lang="").
        XCTAssertTrue(SubtitleWriter.write(entries(back), format: .ttml, language: "en\" onload=\"x").contains("xml:lang=\"\""))
    }

    // MARK: Times

    func testTimeExpressionsInEveryForm() throws {
        var c = TTML.Clock()
        XCTAssertEqual(c.seconds("01:02:03.5"), 3723.5)
        XCTAssertEqual(c.seconds("00:00:01:15"), 1.5, "frames at the default 30 fps")
        XCTAssertEqual(c.seconds("12.5s"), 12.5)
        XCTAssertEqual(c.seconds("1500ms"), 1.5)
        XCTAssertEqual(c.seconds("2m"), 120)
        XCTAssertEqual(c.seconds("1h"), 3600)
        XCTAssertEqual(c.seconds("45f"), 1.5)
        XCTAssertEqual(c.seconds(" 3s "), 3, "spaces around are allowed")
        for bad in ["", "1", "s", "1.s", "-1s", "+1s", "1e3s", "1,5s", "1:2", "01:60:00.000", "01:00:60", "1:2:3:4:5", "49h", "00:00:00.1234567890s",
                    "9999999999999999t", "NaNs", "infs", "01:02:03.", "01:02:03:xx", "0x10s", "１s"] {
            XCTAssertNil(c.seconds(bad), bad)
        }
        // 23.976 fps (24 × 1000/1001), sub-frames, ticks.
        let tree = try XMLTree(utf8: Array((Self.head + " ttp:frameRate=\"24\" ttp:frameRateMultiplier=\"1000 1001\" ttp:subFrameRate=\"2\"/>").utf8))
        c = try TTML.Clock(root: tree.root)
        XCTAssertEqual(c.seconds("00:00:01:12")!, 1 + 12 / 23.976, accuracy: 0.001)
        XCTAssertEqual(c.seconds("00:00:00:00.1")!, 0.5 / 23.976, accuracy: 0.001)
        XCTAssertEqual(c.seconds("24f")!, 1.001, accuracy: 0.0005)
        XCTAssertEqual(c.tickRate, 24 * 1000 / 1001 * 2, accuracy: 0.0001, "ticks default to frames × sub-frames")
        // Netflix's DFXP: ticks at 10 MHz.
        let doc = try read(body("<p begin=\"101770001t\" end=\"117625006t\">one</p><p begin=\"0t\" dur=\"5000000t\">two</p>", parameters: "ttp:tickRate=\"10000000\""))
        XCTAssertEqual(doc.cues.map(\.startMs), [10177, 0])
        XCTAssertEqual(doc.cues.map(\.endMs), [11763, 500])
        // A parameter out of range is an error naming it (every time would be wrong).
        for (parameter, value) in [("tickRate", "0"), ("tickRate", "1.5"), ("frameRate", "0"), ("frameRate", "1e9"), ("frameRateMultiplier", "1000"),
                                   ("frameRateMultiplier", "0 1"), ("subFrameRate", "-2")] {
            XCTAssertThrowsError(try read(body("<p begin=\"1s\" end=\"2s\">x</p>", parameters: "ttp:\(parameter)=\"\(value)\""))) { e in
                XCTAssertTrue((e as? SubtitleError)?.message.contains("ttp:\(parameter)") == true, "\(e)")
            }
        }
    }

    func testTimesAreRelativeToTheirContainers() throws {
        let xml = Self.head + ">\n<body begin=\"10s\"><div begin=\"5s\" end=\"20s\">"
            + "<p begin=\"1s\" end=\"2s\">in div</p>"
            + "<p begin=\"3s\">to the div's end</p>"
            + "<p begin=\"4s\" end=\"60s\">clipped</p>"
            + "<p begin=\"1s\" dur=\"0.5s\" end=\"9s\">dur wins</p>"
            + "</div><div timeContainer=\"seq\" begin=\"100s\">"
            + "<p dur=\"2s\">first</p><p dur=\"3s\">second</p><p begin=\"1s\" dur=\"1s\">third</p>"
            + "</div></body></tt>"
        let doc = try read(xml)
        XCTAssertEqual(doc.cues.map(\.text), ["in div", "to the div's end", "clipped", "dur wins", "first", "second", "third"])
        XCTAssertEqual(doc.cues.map(\.startMs), [16000, 18000, 19000, 16000, 110_000, 112_000, 116_000])
        XCTAssertEqual(doc.cues.map(\.endMs), [17000, 30000, 30000, 16500, 112_000, 115_000, 117_000])
    }

    func testAParagraphWithNoEndIsSkippedAndStrictRefusesIt() throws {
        let xml = body("<p begin=\"1s\">forever</p>\n<p begin=\"2s\" end=\"3s\">shown</p>\n<p begin=\"bad\" end=\"4s\">bad time</p>\n<p begin=\"5s\" end=\"4s\">backwards</p>")
        let doc = try read(xml)
        XCTAssertEqual(doc.cues.map(\.text), ["shown"])
        XCTAssertEqual(doc.warnings.count, 3, "\(doc.warnings)")
        XCTAssertTrue(doc.warnings[0].hasPrefix("line 5: a paragraph with no end"), doc.warnings[0])
        XCTAssertTrue(doc.warnings[1].contains("bad begin 'bad'"), doc.warnings[1])
        XCTAssertThrowsError(try read(xml, strict: true)) { e in XCTAssertEqual((e as? SubtitleError)?.line, 5) }
    }

    // MARK: Text, styles, regions, speakers

    func testStylesRegionsSpeakersAndWhitespace() throws {
        let head = """
            <metadata><ttm:agent xml:id="hana" type="character"><ttm:name type="full">Hana  Kim</ttm:name></ttm:agent>
            <ttm:agent xml:id="anon" type="person"/></metadata>
            <styling><style xml:id="base" tts:color="#EBEBEB"/><style xml:id="it" style="base" tts:fontStyle="italic"/>
            <style xml:id="loop1" style="loop2" tts:fontWeight="bold"/><style xml:id="loop2" style="loop1"/>
            <style xml:id="yellow" tts:color="yellow"/><style xml:id="up" tts:displayAlign="before"/></styling>
            <layout><region xml:id="r1" style="up"/><region xml:id="low" tts:origin="0% 80%" tts:displayAlign="before"/>
            <region xml:id="high" tts:origin="0% 0%" tts:extent="100% 20%"/></layout>
            """
        let xml = body("""
            <p begin="1s" end="2s" style="it" region="r1" ttm:agent="hana">
               Whole   line
               italic  </p>
            <p begin="2s" end="3s" ttm:agent="anon other"><span style="loop1">bold</span> and <span style="yellow">yellow</span> and <span tts:color="rgb(255,255,255)">white</span></p>
            <p begin="3s" end="4s" region="low" xml:space="preserve">  kept
            spaces  </p>
            <p begin="4s" end="5s" region="high"><span tts:ruby="container"><span tts:ruby="base">漢字</span><span tts:ruby="text">かんじ</span></span>です<metadata>not shown</metadata><![CDATA[ & <raw>]]></p>
            <p begin="5s" end="6s"><span tts:textDecoration="underline">under</span><br/>  <br/>next</p>
            """, head: head)
        let doc = try read(xml, strict: true)
        XCTAssertEqual(doc.cues.map(\.text), ["Whole line italic", "bold and yellow and white", "  kept\nspaces  ", "漢字です & <raw>", "under\n\nnext"])
        XCTAssertEqual(doc.cues.map(\.speaker), ["Hana Kim", "anon", "", "", ""], "the agent's name; its id when it has none")
        XCTAssertEqual(doc.cues.map(\.region), ["top", "", "", "top", ""])
        XCTAssertEqual(doc.cues[0].raw, "<span tts:fontStyle=\"italic\">Whole line italic</span>", "a near-white colour is the default, not a colour")
        XCTAssertEqual(doc.cues[1].raw, "<span tts:fontWeight=\"bold\">bold</span> and <span tts:color=\"#FFFF00\">yellow</span> and white")
        XCTAssertEqual(doc.cues[3].raw, "漢字です &amp; &lt;raw&gt;")
        XCTAssertEqual(doc.cues[4].raw, "<span tts:textDecoration=\"underline\">under</span>\n\nnext")
        // Written back the same (the whitespace kept by xml:space where TTML would collapse it).
        let out = SubtitleWriter.write(entries(doc), format: .ttml)
        let back = try read(out, strict: true)
        XCTAssertEqual(back.cues.map(\.text), doc.cues.map(\.text))
        XCTAssertEqual(back.cues.map(\.raw), doc.cues.map(\.raw))
        XCTAssertEqual(back.cues.map(\.speaker), doc.cues.map(\.speaker))
        XCTAssertEqual(try ttconv(try temp(out)).problems, [])
        // An edited TTML line takes the style its whole line had.
        var edited = entries(doc)
        edited[0].text = "Now & then"
        XCTAssertTrue(SubtitleWriter.write(edited, format: .ttml).contains(">Now &amp; then</span></p>"))
        XCTAssertTrue(SubtitleWriter.write(edited, format: .ttml).contains("<span tts:fontStyle=\"italic\">Now &amp; then</span>"))
    }

    func testTheOldDFXPNamespaceAndAPrefixedRoot() throws {
        let dfxp = "<tt xmlns=\"http://www.w3.org/2006/10/ttaf1\" xmlns:tts=\"http://www.w3.org/2006/10/ttaf1#styling\"><body><div>"
            + "<p begin=\"00:00:01.00\" end=\"00:00:02.00\"><span tts:fontStyle=\"italic\">old</span></p></div></body></tt>"
        XCTAssertEqual(SubtitleFormat.of(content: dfxp), .ttml)
        XCTAssertEqual(try read(dfxp).cues.map(\.raw), ["<span tts:fontStyle=\"italic\">old</span>"])
        let prefixed = "<?xml version=\"1.0\"?>\n<tt:tt xmlns:tt=\"http://www.w3.org/ns/ttml\"><tt:body><tt:div><tt:p begin=\"1s\" end=\"2s\">a<tt:br/>b</tt:p></tt:div></tt:body></tt:tt>"
        XCTAssertEqual(SubtitleFormat.of(content: prefixed), .ttml)
        XCTAssertEqual(try read(prefixed).cues.map(\.text), ["a\nb"])
    }

    // MARK: Hostile documents

    func testHostileXMLIsRefusedWithOneClearLine() throws {
        let cases: [(String, String)] = [
            // The billion laughs: refused at its DOCTYPE, nothing expanded.
            ("<?xml version=\"1.0\"?>\n<!DOCTYPE tt [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>\n"
                + "<tt xmlns=\"http://www.w3.org/ns/ttml\"><body><div><p begin=\"1s\" end=\"2s\">&c;</p></div></body></tt>", "DOCTYPE"),
            // An external entity (a file of the machine): refused, never read.
            ("<?xml version=\"1.0\"?>\n<!DOCTYPE tt SYSTEM \"file:///etc/passwd\">\n<tt xmlns=\"http://www.w3.org/ns/ttml\"/>", "DOCTYPE"),
            ("<tt xmlns=\"http://www.w3.org/ns/ttml\"><body><div><p begin=\"1s\" end=\"2s\">&nbsp;</p></div></body></tt>", "nbsp"),
            ("<tt xmlns=\"http://www.w3.org/ns/ttml\"><body><div>\n<p begin=\"1s\" end=\"2s\">open</div></body></tt>", "line 2"),
            ("<tt xmlns=\"http://www.w3.org/ns/ttml\"><body>" + String(repeating: "<div>", count: 300) + String(repeating: "</div>", count: 300) + "</body></tt>", "not well-formed XML"),
            ("<html xmlns=\"http://www.w3.org/1999/xhtml\"><body><p>no</p></body></html>", "not a TTML document: the root is <html>"),
            ("<tt><body><div><p begin=\"1s\" end=\"2s\">no namespace</p></div></body></tt>", "(no namespace)"),
            ("<tt xmlns=\"http://www.w3.org/ns/ttml\"><body><div><p begin=\"1s\" end=\"2s\">\u{1}</p></div></body></tt>", "not well-formed XML"),
            ("<tt xmlns=\"http://www.w3.org/ns/ttml\"><body/></tt>", "no subtitles"),
        ]
        for (xml, expected) in cases {
            let dir = TempDir()
            let path = dir.path + "/hostile.ttml"
            FileManager.default.createFile(atPath: path, contents: Data(xml.utf8))
            XCTAssertThrowsError(try RoundTrip.importSubtitles(path, into: dir.path + "/job", audio: nil, series: nil)) { e in
                let message = (e as? DubdeckError)?.message ?? "\(e)"
                XCTAssertTrue(message.contains(expected), "\(expected): \(message)")
                XCTAssertTrue(message.hasPrefix(path + ":"), message)
                XCTAssertFalse(message.contains("\n"), "one line: \(message)")
                XCTAssertEqual((e as? DubdeckError)?.status, .dataError)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path + "/job"), "nothing written")
        }
    }

    func testTheContentNotTheNameSaysTTML() throws {
        let dir = TempDir()
        let path = dir.path + "/episode.srt"
        FileManager.default.createFile(atPath: path, contents: Data(body("<p begin=\"1s\" end=\"2s\">xml inside</p>").utf8))
        let r = try RoundTrip.importSubtitles(path, into: dir.path + "/job", audio: nil, series: nil)
        XCTAssertEqual(r.cues, 1)
        XCTAssertTrue(r.warnings.first?.contains("the content is TTML, not SubRip (SRT)") == true, "\(r.warnings)")
        XCTAssertEqual(SubtitleFormat.of(path: "a.dfxp"), .ttml)
        XCTAssertEqual(SubtitleFormat.of(path: "a.XML"), .ttml)
        XCTAssertNil(SubtitleFormat.of(content: "<html><body>not subtitles</body></html>"))
        XCTAssertEqual(SubtitleFormat.of(content: "1\n00:00:01,000 --> 00:00:02,000\n<i>tag first</i>\n"), .srt)
        // UTF-16 with its byte-order mark, as XML files often are.
        let units: [UInt8] = body("<p begin=\"1s\" end=\"2s\">ütf-16</p>").utf16.flatMap { u -> [UInt8] in [UInt8(u & 0xFF), UInt8(u >> 8)] }
        let utf16: [UInt8] = [0xFF, 0xFE] + units
        XCTAssertEqual(try SubtitleParser.parse(utf16, format: .ttml).cues.map(\.text), ["ütf-16"])
    }

    // MARK: What an attacker found

    func testStylesNamingStylesTwiceAtEveryLevelResolveOnce() throws {
        // 40 levels, each naming the next twice: 2^40 resolutions the naive way, 40 memoised.
        let chain = (0..<40).map { "<style xml:id=\"s\($0)\" style=\"s\($0 + 1) s\($0 + 1)\"/>" }.joined() + "<style xml:id=\"s40\" tts:fontStyle=\"italic\"/>"
        let refs = String(repeating: "s0 ", count: 20000)
        let doc = try read(body("<p begin=\"1s\" end=\"2s\" region=\"r\"><span style=\"\(refs)\">deep</span></p>",
                                head: "<styling>\(chain)</styling><layout><region xml:id=\"r\" style=\"s0\"/></layout>"))
        XCTAssertEqual(doc.cues.map(\.raw), ["<span tts:fontStyle=\"italic\">deep</span>"])
        // A chain of 20,000 styles is no recursion.
        let long = (0..<20000).map { "<style xml:id=\"t\($0)\" style=\"t\($0 + 1)\"/>" }.joined() + "<style xml:id=\"t20000\" tts:fontWeight=\"bold\"/>"
        XCTAssertEqual(try read(body("<p begin=\"1s\" end=\"2s\" style=\"t0\">long</p>", head: "<styling>\(long)</styling>")).cues.map(\.raw),
                       ["<span tts:fontWeight=\"bold\">long</span>"])
    }

    func testTimesAddedUpThroughContainers() throws {
        // An untimed <div> in a seq ends with what it shows; a span-timed paragraph stays in its container.
        var doc = try read(Self.head + "><body><div timeContainer=\"seq\"><div><p begin=\"1s\" end=\"2s\">a</p></div><p dur=\"1s\">b</p></div>"
                           + "<div begin=\"10s\" end=\"12s\"><p><span begin=\"1s\" end=\"100s\">clipped</span></p></div></body></tt>")
        XCTAssertEqual(doc.cues.map(\.text), ["a", "b", "clipped"])
        XCTAssertEqual(doc.cues.map(\.startMs), [1000, 2000, 11000])
        XCTAssertEqual(doc.cues.map(\.endMs), [2000, 3000, 12000])
        // Offsets past 48 hours once added: that cue skipped with its line, the others kept.
        let nested = String(repeating: "<div begin=\"47h\">", count: 3) + "<p begin=\"1s\" end=\"2s\">far</p>" + String(repeating: "</div>", count: 3)
        doc = try read(Self.head + "><body><div><p begin=\"1s\" end=\"2s\">near</p></div>\n" + nested + "\n<div><p begin=\"00:00:01:99\" end=\"3s\">frames</p>"
                       + "</div><div end=\"2s\">\n<p begin=\"5s\" end=\"6s\">late</p></div></body></tt>", strict: false)
        XCTAssertEqual(doc.cues.map(\.text), ["near"])
        XCTAssertEqual(doc.warnings.count, 3, "\(doc.warnings)")
        XCTAssertTrue(doc.warnings[0].hasPrefix("line 3: ") && doc.warnings[0].contains("past 48 hours"), doc.warnings[0])
        XCTAssertTrue(doc.warnings[1].contains("bad begin '00:00:01:99'"), "frame 99 at 30 fps: \(doc.warnings[1])")
        XCTAssertTrue(doc.warnings[2].hasPrefix("line 5: ") && doc.warnings[2].contains("after its container ends"), doc.warnings[2])
        // Numbers are digits (0x10, a no-break space are not).
        XCTAssertNil(TTML.Clock().seconds("1s\u{00A0}"))
        XCTAssertThrowsError(try read(body("<p begin=\"1s\" end=\"2s\">x</p>", parameters: "ttp:tickRate=\"0x10\"")))
        XCTAssertThrowsError(try read(body("<p begin=\"1s\" end=\"2s\">x</p>", parameters: "ttp:frameRate=\"1e2\"")))
    }

    func testLinesPast65535AreNamedRight() throws {
        let padding = String(repeating: "\n", count: 70000)
        let doc = try read(body(padding + "<p begin=\"1s\">no end</p><p begin=\"1s\" end=\"2s\">ok</p>"))
        XCTAssertTrue(doc.warnings.first?.hasPrefix("line 70005: ") == true, "\(doc.warnings)")
    }

    func testCrowdedElementsAndUndeclaredPrefixesAreRefused() throws {
        let attributes = (0..<600).map { "a\($0)=\"x\"" }.joined(separator: " ")
        XCTAssertThrowsError(try read(body("<p begin=\"1s\" end=\"2s\" \(attributes)>x</p>"))) { e in
            XCTAssertTrue((e as? SubtitleError)?.message.contains("attributes or more (at most 512)") == true, "\(e)")
        }
        // Quoted '>' and '=' do not count or end the tag; 500 attributes are read.
        let many = (0..<500).map { "b\($0)=\"=>\"" }.joined(separator: " ")
        XCTAssertEqual(try read(body("<p begin=\"1s\" end=\"2s\" \(many)>x</p>")).cues.count, 1)
        let undeclared = "<tt xmlns=\"http://www.w3.org/ns/ttml\"><body><div><p begin=\"1s\" end=\"2s\" foo:agent=\"a\">x</p></div></body></tt>"
        XCTAssertThrowsError(try read(undeclared)) { e in
            XCTAssertTrue((e as? SubtitleError)?.message.contains("foo") == true, "\(e)")
        }
    }

    func testTheDeclaredCharacterSetAndTheOneExportNames() throws {
        let text = "<?xml version=\"1.0\" encoding=\"ISO-8859-2\"?>\n" + body("<p begin=\"1s\" end=\"2s\">Zażółć gęślą jaźń</p>").split(separator: "\n", maxSplits: 1)[1]
        let latin2 = try TextEncoding.encode(String(text), to: "ISO-8859-2", bom: false, crlf: false, cr: false)
        XCTAssertNil(String(validating: latin2, as: UTF8.self))
        XCTAssertEqual(try SubtitleParser.parse(latin2, format: .ttml).cues.map(\.text), ["Zażółć gęślą jaźń"])
        XCTAssertEqual(TextEncoding.xmlName("iso_8859-2"), "ISO-8859-2")
        XCTAssertEqual(TextEncoding.xmlName("cp1250"), "windows-1250")
        XCTAssertEqual(TextEncoding.xmlName("UTF-16LE"), "UTF-16")
        for refused in ["8859_2", "ISO-8859-2//TRANSLIT", "UTF-32", "UTF-7", "ISO_8859-2:1987"] { XCTAssertNil(TextEncoding.xmlName(refused), refused) }
    }

    func testAnAgentsNameIsOneLineEveryFormatHolds() throws {
        let doc = try read(body("<p begin=\"1s\" end=\"2s\" ttm:agent=\"x&#10;Dialogue:&#9;0,0:00:05.00\u{85}\">hi</p>"))
        XCTAssertEqual(doc.cues.map(\.speaker), ["x Dialogue: 0,0:00:05.00"])
        let ass = SubtitleWriter.write(entries(doc), format: .ass)
        XCTAssertEqual(try SubtitleParser.parse(Array(ass.utf8), format: .ass, strict: true).cues.map(\.speaker), ["x Dialogue: 0;0:00:05.00"])
        XCTAssertEqual(Sanitizer.display("a\u{2028}b\u{2029}"), "a\u{27E8}U+2028\u{27E9}b\u{27E8}U+2029\u{27E9}")
        // MicroDVD's last frame stays within 48 hours.
        let end = SubtitleWriter.write([SubtitleWriter.Entry(startMs: 0, endMs: 172_800_000, text: "end")], format: .microdvd, fps: 23.976)
        XCTAssertEqual(try SubtitleParser.parse(Array(end.utf8), format: .microdvd, strict: true).cues.count, 1)
        // A long comment before the root: still found from the content.
        XCTAssertEqual(SubtitleFormat.of(content: "<?xml version=\"1.0\"?>\n<!--" + String(repeating: "x", count: 10000) + "-->\n" + body("<p begin=\"1s\" end=\"2s\">x</p>").split(separator: "\n", maxSplits: 1)[1]), .ttml)
    }

    // MARK: Helpers

    func entries(_ doc: SubtitleDocument) -> [SubtitleWriter.Entry] {
        doc.cues.map { SubtitleWriter.Entry(startMs: $0.startMs, endMs: $0.endMs, text: $0.text, speaker: $0.speaker, original: $0, originalFormat: doc.format) }
    }

    var keep: [TempDir] = []

    func temp(_ text: String) throws -> String {
        let dir = TempDir()
        keep.append(dir)
        let path = dir.path + "/out.ttml"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    struct OracleCue {
        var begin: Int, end: Int?, text: String, italic: Bool, top: Bool
    }

    /// ttconv's reading of a TTML file (Tests/Fixtures/subtitles/ttml_cues.py) and what it logged.
    func ttconv(_ path: String) throws -> (cues: [OracleCue], problems: [String]) {
        let p = Process(), out = Pipe(), err = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.fixtures + "ttml_cues.py", path]
        var env = ProcessInfo.processInfo.environment
        env["PYTHONPATH"] = DubdeckBinary.packageRoot + "/.build/pylib" + (env["PYTHONPATH"].map { ":" + $0 } ?? "")
        p.environment = env
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "ttconv (make test installs it in .build/pylib): \(errors)")
        let json = try JSONSerialization.jsonObject(with: data) as! [[Any]]
        let cues = (json[0] as! [[Any]]).map { c in
            OracleCue(begin: c[0] as! Int, end: c[1] as? Int, text: c[2] as! String, italic: c[3] as! Bool, top: c[4] as! Bool)
        }
        return (cues, json[1] as! [String])
    }

    func assertAgrees(_ doc: SubtitleDocument, _ oracle: [OracleCue], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(doc.cues.count, oracle.count, what, file: file, line: line)
        for (c, o) in zip(doc.cues, oracle) {
            XCTAssertEqual(c.startMs, o.begin, "\(what): \(c.text)", file: file, line: line)
            XCTAssertEqual(c.endMs, o.end, "\(what): \(c.text)", file: file, line: line)
            XCTAssertEqual(c.text, o.text, what, file: file, line: line)
            XCTAssertEqual(c.raw.contains("tts:fontStyle=\"italic\""), o.italic, "\(what): \(c.text)", file: file, line: line)
            XCTAssertEqual(c.region == "top", o.top, "\(what): \(c.text)", file: file, line: line)
        }
    }
}
