import Foundation
import TestSupport
import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// `characters reconcile` through the binary: a speaker identify gave two characters is merged, a
/// speaker who took another's character is split off, the maps follow, and all of it is undone.
final class ReconcileCommandTests: XCTestCase {
    let e8: (Int, Float) -> [Float] = { axis, tilt in
        var v = [Float](repeating: 0, count: 8)
        v[axis] = 1
        v[7] = tilt  // a little of a shared direction: same speaker ≈ 0.95, not 1
        return v
    }

    func episode(_ dir: TempDir, _ name: String, _ labels: [(String, [Float])]) -> String {
        Fixtures.embeddedEpisode(in: dir, name, labels)
    }

    func testMergeAndSplitProposedAppliedToTheMapsAndUndone() throws {
        let dir = TempDir()
        let e = ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("data/characters.json")]
        let p = { (t: Float) in self.e8(0, t) }, r = { (t: Float) in self.e8(2, t) }
        // Q: 0.6 of P's direction, a different speaker.
        let q: [Float] = [0.6, 0, 0, 0.8, 0, 0, 0, 0.1]
        let jobs = [episode(dir, "ep1", [("A", p(0.2)), ("B", r(0.2))]), episode(dir, "ep2", [("A", p(0.4)), ("B", r(0.4))]),
                    episode(dir, "ep3", [("A", p(0.9))]), episode(dir, "ep4", [("A", q), ("B", r(0.3))])]
        func identify(_ job: String, _ extra: [String]) {
            let res = DubdeckBinary.run(["characters", "identify", job] + extra, env: e)
            XCTAssertEqual(res.status, 0, res.stderr)
        }
        identify(jobs[0], [])
        identify(jobs[1], [])
        identify(jobs[2], ["--threshold", "0.99"])  // P taken for a stranger: a second character
        identify(jobs[3], ["--threshold", "0.3"])   // Q taken for P
        func map(_ job: String) throws -> [String: String] {
            let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/characters.map.json"))) as! [String: Any]
            return (doc["labels"] as! [String: [String: Any]]).mapValues { $0["character_id"] as! String }
        }
        let before = try jobs.map(map)
        let pID = before[0]["A"]!, rID = before[0]["B"]!, strayP = before[2]["A"]!
        XCTAssertNotEqual(strayP, pID)
        XCTAssertEqual(before[3]["A"], pID, "Q was given P's character")
        let listBefore = DubdeckBinary.run(["characters", "list", "--json"], env: e).stdout

        var res = DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--json"], env: e)
        XCTAssertEqual(res.status, 0, res.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(res.stdout.utf8)) as! [String: Any]
        let proposals = doc["proposals"] as! [[String: Any]]
        XCTAssertEqual(proposals.count, 2, res.stdout)
        let merge = proposals.first { $0["kind"] as? String == "merge" }!, split = proposals.first { $0["kind"] as? String == "split" }!
        XCTAssertEqual(merge["from"] as? String, strayP)
        XCTAssertEqual(merge["into"] as? String, pID)
        XCTAssertGreaterThan(merge["similarity"] as! Double, 0.85)
        XCTAssertEqual(split["from"] as? String, pID)
        XCTAssertTrue(split["into"] is NSNull, "Q is nobody yet: a new character")
        XCTAssertEqual(split["episodes"] as? [String], ["ep4"])
        XCTAssertLessThan(split["similarity_to_rest"] as! Double, 0.7)
        XCTAssertFalse(res.stdout.contains("embedding\""), "never embeddings")
        res = DubdeckBinary.run(["characters", "reconcile", "--series", "s1"], env: e)
        XCTAssertTrue(res.stdout.contains("merge \(strayP) into \(pID)"), res.stdout)
        XCTAssertTrue(res.stdout.contains("never in one episode"), res.stdout)
        XCTAssertEqual(try jobs.map(map), before, "a proposal changes nothing")

        res = DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--apply"], env: e)
        XCTAssertEqual(res.status, 0, res.stderr)
        XCTAssertEqual(res.stdout.components(separatedBy: "re-wrote").count - 1, 2, res.stdout)
        let after = try jobs.map(map)
        XCTAssertEqual(after[2]["A"], pID, "the stray character merged: its episode's map says P")
        let qID = after[3]["A"]!
        XCTAssertFalse([pID, rID, strayP].contains(qID), "Q has a character of its own")
        XCTAssertEqual(after[3]["B"], rID)
        XCTAssertEqual(after[0], before[0])
        res = DubdeckBinary.run(["segments", jobs[3], "--json"], env: e)
        let rows = try JSONSerialization.jsonObject(with: Data(res.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows[0]["character"] as? String, qID, "the desk and the CLI read the new map")
        res = DubdeckBinary.run(["characters", "show", qID, "--json"], env: e)
        let shown = try JSONSerialization.jsonObject(with: Data(res.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(((shown["series"] as! [String: [String: Any]])["s1"]?["episodes"]) as? [String], ["ep4"])
        res = DubdeckBinary.run(["characters", "show", pID, "--json"], env: e)
        let pShown = try JSONSerialization.jsonObject(with: Data(res.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(Set(((pShown["series"] as! [String: [String: Any]])["s1"]?["episodes"]) as! [String]), ["ep1", "ep2", "ep3"])
        XCTAssertEqual(DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--json"], env: e).stdout.contains("\"kind\""), false,
                       "reconciled: nothing more to propose")

        // Undo: the store and the maps as they were.
        res = DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--undo"], env: e)
        XCTAssertEqual(res.status, 0, res.stderr)
        XCTAssertTrue(res.stdout.contains("2 maps put back"), res.stdout)
        XCTAssertEqual(try jobs.map(map), before)
        XCTAssertEqual(DubdeckBinary.run(["characters", "list", "--json"], env: e).stdout, listBefore)
        XCTAssertEqual(DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--undo"], env: e).status, 64, "nothing left to undo")

        // Reject the merge; --apply then carries out the split only.
        res = DubdeckBinary.run(["characters", "reconcile", "--series", "s1"], env: e)
        let mergeNumber = res.stdout.contains("1. merge") ? "1" : "2"
        XCTAssertEqual(DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--reject", mergeNumber], env: e).status, 0)
        res = DubdeckBinary.run(["characters", "reconcile", "--series", "s1"], env: e)
        XCTAssertTrue(res.stdout.contains("1 proposal (1 rejected before)"), res.stdout)
        XCTAssertEqual(DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--apply"], env: e).status, 0)
        XCTAssertEqual(try map(jobs[2])["A"], strayP, "the rejected merge stays undone")
        XCTAssertNotEqual(try map(jobs[3])["A"], pID)
    }

    func testAMapChangedByHandFollowsTheStoreAndBadArgumentsAreRefused() throws {
        let dir = TempDir()
        let e = ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("data/characters.json")]
        XCTAssertEqual(DubdeckBinary.run(["characters", "reconcile", "--series", "s1"], env: e).status, 66, "no store yet")
        let p: [Float] = e8(0, 0.2), q: [Float] = [0.6, 0, 0, 0.8, 0, 0, 0, 0.1]
        let jobs = [episode(dir, "ep1", [("A", p)]), episode(dir, "ep2", [("A", e8(0, 0.3))]), episode(dir, "ep3", [("A", q)])]
        for (k, j) in jobs.enumerated() {
            XCTAssertEqual(DubdeckBinary.run(["characters", "identify", j] + (k == 2 ? ["--threshold", "0.3"] : []), env: e).status, 0)
        }
        let mapPath = jobs[2] + "/characters.map.json"
        // Somebody re-points the label by hand, to a character the store does not hold: the map says
        // what the store says all the same (SPEC §11.4), re-written by reconcile as every reading would.
        let edited = try String(contentsOfFile: mapPath, encoding: .utf8).replacingOccurrences(of: "SPEAKER_0", with: "SPEAKER_7")
        XCTAssertNotEqual(edited, try String(contentsOfFile: mapPath, encoding: .utf8))
        try edited.write(toFile: mapPath, atomically: true, encoding: .utf8)
        var res = DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--apply"], env: e)
        XCTAssertEqual(res.status, 0, res.stderr)
        XCTAssertTrue(res.stdout.contains("re-wrote") && res.stdout.contains("characters.map.json (ep3)"), res.stdout)
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: mapPath))) as? [String: Any]
        let followed = try XCTUnwrap((doc?["labels"] as? [String: [String: Any]])?["A"]?["character_id"] as? String)
        XCTAssertFalse(followed.hasPrefix("SPEAKER_7"), "no character the store does not hold: \(followed)")
        XCTAssertTrue(DubdeckBinary.run(["characters", "list"], env: e).stdout.contains(followed), followed)
        // A map that is a link (planted): never followed, never replaced; the link's target untouched.
        XCTAssertEqual(DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--undo"], env: e).status, 0)
        let target = dir.file("elsewhere.json")
        try edited.write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: mapPath)
        try FileManager.default.createSymbolicLink(atPath: mapPath, withDestinationPath: target)
        res = DubdeckBinary.run(["characters", "reconcile", "--series", "s1", "--apply"], env: e)
        XCTAssertEqual(res.status, 0, res.stderr)
        XCTAssertTrue(res.stdout.contains("left ep3's map as it is") && res.stdout.contains("symbolic link"), res.stdout)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), edited)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: mapPath), target)
        for bad in [["--series", "../x"], ["--series", "s1", "--only", "1"], ["--series", "s1", "--apply", "--undo"],
                    ["--series", "s1", "--reject", "0"], ["--series", "s1", "--apply", "--only", "9"], ["--series", "s1", "--reject", "3"]] {
            res = DubdeckBinary.run(["characters", "reconcile"] + bad, env: e)
            XCTAssertEqual(res.status, 64, "\(bad): \(res.stderr)")
            XCTAssertEqual(res.stderr.split(separator: "\n").count, 1, res.stderr)
        }
    }
}
