import Foundation
import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
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
        // Half a pair is no character: refused as invalid UTF-8 is, never read as U+FFFD.
        for lone in [#""x\ud800y""#, #""\udc00""#, #""\ud83d""#, #""\ud83d\u0041""#, #""\ude00\ud83d""#] {
            XCTAssertThrowsError(try parse(lone), lone) { e in
                XCTAssertTrue("\(e)".contains("lone surrogate"), "\(lone): \(e)")
            }
        }
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

    /// Duplicates are found by the bytes of plain names, and by the decoded String once a name has
    /// an escape or non-ASCII bytes (two spellings, or canonically equivalent scalars, are one name
    /// to Swift's comparison): in small objects and through the hash table of large ones.
    func testDuplicateKeysAcrossSpellingsAndSizes() {
        for size in [1, 15, 16, 17, 40, 300] {
            let keys = (0..<size).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
            XCTAssertNoThrow(try parse("{\(keys)}"), "\(size) distinct keys")
            for dup in Swift.Set([0, size / 2, size - 1]) {
                XCTAssertThrowsError(try parse("{\(keys), \"k\(dup)\": 0}"), "k\(dup) again after \(size) keys") { e in
                    XCTAssertTrue((e as! JSONParseError).message.contains("duplicate key \"k\(dup)\""), "\(e)")
                }
                XCTAssertThrowsError(try parse("{\(keys), \"\\u006b\(dup)\": 0}"), "an escaped spelling of k\(dup) after \(size) keys")
            }
            XCTAssertThrowsError(try parse("{\"\\u006bx\": 1, \(keys), \"kx\": 0}"), "the escaped spelling first, \(size) keys between")
            XCTAssertNoThrow(try parse("{\(keys), \"k\\u0030x\": 0}"), "an escaped name that is another name")
        }
        // U+212A KELVIN SIGN is canonically K: Swift's comparison makes them one name, so both are refused.
        XCTAssertThrowsError(try parse("{\"SPEAKER_01\": 1, \"SPEA\u{212A}ER_01\": 2}"))
        XCTAssertThrowsError(try parse("{\"caf\u{E9}\": 1, \"cafe\u{301}\": 2}"))
        XCTAssertNoThrow(try parse("{\"caf\u{E9}\": 1, \"cafe\": 2}"))
    }

    /// Strings are scanned eight bytes at a time: a quote, a backslash, a control character or a
    /// non-ASCII byte at every offset from the start and from an 8-byte boundary is found.
    func testStringScanningAtEveryOffset() throws {
        for length in 0..<20 {
            for at in 0..<max(length, 1) {
                var plain = Array(repeating: UInt8(ascii: "a"), count: length)
                XCTAssertEqual(try parse("\"" + String(decoding: plain, as: UTF8.self) + "\"").stringValue?.count, length)
                guard at < length else { continue }
                plain[at] = 0x01
                XCTAssertThrowsError(try JSONParser.parse(Array("\"".utf8) + plain + Array("\"".utf8)), "a control character at \(at) of \(length)")
                var escaped = Array(repeating: UInt8(ascii: "a"), count: length)
                escaped.replaceSubrange(at..<(at + 1), with: Array(#"\""#.utf8))
                XCTAssertEqual(try JSONParser.parse(Array("\"".utf8) + escaped + Array("\"".utf8)).stringValue,
                               String(repeating: "a", count: at) + "\"" + String(repeating: "a", count: length - at - 1))
                var high = Array(repeating: UInt8(ascii: "a"), count: length)
                high[at] = 0xC3
                XCTAssertThrowsError(try JSONParser.parse(Array("\"".utf8) + high + Array("\"".utf8)), "a lone lead byte at \(at) of \(length)")
                var unterminated = Array("\"".utf8) + Array(repeating: UInt8(ascii: "a"), count: length)
                unterminated[1 + at] = UInt8(ascii: "b")
                XCTAssertThrowsError(try JSONParser.parse(unterminated), "unterminated at \(length)")
            }
        }
        XCTAssertEqual(try parse(#""0123456789abcdéf\u00e9 日本語 😀""#).stringValue, "0123456789abcdéfé 日本語 😀")
    }

    /// The fast decimal path gives strtod's value, bit for bit, and leaves every other spelling to strtod.
    func testFastDecimalsAreStrtodsValues() throws {
        var rng = SplitMix64(state: 7)
        var spellings = ["0", "-0", "0.0", "-0.5", "1", "3.45", "0.1", "0.30000000000000004", "123456789012345678", "9007199254740993",
                         "9007199254740992.5", "0.0000000000000000000001", "0.00000000000000000000001", "1.7976931348623157",
                         "12345678901234567890", "00.5", "1.", ".5", "1.2.3", "-", "", "1e5", "inf", "+1", " 1"]
        for _ in 0..<20_000 {
            let intDigits = Int(rng.next() % 12), fracDigits = Int(rng.next() % 12)
            var s = rng.next() % 4 == 0 ? "-" : ""
            s += intDigits == 0 ? "0" : String((0..<intDigits).map { i in Character(String(i == 0 ? 1 + rng.next() % 9 : rng.next() % 10)) })
            if fracDigits > 0 { s += "." + String((0..<fracDigits).map { _ in Character(String(rng.next() % 10)) }) }
            spellings.append(s)
        }
        for s in spellings {
            var text = s
            let fast = text.withUTF8 { JSONValue.fastDouble($0) }
            if let fast {
                XCTAssertEqual(fast.bitPattern, Double(s)?.bitPattern, s)
            }
            XCTAssertEqual(JSONValue.number(s).doubleValue?.bitPattern, Double(s)?.bitPattern, "doubleValue of \(s)")
        }
        XCTAssertNil(JSONValue.fastDouble(UnsafeBufferPointer(start: nil, count: 0)), "nothing is no number")
        // The scalar reader reads numbers through the same path.
        var p = JSONParser(bytes: Array("[2.5, -0, 1e2, 18446744073709551616]".utf8))
        var got: [Double] = []
        try p.parseArrayElements(depth: 0) { q in
            if case .number(let d)? = try q.parseScalar(depth: 1) { got.append(d) }
        }
        XCTAssertEqual(got.map(\.bitPattern), [2.5, -0.0, 100, 18446744073709551616].map(\.bitPattern))
        // Every spelling through the scalar reader (one pass for plain decimals): strtod's value for
        // what Foundation's JSON reader takes as a number, and no number for what it refuses.
        spellings += ["01", "-01", "0.", "-.5", "1.5e", "2E3", "1.0e-2", "- 1", "0x10", "1_0", "٣"]
        for s in spellings {
            var q = JSONParser(bytes: Array(s.utf8))
            var ours: Double?
            if case .number(let d)? = try? q.parseScalar(depth: 0), q.pos == s.utf8.count { ours = d }
            let list = (try? JSONSerialization.jsonObject(with: Data("[\(s)]".utf8))) as? [Any]  // (Linux's refuses a bare " 1")
            let valid = list?.count == 1 && list?.first is NSNumber
            XCTAssertEqual(ours?.bitPattern, valid ? Double(s.trimmingCharacters(in: .whitespaces))?.bitPattern : nil, "«\(s)»")
        }
    }

    /// A reader's own names are told apart by their index, and still found twice however spelled.
    func testKnownNamesAreCheckedForDuplicatesToo() throws {
        for doc in [#"{"a": 1, "b": 2, "a": 3}"#, #"{"a": 1, "\u0061": 2}"#, #"{"\u0061": 1, "a": 2}"#, #"{"x": 1, "a": 2, "x": 3}"#,
                    #"{"b": 1, "\u0078": 2, "x": 3}"#] {
            var p = JSONParser(bytes: Array(doc.utf8))
            XCTAssertThrowsError(try p.parseObjectMembersRaw(depth: 0, known: ["a", "b"]) { _, q in _ = try q.parseValue(depth: 1) }, doc)
        }
        var p = JSONParser(bytes: Array(#"{"b": 1, "a": 2, "c": 3, "\u0061b": 4}"#.utf8))
        var indices: [Int?] = []
        try p.parseObjectMembersRaw(depth: 0, known: ["a", "b"]) { k, q in
            indices.append(k.index)
            _ = try q.parseValue(depth: 1)
        }
        XCTAssertEqual(indices, [1, 0, nil, nil], "an escaped name has no index: the reader gives up on it")
    }
}
