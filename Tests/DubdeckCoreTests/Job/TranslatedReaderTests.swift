import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// translated.json's one reader against Foundation's JSONSerialization read by the format's rules
/// (TestSupport's JSONOracle): the same lines on every document both accept, refused where the
/// rules refuse, and the exact errors in the order a whole-tree reading gives them.
final class TranslatedReaderTests: XCTestCase {
    func describe(_ s: Segment) -> String {
        "\(s.number)|\(s.start)|\(s.end)|\(s.speaker)|\(s.srcText)|\(s.text)|\(s.characterID ?? "-")"
    }

    func read(_ d: String) -> Result<[String], DubdeckError> {
        Result { try JobLoader.segments(from: Array(d.utf8), file: "t") }.map { $0.map(describe) }.mapError { $0 as! DubdeckError }
    }

    func testTheSameLinesAsFoundationReadByTheRules() {
        let seg = #"{"start": 1.5, "end": 2, "text": "Hi", "src_text": "やあ", "speaker": "A"}"#
        let docs = [
            #"{"segments": [\#(seg)]}"#,
            "\u{FEFF}" + #"{"segments": [\#(seg)], "meta": {"x": [1, 2, {"y": null}]}}"#,
            #"{"segments": [{"start": 0, "end": 0, "tgt_text": "a", "source_text": "b", "speaker_id": "S", "character_id": "SPEAKER_01", "extra": [1]}]}"#,
            #"{"segments": [{"start": 0, "end": 1, "text": null, "tgt_text": "a", "speaker": null, "speaker_id": "S", "character_id": ""}]}"#,
            #"{"segments": [{"start": 0, "end": 1, "text": "a", "tgt_text": 5}]}"#,
            #"{"segments": []}"#,
            // refused by the rules
            #"{"segments": [{"start": 2, "end": 1, "text": "a"}]}"#,
            #"{"segments": [{"start": -1, "end": 1, "text": "a"}]}"#,
            #"{"segments": [{"start": 0, "end": 1e9, "text": "a"}]}"#,
            #"{"segments": [{"start": 0, "end": 1}]}"#,
            #"{"segments": [{"start": "0", "end": 1, "text": "a"}]}"#,
            #"{"segments": [{"start": 0, "end": 1, "text": "a", "text": "b"}]}"#,
            #"{"segments": [{"start": 0, "end": 1, "text": "a", "te\u0078t": "b"}]}"#,
            #"{"segments": [{"start": 0, "end": 1, "text": "a", "character_id": "../x"}]}"#,
            #"{"segments": [{"start": 0, "end": 1, "text": ["a"]}]}"#,
            #"{"segments": [[]]}"#,
            #"{"segments": {}}"#,
            #"{"segment": []}"#,
            #"[]"#,
            #"{"segments": []} x"#,
            #"{"segments": [{"start": 0, "end": 1, "text": "a"}],}"#,
            #"{"segments": [{"start": 0, "end": 1, "text": "a", "speaker": 3}]}"#,
            #"{"segments": [{"start": 0, "end": 1, "te\u0078t": "escaped name"}], "segment\u0073": 1}"#,
            #"{"segm\u0065nts": [{"start": 0, "end": 1, "text": "a"}]}"#,
        ]
        // Refused by JSON itself (Foundation keeps one of two equal keys; dubdeck refuses them).
        let jsonLevel = [docs[11], docs[12], docs[20], docs[docs.count - 2]]  // and a trailing comma
        for d in docs {
            let expected = JSONOracle.segments(Array(d.utf8))
            switch read(d) {
            case .success(let lines):
                XCTAssertEqual(lines, expected, d)
            case .failure:
                if !jsonLevel.contains(d) { XCTAssertNil(expected, "the rules accept what the reader refused: \(d)") }
            }
        }
    }

    /// The fault reported is the one a whole-tree reading reports: the syntax anywhere first, then
    /// the first line at fault, then a missing "segments".
    func testTheFaultReportedIsTheFirst() {
        func message(_ d: String) -> String? { if case .failure(let e) = read(d) { return String(e.message.dropFirst("t: ".count)) } else { return nil } }
        XCTAssertEqual(message(#"{"segments": [{"start": 0, "end": 1, "text": 5}, {"start": "x"}]}"#), "segment 1: \"text\" must be a string, not number")
        XCTAssertEqual(message(#"{"segments": [{"start": 0, "end": 1, "text": 5}, {"start": 1, x}]}"#)?.hasPrefix("segment 2: line 1: "), true)
        XCTAssertEqual(message(#"{"segments": [[], {"start": 0}]}"#), "segment 1: expected an object, not array")
        XCTAssertEqual(message(#"{"segments": [{"end": 1, "text": "a"}]}"#), "segment 1: missing \"start\"")
        XCTAssertEqual(message(#"{"segments": [{"start": 0, "end": 1, "text": null, "tgt_text": null}]}"#), "segment 1: missing \"text\"")
        XCTAssertEqual(message(#"{"segments": 3, "x": [}"#)?.contains("line 1"), true, "the syntax before the type of segments")
        XCTAssertEqual(message(#"{"segments": 3}"#), "\"segments\" must be an array, not number")
        XCTAssertEqual(message(#"{"x": 1}"#), "missing \"segments\"")
        XCTAssertEqual(message(#"[1, 2]"#), "expected a JSON object with \"segments\"")
        XCTAssertEqual(message(#"{"segments": [{"start": 0, "end": 1e9, "text": "a"}]}"#), "segment 1: end 1000000000 is past 48 hours (172800 s)")
    }
}
