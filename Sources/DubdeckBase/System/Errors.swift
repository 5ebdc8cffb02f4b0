/// sysexits(3) codes, as the command line contract names them.
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    case usage = 64
    case dataError = 65
    case noInput = 66
    case cannotCreate = 73
    case ioError = 74
    case conflict = 75
    case keyError = 77
    /// A configuration that names what is not there (a database, role or schema).
    case config = 78
    /// Stopped by Ctrl-C (128 + SIGINT).
    case interrupted = 130
}

/// Every error a user can meet: one line naming the file and the cause, and its exit code.
public struct DubdeckError: Error, CustomStringConvertible, Equatable {
    public var status: ExitStatus
    public var message: String
    public var reason: Reason = .other

    /// Lets callers tell a busy job lock (retry later) from a real conflict.
    public enum Reason: Sendable { case other, lockBusy }

    public init(_ status: ExitStatus, _ message: String, reason: Reason = .other) {
        self.status = status
        self.message = message
        self.reason = reason
    }

    public var description: String { message }

    public static func data(_ file: String, _ cause: String) -> DubdeckError { .init(.dataError, "\(file): \(cause)") }
    public static func io(_ file: String, _ cause: String) -> DubdeckError { .init(.ioError, "\(file): \(cause)") }
    public static func conflict(_ message: String) -> DubdeckError { .init(.conflict, message) }
}
