import Dispatch

/// Work handed to another core that the process must see finished before it exits (the sweep of
/// a killed synthesis's temporaries). `exit` runs OpenSSL's clean-up: work still using it then would crash.
public enum BackgroundWork {
    static let pending = DispatchGroup()

    /// Runs `body` on another core, counted until it returns.
    package static func start(_ body: @escaping @Sendable () -> Void) {
        OpenSSLLibrary.ready()
        pending.enter()
        DispatchQueue.global(qos: .userInitiated).async {
            body()
            pending.leave()
        }
    }

    /// Waits for everything started (the command line calls it before exiting).
    public static func finish() {
        pending.wait()
    }
}
