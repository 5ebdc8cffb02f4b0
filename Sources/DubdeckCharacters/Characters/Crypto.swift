import CCrypto

/// OpenSSL libcrypto, in the few shapes the character store needs.
public enum Crypto {
    public static func randomBytes(_ n: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        guard RAND_bytes(&out, Int32(n)) == 1 else { throw DubdeckError(.keyError, "the random number generator failed") }
        return out
    }

    public static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 32
        _ = HMAC(EVP_sha256(), key, Int32(key.count), data, data.count, &out, &len)
        return out
    }

    /// scrypt; `maxmem` is raised to what N and r need (OpenSSL's 32 MiB default refuses N=2^17, r=8).
    public static func scrypt(passphrase: [UInt8], salt: [UInt8], log2N: Int, r: Int, p: Int) throws -> [UInt8] {
        var key = [UInt8](repeating: 0, count: 32)
        let n = UInt64(1) << UInt64(log2N)
        let maxmem = 128 * UInt64(r) * n * UInt64(max(1, p)) + (64 << 20)
        let ok = passphrase.withUnsafeBufferPointer { pw in
            pw.withMemoryRebound(to: CChar.self) { pwc in
                EVP_PBE_scrypt(pwc.baseAddress, pw.count, salt, salt.count, n, UInt64(r), UInt64(p), maxmem, &key, 32)
            }
        }
        guard ok == 1 else { throw DubdeckError(.keyError, "scrypt key derivation failed (N=2^\(log2N), r=\(r), p=\(p))") }
        return key
    }

    /// AES-256-GCM in place: the buffer's plaintext becomes ciphertext; returns the 16-byte tag.
    public static func sealInPlace(_ buffer: inout [UInt8], range: Range<Int>, key: [UInt8], nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        guard let tag = gcm(&buffer, range: range, key: key, nonce: nonce, aad: aad, tag: nil) else {
            throw DubdeckError(.keyError, "encryption failed")
        }
        return tag
    }

    /// AES-256-GCM in place; false when the tag does not verify (then the buffer holds garbage).
    public static func openInPlace(_ buffer: inout [UInt8], range: Range<Int>, key: [UInt8], nonce: [UInt8], aad: [UInt8], tag: [UInt8]) -> Bool {
        gcm(&buffer, range: range, key: key, nonce: nonce, aad: aad, tag: tag) != nil
    }

    /// One pass of AES-256-GCM over `range`: encrypts when `tag` is nil (returning the new tag),
    /// otherwise decrypts and verifies `tag` (returning it, or nil when it does not verify).
    static func gcm(_ buffer: inout [UInt8], range: Range<Int>, key: [UInt8], nonce: [UInt8], aad: [UInt8], tag: [UInt8]?) -> [UInt8]? {
        guard let ctx = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let enc: Int32 = tag == nil ? 1 : 0
        var outl: Int32 = 0
        var ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil, enc) == 1
        ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1
        ok = ok && EVP_CipherInit_ex(ctx, nil, nil, key, nonce, enc) == 1
        ok = ok && EVP_CipherUpdate(ctx, nil, &outl, aad, Int32(aad.count)) == 1
        ok = ok && buffer.withUnsafeMutableBufferPointer { b in
            // In chunks: the length argument is an Int32.
            var offset = range.lowerBound
            while offset < range.upperBound {
                let n = min(1 << 30, range.upperBound - offset)
                let p = b.baseAddress! + offset
                guard EVP_CipherUpdate(ctx, p, &outl, p, Int32(n)) == 1, Int(outl) == n else { return false }
                offset += n
            }
            return true
        }
        var t = tag ?? [UInt8](repeating: 0, count: 16)
        if tag != nil { ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, &t) == 1 }
        var final = [UInt8](repeating: 0, count: 32)
        ok = ok && EVP_CipherFinal_ex(ctx, &final, &outl) == 1
        if tag == nil { ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, &t) == 1 }
        return ok ? t : nil
    }
}

/// Base64 through OpenSSL's block coder.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String {
        String(decoding: encodeBytes(bytes), as: UTF8.self)
    }

    public static func encodeBytes(_ bytes: [UInt8]) -> [UInt8] {
        if bytes.isEmpty { return [] }
        var out = [UInt8](repeating: 0, count: (bytes.count + 2) / 3 * 4 + 1)
        let n = EVP_EncodeBlock(&out, bytes, Int32(bytes.count))
        out.removeSubrange(Int(n)...)
        return out
    }

    /// Decodes standard padded base64 (no white space); nil when it is not that.
    public static func decode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
        let input = Array(text)
        if input.isEmpty { return [] }
        guard input.count % 4 == 0 else { return nil }
        var out = [UInt8](repeating: 0, count: input.count / 4 * 3)
        let n = EVP_DecodeBlock(&out, input, Int32(input.count))
        guard n >= 0 else { return nil }
        var padding = 0
        if input.last == UInt8(ascii: "=") { padding += 1 }
        if input.count >= 2, input[input.count - 2] == UInt8(ascii: "=") { padding += 1 }
        out.removeSubrange((Int(n) - padding)...)
        return out
    }

    public static func decode(_ text: String) -> [UInt8]? { decode(Array(text.utf8)) }

    /// Little-endian float32 vectors (the store's embedding encoding).
    public static func encodeFloats(_ v: [Float]) -> String {
        var bytes = [UInt8](repeating: 0, count: v.count * 4)
        for (i, f) in v.enumerated() {
            let bits = f.bitPattern.littleEndian
            bytes[4 * i] = UInt8(bits & 0xFF)
            bytes[4 * i + 1] = UInt8((bits >> 8) & 0xFF)
            bytes[4 * i + 2] = UInt8((bits >> 16) & 0xFF)
            bytes[4 * i + 3] = UInt8(bits >> 24)
        }
        return encode(bytes)
    }

    public static func decodeFloats<C: Collection>(_ text: C) -> [Float]? where C.Element == UInt8 {
        guard let bytes = decode(text), bytes.count % 4 == 0 else { return nil }
        var out = [Float](repeating: 0, count: bytes.count / 4)
        for i in 0..<out.count {
            let bits = UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24
            out[i] = Float(bitPattern: bits)
        }
        return out
    }
}

/// AES-256-GCM decryption in pieces (the store read in chunks, never whole): `update` decrypts a
/// chunk in place; `finish` says whether the tag verifies. Nothing decrypted may be acted on
/// before `finish` returned true.
final class GCMDecryptStream {
    let ctx: OpaquePointer
    var ok: Bool

    init?(key: [UInt8], nonce: [UInt8], aad: [UInt8]) {
        guard let c = EVP_CIPHER_CTX_new() else { return nil }
        ctx = c
        var outl: Int32 = 0
        ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil, 0) == 1
        ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1
        ok = ok && EVP_CipherInit_ex(ctx, nil, nil, key, nonce, 0) == 1
        ok = ok && EVP_CipherUpdate(ctx, nil, &outl, aad, Int32(aad.count)) == 1
    }

    deinit { EVP_CIPHER_CTX_free(ctx) }

    func update(_ chunk: inout [UInt8], count: Int) {
        guard ok, count > 0 else { return }
        var outl: Int32 = 0
        ok = chunk.withUnsafeMutableBufferPointer { b in
            EVP_CipherUpdate(ctx, b.baseAddress!, &outl, b.baseAddress!, Int32(count)) == 1 && Int(outl) == count
        }
    }

    func finish(tag: [UInt8]) -> Bool {
        var t = tag
        var outl: Int32 = 0
        var final = [UInt8](repeating: 0, count: 32)
        return ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, &t) == 1 && EVP_CipherFinal_ex(ctx, &final, &outl) == 1
    }
}
