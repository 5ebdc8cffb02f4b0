import CThreadStart
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Work handed to another core that the process must see finished before it exits (a hash of a
/// file just read). `exit` runs OpenSSL's clean-up: a hash still running then would crash.
public enum BackgroundWork {
    static let pending = DispatchGroup()

    /// The lane of a job's early reads (the store, then the history tail): one after another on
    /// one other core, so the store — needed first — does not share that core with the tail.
    package static let early = WorkerLane()

    /// Runs `body` on another core (after what was put on `lane` before it), counted until it returns.
    package static func start(on lane: WorkerLane? = nil, _ body: @escaping @Sendable () -> Void) {
        OpenSSLLibrary.ready()
        pending.enter()
        let counted: @Sendable () -> Void = {
            body()
            pending.leave()
        }
        if let lane { lane.async(counted) } else { DispatchQueue.global(qos: .userInitiated).async(execute: counted) }
    }

    /// Waits for everything started (the command line calls it before exiting).
    public static func finish() {
        pending.wait()
    }
}

/// A thread of its own running closures one after another, begun on a core other than the one
/// that asks first: a new thread woken beside a busy one waits there for a time slice (up to a few
/// milliseconds) before the scheduler moves it to the idle core.
package final class WorkerLane: @unchecked Sendable {
    // Sendable: `items` only under `lock`; the thread is started once, under `lock`.
    private let lock = Mutex()
    private var items: [@Sendable () -> Void] = []
    private var started = false
    private let available = DispatchSemaphore(value: 0)
    private let ownThread: Bool

    /// `ownThread` false: on Dispatch's threads from the start (what happens when no thread can be
    /// made; the tests take that road too).
    package init(ownThread: Bool = true) { self.ownThread = ownThread }

    package func async(_ body: @escaping @Sendable () -> Void) {
        let start = lock.locked { () -> Bool in
            items.append(body)
            defer { started = true }
            return !started
        }
        available.signal()
        if start { begin() }
    }

    private var fallback: DispatchQueue?

    private func runOne() {
        available.wait()
        let body = lock.locked { items.removeFirst() }
        body()
    }

    private func run() -> Never {
        while true { runOne() }
    }

    private func begin() {
        let context = Unmanaged.passRetained(self).toOpaque()
        let made = ownThread ? dd_thread_start_elsewhere({ raw in
            Unmanaged<WorkerLane>.fromOpaque(raw!).takeRetainedValue().run()
        }, context) : -1
        if made != 0 {
            // No thread of its own: each closure on Dispatch's threads, still one after another.
            Unmanaged<WorkerLane>.fromOpaque(context).release()
            fallback = DispatchQueue(label: "dubdeck.lane")
            let me = UncheckedSendable(self)
            fallback?.async { while true { me.value.runOne() } }
        }
    }
}
