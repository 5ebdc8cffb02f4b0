#if canImport(Glibc)
import Glibc
#endif

/// The C library's words for an errno value (the current one by default).
public func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
