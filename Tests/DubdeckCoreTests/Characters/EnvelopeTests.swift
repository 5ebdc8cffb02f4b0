import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// Environment for key tests: each test sets what it needs; nothing leaks between tests.
class KeyEnvironmentTestCase: XCTestCase {
    var dir: TempDir!
    let vars = ["DUBDECK_STORE_KEY", "DUBDECK_STORE_PASSPHRASE", "DUBDECK_KEY_FILE", "XDG_CONFIG_HOME", "DUBDECK_STORE"]
    var saved: [String: String?] = [:]

    override func setUp() {
        dir = TempDir()
        for v in vars { saved[v] = Environment.get(v); unsetenv(v) }
        setenv("XDG_CONFIG_HOME", dir.file("config"), 1)
    }

    override func tearDown() {
        for v in vars {
            if let value = saved[v] ?? nil { setenv(v, value, 1) } else { unsetenv(v) }
        }
    }

    func useRawKey() -> [UInt8] {
        let key = (0..<32).map { UInt8($0 * 7 % 256) }
        setenv("DUBDECK_STORE_KEY", Base64.encode(key), 1)
        return key
    }
}

final class EnvelopeTests: KeyEnvironmentTestCase {
    func testRoundTripAndFreshNonce() throws {
        let key = useRawKey()
        let plain = Array(#"{"version":2,"characters":{}}"#.utf8)
        let a = try Envelope.seal(plain, key: key, kdf: .raw)
        let b = try Envelope.seal(plain, key: key, kdf: .raw)
        XCTAssertNotEqual(Array(a[52..<64]), Array(b[52..<64]), "a fresh nonce per save")
        XCTAssertFalse(a.containsSubsequence(Array("characters".utf8)), "no plaintext in the file")
        var copy = a
        let range = try Envelope.open(&copy, key: key, file: "x")
        XCTAssertEqual(Array(copy[range]), plain)
    }

    func testWrongKeyIs77() throws {
        let sealed = try Envelope.seal(Array("{}".utf8), key: [UInt8](repeating: 1, count: 32), kdf: .raw)
        var copy = sealed
        XCTAssertThrowsError(try Envelope.open(&copy, key: [UInt8](repeating: 2, count: 32), file: "s")) { e in
            XCTAssertEqual((e as! DubdeckError).status, .keyError)
        }
    }

    func testEveryFlippedByteIsRejected() throws {
        let key = [UInt8](repeating: 9, count: 32)
        let sealed = try Envelope.seal(Array(#"{"version":2,"next_n":3,"characters":{"SPEAKER_01":{"name":"Luffy"}}}"#.utf8), key: key, kdf: .raw)
        for i in sealed.indices {
            var bad = sealed
            bad[i] ^= 0x01
            XCTAssertThrowsError(try Envelope.open(&bad, key: key, file: "s"), "byte \(i) flipped was accepted") { e in
                let status = (e as! DubdeckError).status
                XCTAssertTrue(status == .dataError || status == .keyError, "byte \(i): \(status)")
                if i >= 64 { XCTAssertEqual(status, .dataError, "a flipped ciphertext or tag byte is tampering (65)") }
            }
        }
    }

    func testTruncationBadMagicUnknownVersion() throws {
        let key = [UInt8](repeating: 3, count: 32)
        let sealed = try Envelope.seal(Array("{}".utf8), key: key, kdf: .raw)
        for n in [0, 5, 63, 64, 79, sealed.count - 1] {
            var cut = Array(sealed.prefix(n))
            XCTAssertThrowsError(try Envelope.open(&cut, key: key, file: "s"), "\(n) bytes") { e in
                XCTAssertEqual((e as! DubdeckError).status, .dataError, "\(n) bytes")
            }
        }
        var magic = sealed
        magic[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try Envelope.open(&magic, key: key, file: "s")) { XCTAssertTrue(($0 as! DubdeckError).message.contains("bad magic")) }
        var version = sealed
        version[8] = 9
        XCTAssertThrowsError(try Envelope.open(&version, key: key, file: "s")) { XCTAssertTrue(($0 as! DubdeckError).message.contains("version 9")) }
        var plain = Array(#"{"version": 2, "characters": {}, "padding": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#.utf8)
        XCTAssertThrowsError(try Envelope.open(&plain, key: key, file: "s")) { XCTAssertTrue(($0 as! DubdeckError).message.contains("plaintext")) }
    }

    func testScryptParametersBoundedOnRead() throws {
        let key = [UInt8](repeating: 5, count: 32)
        var sealed = try Envelope.seal(Array("{}".utf8), key: key, kdf: .scrypt(log2N: 17, r: 8, p: 1, salt: [UInt8](repeating: 1, count: 16)))
        let h = try Envelope.header(sealed, file: "s")
        XCTAssertEqual(h.kdf, .scrypt(log2N: 17, r: 8, p: 1, salt: [UInt8](repeating: 1, count: 16)))
        for (offset, value) in [(10, UInt8(21)), (12, UInt8(17)), (16, UInt8(5))] {
            var bad = sealed
            bad[offset] = value
            XCTAssertThrowsError(try Envelope.header(bad, file: "s")) { e in
                XCTAssertEqual((e as! DubdeckError).status, .dataError)
                XCTAssertTrue((e as! DubdeckError).message.contains("out of bounds"), (e as! DubdeckError).message)
            }
        }
        sealed[9] = 7
        XCTAssertThrowsError(try Envelope.header(sealed, file: "s"))
    }
}

final class KeySourceTests: KeyEnvironmentTestCase {
    func storePath() -> String { dir.file("data/characters.json") }

    func testNewStoreCreatesAKeyFile0600AndNeverWhileAStoreExists() throws {
        let store = try CharacterStore.open(storePath())
        XCTAssertFalse(store.exists)
        try store.update { _ = $0.create(name: "Nami") }
        let keyFile = dir.file("config/dubdeck/store.key")
        var st = stat()
        XCTAssertEqual(stat(keyFile, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(dir.read("config/dubdeck/store.key")!.count, 45, "base64 of 32 bytes and a newline")
        XCTAssertEqual(try CharacterStore.open(storePath()).characters.first?.name, "Nami")
        XCTAssertFalse(dir.bytes("data/characters.json")!.containsSubsequence(Array("Nami".utf8)), "never plaintext on disk")

        // The key file lost: no new one is made while the store exists.
        unlink(keyFile)
        let before = dir.bytes("data/characters.json")
        XCTAssertThrowsError(try CharacterStore.open(storePath())) { XCTAssertEqual(($0 as! DubdeckError).status, .keyError) }
        XCTAssertFalse(FileIO.exists(keyFile))
        XCTAssertEqual(dir.bytes("data/characters.json"), before)
    }

    func testGroupReadableKeyFileIsRefused() throws {
        let store = try CharacterStore.open(storePath())
        try store.update { _ = $0.create() }
        chmod(dir.file("config/dubdeck/store.key"), 0o640)
        XCTAssertThrowsError(try CharacterStore.open(storePath())) { e in
            XCTAssertEqual((e as! DubdeckError).status, .keyError)
            XCTAssertTrue((e as! DubdeckError).message.contains("chmod 600"))
        }
    }

    func testEnvironmentKeyWinsAndAWrongOneIs77() throws {
        _ = useRawKey()
        let store = try CharacterStore.open(storePath())
        try store.update { _ = $0.create(name: "Zoro") }
        XCTAssertFalse(FileIO.exists(dir.file("config/dubdeck/store.key")), "an environment key needs no key file")
        setenv("DUBDECK_STORE_KEY", Base64.encode([UInt8](repeating: 0xAB, count: 32)), 1)
        let before = dir.bytes("data/characters.json")
        XCTAssertThrowsError(try CharacterStore.open(storePath())) { XCTAssertEqual(($0 as! DubdeckError).status, .keyError) }
        XCTAssertEqual(dir.bytes("data/characters.json"), before)
        setenv("DUBDECK_STORE_KEY", "not base64!", 1)
        XCTAssertThrowsError(try KeySource.find()) { XCTAssertEqual(($0 as! DubdeckError).status, .keyError) }
    }

    func testPassphraseUsesScryptAndKeepsItsSalt() throws {
        setenv("DUBDECK_STORE_PASSPHRASE", "correct horse battery staple", 1)
        let store = try CharacterStore.open(storePath())
        try store.update { _ = $0.create(name: "Usopp") }
        let first = try Envelope.header(dir.bytes("data/characters.json")!, file: "s")
        guard case .scrypt(let log2N, let r, let p, let salt) = first.kdf else { return XCTFail("not scrypt") }
        XCTAssertEqual([log2N, r, p], [17, 8, 1])
        try store.update { try $0.rename("SPEAKER_01", to: "Sogeking") }
        let second = try Envelope.header(dir.bytes("data/characters.json")!, file: "s")
        XCTAssertEqual(second.kdf, .scrypt(log2N: 17, r: 8, p: 1, salt: salt), "the salt is kept: a save costs no second derivation")
        XCTAssertNotEqual(first.nonce, second.nonce)
        setenv("DUBDECK_STORE_PASSPHRASE", "wrong", 1)
        XCTAssertThrowsError(try CharacterStore.open(storePath())) { XCTAssertEqual(($0 as! DubdeckError).status, .keyError) }
    }

    func testRotateAndInterruptedRotate() throws {
        let store = try CharacterStore.open(storePath())
        try store.update { _ = $0.create(name: "Sanji") }
        let keyFile = dir.file("config/dubdeck/store.key")
        let oldKey = dir.read("config/dubdeck/store.key")
        try KeyRotation.rotate(storePath: storePath(), keyPath: keyFile)
        XCTAssertNotEqual(dir.read("config/dubdeck/store.key"), oldKey)
        XCTAssertFalse(FileIO.exists(keyFile + ".new"))
        XCTAssertEqual(try CharacterStore.open(storePath()).characters.first?.name, "Sanji")

        // Interrupted after the store was re-encrypted, before the key file was replaced.
        let s = try CharacterStore.open(storePath())
        let newKey = try Crypto.randomBytes(32)
        try KeySource.writeKeyFile(keyFile + ".new", key: newKey)
        try s.reencrypt(newKey: newKey)
        let reopened = try CharacterStore.open(storePath())
        XCTAssertEqual(reopened.characters.first?.name, "Sanji", "the open tries store.key.new")
        XCTAssertEqual(try KeySource.readKeyFile(keyFile), newKey, "and finishes the rotation")
        XCTAssertFalse(FileIO.exists(keyFile + ".new"))
    }
}

extension Array where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return false }
        for i in 0...(count - needle.count) where self[i] == needle[0] && Array(self[i..<(i + needle.count)]) == needle { return true }
        return false
    }
}
