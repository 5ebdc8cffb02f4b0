import CThreadStart
import Dispatch
import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// The job's early reads: a lane of its own thread, and values that whoever needs them first
/// computes (nobody waits for work that no core has begun).
final class BackgroundLaneTests: XCTestCase {
    /// Closures run one after another, in the order given, on one thread that is not the caller's
    /// and that may run on every core the process may (begun elsewhere, then let go).
    func testALaneRunsInOrderOnItsOwnThreadFreeToMove() {
        for ownThread in [true, false] { checkLane(WorkerLane(ownThread: ownThread), ownThread: ownThread) }
    }

    func checkLane(_ lane: WorkerLane, ownThread: Bool) {
        let lock = Mutex()
        nonisolated(unsafe) var order: [Int] = [], threads = Set<UInt>(), cores: [Int32] = []
        let all = DispatchSemaphore(value: 0)
        let caller = UInt(bitPattern: Int(pthread_self()))
        for k in 0..<200 {
            lane.async {
                lock.locked {
                    order.append(k)
                    threads.insert(UInt(bitPattern: Int(pthread_self())))
                    if k == 0 { cores.append(dd_thread_cores_allowed()) }
                }
                if k == 199 { all.signal() }
            }
        }
        XCTAssertEqual(all.wait(timeout: .now() + 10), .success)
        lock.locked {
            XCTAssertEqual(order, Array(0..<200), "own thread: \(ownThread)")
            XCTAssertEqual(threads.count, 1, "own thread: \(ownThread)")
            XCTAssertFalse(threads.contains(caller))
            XCTAssertEqual(cores, [dd_thread_cores_allowed()], "not left pinned to the core it began on")
        }
    }

    /// A value asked for while its lane is still busy with something else is computed by the
    /// asker, once: the lane, when it gets there, does not run it again; a value the lane began is
    /// waited for, not computed twice.
    func testAValueNobodyBeganIsComputedByWhoeverNeedsItFirstAndOnlyOnce() {
        for ownThread in [true, false] { checkClaims(WorkerLane(ownThread: ownThread)) }
    }

    func checkClaims(_ lane: WorkerLane) {
        let gate = DispatchSemaphore(value: 0), drained = DispatchSemaphore(value: 0)
        lane.async { gate.wait() }  // the lane is busy until the gate opens
        let lock = Mutex()
        nonisolated(unsafe) var runs: [String] = []
        let claimed = Pending<Int>(running: { lock.locked { runs.append("claimed") }; return 41 }, lane: lane)
        XCTAssertEqual(claimed.value, 41, "computed here: the lane has not begun it")
        XCTAssertEqual(claimed.take(), 41)
        let begun = Pending<Int>(running: { lock.locked { runs.append("begun") }; return 42 }, lane: lane)
        lane.async { drained.signal() }
        gate.signal()
        XCTAssertEqual(drained.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(begun.value, 42, "the lane's result")
        XCTAssertEqual(begun.value, 42, "a second reader does not wait forever")
        lock.locked { XCTAssertEqual(runs, ["claimed", "begun"], "each body exactly once") }
        let later = Pending<Int>()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { later.start({ 7 }, lane: lane) }
        XCTAssertEqual(later.take(), 7, "a value whose work is given later is waited for")
    }
}
