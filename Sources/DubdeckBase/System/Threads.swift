#if canImport(Glibc)
import Glibc
#endif

/// Threads of dubdeck's own, for work that blocks (a batch waiting on an engine server): the global
/// dispatch queues add a thread about once a second when their workers block, so 16 workers waiting
/// on a server that takes 16 requests at once would have had 4 in flight for many seconds.
public enum Threads {
    final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Runs `body` on a new detached thread (its stack 8 MB, as the main thread's).
    public static func detach(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 8 << 20)
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc != 0 {
            // No thread to be had: the work is done here rather than lost.
            Unmanaged<Box>.fromOpaque(box).takeRetainedValue().body()
        }
    }
}
