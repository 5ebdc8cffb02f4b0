import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

final class JobLoaderTests: XCTestCase {
    func loadError(_ translated: String, file: String = "translated.json") -> DubdeckError? {
        let dir = TempDir()
        dir.write("ep/translated.json", #"{"segments":[{"start":0,"end":1,"text":"a"}]}"#)
        dir.write("ep/" + file, translated)
        do {
            _ = try JobLoader.load(dir.file("ep"))
            return nil
        } catch let e as DubdeckError {
            return e
        } catch {
            XCTFail("unexpected \(error)")
            return nil
        }
    }

    func testAliasesAndDefaults() throws {
        let dir = TempDir()
        dir.write("ep07/translated.json", #"{"segments":[{"start":1.2,"end":3.45,"speaker_id":"SPEAKER_01","source_text":"やあ","tgt_text":"Hi","extra":1},{"start":4,"end":5,"speaker":"SPEAKER_02","src_text":"え","text":"Eh","character_id":"SPEAKER_09"}]}"#)
        let job = try JobLoader.load(dir.file("ep07"))
        XCTAssertEqual(job.segments.count, 2)
        XCTAssertEqual(job.segments[0].speaker, "SPEAKER_01")
        XCTAssertEqual(job.segments[0].srcText, "やあ")
        XCTAssertEqual(job.segments[0].text, "Hi")
        XCTAssertEqual(job.segments[0].start, 1.2)
        XCTAssertEqual(job.info.stem, "ep07")
        XCTAssertEqual(job.info.episode, "ep07")
        XCTAssertEqual(job.info.tgtLang, "en")
        XCTAssertNil(job.info.seriesID, "the directory name is never a series")
        XCTAssertEqual(job.characterID(of: job.segments[1]), "SPEAKER_09")
    }

    func testJobJSONDiarizationAndMap() throws {
        let dir = TempDir()
        Fixtures.job(in: dir)
        dir.write("ep01/job.json", #"{"stem":"s","series_id":"show_s01","episode":"e1","source_audio":"src.flac","tgt_lang":"de"}"#)
        dir.write("ep01/diarization.json", #"{"segments":[{"start":1,"end":2,"speaker":"SPEAKER_00","conf":0.9}],"speaker_embeddings":{"SPEAKER_00":[0.1,0.2,0.3],"SPEAKER_01":[0.3,0.2,0.1]}}"#)
        dir.write("ep01/characters.map.json", #"{"series_id":"show_s01","episode":"e1","labels":{"SPEAKER_00":{"character_id":"SPEAKER_07","similarity":0.9,"created":false}}}"#)
        let job = try JobLoader.load(dir.file("ep01"))
        XCTAssertEqual(job.info.seriesID, "show_s01")
        XCTAssertEqual(job.info.stem, "s")
        XCTAssertEqual(job.info.tgtLang, "de")
        XCTAssertEqual(job.sourceAudioPath, dir.file("ep01") + "/src.flac")
        XCTAssertEqual(job.diarizationLabels, ["SPEAKER_00", "SPEAKER_01"])
        XCTAssertEqual(job.embeddingDim, 3)
        XCTAssertEqual(job.characterID(of: job.segments[0]), "SPEAKER_07")
        XCTAssertNil(job.characterID(of: job.segments[1]))
    }

    func testOverlapsAndDuplicatesAreLegalAndFound() throws {
        let dir = TempDir()
        Fixtures.job(in: dir, lines: [
            .init(0, 2, "A", "", "one"), .init(1.5, 3, "B", "", "two"), .init(4, 5, "A", "", "three"), .init(4, 5, "B", "", "four"),
        ])
        let job = try JobLoader.load(dir.file("ep01"))
        XCTAssertEqual(job.overlapping, [1, 2, 3, 4])
        XCTAssertEqual(job.duplicated, [3, 4])
    }

    func testMissingInputs() {
        let dir = TempDir()
        XCTAssertThrowsError(try JobLoader.load(dir.file("nope"))) { XCTAssertEqual(($0 as! DubdeckError).status, .noInput) }
        dir.write("empty/readme", "x")
        XCTAssertThrowsError(try JobLoader.load(dir.file("empty"))) { e in
            let e = e as! DubdeckError
            XCTAssertEqual(e.status, .noInput)
            XCTAssertTrue(e.message.contains("translated.json"), e.message)
        }
    }

    func testBadInputNamesFileSegmentAndCause() {
        let cases: [(String, String)] = [
            (#"{"segments":[{"start":0,"end":1,"text":"a"},{"start":2,"end":1,"text":"b"}]}"#, "segment 2: end 1 is before start 2"),
            (#"{"segments":[{"start":0,"end":1,"text":"a"},{"start":"2","end":3,"text":"b"}]}"#, "segment 2: \"start\" must be a number"),
            (#"{"segments":[{"start":0,"end":NaN,"text":"a"}]}"#, "segment 1: line 1: NaN"),
            (#"{"segments":[{"start":0,"end":1,"text":"a"},{"start":1,"end":Infinity,"text":"b"}]}"#, "segment 2: line 1: Infinity"),
            (#"{"segments":[{"start":0,"end":1}]}"#, "segment 1: missing \"text\""),
            (#"{"segments":[{"start":0,"end":1,"text":5}]}"#, "segment 1: \"text\" must be a string, not number"),
            (#"{"segments":{}}"#, "\"segments\" must be an array"),
            (#"{"segments":[{"start":0,"end":1,"text":"a"}"#, "line 1: unexpected end of file"),
            (#"[]"#, "expected a JSON object"),
            (#"{"segments":[{"start":-1,"end":1,"text":"a"}]}"#, "segment 1: start -1 is negative"),
        ]
        for (text, expected) in cases {
            guard let e = loadError(text) else { XCTFail("accepted: \(text)"); continue }
            XCTAssertEqual(e.status, .dataError, text)
            XCTAssertTrue(e.message.contains("translated.json"), e.message)
            XCTAssertTrue(e.message.contains(expected), "\(e.message) lacks \(expected)")
        }
    }

    func testInvalidUTF8NamesTheSegment() {
        let dir = TempDir()
        var bytes = Array(#"{"segments":[{"start":0,"end":1,"text":"a"},{"start":1,"end":2,"text":"b"#.utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array(#""}]}"#.utf8)
        dir.writeBytes("translated.json", bytes)
        XCTAssertThrowsError(try JobLoader.load(dir.path)) { e in
            let e = e as! DubdeckError
            XCTAssertEqual(e.status, .dataError)
            XCTAssertTrue(e.message.contains("segment 2") && e.message.contains("UTF-8"), e.message)
        }
    }

    func testBadOptionalFiles() {
        XCTAssertTrue(loadError(#"{"series_id": 5}"#, file: "job.json")!.message.contains("job.json: series_id must be a string"))
        XCTAssertTrue(loadError(#"{"speaker_embeddings":{"A":[1,2],"B":[1]}}"#, file: "diarization.json")!.message.contains("diarization.json"))
        XCTAssertEqual(loadError("{", file: "diarization.json")?.status, .dataError)
    }
}
