import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// The direct reading of translated.json gives exactly the generic reading's segments, and gives
/// up (nil) on everything the generic reading refuses — so the error is always the generic one's.
final class DirectSegmentsTests: XCTestCase {
    func generic(_ text: String) -> [Segment]? {
        guard let root = try? JSONParser.parse(Array(text.utf8)) else { return nil }
        return try? JobLoader.segments(from: root, file: "t")
    }

    func describe(_ s: Segment) -> String {
        "\(s.number)|\(s.start)|\(s.end)|\(s.speaker)|\(s.srcText)|\(s.text)|\(s.characterID ?? "-")"
    }

    func testSameSegmentsAndNeverLessStrict() {
        let seg = #"{"start": 1.5, "end": 2, "text": "Hi", "src_text": "やあ", "speaker": "A"}"#
        let docs = [
            #"{"segments": [\#(seg)]}"#,
            "\u{FEFF}" + #"{"segments": [\#(seg)], "meta": {"x": [1, 2, {"y": null}]}}"#,
            #"{"segments": [{"start": 0, "end": 0, "tgt_text": "a", "source_text": "b", "speaker_id": "S", "character_id": "SPEAKER_01", "extra": [1]}]}"#,
            #"{"segments": [{"start": 0, "end": 1, "text": null, "tgt_text": "a", "speaker": null, "speaker_id": "S", "character_id": ""}]}"#,
            #"{"segments": [{"start": 0, "end": 1, "text": "a", "tgt_text": 5}]}"#,
            #"{"segments": []}"#,
            // refused by the generic reading: the direct one must give up
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
        ]
        for d in docs {
            let g = generic(d), f = JobLoader.segmentsDirect(Array(d.utf8))
            if let g {
                if let f { XCTAssertEqual(f.map(describe), g.map(describe), d) }  // the direct reading may give up, never differ
                if d.contains("\"tgt_text\": 5") { XCTAssertNil(f, "a field the generic reading ignores but the direct one cannot type: give up") } else { XCTAssertNotNil(f, d) }
            } else {
                XCTAssertNil(f, "refused by the generic reading, so the direct one must give up: \(d)")
            }
        }
    }
}
