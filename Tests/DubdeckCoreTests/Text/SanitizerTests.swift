import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

final class SanitizerTests: XCTestCase {
    func testControlsBecomeVisiblePlaceholders() {
        let hostile = "a\u{1b}[2Jb\u{1b}]52;c;ZXZpbA==\u{07}c\u{9b}31md\u{202e}e\u{2066}f\u{7f}g\u{200f}h\u{61c}"
        let shown = Sanitizer.display(hostile)
        for u in shown.unicodeScalars {
            XCTAssertFalse(u.value < 0x20 || (0x7F...0x9F).contains(u.value) || Sanitizer.isBidiControl(u.value), "raw U+\(String(u.value, radix: 16))")
        }
        XCTAssertTrue(shown.hasPrefix("a␛[2Jb␛]52"))
        XCTAssertEqual(Sanitizer.display("日本語 ok"), "日本語 ok")
    }

    /// Bytes that should be text: valid UTF-8 shown as text is, each stray byte as ⟨0xFF⟩ — never U+FFFD.
    func testBytesThatAreNotUTF8AreShownByteByByte() {
        XCTAssertEqual(Sanitizer.display(bytes: Array("a€\u{1b}".utf8) + [0xFF] + Array("b".utf8)), "a€␛⟨0xFF⟩b")
        XCTAssertEqual(Sanitizer.display(bytes: [0xE2, 0x82]), "⟨0xE2⟩⟨0x82⟩", "a cut sequence")
        XCTAssertEqual(Sanitizer.display(bytes: [0xED, 0xA0, 0x80]), "⟨0xED⟩⟨0xA0⟩⟨0x80⟩", "an encoded surrogate")
        XCTAssertEqual(Sanitizer.display(bytes: [0x0A, 0xC2, 0x9B]), "␊⟨U+009B⟩", "valid controls as placeholders")
        XCTAssertEqual(Sanitizer.display(bytes: [0x0A], keepingLayout: true), "\n")
        XCTAssertFalse(Sanitizer.display(bytes: (0...255).map { UInt8($0) }).contains("\u{FFFD}"))
    }

    func testWidths() {
        XCTAssertEqual(TextWidth.width(of: "abc"), 3)
        XCTAssertEqual(TextWidth.width(of: "日本"), 4)
        XCTAssertEqual(TextWidth.width(of: "😀"), 2)
        XCTAssertEqual(TextWidth.width(of: "e\u{301}"), 1)
        XCTAssertEqual(TextWidth.prefix("日本語", fitting: 5).0, "日本")
        XCTAssertEqual(TextWidth.wrap("one two three", columns: 7), ["one two", "three"])
        XCTAssertEqual(TextWidth.wrap("あいうえおか", columns: 4), ["あい", "うえ", "おか"])
        XCTAssertEqual(TextWidth.wrap("a\nb", columns: 4), ["a", "b"])
    }

}
