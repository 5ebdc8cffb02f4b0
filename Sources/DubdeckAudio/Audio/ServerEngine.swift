import CInterrupt
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
/// is skipped. Requests are serialized: one engine, one conversation.
public final class ServerEngine: SpeechEngine, @unchecked Sendable {
    // Sendable: every mutable field is used only inside `lock`.
    public let name = "server"
    public let canChangeRate = false
    public let argv: [String]
    public let timeout: Double
    let lock = Synchronization.Mutex(())
    var pid: pid_t = 0
    var fd: Int32 = -1
    var childSlot: Int32 = -1
    var nextID = 0
    var pending: [UInt8] = []
    /// Where the server's stderr and the requests' audio go (0700, removed at the end).
    let workDir: String
    var dirSlot: Int32 = -1
    var errSlot: Int32 = -1
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
        var tmpl = Array("/tmp/dubdeck-server.XXXXXX".utf8CString)
        guard let dirPtr = tmpl.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw DubdeckError(.cannotCreate, "cannot create a temporary directory: \(errnoText())")
        }
        workDir = String(cString: dirPtr)
        dirSlot = dd_cleanup_register(workDir, 1)
        // Its files too: a signal's handler removes registered files, then registered directories.
        errSlot = dd_cleanup_register(workDir + "/stderr.txt", 0)
    }

    deinit {
        stop()
        dd_empty_directory(workDir)
        rmdir(workDir)
        dd_cleanup_unregister(errSlot)
        dd_cleanup_unregister(dirSlot)
    }

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
    }

    func start() throws {
        var pair: [Int32] = [-1, -1]
        // A socket pair, not pipes: a write to a dead server fails with EPIPE (MSG_NOSIGNAL) instead of
        // killing dubdeck with SIGPIPE.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw DubdeckError(.ioError, "cannot talk to the engine server: \(errnoText())")
        }
        let errPath = workDir + "/stderr.txt", theirs = pair[1]
        let (child, rc, slot) = Subprocess.spawn(argv) { actions in
            posix_spawn_file_actions_adddup2(&actions, theirs, 0)
            posix_spawn_file_actions_adddup2(&actions, theirs, 1)
            posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        Glibc.close(pair[1])
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
        try lock.withLock { _ in
            do {
                return try exchange(request)
            } catch let e as ServerFailure where e.died {
                // Died (before or while answering): started again once for this request.
                stop()
                do {
                    return try exchange(request)
                } catch let again as ServerFailure {
                    stop()
                    throw DubdeckError(.ioError, "engine server \(Sanitizer.display(argv[0])) died again after a restart: \(again.message)\(stderrTail())")
                }
            } catch let e as ServerFailure {
                stop()  // hung or confused: its next request starts a fresh one
                throw DubdeckError(.ioError, "engine server \(Sanitizer.display(argv[0])): \(e.message)\(stderrTail())")
            }
        }
    }

    /// The server's own length for the request (nil: it cannot say, or failed; a failure is not
    /// retried as a synthesis is — the prediction has a stand-in).
    public func predictSeconds(_ request: SpeechRequest) -> Double? {
        lock.withLock { _ in
            guard !predictUnsupported else { return nil }
            do {
                if pid == 0 { try start() }
                nextID += 1
                let id = nextID
                try send(JSONWriter.encode(.object(JSONObject([
                    ("id", .number(id)), ("op", .string("predict")), ("text", .string(request.text)), ("lang", .string(request.lang)),
                    ("voice", .string(request.voice.name(lang: request.lang))), ("ref_wav", request.referenceWav.map { .string($0) } ?? .null),
                ]))) + [0x0A])
                let deadline = Clock.monotonic() + timeout
                while true {
                    let answer = try readLine(deadline: deadline)
                    guard let o = (try? JSONParser.parse(answer))?.objectValue, let got = o["id"] else {
                        throw ServerFailure(message: "not a JSON line with an id", died: false)
                    }
                    if got.intValue != id { continue }
                    guard o["ok"]?.boolValue == true, let seconds = o["seconds"]?.doubleValue, seconds.isFinite, (0...86_400).contains(seconds) else {
                        predictUnsupported = true
                        return nil
                    }
                    return seconds
                }
            } catch let e as ServerFailure {
                if e.died || e.message.contains("not a JSON") { stop() }
                predictUnsupported = true
                return nil
            } catch {
                predictUnsupported = true
                return nil
            }
        }
    }

    struct ServerFailure: Error {
        var message: String
        var died: Bool
    }

    func exchange(_ request: SpeechRequest) throws -> AudioBuffer {
        if pid == 0 { try start() }
        nextID += 1
        let id = nextID
        let out = workDir + "/take-\(id).wav"
        unlink(out)
        let outSlot = dd_cleanup_register(out, 0)
        defer {
            unlink(out)
            dd_cleanup_unregister(outSlot)
        }
        let line = JSONWriter.encode(.object(JSONObject([
            ("id", .number(id)), ("text", .string(request.text)), ("lang", .string(request.lang)),
            ("voice", .string(request.voice.name(lang: request.lang))),
            ("ref_wav", request.referenceWav.map { .string($0) } ?? .null), ("out", .string(out)),
        ]))) + [0x0A]
        try send(line)
        let deadline = Clock.monotonic() + timeout
        while true {
            let answer = try readLine(deadline: deadline)
            guard let value = try? JSONParser.parse(answer), let o = value.objectValue, let got = o["id"] else {
                throw ServerFailure(message: "answered something that is not a JSON line with an id: \"\(Sanitizer.display(String(decoding: answer.prefix(80), as: UTF8.self)))\"", died: false)
            }
            // The answer to an earlier request that timed out, or an id no request had (1e300, 1.5,
            // "1": range-checked as an integer, never converted unchecked).
            if got.intValue != id { continue }
            guard let ok = o["ok"]?.boolValue else { throw ServerFailure(message: "answer \(id) has no \"ok\"", died: false) }
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
    }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ServerFailure(message: "it stopped reading (\(errnoText()))", died: true)
            }
            sent += n
        }
    }

    /// One answer line, by the deadline: a timeout, a closed connection (died) or an overlong line.
    func readLine(deadline: Double) throws -> [UInt8] {
        while true {
            if let nl = pending.firstIndex(of: 0x0A) {
                let line = Array(pending[..<nl])
                pending.removeSubrange(...nl)
                return line
            }
            if pending.count > ServerEngine.maxLine { throw ServerFailure(message: "answered a line longer than 1 MiB", died: false) }
            if Interrupt.requested { throw Interrupt.error }
            let left = deadline - Clock.monotonic()
            if left <= 0 { throw ServerFailure(message: "no answer within \(JSONValue.formatNumber(timeout)) s", died: false) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(min(left, 0.2) * 1000) + 1)
            if r < 0 && errno != EINTR { throw ServerFailure(message: "poll failed: \(errnoText())", died: true) }
            if r <= 0 { continue }
            var buf = [UInt8](repeating: 0, count: 65536)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw ServerFailure(message: "it exited", died: true) }
            pending.append(contentsOf: buf[0..<n])
        }
    }

    /// The server's last words on standard error, for the message.
    func stderrTail() -> String {
        let last = Subprocess.lastLines(of: workDir + "/stderr.txt")
        return last.isEmpty ? "" : ": " + Sanitizer.display(String(last.prefix(300)))
    }
}
