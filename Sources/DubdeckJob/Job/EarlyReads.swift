import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A value another thread hands over once (`fulfil`): `value` waits for it and leaves it there,
/// `take` waits and moves it out (no copy of an array shared with it).
final class Pending<T>: @unchecked Sendable {
    // Sendable: `stored` is written once before `done` is signalled and read only after waiting on
    // it; `work` is taken under `lock`, by one thread only.
    private let done = DispatchSemaphore(value: 0)
    private var stored: T?
    private let lock = Mutex()
    private var work: (@Sendable () -> T)?

    /// `body` runs on another core (counted by BackgroundWork until it returns) — or here, if the
    /// value is asked for before another core has begun it: nobody waits for work not yet started.
    /// `lane`: after what was put on it before (the job's early reads go one after another, so the
    /// first needed is not slowed by the others).
    convenience init(running body: @escaping @Sendable () -> T, lane: WorkerLane? = nil) {
        self.init()
        start(body, lane: lane)
    }

    /// As `init(running:lane:)`, for a value whose work is known only later.
    func start(_ body: @escaping @Sendable () -> T, lane: WorkerLane? = nil) {
        lock.locked { work = body }
        BackgroundWork.start(on: lane) { self.runIfUnclaimed() }
    }

    init() {}

    private func runIfUnclaimed() {
        if let body = lock.locked({ () -> (@Sendable () -> T)? in defer { work = nil }; return work }) { fulfil(body()) }
    }

    func fulfil(_ value: T) {
        stored = value
        done.signal()
    }

    var value: T {
        runIfUnclaimed()
        done.wait()
        done.signal()  // a second reader does not wait forever
        return stored!
    }

    func take() -> T {
        runIfUnclaimed()
        done.wait()
        defer { stored = nil }
        return stored!
    }
}

/// SHA-256 of a buffer computed on another thread; `value` waits for it.
typealias BackgroundHash = Pending<[UInt8]>

extension Pending where T == [UInt8] {
    convenience init(hashing bytes: [UInt8]) {
        self.init(running: { SHA256.digest(bytes) })
    }
}

/// The store file read, fingerprinted, scanned and hashed on another core (`TranscriptStore.open`):
/// the same reading `read(job:)` does, begun before the job is loaded. Its outcome, error included,
/// is looked at only once the job has loaded.
final class EarlyStoreRead: Sendable {
    let place: FilePlace
    let hash = BackgroundHash()
    /// The file's bytes, fingerprint (its hash in `hash`) and direct scan; nil: there is no store.
    let outcome = Pending<Result<([UInt8], FileFingerprint, TranscriptStore.DirectScan?)?, Error>>()

    init(_ place: FilePlace) {
        self.place = place
        BackgroundWork.start(on: BackgroundWork.early) { [self] in
            let read = Result { try FileIO.readIfExists(place, owner: .own) }
            outcome.fulfil(read.map { bytes in
                bytes.map { ($0, FileIO.fingerprint(place, bytes: $0, sha256: []), TranscriptStore.scanDirect($0)) }
            })
            // The hash is needed last (by a change): after the history tail on this lane.
            if let bytes = (try? read.get()) ?? nil {
                hash.start({ SHA256.digest(bytes) }, lane: BackgroundWork.early)
            } else {
                hash.fulfil([])
            }
        }
    }

    /// Handed over once (moved, so the scan's states are not copied).
    func take() throws -> ([UInt8], FileFingerprint, TranscriptStore.DirectScan?)? {
        try outcome.take().get()
    }
}

/// A history tail read on another core while the job loads (`TranscriptStore.open(historyTail:)`),
/// handed over once; its error, if any, is the one a read then would have given.
final class EarlyHistoryTail: Sendable {
    let maxBytes: Int
    let path: String
    let tail: Pending<Result<HistoryLog.Tail, Error>>

    init(_ log: HistoryLog, maxBytes: Int) {
        self.maxBytes = maxBytes
        path = log.path
        tail = Pending(running: { Result { try log.readTail(maxBytes: maxBytes) } }, lane: BackgroundWork.early)
    }

    func take() throws -> HistoryLog.Tail { try tail.take().get() }
}
