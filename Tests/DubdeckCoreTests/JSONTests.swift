import XCTest
@testable import DubdeckCore

final class JSONTests: XCTestCase {
    func parse(_ s: String) throws -> JSONValue { try JSONParser.parse(Array(s.utf8)) }

    func testRoundTripKeepsOrderAndNumberSpelling() throws {
        let src = #"{"b":1.50,"a":[true,false,null],"z":{"x":"é\n\"q\""},"big":12345678901234567890}"#
        let v = try parse(src)
        XCTAssertEqual(v.objectValue?.keys, ["b", "a", "z", "big"])
        XCTAssertEqual(String(decoding: JSONWriter.encode(v), as: UTF8.self), src)
    }

    func testRejectsNaNAndInfinity() {
        for bad in [#"{"a": NaN}"#, #"{"a": Infinity}"#, #"{"a": -Infinity}"#, #"[1e999]"#] {
            XCTAssertThrowsError(try parse(bad), bad)
        }
    }

    func testRejectsInvalidUTF8AndNamesThePath() {
        var bytes = Array(#"{"segments":[{"text":"ok"},{"text":"bad "#.utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(#""}]}"#.utf8)
        XCTAssertThrowsError(try JSONParser.parse(bytes)) { error in
            let e = error as! JSONParseError
            XCTAssertTrue(e.message.contains("UTF-8"), e.message)
            XCTAssertEqual(e.index(under: "segments"), 1)
        }
    }

    func testEscapesAndSurrogates() throws {
        let v = try parse(#""\u00e9\ud83d\ude00\t\u0001""#)
        XCTAssertEqual(v.stringValue, "é😀\t\u{1}")
        XCTAssertEqual(String(decoding: JSONWriter.encode(v), as: UTF8.self), "\"é😀\\t\\u0001\"")
    }

    func testC1AndBidiControlsAreWrittenEscapedAndReadBackTheSame() throws {
        let value = JSONValue.string("a\u{9b}31m \u{202e}evil\u{2066} 日本 \"q\"\n")
        let text = String(decoding: JSONWriter.encode(value), as: UTF8.self)
        XCTAssertEqual(text, #""a\u009b31m \u202eevil\u2066 日本 \"q\"\n""#)
        XCTAssertEqual(try parse(text), value)
    }

    func testRejectsTrailingGarbageAndDeepNesting() {
        XCTAssertThrowsError(try parse("{} x"))
        XCTAssertThrowsError(try parse(String(repeating: "[", count: 600) + String(repeating: "]", count: 600)))
        XCTAssertThrowsError(try parse(#"{"a":01}"#))
        XCTAssertThrowsError(try parse(#"{"a":"unterminated}"#))
    }

    func testErrorLineNumber() {
        XCTAssertThrowsError(try parse("{\n\"a\": 1,\n\"b\": tru\n}")) { error in
            XCTAssertEqual((error as! JSONParseError).line, 3)
        }
    }

    func testNumberFormatting() {
        XCTAssertEqual(JSONValue.formatNumber(1.2), "1.2")
        XCTAssertEqual(JSONValue.formatNumber(3), "3")
        XCTAssertEqual(JSONValue.formatNumber(0.1 + 0.2), "0.30000000000000004")
    }
}
