#if canImport(Glibc)
import Glibc
#endif

/// A small pthread mutex (Core does not use Foundation). The pthread_mutex_t lives on the heap at
/// a fixed address (a value stored inline in a class must not be passed by `&`: Swift may move it).
/// Sendable: the lock is the synchronization.
public final class Mutex: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deinitialize(count: 1)
        m.deallocate()
    }

    public func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}
