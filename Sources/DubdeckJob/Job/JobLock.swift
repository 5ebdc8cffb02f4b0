#if canImport(Glibc)
import Glibc
#endif

/// The per-operation writer lock on JOB/.dubdeck.lock (flock). Held only around
/// check → append → write, never while the desk is idle, so CLI commands work beside it.
public final class JobLock {
    let fd: Int32
    public let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Waits up to `timeout` seconds, then fails with exit 75.
    public static func acquire(_ path: String, timeout: Double = 2.0) throws -> JobLock {
        try acquire(FilePlace(path: path), timeout: timeout)
    }

    public static func acquire(_ place: FilePlace, timeout: Double = 2.0) throws -> JobLock {
        let path = place.path
        let fd = place.open(O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode: 0o600)
        guard fd >= 0 else {
            if errno == ELOOP { throw DubdeckError.data(Sanitizer.display(path), "is a symbolic link; refusing to follow it") }
            throw DubdeckError(.cannotCreate, "\(Sanitizer.display(path)): cannot open lock file: \(errnoText())")
        }
        do {
            try FileIO.requireRegular(fd: fd, path: path, owner: .own)
        } catch {
            close(fd)
            throw error
        }
        let deadline = Clock.monotonic() + timeout
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EWOULDBLOCK && errno != EINTR {
                let text = errnoText()
                close(fd)
                throw DubdeckError.io(Sanitizer.display(path), "cannot lock: \(text)")
            }
            if Clock.monotonic() >= deadline {
                close(fd)
                throw DubdeckError(.conflict,
                    "\(Sanitizer.display(path)): another dubdeck is writing this job (waited \(JSONValue.formatNumber(timeout)) s); try again",
                    reason: .lockBusy)
            }
            usleep(5_000)
        }
        return JobLock(fd: fd, path: path)
    }

    public func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
