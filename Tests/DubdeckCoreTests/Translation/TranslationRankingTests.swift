import XCTest
@testable import DubdeckCore

/// The engine's alternatives for a line, ranked by their predicted fit to its slot: those that fit
/// first, the fullest first; then those that run past it, the shortest first; unknown lengths last,
/// in the engine's order.
final class TranslationRankingTests: XCTestCase {
    func testAlternativesAreRankedByPredictedFit() {
        let p = { (t: String, s: Double?) in Translation.Alternative(text: t, seconds: s) }
        let ranked = Translation.ranked([p("long", 2.6), p("unknown1", nil), p("fits", 1.2), p("fuller", 1.9), p("longer", 3.0),
                                           p("unknown2", nil), p("exact", 2.0)], slot: 2.0)
        XCTAssertEqual(ranked.map(\.text), ["exact", "fuller", "fits", "long", "longer", "unknown1", "unknown2"])
        XCTAssertEqual(Translation.ranked([], slot: 2).count, 0)
        XCTAssertEqual(Translation.ranked([p("a", 5), p("b", 5)], slot: 2).map(\.text), ["a", "b"], "ties keep the engine's order")
    }
}
