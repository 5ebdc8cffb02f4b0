import CInterrupt

/// Ctrl-C in a command (SPEC §10.1): stop cleanly, leave no temporary file, exit 130. Temporary
/// files and child process groups are registered while they exist; a long loop that reports what
/// it did switches to polling and checks `requested` between steps.
public enum Interrupt {
    public static func install() { dd_interrupt_install() }
    public static var requested: Bool { dd_interrupt_requested() != 0 }
    public static func clear() { dd_interrupt_clear() }
    /// What Ctrl-C does to work in progress, without exiting: every engine is stopped at its next
    /// check (its process group killed), every loop stops between steps (the desk's quit).
    public static func request() { dd_interrupt_request() }

    /// Runs `body` with Ctrl-C only setting the flag (the body stops at its next check).
    public static func polling<T>(_ body: () throws -> T) rethrows -> T {
        dd_interrupt_set_polling(1)
        defer { dd_interrupt_set_polling(0) }
        return try body()
    }

    /// Keeps `path` registered for removal on Ctrl-C while `body` runs.
    public static func removingOnInterrupt<T>(_ path: String, directory: Bool = false, _ body: () throws -> T) rethrows -> T {
        let slot = dd_cleanup_register(path, directory ? 1 : 0)
        defer { dd_cleanup_unregister(slot) }
        return try body()
    }

    static func registerChild(_ pgid: Int32) -> Int32 { dd_child_register(pgid) }

    /// Every exit path: the engines' process groups killed, the temporaries still registered removed.
    public static func cleanUpAtExit() { dd_exit_cleanup() }

    /// How many temporaries are registered now (the tests).
    public static var registeredTemporaries: Int { Int(dd_cleanup_count()) }
    package static func unregisterChild(_ slot: Int32) { dd_child_unregister(slot) }

    /// SIGTERM/SIGHUP set a flag (a C volatile sig_atomic_t: no Swift global is touched in a handler).
    public static func installTermination() { dd_termination_install() }
    public static var terminationRequested: Bool { dd_termination_requested() != 0 }

    /// The error a polling loop throws when it stops for Ctrl-C.
    public static var error: DubdeckError { DubdeckError(.interrupted, "interrupted") }
}
