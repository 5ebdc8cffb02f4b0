import CInterrupt
import Dispatch
#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// A persistent TTS process (SPEC §10.6): started once, it loads its model once and answers JSON
/// lines on its standard input/output —
///
///     → {"id":1,"text":"…","lang":"en","voice":"…","ref_wav":"/abs.wav"|null,"out":"/abs/path.wav"}
///     ← {"id":1,"ok":true}   or   {"id":1,"ok":false,"error":"…"}
///
/// and, when it can, how long it would speak a text without speaking it (the desk's predicted fit):
///
///     → {"id":2,"op":"predict","text":"…","lang":"en","voice":"…","ref_wav":…}
///     ← {"id":2,"ok":true,"seconds":2.41}
///
/// A server that answers a `predict` without `"ok":true` and a number of seconds (0 … 86,400) is not
/// asked again; espeak-ng's count scaled by its takes stands in.
///
/// The text travels only inside the JSON (never in an argument or a file name). Each request has a
/// timeout; a server that hangs, answers garbage or dies is killed (its whole process group); a
/// dead server is started again once for the request, and a second death is reported with the last
/// lines it wrote on standard error. An answer with another id (one a timed-out request never got)
/// is skipped.
///
/// Requests go one at a time until the server says how many it takes at once: any answer may carry
/// `"concurrent": K` (1 … 64), and then up to K requests are in flight, their answers taken by id in
/// whatever order they come (a batch keeps that many lines in the server). One thread at a time
/// reads the connection and files every answer it finds for its owner.
public final class ServerEngine: SpeechEngine, @unchecked Sendable {
    // Sendable: every mutable field is used only inside `lock`.
    public let name = "server"
    /// A line that must be spoken faster is sent with `"rate"`; a server that ignores it is stretched.
    public let canChangeRate = true
    public let argv: [String]
    public let timeout: Double
    let lock = Synchronization.Mutex(())
    var pid: pid_t = 0
    var fd: Int32 = -1
    var childSlot: Int32 = -1
    var nextID = 0
    var pending: [UInt8] = []
    /// Requests sent and not yet answered, and answers read for them (by id).
    var inFlight: Set<Int> = []
    var answers: [Int: JSONObject] = [:]
    /// The waiting requests' wake-ups, and the one that reads the connection for all (by id).
    var waiters: [Int: DispatchSemaphore] = [:]
    var reader: Int?
    /// Requests waiting for a place (in order), and the request sent alone (a retry) if one is.
    var placeWaiters: [DispatchSemaphore] = []
    var aloneInFlight: Int?
    /// How many requests this server takes at once (its answers say; 1 until they do).
    var capacity = 1
    /// Bumped whenever the server is stopped: a request sent to an older one is lost.
    var generation = 0
    /// The most requests that were in flight at once (the tests read it).
    public private(set) var mostInFlight = 0
    /// The most requests a server may take at once, whatever it announces.
    public static let maxConcurrent = 64
    /// Where the requests' audio goes (0700, removed at the end).
    let workDir: String
    var dirSlot: Int32 = -1
    /// The running server's standard error, its last 8 KiB kept in memory (never a file: a server
    /// that talks for a day fills no disk).
    var errTail: OutputTail?
    /// How many times the server was started (the tests read it).
    public private(set) var starts = 0
    /// The server answered a `predict` request with something else than seconds: not asked again.
    var predictUnsupported = false

    /// Longest answer line read (a server writing without newlines is garbage, not a memory hog).
    static let maxLine = 1 << 20

    public init(argv: [String], timeout: Double = 60) throws {
        guard let first = argv.first, !first.isEmpty else {
            throw DubdeckError(.usage, "the server engine needs a command (--engine-command ARGV... or DUBDECK_ENGINE_COMMAND)")
        }
        self.argv = argv
        self.timeout = timeout
        workDir = try EngineFolders.make("server")
        dirSlot = dd_cleanup_register(workDir, 1)
    }

    deinit {
        stop()
        dd_empty_directory(workDir)
        rmdir(workDir)
        dd_cleanup_unregister(dirSlot)
    }

    /// The server's command line (what its errors name).
    package var command: [String] { argv }

    /// Ends the server (its whole process group) and forgets the conversation.
    public func close() { lock.withLock { _ in stop() } }

    func stop() {
        if pid > 0 {
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            Interrupt.unregisterChild(childSlot)
        }
        if fd >= 0 { Glibc.close(fd) }
        pid = 0
        fd = -1
        pending = []
        inFlight = []
        answers = [:]
        capacity = 1
        generation += 1
        reader = nil
        for w in waiters.values { w.signal() }  // each finds its server gone
        for w in placeWaiters { w.signal() }
        placeWaiters = []
        aloneInFlight = nil
    }

    /// Requests a batch may hand this engine at once: the server's own limit decides how many are
    /// in flight (workers beyond it wait for a place).
    public var concurrentRequests: Int { 16 }

    func start() throws {
        var pair: [Int32] = [-1, -1]
        // A socket pair, not pipes: a write to a dead server fails with EPIPE (MSG_NOSIGNAL) instead of
        // killing dubdeck with SIGPIPE.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw DubdeckError(.ioError, "cannot talk to the engine server: \(errnoText())")
        }
        var errPipe: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &errPipe) == 0 else {
            Glibc.close(pair[0])
            Glibc.close(pair[1])
            throw DubdeckError(.ioError, "cannot talk to the engine server: \(errnoText())")
        }
        let theirs = pair[1], theirErr = errPipe[1]
        let (child, rc, slot) = Subprocess.spawn(argv) { actions in
            posix_spawn_file_actions_adddup2(&actions, theirs, 0)
            posix_spawn_file_actions_adddup2(&actions, theirs, 1)
            posix_spawn_file_actions_adddup2(&actions, theirErr, 2)
        }
        Glibc.close(pair[1])
        Glibc.close(errPipe[1])
        errTail?.close()
        errTail = OutputTail(fd: errPipe[0])
        guard rc == 0 else {
            Glibc.close(pair[0])
            throw DubdeckError(.noInput, "cannot run the engine server \(Sanitizer.display(argv[0])): \(errnoText(rc))")
        }
        pid = child
        fd = pair[0]
        childSlot = slot
        pending = []
        starts += 1
    }

    public func synthesize(_ request: SpeechRequest) throws -> AudioBuffer {
        try restartingOnce { alone in try exchange(request, alone: alone) }
    }

    /// One request of another protocol over the same connection (a machine translation server's):
    /// `fields` sent, the answer object returned whatever it says; a server that died is started
    /// again once for it, as for a line to speak.
    package func request(_ fields: [(String, JSONValue)]) throws -> JSONObject {
        try restartingOnce { alone in try ask(fields, alone: alone) }
    }

    func restartingOnce<T>(_ body: (Bool) throws -> T) throws -> T {
        do {
            return try body(false)
        } catch let e as ServerFailure where e.died {
            // Died (before or while answering): started again once for this request, sent alone — a
            // line that kills the server kills it again by itself, not with the lines lost beside it.
            do {
                return try body(true)
            } catch let again as ServerFailure {
                // Already stopped where it failed; stopping here could end the server another
                // request has started since (and the lines in it).
                let what = again.died ? "died again after a restart" : "after a restart"
                throw DubdeckError(.ioError, "engine server \(Sanitizer.display(argv[0])) \(what): \(again.message)\(stderrTail())")
            }
        } catch let e as ServerFailure {
            throw DubdeckError(.ioError, "engine server \(Sanitizer.display(argv[0])): \(e.message)\(stderrTail())")
        }
    }

    /// The server's own length for the request (nil: it cannot say, or failed; a failure is not
    /// retried as a synthesis is — the prediction has a stand-in).
    public func predictSeconds(_ request: SpeechRequest) -> Double? {
        guard !lock.withLock({ _ in predictUnsupported }) else { return nil }
        let answer: JSONObject
        do {
            answer = try ask([
                ("op", .string("predict")), ("text", .string(request.text)), ("lang", .string(request.lang)),
                ("voice", .string(request.voice.name(lang: request.lang))), ("ref_wav", request.referenceWav.map { .string($0) } ?? .null),
            ])
        } catch {
            lock.withLock { _ in predictUnsupported = true }
            return nil
        }
        guard answer["ok"]?.boolValue == true, let seconds = answer["seconds"]?.doubleValue, seconds.isFinite, (0...86_400).contains(seconds) else {
            lock.withLock { _ in predictUnsupported = true }
            return nil
        }
        return seconds
    }

    struct ServerFailure: Error {
        var message: String
        var died: Bool
    }

    func exchange(_ request: SpeechRequest, alone: Bool = false) throws -> AudioBuffer {
        // The file's name is the request's id, known once it is sent: reserved here under a name of
        // its own (a counter shared with the ids keeps it unique).
        let tag = lock.withLock { _ -> Int in nextID += 1; return nextID }
        let out = workDir + "/take-\(tag).wav"
        unlink(out)
        let outSlot = dd_cleanup_register(out, 0)
        defer {
            unlink(out)
            dd_cleanup_unregister(outSlot)
        }
        var fields: [(String, JSONValue)] = [
            ("text", .string(request.text)), ("lang", .string(request.lang)), ("voice", .string(request.voice.name(lang: request.lang))),
            ("ref_wav", request.referenceWav.map { .string($0) } ?? .null), ("out", .string(out)),
        ]
        if request.rateFactor != 1 { fields.append(("rate", .number((request.rateFactor * 1000).rounded() / 1000))) }
        let o = try ask(fields, alone: alone)
        guard let ok = o["ok"]?.boolValue else { throw ServerFailure(message: "an answer has no \"ok\"", died: false) }
        if !ok {
            let why = o["error"]?.stringValue ?? "no reason given"
            throw DubdeckError(.ioError, "engine server could not speak \(Sanitizer.display(request.speakerName))'s line: \(Sanitizer.display(String(why.prefix(200))))")
        }
        var st = stat()
        guard lstat(out, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw DubdeckError(.ioError, "engine server said ok but wrote no audio to its \"out\" file")
        }
        if Int(st.st_size) > FileIO.engineAudioLimit {
            throw DubdeckError.data("the engine's audio", "\(st.st_size) bytes is over the \(FileIO.engineAudioLimit)-byte limit")
        }
        return try AudioFile.read(out, maxSeconds: request.maxSeconds, what: "the engine's audio", mono: true)
    }

    /// One request and its answer: sent when the server has a place for it (started first if it is
    /// not running), the answer taken by id from whatever the connection brings. A timeout or a
    /// confused server stops it (every request in flight then fails as lost, `died`).
    func ask(_ fields: [(String, JSONValue)], alone: Bool = false) throws -> JSONObject {
        var sent: (id: Int, generation: Int)?
        // Every place taken: this request sleeps until an answer frees one (or the server says it
        // takes more), never polling.
        let place = DispatchSemaphore(value: 0)
        while sent == nil {
            try lock.withLock { _ in
                if pid == 0 { try start() }
                // Alone: sent when nothing else is in flight, and nothing else is sent until it is answered.
                guard alone ? inFlight.isEmpty : (inFlight.count < capacity && aloneInFlight == nil) else {
                    if !placeWaiters.contains(where: { $0 === place }) { placeWaiters.append(place) }
                    return
                }
                nextID += 1
                let id = nextID
                do {
                    try send(JSONWriter.encode(.object(JSONObject([("id", .number(id))] + fields))) + [0x0A])
                } catch let e as ServerFailure {
                    stop()
                    throw e
                }
                inFlight.insert(id)
                if alone { aloneInFlight = id }
                placeWaiters.removeAll { $0 === place }  // it has its place now
                mostInFlight = max(mostInFlight, inFlight.count)
                sent = (id, generation)
            }
            if sent == nil {
                if Interrupt.requested { throw Interrupt.error }
                _ = place.wait(timeout: .now() + 0.2)
            }
        }
        let (id, gen) = sent!
        // One waiter at a time reads the connection (the reader); the others sleep until the reader
        // files their answer and wakes them, or hands the reading on when it has its own.
        let wake = DispatchSemaphore(value: 0)
        lock.withLock { _ in if generation == gen { waiters[id] = wake } }
        defer {
            lock.withLock { _ in
                waiters[id] = nil
                if generation == gen, inFlight.remove(id) != nil {
                    if aloneInFlight == id {
                        aloneInFlight = nil
                        for w in placeWaiters { w.signal() }  // all may try again: the server is shared again
                        placeWaiters = []
                    } else if !placeWaiters.isEmpty {
                        placeWaiters.removeFirst().signal()
                    }
                }
                if reader == id {
                    reader = nil
                    waiters.first { answers[$0.key] == nil }?.value.signal()  // someone else reads now
                }
            }
        }
        let deadline = Clock.monotonic() + timeout
        while true {
            let (answer, watched, reads) = try lock.withLock { _ -> (JSONObject?, Int32, Bool) in
                guard generation == gen else { throw ServerFailure(message: "it exited", died: true) }
                if let a = answers.removeValue(forKey: id) { return (a, fd, false) }
                if reader == nil { reader = id }
                return (nil, fd, reader == id)
            }
            if let answer { return answer }
            if Interrupt.requested { throw Interrupt.error }
            let left = deadline - Clock.monotonic()
            if left <= 0 {
                lock.withLock { _ in if generation == gen { stop() } }
                throw ServerFailure(message: "no answer within \(JSONValue.formatNumber(timeout)) s", died: false)
            }
            guard reads else {
                _ = wake.wait(timeout: .now() + min(left, 0.2))
                continue
            }
            // The reader: wait for bytes without the lock (others send meanwhile; a descriptor closed by
            // a stop only makes this return early), then file what came.
            var p = pollfd(fd: watched, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, Int32(max(1, min(left, 0.2) * 1000)))
            try lock.withLock { _ in
                guard generation == gen else { return }
                do {
                    try readAvailable()
                } catch let e as ServerFailure {
                    stop()
                    throw e
                }
            }
        }
    }

    /// Reads what the connection holds now (never waits) and files each complete answer for the
    /// request in flight it names; an answer with another id (one a timed-out request never got, or
    /// no integer at all) is skipped. Under `lock`.
    func readAvailable() throws {
        var buf = [UInt8](repeating: 0, count: 65536)
        // Where the line being read begins: only its length is bounded (an early newline does not
        // lift the limit for what follows). At most 4 MB a pass, so the lock is let go between them.
        var lineStart = (pending.lastIndex(of: 0x0A) ?? -1) + 1
        var taken = 0
        while taken < 4 << 20 {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                throw ServerFailure(message: "reading its answers failed: \(errnoText())", died: true)
            }
            if n == 0 { throw ServerFailure(message: "it exited", died: true) }
            if let last = buf[0..<n].lastIndex(of: 0x0A) { lineStart = pending.count + last + 1 }
            pending.append(contentsOf: buf[0..<n])
            taken += n
            if pending.count - lineStart > ServerEngine.maxLine { throw ServerFailure(message: "answered a line longer than 1 MiB", died: false) }
        }
        // Each complete line once, from an offset; the buffer shortened once at the end (removing
        // each line from its front was quadratic in a flood of answers).
        var start = 0
        defer { pending.removeSubrange(0..<start) }
        while let nl = pending[start...].firstIndex(of: 0x0A) {
            let line = Array(pending[start..<nl])
            start = nl + 1
            let value: JSONValue
            do {
                value = try JSONParser.parse(line)
            } catch {
                // What is wrong with it, and how it began.
                let why = (error as? JSONParseError).map { ": " + $0.message } ?? ""
                throw ServerFailure(message: "answered a line that is not JSON\(why): \"\(Sanitizer.display(bytes: line.prefix(80)))\"", died: false)
            }
            guard let o = value.objectValue, let got = o["id"] else {
                throw ServerFailure(message: "answered something that is not a JSON line with an id: \"\(Sanitizer.display(bytes: line.prefix(80)))\"", died: false)
            }
            // Range-checked as an integer (1e300, 1.5, "1" are no request's), never converted unchecked.
            guard let id = got.intValue, inFlight.contains(id) else { continue }
            guard answers[id] == nil else { continue }  // a second answer to one request: the first counts
            answers[id] = o
            waiters[id]?.signal()
            if let k = o["concurrent"]?.intValue, (1...ServerEngine.maxConcurrent).contains(k), k != capacity {
                capacity = k
                // Places the server just made: as many requests waiting for one go.
                for _ in 0..<min(placeWaiters.count, max(0, k - inFlight.count)) { placeWaiters.removeFirst().signal() }
            }
        }
    }

    /// The request, by the timeout: a server that stops reading its input (a long line filling the
    /// socket) fails the request like one that does not answer, instead of blocking in a write.
    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        let deadline = Clock.monotonic() + timeout
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    if Interrupt.requested { throw Interrupt.error }
                    let left = deadline - Clock.monotonic()
                    if left <= 0 { throw ServerFailure(message: "it took no request within \(JSONValue.formatNumber(timeout)) s", died: false) }
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, Int32(max(1, min(left, 0.2) * 1000)))
                    continue
                }
                throw ServerFailure(message: "it stopped reading (\(errnoText()))", died: true)
            }
            sent += n
        }
    }

    /// The server's last words on standard error, for the message.
    func stderrTail() -> String {
        let last = lock.withLock { _ in errTail }?.lastLines ?? ""
        return last.isEmpty ? "" : ": " + Sanitizer.display(String(last.suffix(300)))
    }
}
