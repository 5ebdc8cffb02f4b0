import Dispatch
import DubdeckCore
import Synchronization

/// The characters as the desk knows them, and all work on the character store: the names (never
/// embeddings), where they were read from, the reviewer's last assignment and merge (u and U undo
/// them), and the background work — the names loaded, a database polled, the whole store opened for
/// a change, proposals or suggestions. A keypress never opens the store: work runs on a queue of
/// its own and its outcome is handed over between keys. A model the desk owns.
final class Cast {
    /// The character store's path or URL (nil: the desk shows no characters).
    let path: String?
    /// The characters (names, series, voices; never embeddings), nil without a readable store.
    var names: CharacterStore?
    /// The store file as last loaded (size, mtime, inode): a change reloads the names.
    var signature: FileIO.StatSignature?
    /// The names are to be read in the background at the next tick.
    var loadDue = false
    /// characters.map.json and translated.json as last read (size, mtime, inode): a change reads
    /// the job again.
    var jobSignature: [FileIO.StatSignature?] = []
    /// The last label → character assignment made here, with what the label had before: `u` undoes
    /// it while no other change was made since.
    var lastAssign: (label: String, previous: LabelAssignment?)?
    /// The last merge made on the characters screen (U undoes it).
    var lastMerge: (from: String, into: String)?
    let work = CastWork()
    let voiceMatch = VoiceMatchWork()
    /// What to do on this thread with each piece of work's outcome, by its number.
    var followUps: [Int: (Result<CastOutcome, Error>) -> Redraw] = [:]
    var nextWork = 1

    init(path: String?) { self.path = path }

    /// True while work on the store runs or waits to be taken in.
    var busy: Bool { !followUps.isEmpty || work.loading }

    /// `body` on the work queue (with the store's path); `then` here with its outcome, between keys.
    func run(_ body: @escaping @Sendable (String) throws -> CastOutcome, then: @escaping (Result<CastOutcome, Error>) -> Redraw) {
        guard let path else { return }
        let id = nextWork
        nextWork += 1
        followUps[id] = then
        work.start(id) { try body(path) }
    }

    /// The outcomes that arrived since the last tick, each followed up; what to redraw.
    func takeIn() -> Redraw {
        var redraw = Redraw.nothing
        for (id, outcome) in work.takeFinished() {
            if let then = followUps.removeValue(forKey: id) { redraw = max(redraw, then(outcome)) }
        }
        return redraw
    }
}

/// What work on the whole store gives back: the names read again after a change, and what it found.
/// Sendable (unchecked, one proof): made on the work queue and handed over once, under `CastWork`'s
/// lock, never touched there again.
final class CastOutcome: @unchecked Sendable {
    var names: CharacterStore?
    var proposals: ReconcileAnalysis?
    var suggestions: [CharacterIdentifier.Suggestion]?
    var assignment: CharacterIdentifier.Assignment?
    var note = ""

    init() {}

    /// The store read for names and voices only (after a change: what the desk shows next).
    static func names(_ path: String) throws -> CastOutcome {
        let o = CastOutcome()
        o.names = try CharacterStore.open(path, withEmbeddings: false)
        return o
    }
}

/// The queue work on the character store runs on, one piece at a time, and the outcomes waiting to
/// be taken in; the database's poll state. Sendable: its state is in a Mutex.
final class CastWork: Sendable {
    struct State {
        var finished: [(Int, Result<CastOutcome, Error>)] = []
        var running = 0
        /// A database store is polled in the background: the last rows' signature seen, whether a
        /// check runs, whether one saw a change, and when the last one started.
        var databaseSignature: String?
        var checking = false
        var changed = false
        var lastCheck = -1e9
    }
    let state = Synchronization.Mutex(State())
    private let queue = DispatchQueue(label: "dubdeck.cast-work")

    func start(_ id: Int, _ body: @escaping @Sendable () throws -> CastOutcome) {
        state.withLock { $0.running += 1 }
        queue.async { [self] in
            let outcome = Result { try body() }
            state.withLock { s in
                s.finished.append((id, outcome))
                s.running -= 1
            }
        }
    }

    func takeFinished() -> [(Int, Result<CastOutcome, Error>)] {
        state.withLock { s in
            defer { s.finished = [] }
            return s.finished
        }
    }

    var loading: Bool { state.withLock { $0.running > 0 || !$0.finished.isEmpty } }
}

/// The voice match of the selected line, computed in the background (the encoder takes tens of
/// milliseconds; keys never wait for it).
final class VoiceMatchWork: Sendable {
    struct State {
        var running: String?
        var done = false
        /// Pairs that could not be embedded (damaged audio): not tried again and again.
        var failed = Swift.Set<String>()
        var encoder: SpeakerEncoder?
        var encoderTried = false
    }
    let state = Synchronization.Mutex(State())

    func sharedEncoder() -> SpeakerEncoder? {
        state.withLock { s in
            if !s.encoderTried { s.encoderTried = true; s.encoder = try? SpeakerEncoder() }
            return s.encoder
        }
    }
}
