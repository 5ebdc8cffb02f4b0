import CCrypto
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Work handed to another core that the process must see finished before it exits (a hash of a
/// file just read). `exit` runs OpenSSL's clean-up: a hash still running then would crash.
public enum BackgroundWork {
    static let pending = DispatchGroup()

    /// Runs `body` on another core, counted until it returns.
    static func start(_ body: @escaping @Sendable () -> Void) {
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

/// OpenSSL initialised once, without its exit-time clean-up (a thread may still be hashing when
/// the process exits; the memory goes with the process anyway).
public enum OpenSSLLibrary {
    private static let initialised: Bool = {
        OPENSSL_init_crypto(UInt64(OPENSSL_INIT_NO_ATEXIT), nil) == 1
    }()

    /// Call before the first OpenSSL call (the command line's first step; every hash does too).
    public static func ready() { _ = initialised }
}

/// SHA-256 through OpenSSL (file fingerprints, history bases, take texts).
public enum SHA256 {
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        OpenSSLLibrary.ready()
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 32
        bytes.withUnsafeBufferPointer { buf in
            _ = EVP_Digest(buf.baseAddress, buf.count, &out, &len, EVP_sha256(), nil)
        }
        return out
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in digest(bytes) {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
