import Dispatch
import DubdeckCore
import Synchronization

/// Synthesis off the UI thread. The worker has its own `TranscriptStore` on the same job, so its
/// commits are like another writer's: durable on their own, merged by the desk on reload. The desk
/// polls `drain()` between keys.
/// Sendable (unchecked, one proof): `job`, `synthesizer`, `voices`, `references` are used only on
/// `queue` (after init); what the desk and the queue share is in `shared`, a Mutex the compiler checks.
public final class SynthWorker: @unchecked Sendable {
    public enum Event: Sendable {
        case done(SegmentSynthesizer.Result, autoplay: Bool)
        case failed(Int, String)
        case batchFinished(SegmentSynthesizer.BatchSummary)
    }

    var job: Job
    let makeEngine: () throws -> SpeechEngine
    let maxSpeedup: Double
    let queue = DispatchQueue(label: "dubdeck.synth")
    /// What the desk's thread and the worker's queue both read and write.
    struct Shared {
        var events: [Event] = []
        var queued = 0
        var cancelRequested = false
        var batchProgress: (done: Int, total: Int)?
    }
    let shared = Synchronization.Mutex(Shared())
    var synthesizer: SegmentSynthesizer?
    var voices: [String: Voice] = [:]
    var references: [String: String] = [:]

    /// Who the takes are recorded by: the desk's reviewer.
    let by: String

    /// Told the engine once it is made (the desk's predicted fit asks it too, when it can say).
    let engineMade: (any SpeechEngine) -> Void

    public init(job: Job, by: String, maxSpeedup: Double, makeEngine: @escaping () throws -> SpeechEngine,
                engineMade: @escaping (any SpeechEngine) -> Void = { _ in }) {
        self.job = job
        self.by = by
        self.maxSpeedup = maxSpeedup
        self.makeEngine = makeEngine
        self.engineMade = engineMade
    }

    /// Runs on the worker queue: the synthesizer is made there, once.
    func withSynthesizer(_ body: (SegmentSynthesizer) throws -> Void) throws {
        if synthesizer == nil {
            let store = try TranscriptStore(job: job, by: by)
            let engine = try makeEngine()
            synthesizer = SegmentSynthesizer(store: store, engine: engine, maxSpeedup: maxSpeedup)
            engineMade(engine)
        }
        synthesizer!.characterVoices = voices
        synthesizer!.referenceWavs = references
        _ = try synthesizer!.store.reloadIfChanged()
        try body(synthesizer!)
    }

    func post(_ e: Event) { shared.withLock { $0.events.append(e) } }

    /// Synthesizes one line; the desk plays it when it is done.
    public func synthesize(_ n: Int) {
        shared.withLock { $0.queued += 1 }
        queue.async { [self] in
            do {
                try withSynthesizer { s in post(.done(try s.synthesize(n), autoplay: true)) }
            } catch let e as DubdeckError {
                post(.failed(n, e.message))
            } catch {
                post(.failed(n, "\(error)"))
            }
            shared.withLock { $0.queued -= 1 }
        }
    }

    /// Synthesizes lines in turn until done or cancelled; progress is readable meanwhile.
    public func batch(_ numbers: [Int]) {
        shared.withLock {
            $0.queued += 1
            $0.cancelRequested = false
            $0.batchProgress = (0, numbers.count)
        }
        queue.async { [self] in
            do {
                try withSynthesizer { s in
                    let summary = s.batch(numbers, cancelled: { shared.withLock { $0.cancelRequested } }) { done, total, _ in
                        shared.withLock { $0.batchProgress = (done, total) }
                    }
                    post(.batchFinished(summary))
                }
            } catch let e as DubdeckError {
                post(.failed(0, e.message))
            } catch {
                post(.failed(0, "\(error)"))
            }
            shared.withLock {
                $0.batchProgress = nil
                $0.queued -= 1
            }
        }
    }

    /// The job read again (its label → character map changed): the next synthesis uses it.
    public func setJob(_ fresh: Job) {
        queue.async { [self] in
            job = fresh
            synthesizer = nil
        }
    }

    /// The characters' persisted voices and references (the synthesis uses them).
    public func setVoices(_ v: [String: Voice], references r: [String: String]) {
        queue.async { [self] in
            voices = v
            references = r
        }
    }

    public func cancel() { shared.withLock { $0.cancelRequested = true } }

    public var busy: Bool { shared.withLock { $0.queued > 0 || !$0.events.isEmpty } }
    public var progress: (done: Int, total: Int)? { shared.withLock { $0.batchProgress } }

    public func drain() -> [Event] {
        shared.withLock {
            let out = $0.events
            $0.events.removeAll()
            return out
        }
    }

    /// Blocks until everything queued so far has run.
    public func waitUntilIdle() { queue.sync {} }

    /// The desk is closing (SPEC §11.6): a batch or a line in progress stops as after Ctrl-C — the
    /// engines' process groups killed, a take rendered but not installed removed, a commit under
    /// way finished (a record is never left without its store) — before the process exits.
    public func stopForExit() {
        guard busy else { return }
        cancel()
        Interrupt.request()
        waitUntilIdle()
    }
}

/// How the desk makes sound: the engine, the fitting limit and the playback sink.
public struct DeskAudio {
    public var makeEngine: () throws -> SpeechEngine
    public var maxSpeedup: Double
    public var sink: AudioSink

    public init(makeEngine: @escaping () throws -> SpeechEngine, maxSpeedup: Double = 1.30, sink: AudioSink) {
        self.makeEngine = makeEngine
        self.maxSpeedup = maxSpeedup
        self.sink = sink
    }
}
