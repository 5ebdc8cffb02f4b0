import XCTest
@testable import DubdeckTUI

/// The mt row's marks: the machine translation's words an edit dropped or changed.
final class WordChangeTests: XCTestCase {
    func marks(_ mt: String, _ edited: String) -> String {
        DeskView.wordChanges(mt, edited).map { $0.changed ? "[\($0.word)]" : $0.word }.joined(separator: " ")
    }

    func testTheWordsAnEditDroppedOrChangedAreMarked() {
        XCTAssertEqual(marks("Good morning to you all", "Good morning, all"), "Good [morning] [to] [you] all")
        XCTAssertEqual(marks("Hello there", "Hello there"), "Hello there")
        XCTAssertEqual(marks("Hello there", ""), "[Hello] [there]")
        XCTAssertEqual(marks("a b a b", "b a"), "[a] b a [b]")
        XCTAssertEqual(marks("one\ntwo  three", "one two"), "one two [three]", "line breaks and runs of spaces separate words")
        let long = Array(repeating: "w", count: 500).joined(separator: " ")
        XCTAssertFalse(DeskView.wordChanges(long, "w").contains { $0.changed }, "past 400 words: shown without marks")
    }
}
