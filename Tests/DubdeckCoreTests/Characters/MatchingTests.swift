import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// Deterministic Gaussian-ish noise.
struct Noise {
    var state: UInt64
    mutating func next() -> Float {
        var sum: Float = 0
        for _ in 0..<4 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            sum += Float(state >> 40) / Float(1 << 24) - 0.5
        }
        return sum  // roughly normal, sd ~0.58
    }
    mutating func vector(_ dim: Int) -> [Float] { (0..<dim).map { _ in next() } }
}

final class MatchingTests: KeyEnvironmentTestCase {
    let dim = 192

    func newStore() throws -> CharacterStore {
        _ = useRawKey()
        return try CharacterStore.open(dir.file("data/characters.json"))
    }

    /// An episode job with the given label embeddings.
    func episode(_ name: String, series: String = "show_s01", labels: [(String, [Float])]) -> Job {
        let path = Fixtures.job(in: dir, name: name, lines: [.init(0, 1, labels[0].0, "", "x")], series: series)
        let table = JSONObject(labels.map { ($0.0, JSONValue.array($0.1.map { .number(Double($0)) })) })
        // Each label with enough speech behind it (three 2-second turns): evidence that counts.
        let turns: [JSONValue] = labels.enumerated().flatMap { k, l in (0..<3).map { t in
            JSONValue.object(JSONObject([("start", .number(Double(k * 10 + t * 3))), ("end", .number(Double(k * 10 + t * 3 + 2))), ("speaker", .string(l.0))]))
        } }
        let doc = JSONValue.object(JSONObject([("segments", .array(turns)), ("speaker_embeddings", .object(table)),
                                               ("embedding", .object(JSONObject([("type", .string("ecapa")), ("dim", .number(dim))])))]))
        dir.write("\(name)/diarization.json", String(decoding: JSONWriter.encode(doc), as: UTF8.self))
        return try! JobLoader.load(path)
    }

    func testSeasonKeepsIdentitiesWithoutCollapseOrDrift() throws {
        let store = try newStore()
        var noise = Noise(state: 11)
        let centers = (0..<5).map { _ in Matching.normalized(noise.vector(dim)) }
        var firstIDs: [Int: String] = [:]
        for ep in 1...10 {
            // Each episode: labels in a shuffled order, each a noisy copy of its speaker's voice.
            let order = (0..<5).sorted { ($0 * 7 + ep * 3) % 5 < ($1 * 7 + ep * 3) % 5 }
            let labels = order.enumerated().map { k, spk -> (String, [Float]) in
                ("SPEAKER_0\(k)", zip(centers[spk], noise.vector(dim)).map { $0 + 0.035 * $1 })
            }
            let job = episode(String(format: "ep%02d", ep), labels: labels)
            let outcome = try CharacterIdentifier.identify(job: job, store: store, threshold: 0.70, force: false)
            XCTAssertEqual(Set(outcome.assignments.map { $0.characterID }).count, 5, "episode \(ep): no two speakers collapsed")
            for (k, spk) in order.enumerated() {
                let id = outcome.assignments.first { $0.label == "SPEAKER_0\(k)" }!.characterID
                if ep == 1 { firstIDs[spk] = id } else { XCTAssertEqual(id, firstIDs[spk], "episode \(ep): speaker \(spk) kept its ID") }
            }
        }
        let reopened = try CharacterStore.open(dir.file("data/characters.json"))
        XCTAssertEqual(reopened.active.count, 5)
        for (spk, id) in firstIDs {
            let c = reopened.character(id)!
            XCTAssertGreaterThan(Matching.cosine(c.embeddingAvg, centers[spk]), 0.97, "no drift")
            XCTAssertEqual(c.seriesInfo("show_s01")?.seen, 10)
            XCTAssertEqual(c.seriesInfo("show_s01")?.lastEpisode, "ep10")
            XCTAssertEqual(c.snapshots.count, 8, "the last 8 snapshots")
            XCTAssertEqual(c.embeddingCount, 10)
        }
    }

    /// Per-label quality from diarization: a segment diarization is unsure of (conf < 0.5) is no
    /// speech of its label; a label with only such segments is thin (no speech), not unknown; a conf
    /// that is not a number in [0, 1] leaves its segment out.
    func testDiarizationConfidenceDecidesWhatCountsAsSpeech() throws {
        let path = Fixtures.job(in: dir, name: "conf", lines: [.init(0, 1, "A", "", "x")], series: "s")
        let segs: [(String, Double, Double, JSONValue)] = [
            ("A", 0, 4, .number(0.9)), ("A", 5, 9, .number(0.3)), ("A", 10, 12, .null), ("A", 13, 15, .string("high")),
            ("A", 16, 18, .number(1.5)), ("B", 0, 9, .number(0.2)), ("B", 10, 19, .number(0.49)),
        ]
        let doc = JSONValue.object(JSONObject([("segments", .array(segs.map { l, a, b, c in
            .object(JSONObject([("start", .number(a)), ("end", .number(b)), ("speaker", .string(l)), ("conf", c)]))
        }))]))
        dir.write("conf/diarization.json", String(decoding: JSONWriter.encode(doc), as: UTF8.self))
        let speech = CharacterIdentifier.speechPerLabel(try JobLoader.load(path))
        XCTAssertEqual(speech["A"]?.count, 2, "conf 0.9 and no conf count; 0.3 does not; a bad conf leaves its segment out")
        XCTAssertEqual(speech["A"]?.seconds ?? 0, 6, accuracy: 1e-9)
        XCTAssertEqual(speech["B"]?.count, 0, "only unsure segments: known to have no speech")
        XCTAssertTrue(LabelEvidence(label: "B", embedding: [], utterances: speech["B"]?.count, seconds: speech["B"]?.seconds).thin)
    }

    func testJointAssignmentBeatsGreedy() {
        // x is a little closer to A than to B; y can only be A. Greedy takes A for x and leaves y
        // without a match (a new, duplicate character); the joint assignment gives both a match.
        let weights: [[Float?]] = [[0.95, 0.90], [0.91, nil]]
        let joint = Matching.assign(weights)
        XCTAssertEqual(joint, [1, 0])
        XCTAssertEqual(Matching.assign([[0.9, 0.1, 0.2], [0.8, 0.7, nil], [nil, nil, 0.75]]), [0, 1, 2])
        XCTAssertEqual(Matching.assign([[nil, nil]]), [nil])
    }

    func testJointAssignmentInIdentify() throws {
        let store = try newStore()
        var noise = Noise(state: 3)
        let a = Matching.normalized(noise.vector(dim)), n1 = Matching.normalized(noise.vector(dim)), n2 = Matching.normalized(noise.vector(dim))
        func mix(_ parts: [(Float, [Float])]) -> [Float] {
            var v = [Float](repeating: 0, count: dim)
            for (w, p) in parts { for i in 0..<dim { v[i] += w * p[i] } }
            return v
        }
        // Characters A and B; B is close to A (cos ≈ 0.75, below the split threshold).
        let b = mix([(0.75, a), (0.661, n1)])
        _ = try CharacterIdentifier.identify(job: episode("ep01", labels: [("L0", a), ("L1", b)]), store: store, threshold: 0.7, force: false)
        let ids = try CharacterStore.open(dir.file("data/characters.json")).active.map { $0.id }
        XCTAssertEqual(ids.count, 2)
        // x: cos(x,A) ≈ 0.92 > cos(x,B) ≈ 0.90; y: cos(y,A) ≈ 0.86, cos(y,B) ≈ 0.45 (not eligible);
        // cos(x,y) ≈ 0.6 (two speakers). Greedy gives A to x and leaves y without a character.
        let x = mix([(0.92, a), (0.3177, n1), (0.2295, n2)])
        let y = mix([(0.86, a), (-0.3, n1), (-0.412, n2)])
        XCTAssertGreaterThan(Matching.cosine(x, a), Matching.cosine(x, b), "the case is built so that greedy fails")
        let out = try CharacterIdentifier.identify(job: episode("ep02", labels: [("x", x), ("y", y)]), store: store, threshold: 0.7, force: false)
        let got = Dictionary(uniqueKeysWithValues: out.assignments.map { ($0.label, $0.characterID) })
        XCTAssertEqual(got["y"], ids[0], "y is A")
        XCTAssertEqual(got["x"], ids[1], "x takes B rather than leaving y unmatched")
        XCTAssertFalse(out.assignments.contains { $0.created })
    }

    func testSplitLabelsAreOneSpeakerAndOtherSeriesNeedsTheUpdateThreshold() throws {
        let store = try newStore()
        var noise = Noise(state: 5)
        let v = Matching.normalized(noise.vector(dim))
        let near = zip(v, noise.vector(dim)).map { $0 + 0.02 * $1 }
        let out = try CharacterIdentifier.identify(job: episode("ep01", labels: [("A", v), ("B", near)]), store: store, threshold: 0.7, force: false)
        XCTAssertEqual(Set(out.assignments.map { $0.characterID }).count, 1, "a diarization split is one character")
        // Another series: a 0.75 match is not enough (needs 0.80).
        let w = Matching.normalized(noise.vector(dim))
        let other = zip(v, w).map { 0.75 * $0 + 0.66 * $1 }
        let out2 = try CharacterIdentifier.identify(job: episode("x01", series: "other_s01", labels: [("A", other)]), store: store, threshold: 0.7, force: false)
        XCTAssertTrue(out2.assignments[0].created)
    }

    /// SPEC §11.12: an episode is matched against its series' characters; the rest of the store is
    /// read only for a voice the series cannot place, and then only at the update threshold. The
    /// shape is counted (rows compared), not timed: the old matching compared every character.
    func testASeriesIsMatchedAgainstItsOwnCharactersAndTheStoreOnlyForANewVoice() throws {
        let store = try newStore()
        try store.checkEmbedding(type: "ecapa", dim: dim, model: nil, file: "test")
        var noise = Noise(state: 21)
        let cast = (0..<4).map { _ in Matching.normalized(noise.vector(dim)) }
        func near(_ v: [Float], _ k: Float) -> [Float] { Matching.normalized(zip(v, noise.vector(dim)).map { $0 + k * $1 }) }
        let seed = store.identify(evidence: cast.enumerated().map { LabelEvidence(label: "S\($0.offset)", embedding: $0.element, utterances: 5, seconds: 20) },
                                  series: "mine", episode: "e1")
        // A large store of other series' characters, one of them close to cast member 0 (below the
        // update threshold, so it became a character of its own).
        let twin = near(cast[0], 0.1)
        XCTAssertLessThan(Matching.cosine(twin, cast[0]), 0.8)
        _ = store.identify(evidence: [LabelEvidence(label: "T", embedding: twin, utterances: 5, seconds: 20)], series: "theirs", episode: "t1")
        for e in 0..<60 {
            _ = store.identify(evidence: (0..<5).map { LabelEvidence(label: "O\($0)", embedding: Matching.normalized(noise.vector(dim)), utterances: 5, seconds: 20) },
                               series: "other\(e % 6)", episode: "o\(e)")
        }
        let twinID = store.characters.first { $0.seriesInfo("theirs") != nil }!.id
        XCTAssertGreaterThan(store.characters.count, 300)
        // The series' own characters are compared, not the 300 others: four labels × four characters.
        let before = store.rowsCompared
        let again = store.identify(evidence: cast.enumerated().map { LabelEvidence(label: "S\($0.offset)", embedding: near($0.element, 0.05), utterances: 5, seconds: 20) },
                                   series: "mine", episode: "e2")
        XCTAssertEqual(again.map(\.characterID), seed.map(\.characterID), "the cast is found again")
        XCTAssertEqual(store.rowsCompared - before, 4 * 4, "only the series' rows were read")
        // Cast member 0's twin in another series is more alike than cast member 0's own average, yet
        // the series' character is preferred (SPEC §4.2: a character of the series first).
        let q = near(twin, 0.002)
        let own = Matching.cosine(q, store.character(seed[0].characterID)!.embeddingAvg)
        XCTAssertGreaterThan(own, 0.7)
        XCTAssertGreaterThan(Matching.cosine(q, twin), own + 0.15, "the other series' character is far more alike")
        let beforeMatch = store.rowsCompared
        XCTAssertEqual(store.match(q, series: "mine")?.0, seed[0].characterID)
        XCTAssertEqual(store.rowsCompared - beforeMatch, 4, "one match read the series' four rows")
        // A voice new to the series: the store is read, and the twin (≥ 0.80) is found there.
        let reads = store.rowsCompared
        XCTAssertEqual(store.match(q, series: "newcomer")?.0, twinID)
        XCTAssertGreaterThan(store.rowsCompared - reads, 300, "a new series reads the other series' characters")
        let out = store.identify(evidence: [LabelEvidence(label: "N", embedding: q, utterances: 5, seconds: 20)], series: "newcomer", episode: "n1")
        XCTAssertEqual(out.first?.characterID, twinID)
        XCTAssertFalse(out.first?.created ?? true)
        // Below the update threshold another series' character is never taken.
        let far = Matching.normalized(zip(twin, noise.vector(dim).map { $0 * 0.12 }).map { $0 * 0.75 + $1 })
        XCTAssertLessThan(Matching.cosine(far, twin), 0.8)
        XCTAssertNil(store.match(far, series: "stranger"))
    }

    func testReidentifyCountsNothingTwiceAndMovesNothingUnlessForced() throws {
        let store = try newStore()
        var noise = Noise(state: 9)
        let v = noise.vector(dim)
        let job = episode("ep01", labels: [("S", v)])
        _ = try CharacterIdentifier.identify(job: job, store: store, threshold: 0.7, force: false)
        let before = try CharacterStore.open(dir.file("data/characters.json")).characters
        let bytes = dir.bytes("data/characters.json")
        let again = try CharacterIdentifier.identify(job: job, store: try CharacterStore.open(dir.file("data/characters.json")), threshold: 0.7, force: false)
        XCTAssertTrue(again.reused)
        XCTAssertEqual(dir.bytes("data/characters.json"), bytes, "nothing written")
        let forced = try CharacterIdentifier.identify(job: job, store: try CharacterStore.open(dir.file("data/characters.json")), threshold: 0.7, force: true)
        XCTAssertFalse(forced.reused)
        let after = try CharacterStore.open(dir.file("data/characters.json")).characters
        XCTAssertEqual(after[0].seriesInfo("show_s01")?.seen, 1, "the episode is never counted twice")
        XCTAssertEqual(after[0].embeddingCount, before[0].embeddingCount + 1, "--force moves the average")
    }

    func testMixedDimsAndTypesAreRefused() throws {
        let store = try newStore()
        var noise = Noise(state: 1)
        _ = try CharacterIdentifier.identify(job: episode("ep01", labels: [("S", noise.vector(dim))]), store: store, threshold: 0.7, force: false)
        let path = Fixtures.job(in: dir, name: "ep02", series: "show_s01")
        dir.write("ep02/diarization.json", #"{"speaker_embeddings": {"S": [0.1, 0.2, 0.3]}, "embedding": {"type": "ecapa", "dim": 3}}"#)
        let before = dir.bytes("data/characters.json")
        XCTAssertThrowsError(try CharacterIdentifier.identify(job: try JobLoader.load(path), store: store, threshold: 0.7, force: false)) { e in
            XCTAssertEqual((e as! DubdeckError).status, .dataError)
            XCTAssertTrue((e as! DubdeckError).message.contains("ecapa/3"), (e as! DubdeckError).message)
        }
        XCTAssertEqual(dir.bytes("data/characters.json"), before)
        XCTAssertFalse(FileIO.exists(path + "/characters.map.json"))
    }

    func testMergeKeepsOldIDsResolvable() throws {
        let store = try newStore()
        try store.update { s in
            let a = s.create(name: "Chopper")
            let b = s.create(name: "")
            try s.merge(b, into: a)
        }
        let s = try CharacterStore.open(dir.file("data/characters.json"))
        XCTAssertEqual(s.resolve("SPEAKER_02")?.id, "SPEAKER_01")
        XCTAssertEqual(s.character("SPEAKER_02")?.mergedInto, "SPEAKER_01")
        XCTAssertEqual(s.active.map { $0.id }, ["SPEAKER_01"])
        XCTAssertEqual(s.voices()["SPEAKER_02"], s.character("SPEAKER_01")?.voice, "an old reference speaks with the voice it became")
        try s.update { _ = $0.create() }
        XCTAssertEqual(try CharacterStore.open(dir.file("data/characters.json")).characters.last?.id, "SPEAKER_03", "IDs are never reused")
        XCTAssertThrowsError(try s.merge("SPEAKER_01", into: "SPEAKER_01"))
    }

    func testConcurrentWritersLoseNothing() throws {
        let a = try newStore()
        try a.update { _ = $0.create(); _ = $0.create() }
        let one = try CharacterStore.open(dir.file("data/characters.json"))
        let two = try CharacterStore.open(dir.file("data/characters.json"))
        try one.update { try $0.rename("SPEAKER_01", to: "Robin") }
        try two.update { try $0.rename("SPEAKER_02", to: "Franky") }  // re-reads first: Robin survives
        let s = try CharacterStore.open(dir.file("data/characters.json"))
        XCTAssertEqual(s.characters.map { $0.name }, ["Robin", "Franky"])
    }

    func testUnknownFieldsRoundTripAndUnchangedCharactersKeepTheirBytes() throws {
        let store = try newStore()
        try store.update { s in
            let id = s.create(name: "Brook")
            s.modify(id) { $0.extra["custom"] = .object(JSONObject([("k", .number("1.50"))])) }
            _ = s.create(name: "Jinbe")
        }
        let s = try CharacterStore.open(dir.file("data/characters.json"))
        XCTAssertEqual(s.character("SPEAKER_01")?.extra["custom"], .object(JSONObject([("k", .number("1.50"))])))
        let rawBefore = s.raw[0]
        try s.update { try $0.rename("SPEAKER_02", to: "Jimbei") }
        XCTAssertEqual(s.raw[0], rawBefore)
    }
}

final class LegacyImportTests: KeyEnvironmentTestCase {
    func npy(_ version: UInt8, dtype: String, shape: String, values: [Double]) -> [UInt8] {
        Self.npy(version, dtype: dtype, shape: shape, values: values)
    }

    static func npy(_ version: UInt8, dtype: String, shape: String, values: [Double]) -> [UInt8] {
        var header = "{'descr': '\(dtype)', 'fortran_order': False, 'shape': \(shape), }"
        while (header.count + 1 + (version == 1 ? 10 : 12)) % 64 != 0 { header += " " }
        header += "\n"
        var b: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        let n = header.utf8.count
        b += version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), 0, 0]
        b += Array(header.utf8)
        let big = dtype.hasPrefix(">"), size = dtype.hasSuffix("8") ? 8 : 4
        for v in values {
            var bits: [UInt8] = []
            let raw: UInt64 = size == 8 ? v.bitPattern : UInt64(Float(v).bitPattern)
            for k in 0..<size { bits.append(UInt8((raw >> (8 * UInt64(k))) & 0xFF)) }
            b += big ? bits.reversed() : bits
        }
        return b
    }

    func testImportAllFormatsAndReport() throws {
        _ = useRawKey()
        try FileIO.makeDirectories(dir.file("legacy/voices/embeddings"))
        dir.writeBytes("legacy/voices/embeddings/a.npy", npy(1, dtype: "<f4", shape: "(4,)", values: [1, 0, 0, 0]))
        dir.writeBytes("legacy/voices/embeddings/b.npy", npy(2, dtype: ">f8", shape: "(1, 4)", values: [0, 1, 0, 0]))
        dir.writeBytes("legacy/voices/embeddings/c.npy", npy(3, dtype: "<f8", shape: "(2, 4)", values: [0, 0, 1, 0, 0, 0, 3, 0]))
        dir.writeBytes("legacy/voices/embeddings/d.npy", npy(1, dtype: ">f4", shape: "(4,)", values: [0, 0, 0, 2]))
        dir.writeBytes("legacy/voices/embeddings/wrongdim.npy", npy(1, dtype: "<f4", shape: "(3,)", values: [1, 2, 3]))
        dir.write("legacy/voices/embeddings/garbage.npy", "not numpy")
        let tone = AudioBuffer(samples: (0..<8000).map { Float(sin(Double($0) * 0.1)) * 0.2 }, rate: 16_000)
        try AudioFile.writeWAV16Atomically(tone, to: dir.file("legacy/voices/a.wav"))
        dir.write("legacy/voices/registry.json", """
        {"speakers": {"a": {"name": "Luffy", "wavs": ["a.wav"], "show": "one_piece"},
                      "b": {"embedding": "embeddings/b.npy"}, "c": {"name": "Zoro"}, "d": {},
                      "wrongdim": {}, "garbage": {}, "missing": {}}}
        """)
        let store = try CharacterStore.open(dir.file("data/characters.json"))
        let report = try LegacyImport.run(dir: dir.file("legacy"), store: store)
        XCTAssertEqual(report.imported.map { $0.label }, ["a", "b", "c", "d"])
        XCTAssertEqual(Set(report.refused.map { $0.label }), ["wrongdim", "garbage", "missing"])
        let s = try CharacterStore.open(dir.file("data/characters.json"))
        XCTAssertEqual(s.characters.map { $0.name }, ["Luffy", "b", "Zoro", "d"])
        XCTAssertEqual(s.characters[0].embeddingAvg, [1, 0, 0, 0])
        XCTAssertEqual(s.characters[1].embeddingAvg, [0, 1, 0, 0])
        XCTAssertEqual(s.characters[2].embeddingAvg, [0, 0, 2, 0], "(N,D) → mean")
        XCTAssertEqual(s.characters[3].embeddingAvg, [0, 0, 0, 2])
        XCTAssertEqual(s.characters[0].seriesInfo("one_piece")?.seen, 0)
        let ref = s.characters[0].speakerWavs.first!
        XCTAssertTrue(ref.hasSuffix("voices/SPEAKER_01/ref.wav"), ref)
        XCTAssertEqual(Double(try AudioFile.read(ref).peak), pow(10, -1.0 / 20), accuracy: 0.01, "normalized")
        XCTAssertNotNil(s.characters[0].voice)
        // Importing again takes nothing twice.
        let again = try LegacyImport.run(dir: dir.file("legacy"), store: s)
        XCTAssertTrue(again.imported.isEmpty)
        XCTAssertEqual(again.skipped.count, 4)
    }

    func testNothingImportedLeavesNoStore() throws {
        _ = useRawKey()
        dir.write("legacy/voices/registry.json", #"{"speakers": {"x": {}}}"#)
        let report = try LegacyImport.run(dir: dir.file("legacy"), store: try CharacterStore.open(dir.file("data/characters.json")))
        XCTAssertEqual(report.refused.count, 1)
        XCTAssertFalse(FileIO.exists(dir.file("data/characters.json")))
    }
}

/// SPEC §11.1: a writer as strict as its reader. What import-legacy, or any change, would write
/// that the store's reader refuses is refused before anything is written.
final class StrictWriterTests: KeyEnvironmentTestCase {
    func testLegacyEntriesTheStoreCouldNotReadAreRefusedAndTheStoreStaysReadable() throws {
        _ = useRawKey()
        try FileIO.makeDirectories(dir.file("legacy/voices/embeddings"))
        let npy = LegacyImportTests.npy(1, dtype: "<f4", shape: "(4,)", values: [1, 0, 0, 0])
        for l in ["ok", "spaced", "dotdot", "escape", "nul", "slash", "bell"] { dir.writeBytes("legacy/voices/embeddings/\(l).npy", npy) }
        dir.write("legacy/voices/registry.json", #"""
        {"speakers": {"ok": {"show": "one_piece"}, "spaced": {"show": "One Piece"}, "dotdot": {"wavs": ["../../etc/x.wav"]},
                      "escape": {"wavs": ["a\u001b[2Jb.wav"]}, "nul": {"wavs": ["a\u0000.wav"]}, "slash": {"show": "a/b"},
                      "bell": {"show": "x\u0007"}}}
        """#)
        let store = try CharacterStore.open(dir.file("data/characters.json"))
        let report = try LegacyImport.run(dir: dir.file("legacy"), store: store)
        XCTAssertEqual(report.imported.map(\.label), ["ok"])
        XCTAssertEqual(Set(report.refused.map(\.label)), ["spaced", "dotdot", "escape", "nul", "slash", "bell"])
        let again = try CharacterStore.open(dir.file("data/characters.json"))
        XCTAssertEqual(again.characters.count, 1, "the store reads back")
        // Only a normalized copy made in the store's directory is kept: never a legacy path as it was.
        dir.write("legacy2/voices/registry.json", #"{"speakers": {"shadow": {"wavs": ["/etc/shadow", "", "voices/"]}}}"#)
        try FileIO.makeDirectories(dir.file("legacy2/voices/embeddings"))
        dir.writeBytes("legacy2/voices/embeddings/shadow.npy", npy)
        let r2 = try LegacyImport.run(dir: dir.file("legacy2"), store: try CharacterStore.open(dir.file("data/characters.json")))
        XCTAssertEqual(r2.imported.map(\.label), ["shadow"])
        let shadow = try XCTUnwrap(try CharacterStore.open(dir.file("data/characters.json")).characters.first { $0.extra["legacy_label"]?.stringValue == "shadow" })
        XCTAssertEqual(shadow.speakerWavs, [], "no reference path kept that is not our copy")
        XCTAssertEqual(r2.unusedWavs.map(\.path).count, 3, "each listed path not taken is said")
    }

    /// Any path that puts an unsafe value into a character is stopped at save: nothing written.
    func testASaveOfWhatTheReaderRefusesWritesNothing() throws {
        _ = useRawKey()
        let path = dir.file("data/characters.json")
        let s = try CharacterStore.open(path)
        try s.update { s in _ = s.create(name: "A") }
        let before = try FileIO.read(path)
        let hostile: [(inout CharacterRecord) -> Void] = [
            { $0.setSeries("One Piece", SeriesInfo(episodes: [], lastSeenAt: nil, lastEpisode: nil)) },
            { $0.speakerWavs = ["data/../../x.wav"] },
            { $0.speakerWavs = ["a\u{1b}]52;c;x\u{07}.wav"] },
            { $0.mergedInto = "../SPEAKER_02" },
            { $0.voice = Voice(engine: "espeak", variant: "../x", pitch: 50, rate: 170) },
        ]
        for (k, h) in hostile.enumerated() {
            XCTAssertThrowsError(try s.update { s in s.modify("SPEAKER_01", h) }, "case \(k)") { e in
                XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "case \(k): \(e)")
            }
            XCTAssertEqual(try FileIO.read(path), before, "case \(k): nothing written")
            XCTAssertNoThrow(try CharacterStore.open(path), "case \(k)")
        }
    }
}
