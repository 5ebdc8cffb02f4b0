import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// The desk's reading of the store (names and voices, in chunks, embeddings stripped on the way,
/// parsed only after the tag verified) gives what the whole reading gives, and refuses what it refuses.
final class StoreSkimTests: KeyEnvironmentTestCase {
    func strip(_ text: String, chunk: Int) -> String {
        var s = EmbeddingStripper()
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let n = min(chunk, bytes.count - i)
            bytes.withUnsafeBufferPointer { s.feed(UnsafeBufferPointer(rebasing: $0[i..<(i + n)])) }
            i += n
        }
        return String(decoding: s.output, as: UTF8.self)
    }

    func testTheStripperDropsOnlyEmbeddingStringValuesWhereverTheChunksEnd() {
        let text = #"{"embedding": {"type": "ecapa"}, "characters": {"A": {"name": "embedding", "notes": "say \"embedding\": \"x\"", "#
            + #""embedding_avg": "QUJD\/RA==", "snapshots": [{"embedding" : "AAAA", "at": "t"}], "embedding_count": 3, "x": "embedding_avg"}}}"#
        let want = #"{"embedding": {"type": "ecapa"}, "characters": {"A": {"name": "embedding", "notes": "say \"embedding\": \"x\"", "#
            + #""embedding_avg": null, "snapshots": [{"embedding" : null, "at": "t"}], "embedding_count": 3, "x": "embedding_avg"}}}"#
        for chunk in [1, 2, 3, 7, 64, 1 << 20] { XCTAssertEqual(strip(text, chunk: chunk), want, "chunks of \(chunk)") }
    }

    func testSkimmedReadingEqualsTheWholeReadingAndRefusesTheSame() throws {
        _ = useRawKey()
        let path = dir.file("data/characters.json")
        let s = try CharacterStore.open(path)
        try s.update { s in
            try s.checkEmbedding(type: "t", dim: 4, model: nil, file: "test")
            _ = s.identify(evidence: [LabelEvidence(label: "A", embedding: [1, 0.2, 0, 0], utterances: 5, seconds: 20),
                                      LabelEvidence(label: "B", embedding: [0, 0, 1, 0.1], utterances: 5, seconds: 20)], series: "s", episode: "e1")
            try s.rename("SPEAKER_01", to: "Hana \"embedding\": x")
        }
        let whole = try CharacterStore.open(path), skim = try CharacterStore.open(path, withEmbeddings: false)
        XCTAssertEqual(skim.characters.count, 2)
        for (a, b) in zip(whole.characters, skim.characters) {
            XCTAssertEqual([a.id, a.name, a.createdAt, a.updatedAt], [b.id, b.name, b.createdAt, b.updatedAt])
            XCTAssertEqual(a.series.map(\.info), b.series.map(\.info))
            XCTAssertEqual(a.voice, b.voice)
            XCTAssertTrue(b.embeddingAvg.isEmpty && b.snapshots.isEmpty, "no embedding kept")
        }
        XCTAssertTrue(skim.exists)
        var bytes = try XCTUnwrap(try FileIO.readIfExists(path))
        bytes[bytes.count / 2] ^= 1
        let tampered = dir.file("tampered.json")
        try FileIO.writeAtomically(tampered, bytes)
        XCTAssertThrowsError(try CharacterStore.open(tampered, withEmbeddings: false)) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .dataError)
            XCTAssertTrue((e as? DubdeckError)?.message.contains("authentication failed") == true, "\(e)")
        }
        try FileIO.writeAtomically(tampered, Array(bytes.prefix(70)))
        XCTAssertThrowsError(try CharacterStore.open(tampered, withEmbeddings: false)) { e in XCTAssertEqual((e as? DubdeckError)?.status, .dataError) }
        symlink(path, dir.file("link.json"))
        XCTAssertThrowsError(try CharacterStore.open(dir.file("link.json"), withEmbeddings: false)) { e in XCTAssertEqual((e as? DubdeckError)?.status, .dataError) }
        setenv("DUBDECK_STORE_KEY", Base64.encode([UInt8](repeating: 1, count: 32)), 1)
        XCTAssertThrowsError(try CharacterStore.open(path, withEmbeddings: false)) { e in XCTAssertEqual((e as? DubdeckError)?.status, .keyError) }
    }
}
