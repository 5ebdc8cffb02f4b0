import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// SPEC §11.1: work on an input grows linearly with it. Openers without closers (`<a` × N,
/// `{\` × N, `{` × N) once made every opener scan to the end of the cue: N² scalars looked at.
final class MarkupWorkTests: XCTestCase {
    func testOpenersWithoutClosersAreLinear() {
        let cases: [(String, SubtitleFormat)] = [
            ("<a", .srt), ("<a", .vtt), ("{\\", .srt), ("{", .ass), ("<i>x", .srt), ("{\\i1}x", .ass), ("<b", .vtt), ("<1", .srt),
        ]
        for (unit, format) in cases {
            var perScalar: [Double] = []
            for n in [1_000, 10_000, 40_000] {
                let text = String(repeating: unit, count: n) + "end"
                var looked = 0
                let pieces = Markup.pieces(text, format: format, looked: &looked)
                XCTAssertFalse(pieces.isEmpty)
                let scalars = text.unicodeScalars.count
                XCTAssertLessThanOrEqual(looked, 2 * scalars + 2, "\(unit) × \(n) in \(format): \(looked) scalars looked at for \(scalars)")
                perScalar.append(Double(looked) / Double(scalars))
            }
            XCTAssertLessThanOrEqual(perScalar[2], perScalar[0] + 0.01, "\(unit) in \(format): the work per scalar does not grow")
        }
    }

    /// The same pieces as before: the closer a search found answers later openers only up to it.
    func testTagsAreFoundAsBefore() {
        XCTAssertEqual(Markup.plain("<a<i>x</i> <3 {\\an8}y", format: .srt), "x <3 y")
        XCTAssertEqual(Markup.plain("a{b{\\i1}c}d\\{e", format: .ass), "ac}d{e")
        // A WebVTT tag left open runs to the end of the cue, as browsers read it (SPEC §11.10).
        XCTAssertEqual(Markup.plain("<c.x><i>a</i></c> <b", format: .vtt), "a ")
        XCTAssertEqual(Markup.plain("<c.x><i>a</i></c> <3", format: .vtt), "a <3")
        XCTAssertEqual(Markup.pieces("<i>a</i>", format: .srt), [.tag("<i>"), .text("a"), .tag("</i>")])
    }
}
