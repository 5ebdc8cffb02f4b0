import CInterrupt
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program without a shell (posix_spawn), in its own process group so a timeout kills
/// everything it started.
public enum Subprocess {
    /// `stopped`: `watch` said why it was killed (it wrote more than it may).
    public enum Status: Equatable { case exited(Int32), signaled(Int32), timedOut, interrupted, stopped(String) }

    /// The last three lines a program wrote to the file (its stderr), " | "-joined, for a message.
    package static func lastLines(of path: String) -> String {
        lastLines(((try? FileIO.readIfExists(path, limit: 1 << 20)) ?? nil) ?? [])
    }

    /// The last three lines of what a program wrote, " | "-joined, shown safe (Sanitizer: a byte
    /// that is not UTF-8 is `⟨0xFF⟩`, never U+FFFD).
    package static func lastLines(_ bytes: [UInt8]) -> String {
        bytes.split(separator: 0x0A).suffix(3).map { Sanitizer.display(bytes: $0) }.joined(separator: " | ")
    }

    /// Starts argv[0] (found on PATH, no shell) in a process group of its own, with descriptors
    /// 0–2 as `streams` sets them and nothing else of ours, and registers its group to be killed on
    /// Ctrl-C, SIGTERM, SIGHUP and exit — with those signals held in between, so none can come after
    /// the start and before the registration. The pid and its registry slot (a spawn error from posix_spawnp).
    package static func spawn(_ argv: [String], streams: (inout posix_spawn_file_actions_t) -> Void) -> (pid: pid_t, error: Int32, slot: Int32) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        streams(&actions)
        // Nothing else of ours reaches the child (a pipe it kept open would outlive it).
        dd_spawn_close_from(&actions, 3)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        let resets = dd_spawn_reset_signals(&attr)
        posix_spawnattr_setflags(&attr, Int16(Int32(POSIX_SPAWN_SETPGROUP) | resets))
        posix_spawnattr_setpgroup(&attr, 0)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        var saved = sigset_t()
        dd_signals_hold(&saved)
        defer { dd_signals_release(&saved) }
        // The process is ending (a signal's handler or the exit path has begun): nothing new starts.
        guard dd_spawn_begin() == 0 else { return (0, ECANCELED, -1) }
        defer { dd_spawn_end() }
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, &cargs, environ)
        let slot = rc == 0 ? Interrupt.registerChild(pid) : -1
        return (pid, rc, slot)
    }

    /// Runs argv to its end or `timeout`: standard input from `stdinPath`, output and errors to files.
    /// `watch`, asked every 50 ms while it runs, stops it with its reason (what it wrote is too much:
    /// a flood is bounded on disk, not only in time).
    public static func run(_ argv: [String], stdinPath: String = "/dev/null", stdoutPath: String, stderrPath: String, timeout: Double,
                           watch: (() -> String?)? = nil) throws -> Status {
        let (pid, rc, childSlot) = spawn(argv) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY | O_NOFOLLOW, 0)
            posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        guard rc == 0 else {
            throw DubdeckError(.noInput, "cannot run \(Sanitizer.display(argv[0])): \(errnoText(rc))")
        }
        defer {
            // Whatever the engine left running in its group (a background child) ends with it.
            kill(-pid, SIGKILL)
            Interrupt.unregisterChild(childSlot)
        }
        let deadline = Clock.monotonic() + timeout
        var status: Int32 = 0
        var polls = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .exited(-1) }
            polls += 1
            let said = polls % 10 == 0 ? watch?() : nil
            let stop: Status? = Interrupt.requested ? .interrupted : Clock.monotonic() >= deadline ? .timedOut : said.map { .stopped($0) }
            if let stop {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return stop
            }
            usleep(5_000)
        }
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(status & 0x7f)
    }
}

/// What a long-lived child writes on a stream (a server's standard error), read from a pipe as it
/// writes: the last `keep` bytes kept, the rest dropped — a chatty or hostile server never fills a
/// disk, however long it runs, and its last words are at hand for a message.
package final class OutputTail: Sendable {
    /// The bytes kept, the pipe's read end (-1 once it is no longer read: at its end, or closed) and
    /// the source that reads it (taken out when it is cancelled).
    final class Pipe: Sendable {
        struct State {
            var bytes: [UInt8] = []
            var fd: Int32
            var source: Source?
        }
        /// A Dispatch source is used from its own queue and under this lock only.
        struct Source: @unchecked Sendable { let read: any DispatchSourceRead }
        let state: Mutex<State>
        let keep: Int
        init(fd: Int32, keep: Int) {
            state = Mutex(State(fd: fd))
            self.keep = keep
        }

        /// Reads what is there now; true when no more will come (every writer gone, or closed).
        func drain() -> Bool {
            state.withLock { s in
                guard s.fd >= 0 else { return true }
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(s.fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        s.bytes.append(contentsOf: buffer[0..<n])
                        if s.bytes.count > keep { s.bytes.removeFirst(s.bytes.count - keep) }
                        continue
                    }
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return false }
                    s.fd = -1  // its end: the source's cancel handler closes the descriptor
                    return true
                }
            }
        }

        /// No more reading: the source cancelled (its cancel handler closes the descriptor).
        func stop() {
            let source = state.withLock { s in
                s.fd = -1
                defer { s.source = nil }
                return s.source
            }
            source?.read.cancel()
        }
    }

    let pipe: Pipe

    /// Takes the read end `fd` (made non-blocking here), read on a queue of its own as data comes;
    /// the descriptor is closed when reading ends (the source's cancel handler, as Dispatch wants).
    package init(fd: Int32, keep: Int = 8192) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let pipe = Pipe(fd: fd, keep: keep)
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "dubdeck.output-tail"))
        source.setEventHandler { if pipe.drain() { pipe.stop() } }
        source.setCancelHandler { Glibc.close(fd) }
        let held = Pipe.Source(read: source)
        pipe.state.withLock { $0.source = held }
        source.resume()
        self.pipe = pipe
    }

    deinit { close() }

    /// Stops reading (what was read, and what was there to read, stays).
    package func close() {
        _ = pipe.drain()
        pipe.stop()
    }

    /// Its last three lines, " | "-joined (what was written so far is read first).
    package var lastLines: String {
        _ = pipe.drain()
        return Subprocess.lastLines(pipe.state.withLock { $0.bytes })
    }
}
