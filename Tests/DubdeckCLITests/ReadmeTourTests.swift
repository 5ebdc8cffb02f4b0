import XCTest
import TestSupport
@testable import DubdeckBase

/// The README's tour screen is the demo's real first screen (as `make run` opens it, 100 × 30, once
/// the lines on screen are predicted), and every mark on it is explained under it.
final class ReadmeTourTests: XCTestCase {
    /// The screen without what espeak-ng's speech decides to the last sample (predicted percentages
    /// and seconds, the original's loudness glyphs): those are the demo's, but may move by one unit.
    static func normalized(_ screen: [String]) -> [String] {
        screen.map { line in
            var l = line
            if l.hasPrefix("orig ") { return "orig <levels>" }
            l = l.replacingOccurrences(of: #"~\d+%"#, with: "~N%", options: .regularExpression)
            l = l.replacingOccurrences(of: #"~\d+\.\d s"#, with: "~N s", options: .regularExpression)
            return l
        }
    }

    func testTheTourScreenIsTheDemosFirstScreen() throws {
        let readme = try String(contentsOfFile: DubdeckBinary.packageRoot + "/README.md", encoding: .utf8)
        let tour = try XCTUnwrap(readme.components(separatedBy: "## A short tour").dropFirst().first)
        let block = try XCTUnwrap(tour.components(separatedBy: "```\n").dropFirst().first).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)

        let dir = TempDir()
        XCTAssertEqual(DubdeckBinary.run(["demo", dir.file("dubdeck-demo"), "--no-tui"]).status, 0)
        dir.write("s.keys", ":size 100x30\n:wait-idle\n:dump \(dir.file("screen.txt"))\n:quit\n")
        let r = DubdeckBinary.run(["review", dir.file("dubdeck-demo"), "--script", dir.file("s.keys")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let screen = try XCTUnwrap(dir.read("screen.txt")).split(separator: "\n", omittingEmptySubsequences: false).map {
            String($0).replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression)
        }
        func trimmed(_ lines: [String]) -> [String] { Array(lines.reversed().drop { $0.isEmpty }.reversed()) }
        let shown = trimmed(screen)
        XCTAssertEqual(ReadmeTourTests.normalized(trimmed(block)), ReadmeTourTests.normalized(shown),
                       "README.md's tour screen is not what the demo shows: paste\n" + shown.joined(separator: "\n"))

        // Every mark on it is explained below it.
        let legend = tour.components(separatedBy: "```").dropFirst(2).first ?? ""
        for mark in ["won't fit", "`^`", "`=`", "`A`", "`L`", "`R`", "`+`", "`~`", "`>`", "`x`", "`*`", "`!`", "`~90%`", "`-`",
                     "unnamed 07", "`src`", "`dub`", "`mt`", "slot", "gaps ◂- 0.45▸", "`╵0:01`", "`[`", "`]`", "`orig`", "`take`",
                     "`·`", "`▁`…`█`", "`░▒▓`", "`█`", "`1/24`"] {
            XCTAssertTrue(legend.contains(mark), "the tour does not explain \(mark)")
        }
    }
}
