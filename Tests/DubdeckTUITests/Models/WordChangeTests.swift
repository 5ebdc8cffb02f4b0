import XCTest
@testable import DubdeckTUI

/// The mt row's marks: the machine translation's words an edit dropped or changed.
final class WordChangeTests: XCTestCase {
    func marks(_ mt: String, _ edited: String) -> String {
        DeskView.wordChanges(mt, edited).map { $0.changed ? "[\($0.word)]" : $0.word }.joined(separator: " ")
    }

    func testTheWordsAnEditDroppedOrChangedAreMarked() {
        XCTAssertEqual(marks("Good morning to you all", "Good morning, all"), "Good morning [to] [you] all",
                       "punctuation around a word does not make it another")
        XCTAssertEqual(marks("Nadie sabe donde el capitán fue.", "Nadie sabe."), "Nadie sabe [donde] [el] [capitán] [fue.]")
        XCTAssertEqual(marks("Hola , mundo", "Hola mundo"), "Hola [,] mundo", "a word of punctuation only is compared as it is")
        XCTAssertEqual(marks("Sabe", "sabe"), "[Sabe]", "case is a change")
        XCTAssertEqual(marks("Hello there", "Hello there"), "Hello there")
        XCTAssertEqual(marks("Hello there", ""), "[Hello] [there]")
        XCTAssertEqual(marks("a b a b", "b a"), "[a] b a [b]")
        XCTAssertEqual(marks("one\ntwo  three", "one two"), "one two [three]", "line breaks and runs of spaces separate words")
        let long = Array(repeating: "w", count: 500).joined(separator: " ")
        XCTAssertFalse(DeskView.wordChanges(long, "w").contains { $0.changed }, "past 400 words: shown without marks")
    }

    /// The picker's rows: runs of unchanged and changed words, the spaces between never marked.
    func testProposalRunsMarkTheChangedWordsOnly() {
        let runs = DeskView.changedRuns("Nadie sabe donde el capitán fue.", against: "Nadie sabe.")
        XCTAssertEqual(runs.map(\.text).joined(), "Nadie sabe donde el capitán fue.")
        XCTAssertEqual(runs.filter(\.changed).map(\.text), ["donde el capitán fue."])
        XCTAssertEqual(DeskView.changedRuns("a x b y", against: "a b").map { $0.changed ? "[\($0.text)]" : $0.text }.joined(), "a [x] b [y]")
        XCTAssertEqual(DeskView.changedRuns("same", against: "same"), [DeskView.TextRun(text: "same", changed: false)])
    }
}
