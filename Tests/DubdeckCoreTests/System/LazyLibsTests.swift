import Foundation
import TestSupport
import XCTest

/// The libraries opened on first use check, when loaded, every symbol their wrappers call (a library
/// without one is refused then with a clear error, never an abort at the call): the lists in
/// lazy_libs.c must name every symbol a wrapper calls.
final class LazyLibsTests: XCTestCase {
    func testEverySymbolAWrapperCallsIsCheckedAtLoad() throws {
        let text = try String(contentsOfFile: DubdeckBinary.packageRoot + "/Sources/CLazyLibs/lazy_libs.c", encoding: .utf8)
        func matches(_ pattern: String) throws -> [[String]] {
            let re = try NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
            return re.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { m in
                (1..<m.numberOfRanges).map { String(text[Range(m.range(at: $0), in: text)!]) }
            }
        }
        var lists: [String: Swift.Set<String>] = [:]
        for m in try matches(#"SYMBOLS\((\w+),([^)]*)\)"#) where m[0] != "var" {
            lists[m[0]] = Swift.Set(try NSRegularExpression(pattern: #""(\w+)""#).matches(in: m[1], range: NSRange(m[1].startIndex..., in: m[1]))
                .map { String(m[1][Range($0.range(at: 1), in: m[1])!]) })
        }
        XCTAssertEqual(Swift.Set(lists.keys), ["espeak", "pq", "sndfile", "soxr", "rubberband", "alsa", "uchardet", "xml2", "webrtc"])
        let calls = try matches(#"CALL\((\w+), (\w+)"#).filter { $0[0] != "lib" }
        XCTAssertGreaterThan(calls.count, 50)
        for c in calls {
            XCTAssertTrue(lists[c[0]]?.contains(c[1]) == true, "\(c[1]) is called but not checked when \(c[0]) loads")
        }
        let called = Swift.Set(calls.map { $0[0] + "." + $0[1] })
        for (lib, names) in lists { for n in names { XCTAssertTrue(called.contains(lib + "." + n), "\(lib): \(n) is checked but never called") } }
    }
}
