import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// SPEC §11.3–§11.4: every "changed since" is a version the changing transaction incremented, never
/// a clock (all of these happen within one second); a retried transaction starts from nothing; a
/// map is written only once the store committed.
final class VersionTests: KeyEnvironmentTestCase {
    func storePath() -> String { dir.file("data/characters.json") }

    func label(_ name: String, _ v: [Float]) -> LabelEvidence {
        LabelEvidence(label: name, embedding: v, utterances: 5, seconds: 20)
    }

    /// Two characters A (SPEAKER_01) and B (SPEAKER_02) of series s, on disk.
    func twoCharacters() throws -> CharacterStore {
        _ = useRawKey()
        let s = try CharacterStore.open(storePath())
        try s.update { s in
            try s.checkEmbedding(type: "t", dim: 4, model: nil, file: "test")
            _ = s.identify(evidence: [label("A", [1, 0, 0, 0]), label("B", [0, 1, 0, 0])], series: "s", episode: "e1")
        }
        XCTAssertEqual(s.active.map(\.id), ["SPEAKER_01", "SPEAKER_02"])
        return s
    }

    func testEveryChangeMovesTheVersionAndTheVersionIsKeptOnDisk() throws {
        let s = try twoCharacters()
        let v = s.character("SPEAKER_02")!.version
        XCTAssertGreaterThan(v, 0)
        try s.update { try $0.rename("SPEAKER_02", to: "Bo") }
        try s.update { try $0.rename("SPEAKER_02", to: "Bo") }
        XCTAssertEqual(s.character("SPEAKER_02")!.version, v + 2, "a change that writes the same name is still a change")
        XCTAssertEqual(try CharacterStore.open(storePath()).character("SPEAKER_02")!.version, v + 2)
    }

    func testUnmergeIsRefusedWhenTheTargetChangedInTheSameSecond() throws {
        let s = try twoCharacters()
        try s.update { try $0.merge("SPEAKER_01", into: "SPEAKER_02") }
        // identify of another episode matches B at once (same second as the merge).
        try s.update { s in _ = s.identify(evidence: [label("X", [0.05, 1, 0, 0])], series: "s", episode: "e2") }
        XCTAssertEqual(try CharacterStore.open(storePath()).character("SPEAKER_02")!.seriesInfo("s")?.episodes, ["e1", "e2"])
        XCTAssertThrowsError(try s.update { try $0.unmerge("SPEAKER_01") }) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .conflict, "\(e)")
        }
        let after = try CharacterStore.open(storePath())
        XCTAssertEqual(after.character("SPEAKER_01")?.mergedInto, "SPEAKER_02", "nothing undone")
        XCTAssertEqual(after.character("SPEAKER_02")!.seriesInfo("s")?.episodes, ["e1", "e2"], "e2 kept")
    }

    func testUndoneAndRedoneMergesNeverReuseAVersion() throws {
        let s = try twoCharacters()
        var seen = Swift.Set([s.character("SPEAKER_02")!.version])
        for _ in 0..<3 {
            try s.update { try $0.merge("SPEAKER_01", into: "SPEAKER_02") }
            XCTAssertTrue(seen.insert(s.character("SPEAKER_02")!.version).inserted)
            try s.update { try $0.unmerge("SPEAKER_01") }
            XCTAssertTrue(seen.insert(s.character("SPEAKER_02")!.version).inserted, "an undo is a new version, not the old one back")
            XCTAssertNil(s.character("SPEAKER_01")?.mergedInto)
        }
        // Merged, undone, merged again, then renamed: the rename is after this merge and is kept.
        try s.update { try $0.merge("SPEAKER_01", into: "SPEAKER_02") }
        try s.update { try $0.rename("SPEAKER_02", to: "Bo") }
        XCTAssertThrowsError(try s.update { try $0.unmerge("SPEAKER_01") })
        XCTAssertEqual(try CharacterStore.open(storePath()).character("SPEAKER_02")?.name, "Bo")
    }

    func testAMergeRecordedWithATimeOnlyIsNotUndoneOnTrust() throws {
        let s = try twoCharacters()
        try s.update { s in
            try s.merge("SPEAKER_01", into: "SPEAKER_02")
            s.modify("SPEAKER_01") { c in
                var u = c.extra["unmerge"]!.objectValue!
                u["into_version"] = nil  // as the second edition wrote it: a time, no version
                c.extra["unmerge"] = .object(u)
            }
        }
        XCTAssertThrowsError(try s.update { try $0.unmerge("SPEAKER_01") }) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .usage, "\(e)")
            XCTAssertTrue((e as? DubdeckError)?.message.contains("version") ?? false, "\(e)")
        }
    }

    func testAHostileVersionIsRefusedWhenRead() throws {
        let key = useRawKey()
        for bad in ["-1", "1.5", "\"3\"", "9007199254740993", "1e300"] {
            let doc = #"{"version": 2, "next_n": 2, "characters": {"SPEAKER_01": {"name": "A", "version": \#(bad)}}}"#
            let path = dir.file("bad.json")
            try FileIO.writeAtomically(path, try Envelope.seal(Array(doc.utf8), key: key, kdf: .raw))
            XCTAssertThrowsError(try CharacterStore.open(path), bad) { e in
                XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(bad): \(e)")
            }
        }
    }

    /// identify then reconcile undo within one second: the undo would lose the episode, so it is refused.
    func testReconcileUndoIsRefusedWhenACharacterChangedInTheSameSecond() throws {
        _ = useRawKey()
        let s = try CharacterStore.open(storePath())
        try s.update { s in
            try s.checkEmbedding(type: "t", dim: 4, model: nil, file: "test")
            _ = s.identify(evidence: [label("A", [1, 0.2, 0, 0])], series: "s", episode: "e1")
            _ = s.identify(evidence: [label("A", [1, 0.4, 0, 0])], series: "s", episode: "e2")
            _ = s.identify(evidence: [label("A", [1, 0.9, 0, 0])], series: "s", episode: "e3", threshold: 0.99)
        }
        let applied = try XCTUnwrap(try Reconcile.apply(s, series: "s"))
        let target = try XCTUnwrap(applied.applied.first?.into)
        try s.update { s in _ = s.identify(evidence: [label("A", [1, 0.3, 0, 0])], series: "s", episode: "e4") }
        XCTAssertEqual(s.resolve(target)?.seriesInfo("s")?.episodes.contains("e4"), true)
        XCTAssertThrowsError(try Reconcile.undo(s, series: "s")) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .conflict, "\(e)")
        }
        let again = try CharacterStore.open(storePath())
        XCTAssertEqual(again.reconcileHistory(series: "s").count, 1, "nothing undone")
        XCTAssertEqual(again.resolve(target)?.seriesInfo("s")?.episodes.contains("e4"), true)
    }

    /// The store refuses the change: identify's map is not written (it would name a character the
    /// store never got), and an assignment's map entry is not either.
    func testAMapIsWrittenOnlyAfterTheStoreCommitted() throws {
        _ = useRawKey()
        let jobDir = Fixtures.embeddedEpisode(in: dir, "ep1", series: "s", [("A", [1, 0, 0, 0]), ("B", [0, 1, 0, 0])])
        let job = try JobLoader.load(jobDir)
        let mapPath = jobDir + "/characters.map.json"
        var faults = FileFaults()
        faults.failCharacterStoreWrite = true
        let s = try CharacterStore.open(storePath())
        XCTAssertThrowsError(try FileIO.$faults.withValue(faults) {
            try CharacterIdentifier.identify(job: job, store: s, threshold: 0.75, force: false)
        })
        XCTAssertFalse(FileIO.exists(mapPath), "no map for a store that was not written")
        XCTAssertFalse(FileIO.exists(storePath()))

        let fresh = try CharacterStore.open(storePath())
        _ = try CharacterIdentifier.identify(job: job, store: fresh, threshold: 0.75, force: false)
        let mapBefore = try FileIO.read(mapPath)
        let store = try TranscriptStore(job: try JobLoader.load(jobDir))
        XCTAssertThrowsError(try FileIO.$faults.withValue(faults) {
            try CharacterIdentifier.assign(store, label: "A", to: "SPEAKER_02", in: fresh)
        })
        XCTAssertEqual(try FileIO.read(mapPath), mapBefore, "the map is as it was")
        XCTAssertEqual(try CharacterStore.open(storePath()).observations(series: "s").filter(\.override).count, 0)
    }
}

/// SPEC §11.4: a map follows the store. Another reviewer's copy of the job keeps a map made before a
/// change to its episode (an assignment, a reconcile); the next command with the store derives it
/// again from the store's observations and writes it back with the store's generation.
final class MapFollowsStoreTests: KeyEnvironmentTestCase {
    func copyJob(_ from: String, to name: String) throws -> String {
        let to = dir.file(name)
        try FileManager.default.copyItem(atPath: from, toPath: to)
        return to
    }

    func testAnotherReviewersMapFollowsAnAssignmentAndAReconcile() throws {
        _ = useRawKey()
        let storePath = dir.file("data/characters.json")
        let mine = Fixtures.embeddedEpisode(in: dir, "ep1", series: "s", [("A", [1, 0, 0, 0]), ("B", [0, 1, 0, 0])])
        _ = try CharacterIdentifier.identify(job: try JobLoader.load(mine), store: try CharacterStore.open(storePath), threshold: 0.75, force: false)
        let theirs = try copyJob(mine, to: "theirs-ep1")
        let before = try XCTUnwrap(try CharacterMap.read(theirs + "/characters.map.json"))
        XCTAssertEqual(before.characterIDs, ["A": "SPEAKER_01", "B": "SPEAKER_02"])
        XCTAssertGreaterThan(before.storeGeneration, 0, "the map records the store generation it came from")

        // I assign A to B's character: my map is written; theirs is now older than the store.
        let myStore = try TranscriptStore(job: try JobLoader.load(mine))
        try CharacterIdentifier.assign(myStore, label: "A", to: "SPEAKER_02", in: try CharacterStore.open(storePath))
        XCTAssertEqual(try CharacterMap.read(mine + "/characters.map.json")?.characterIDs["A"], "SPEAKER_02")
        XCTAssertEqual(try CharacterMap.read(theirs + "/characters.map.json")?.characterIDs["A"], "SPEAKER_01", "not reached yet")

        let theirStore = try TranscriptStore(job: try JobLoader.load(theirs))
        let cast = try CharacterStore.open(storePath, withEmbeddings: false)  // as the desk and listings open it
        XCTAssertTrue(try CharacterIdentifier.followStore(theirStore, cast: cast))
        XCTAssertEqual(theirStore.job.characterMap["A"], "SPEAKER_02", "what commands use")
        let after = try XCTUnwrap(try CharacterMap.read(theirs + "/characters.map.json"))
        XCTAssertEqual(after.characterIDs, ["A": "SPEAKER_02", "B": "SPEAKER_02"], "on disk")
        XCTAssertEqual(after.storeGeneration, cast.generation)
        XCTAssertFalse(try CharacterIdentifier.followStore(theirStore, cast: cast), "up to date: nothing to do")
        let bytes = try FileIO.read(theirs + "/characters.map.json")
        _ = try CharacterIdentifier.followStore(try TranscriptStore(job: try JobLoader.load(theirs)), cast: try CharacterStore.open(storePath))
        XCTAssertEqual(try FileIO.read(theirs + "/characters.map.json"), bytes, "a current map is not rewritten")
    }

    /// A change that reads a stale map inside its transaction (assign) and is then refused or retried
    /// never leaves the map stamped with the generation it did not commit: another reviewer's commit
    /// takes that generation next, and a map claiming it would never follow that change.
    func testAMapIsNeverStampedWithAGenerationThatDidNotCommit() throws {
        _ = useRawKey()
        let storePath = dir.file("data/characters.json")
        let mine = Fixtures.embeddedEpisode(in: dir, "ep1", series: "s", [("A", [1, 0, 0, 0]), ("B", [0, 1, 0, 0])])
        _ = try CharacterIdentifier.identify(job: try JobLoader.load(mine), store: try CharacterStore.open(storePath), threshold: 0.75, force: false)
        let theirs = try copyJob(mine, to: "theirs-ep1")
        try CharacterIdentifier.assign(try TranscriptStore(job: try JobLoader.load(mine)), label: "A", to: "SPEAKER_02", in: try CharacterStore.open(storePath))
        let path = theirs + "/characters.map.json"
        let staleBytes = try FileIO.read(path)
        struct Refused: Error {}
        let cast = try CharacterStore.open(storePath)
        let committed = cast.generation
        XCTAssertThrowsError(try cast.update { s in
            XCTAssertTrue(s.changing)
            let seen = try CharacterIdentifier.following(FilePlace(path: path), series: "s", episode: "ep1", cast: s)
            XCTAssertEqual(seen?.characterIDs["A"], "SPEAKER_02", "the change sees the store's truth")
            throw Refused()
        })
        XCTAssertFalse(cast.changing)
        XCTAssertEqual(String(decoding: try FileIO.read(path), as: UTF8.self), String(decoding: staleBytes, as: UTF8.self), "nothing written with an uncommitted generation")
        XCTAssertEqual(try CharacterStore.open(storePath).generation, committed)
        // Another reviewer's change now commits the generation the refused one would have had…
        try CharacterIdentifier.assign(try TranscriptStore(job: try JobLoader.load(mine)), label: "B", to: "SPEAKER_01", in: try CharacterStore.open(storePath))
        XCTAssertEqual(try CharacterStore.open(storePath).generation, committed + 1)
        // …and the stale map still follows it.
        let store = try TranscriptStore(job: try JobLoader.load(theirs))
        XCTAssertTrue(try CharacterIdentifier.followStore(store, cast: try CharacterStore.open(storePath, withEmbeddings: false)))
        XCTAssertEqual(store.job.characterMap, ["A": "SPEAKER_02", "B": "SPEAKER_01"])
        XCTAssertEqual(try CharacterMap.read(path)?.storeGeneration, committed + 1)
    }

    /// A map that names a character the store does not hold, or claims a generation the store never
    /// had, is derived again whatever its generation; a store that never saw the episode leaves it be.
    func testAMapNeverNamesACharacterTheStoreDoesNotHold() throws {
        _ = useRawKey()
        let storePath = dir.file("data/characters.json")
        let job = Fixtures.embeddedEpisode(in: dir, "ep1", series: "s", [("A", [1, 0, 0, 0]), ("B", [0, 1, 0, 0])])
        _ = try CharacterIdentifier.identify(job: try JobLoader.load(job), store: try CharacterStore.open(storePath), threshold: 0.75, force: false)
        let path = job + "/characters.map.json"
        let cast = try CharacterStore.open(storePath, withEmbeddings: false)
        for generation in [0, cast.generation - 1, cast.generation] {
            var map = try XCTUnwrap(try CharacterMap.read(path))
            map.storeGeneration = generation
            map.labels[0].characterID = "SPEAKER_99"
            map.labels.append(LabelAssignment(label: "Z", characterID: "SPEAKER_77", similarity: 0, created: false))
            try map.write(path)
            let store = try TranscriptStore(job: try JobLoader.load(job))
            XCTAssertTrue(try CharacterIdentifier.followStore(store, cast: cast), "generation \(generation)")
            let after = try XCTUnwrap(try CharacterMap.read(path))
            XCTAssertEqual(after.characterIDs, ["A": "SPEAKER_01", "B": "SPEAKER_02"], "generation \(generation)")
            XCTAssertEqual(after.storeGeneration, cast.generation)
        }
        // A map newer than this reading of the store (another process committed since it was read):
        // this reading is the stale one and changes nothing.
        var newer = try XCTUnwrap(try CharacterMap.read(path))
        newer.storeGeneration = cast.generation + 1
        newer.labels[0].characterID = "SPEAKER_02"
        try newer.write(path)
        XCTAssertFalse(try CharacterIdentifier.followStore(try TranscriptStore(job: try JobLoader.load(job)), cast: cast))
        XCTAssertEqual(try CharacterMap.read(path)?.characterIDs["A"], "SPEAKER_02")
        // Another episode's or series' map is not this episode's: 65 when the job is read.
        for (key, value) in [("episode", "ep2"), ("series_id", "other")] {
            var m = try XCTUnwrap(try CharacterMap.read(path))
            if key == "episode" { m.episode = value } else { m.series = value }
            try m.write(path)
            XCTAssertThrowsError(try JobLoader.load(job), key) { e in XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(e)") }
            if key == "episode" { m.episode = "ep1" } else { m.series = "s" }
            try m.write(path)
        }
        // Another store (it never saw ep1): the map is left as it is, never emptied.
        let other = dir.file("other/characters.json")
        let o = try CharacterStore.open(other)
        try o.update { s in _ = s.create(name: "X") }
        let bytes = try FileIO.read(path)
        XCTAssertFalse(try CharacterIdentifier.followStore(try TranscriptStore(job: try JobLoader.load(job)), cast: try CharacterStore.open(other)))
        XCTAssertEqual(try FileIO.read(path), bytes)
        // …and the pipeline's voice map gives no character the store does not hold.
        var m = try XCTUnwrap(try CharacterMap.read(path))
        m.labels = m.labels.map { var l = $0; l.characterID = l.label == "A" ? "SPEAKER_01" : "SPEAKER_02"; return l }
        try m.write(path)
        let vm = CharacterIdentifier.voiceMap(try TranscriptStore(job: try JobLoader.load(job)), cast: try CharacterStore.open(other)).objectValue
        XCTAssertEqual(vm?["A"]?.objectValue?["character_id"]?.stringValue, "SPEAKER_01", "held by the other store")
        XCTAssertEqual(vm?["B"]?.objectValue?["character_id"]?.isNull, true, "SPEAKER_02: not held")
    }

    /// A merge moves no observation: the map keeps the merged ID (it resolves to the target), so an
    /// unmerge needs no map change; a hostile generation in a map is refused (65).
    func testMergesAreFollowedByResolutionAndTheGenerationIsChecked() throws {
        _ = useRawKey()
        let storePath = dir.file("data/characters.json")
        let job = Fixtures.embeddedEpisode(in: dir, "ep1", series: "s", [("A", [1, 0, 0, 0]), ("B", [0, 1, 0, 0])])
        _ = try CharacterIdentifier.identify(job: try JobLoader.load(job), store: try CharacterStore.open(storePath), threshold: 0.75, force: false)
        let s = try CharacterStore.open(storePath)
        try s.update { try $0.merge("SPEAKER_01", into: "SPEAKER_02") }
        XCTAssertFalse(try CharacterIdentifier.followStore(try TranscriptStore(job: try JobLoader.load(job)), cast: s))
        XCTAssertEqual(try CharacterMap.read(job + "/characters.map.json")?.characterIDs["A"], "SPEAKER_01")
        XCTAssertEqual(s.resolve("SPEAKER_01")?.id, "SPEAKER_02")
        for bad in ["-1", "1.5", "\"3\"", "9007199254740993"] {
            var text = try String(decoding: FileIO.read(job + "/characters.map.json"), as: UTF8.self)
            text = text.replacingOccurrences(of: #""store_generation" *: *[0-9]+"#, with: "\"store_generation\": \(bad)", options: .regularExpression)
            try FileIO.writeAtomically(job + "/characters.map.json", Array(text.utf8))
            XCTAssertThrowsError(try JobLoader.load(job), bad) { e in XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(bad): \(e)") }
        }
    }
}
