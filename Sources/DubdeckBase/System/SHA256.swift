import CCrypto
#if canImport(Glibc)
import Glibc
#endif

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
