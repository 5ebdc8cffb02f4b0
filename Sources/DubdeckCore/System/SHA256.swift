import CCrypto
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
    static let early = WorkerLane()

    /// Runs `body` on another core (after what was put on `lane` before it), counted until it returns.
    static func start(on lane: WorkerLane? = nil, _ body: @escaping @Sendable () -> Void) {
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
final class WorkerLane: @unchecked Sendable {
    // Sendable: `items` only under `lock`; the thread is started once, under `lock`.
    private let lock = Mutex()
    private var items: [@Sendable () -> Void] = []
    private var started = false
    private let available = DispatchSemaphore(value: 0)
    private let ownThread: Bool

    /// `ownThread` false: on Dispatch's threads from the start (what happens when no thread can be
    /// made; the tests take that road too).
    init(ownThread: Bool = true) { self.ownThread = ownThread }

    func async(_ body: @escaping @Sendable () -> Void) {
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

/// OpenSSL initialised once, without its exit-time clean-up (a thread may still be hashing when
/// the process exits; the memory goes with the process anyway).
public enum OpenSSLLibrary {
    private static let initialised: Bool = {
        OPENSSL_init_crypto(UInt64(OPENSSL_INIT_NO_ATEXIT), nil) == 1
    }()

    /// Call before the first OpenSSL call (the command line's first step; every hash does too).
    public static func ready() { _ = initialised }
}

/// SHA-256 through OpenSSL (file fingerprints, history bases, take texts).
public enum SHA256 {
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        OpenSSLLibrary.ready()
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 32
        bytes.withUnsafeBufferPointer { buf in
            _ = EVP_Digest(buf.baseAddress, buf.count, &out, &len, EVP_sha256(), nil)
        }
        return out
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in digest(bytes) {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
