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

    func testDuplicateKeysAreRefusedInSmallAndLargeObjects() {
        XCTAssertThrowsError(try parse(#"{"text":"A","text":"B"}"#)) { e in
            XCTAssertTrue((e as! JSONParseError).message.contains("duplicate key \"text\""))
        }
        let many = (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        XCTAssertThrowsError(try parse("{\(many), \"k39\": 0}"))
        XCTAssertNoThrow(try parse("{\(many)}"))
        XCTAssertNoThrow(try parse(#"[{"a":1},{"a":2}]"#), "the same key in two objects is fine")
    }

    func testIntegersPast2To53AreNotIntegers() throws {
        XCTAssertEqual(try parse("9007199254740992").intValue, 9_007_199_254_740_992)
        XCTAssertNil(try parse("9007199254740993").intValue)
        XCTAssertNil(try parse("9223372036854775807").intValue)
        XCTAssertNil(try parse("1e300").intValue)
    }

    func testTheSkippingReaderHasADepthLimitToo() {
        var p = JSONParser(bytes: Array(("[" + String(repeating: "[", count: 100_000)).utf8))
        XCTAssertThrowsError(try p.skipValue(depth: 0)) { e in
            XCTAssertTrue((e as! JSONParseError).message.contains("nesting deeper"))
        }
    }

    func testADocumentOfTooManyValuesIsRefusedBeforeItCostsGigabytes() {
        // "[0,0,…,0]" with one value more than allowed (built as bytes: 20 MB).
        let n = JSONParser.maxValues
        var bytes = [UInt8](repeating: 0x2C, count: 2 * n + 1)
        bytes.withUnsafeMutableBufferPointer { b in
            b[0] = 0x5B
            var i = 1
            while i < b.count { b[i] = 0x30; i += 2 }
        }
        bytes.append(0x5D)
        XCTAssertThrowsError(try JSONParser.parse(bytes)) { e in
            XCTAssertTrue((e as! JSONParseError).message.contains("more than 10000000 values"), "\(e)")
        }
    }
}
