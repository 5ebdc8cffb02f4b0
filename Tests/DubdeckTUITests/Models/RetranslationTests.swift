import XCTest
@testable import DubdeckTUI

/// The engine's alternatives for a line, ranked by their predicted fit to its slot: those that fit
/// first, the fullest first; then those that run past it, the shortest first; unknown lengths last,
/// in the engine's order.
final class RetranslationTests: XCTestCase {
    func testAlternativesAreRankedByPredictedFit() {
        let p = { (t: String, s: Double?) in Retranslation.Proposal(text: t, seconds: s) }
        let ranked = Retranslation.ranked([p("long", 2.6), p("unknown1", nil), p("fits", 1.2), p("fuller", 1.9), p("longer", 3.0),
                                           p("unknown2", nil), p("exact", 2.0)], slot: 2.0)
        XCTAssertEqual(ranked.map(\.text), ["exact", "fuller", "fits", "long", "longer", "unknown1", "unknown2"])
        XCTAssertEqual(Retranslation.ranked([], slot: 2).count, 0)
        XCTAssertEqual(Retranslation.ranked([p("a", 5), p("b", 5)], slot: 2).map(\.text), ["a", "b"], "ties keep the engine's order")
    }
}
