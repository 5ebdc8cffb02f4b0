import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// The second edition's matching on simulated seasons, and its rules one by one.
final class SecondEditionMatchingTests: XCTestCase {
    func figures(edition: Int, seasons: Int) throws -> SeasonSimulator.Figures {
        var s = SeasonSimulator(seed: 7)
        return try s.measure(seasons: seasons) { store, labels, series, episode in
            let r = edition == 1
                ? store.identify(labels: labels.map { ($0.name, $0.embedding) }, series: series, episode: episode)
                : store.identify(evidence: labels.map { LabelEvidence(label: $0.name, embedding: $0.embedding, utterances: $0.utterances, seconds: $0.seconds) },
                                 series: series, episode: episode)
            return Dictionary(r.map { ($0.label, $0.characterID) }, uniquingKeysWith: { a, _ in a })
        }
    }

    func testTheSimulatorHasRealEmbeddingsStatistics() throws {
        let f = try figures(edition: 1, seasons: 30)
        XCTAssertEqual(f.sameMean, 0.87, accuracy: 0.02)
        XCTAssertEqual(f.differentMean, 0.53, accuracy: 0.03)
        XCTAssertGreaterThan(f.sameMin, 0.55)
        XCTAssertLessThan(f.differentMax, 0.80)
    }

    func testFewerSharedCharactersWithoutLosingStability() throws {
        let first = try figures(edition: 1, seasons: 120), second = try figures(edition: 2, seasons: 120)
        XCTAssertLessThan(second.sharedPerSeason, first.sharedPerSeason * 0.8, "first \(first), second \(second)")
        XCTAssertGreaterThan(second.stability, first.stability - 0.003, "first \(first), second \(second)")
    }

    func store() throws -> CharacterStore {
        let s = try CharacterStore.open("/nonexistent/dubdeck-test.json")
        try s.checkEmbedding(type: "t", dim: 4, model: nil, file: "test")
        return s
    }

    func testAProvisionalCharacterTakesOnlyACloserVoice() throws {
        let s = try store()
        let a: [Float] = [1, 0, 0, 0]
        let first = s.identify(evidence: [LabelEvidence(label: "A", embedding: a, utterances: 10, seconds: 30)], series: "s", episode: "e1")
        XCTAssertTrue(first[0].created)
        // 0.72 to a character seen once: a stranger, not the same person.
        let near: [Float] = [0.72, 0.694, 0, 0]
        let second = s.identify(evidence: [LabelEvidence(label: "B", embedding: near, utterances: 10, seconds: 30)], series: "s", episode: "e2")
        XCTAssertTrue(second[0].created, "\(second)")
        // The first edition took it for the same one.
        let s1 = try store()
        _ = s1.identify(labels: [("A", a)], series: "s", episode: "e1")
        XCTAssertFalse(s1.identify(labels: [("B", near)], series: "s", episode: "e2")[0].created)
    }

    func testThinEvidenceMovesNoAverage() throws {
        let s = try store()
        _ = s.identify(evidence: [LabelEvidence(label: "A", embedding: [1, 0, 0, 0], utterances: 10, seconds: 30)], series: "s", episode: "e1")
        let id = s.active[0].id
        let before = s.character(id)!.embeddingAvg
        let r = s.identify(evidence: [LabelEvidence(label: "A", embedding: [0.95, 0.31, 0, 0], utterances: 1, seconds: 1.2)], series: "s", episode: "e2")
        XCTAssertEqual(r[0].characterID, id, "matched")
        XCTAssertEqual(s.character(id)!.embeddingAvg, before, "but thin: the average stays")
        _ = s.identify(evidence: [LabelEvidence(label: "A", embedding: [0.95, 0.31, 0, 0], utterances: 8, seconds: 20)], series: "s", episode: "e3")
        XCTAssertNotEqual(s.character(id)!.embeddingAvg, before, "enough speech moves it")
    }
}
