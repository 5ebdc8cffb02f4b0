import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Standard output and error by their descriptors, without C's shared FILE* globals (which Swift 6
/// cannot prove safe). Output is written at once; a failed write to standard output is remembered
/// and ends the command with exit 74.
public enum Console {
    static let outputFailure = Atomic<Int32>(0)

    /// The errno of the first failed write to standard output, or nil.
    public static var outputFailed: Int32? {
        let e = outputFailure.load(ordering: .relaxed)
        return e == 0 ? nil : e
    }

    public static func out(_ text: String) {
        if outputFailed != nil { return }
        if let e = write(fd: 1, Array(text.utf8)) { outputFailure.store(e, ordering: .relaxed) }
    }

    public static func err(_ text: String) {
        _ = write(fd: 2, Array(text.utf8))
    }

    /// nil, or the errno of the failure.
    @discardableResult
    public static func write(fd: Int32, _ bytes: [UInt8]) -> Int32? {
        var done = 0
        return bytes.withUnsafeBufferPointer { buf -> Int32? in
            while done < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return nil
        }
    }
}
