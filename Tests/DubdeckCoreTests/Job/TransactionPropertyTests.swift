import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// A reproducible random generator (the seed is in every failure message).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random sequences of edit/approve/lock/unlock/synth/undo/redo/take, by two reviewers, with
/// failures injected at every step of the transaction and interrupted saves (the kill between the
/// history append and the store write): after each step the store is the history's replay and
/// NNNN.wav is the take the store names (SPEC §10.2–§10.4).
final class TransactionPropertyTests: XCTestCase {

    func testRandomSequencesKeepTheStoreTheReplayOfTheHistory() throws {
        for seed: UInt64 in [1, 2, 3, 4, 5] {
            try run(seed: seed, steps: 200)
        }
    }

    func run(seed: UInt64, steps: Int) throws {
        let dir = TempDir()
        let lines = (0..<4).map { Fixtures.Line(Double($0) * 3, Double($0) * 3 + 2.5, "SPEAKER_0\($0 % 2)", "", "Line \($0)") }
        let job = Fixtures.job(in: dir, lines: lines)
        var rng = SplitMix64(state: seed)
        let engine = try EspeakEngine()
        var phantomPending = false
        var log: [String] = []
        for step in 0..<steps {
            let by = Bool.random(using: &rng) ? "ann" : "bob"
            let store = try TranscriptStore(job: try JobLoader.load(job), by: by)
            let n = Int.random(in: 1...4, using: &rng)
            // One fault in five steps, at a random step of the transaction.
            var faults = FileFaults()
            var crash = false
            switch Int.random(in: 0..<20, using: &rng) {
            case 0: faults.failAppend = true
            case 1: faults.failStoreWrite = true
            case 2: faults.failLink = true
            case 3: faults.failStoreWrite = true; faults.failTruncate = true; crash = true  // = a kill after the append
            default: break
            }
            let op = Int.random(in: 0..<9, using: &rng)
            let name = ["edit", "approve", "lock", "unlock", "synth", "undo", "redo", "take", "flag"][op]
            log.append("\(step): \(by) \(name) \(n)\(faults.failAppend || faults.failStoreWrite || faults.failLink ? " (fault\(crash ? ", crash" : ""))" : "")")
            var committed = false
            // The faults hold for this step only (bound to the operation, not a global).
            let anyRandom = Bool.random(using: &rng), k = Int.random(in: 1...3, using: &rng)
            do {
                try FileIO.$faults.withValue(faults) {
                switch op {
                case 0: committed = try !store.commit([.edit(n, text: "text \(step)")]).records.isEmpty
                case 1: committed = try !store.commit([.approve(n, !store.state(n).approved)]).records.isEmpty
                case 2: committed = try !store.commit([.lock(n, true, by: by)]).records.isEmpty
                case 3: committed = try !store.commit([.lock(n, false, by: by)]).records.isEmpty
                case 4: try SegmentSynthesizer(store: store, engine: engine).synthesize(n); committed = true
                case 5: committed = try !UndoRedo.run(.undo, store: store, any: anyRandom).isEmpty
                case 6: committed = try !UndoRedo.run(.redo, store: store, any: anyRandom).isEmpty
                case 7: committed = try !TakeChoice.choose(store, n, k).records.isEmpty
                default: committed = try !store.commit([.flag(n, ReviewState.needsRetranslate, !store.state(n).flaggedForRetranslation)]).records.isEmpty
                }
                }
            } catch let e as DubdeckError {
                // Refusals (locked, nothing to undo, no such take) and the injected faults.
                XCTAssertTrue([.usage, .conflict, .ioError, .noInput].contains(e.status), "seed \(seed) step \(step): \(e)")
            }
            // A phantom may stay only until the next commit (a refused operation does not commit).
            let problems = JobInvariants.problems(job: job, allowPhantom: crash || (phantomPending && !committed))
            XCTAssertEqual(problems, [], "seed \(seed) step \(step)\n" + log.suffix(8).joined(separator: "\n"))
            if !problems.isEmpty { return }
            phantomPending = JobInvariants.hasPhantom(job: job)
        }
        _ = phantomPending
    }
}

/// Every fuzz target of `make fuzz` starts from seeds (a target without them missed the .npy shape
/// overflow), and the hostile seeds give errors, never a crash.
final class FuzzSeedTests: XCTestCase {
    static let root = DubdeckBinary.packageRoot

    func testEveryFuzzTargetHasSeeds() throws {
        let script = try String(contentsOfFile: FuzzSeedTests.root + "/scripts/fuzz.sh", encoding: .utf8)
        guard let line = script.split(separator: "\n").first(where: { $0.hasPrefix("for t in ") }) else {
            return XCTFail("no target list in scripts/fuzz.sh")
        }
        let targets = line.dropFirst("for t in ".count).split(separator: ";")[0].split(separator: " ")
        XCTAssertGreaterThanOrEqual(targets.count, 14)
        for t in targets {
            let seeds = (try? FileManager.default.contentsOfDirectory(atPath: FuzzSeedTests.root + "/Fuzz/seeds/\(t)")) ?? []
            XCTAssertFalse(seeds.isEmpty, "fuzz target \(t) has no seeds")
        }
    }

    func testHostileNpySeedsAreRefusedNotCrashed() throws {
        let dir = FuzzSeedTests.root + "/Fuzz/seeds/npy"
        XCTAssertEqual(try NPY.readMean(dir + "/d.npy"), [1, 2, 3, 4])
        for name in ["huge-shape.npy", "overflow.npy", "close-before-open.npy"] {
            XCTAssertThrowsError(try NPY.readMean(dir + "/" + name), name) { e in
                XCTAssertEqual((e as? DubdeckError)?.status, .dataError)
            }
        }
    }

    func testHistorySeedsScanBackwards() throws {
        let dir = FuzzSeedTests.root + "/Fuzz/seeds/historyend"
        XCTAssertEqual(try HistoryLog(path: dir + "/clean.jsonl").scanEnd().lastSeq, 4)
        let torn = try HistoryLog(path: dir + "/torn.jsonl").scanEnd()
        XCTAssertEqual(torn.lastSeq, 3)
        XCTAssertNotNil(torn.tornOffset)
        XCTAssertEqual(try HistoryLog(path: dir + "/blank.jsonl").scanEnd().lastSeq, 2)
    }
}
