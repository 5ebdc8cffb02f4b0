#if canImport(Glibc)
import Glibc
#endif

/// Where a character memory is kept: one encrypted file (`FileCharacterBackend`) or a PostgreSQL
/// database (`DatabaseCharacterBackend`). `CharacterStore` holds the memory and its rules; its
/// backend reads it in, commits one change as one transaction — the change applied to what another
/// writer committed first — and seals it again under a new key. A new backend is a type of this
/// protocol and a case in `CharacterStore.backend(for:)`.
protocol CharacterBackend: AnyObject {
    /// Whether there is a store there (as last read or written).
    var exists: Bool { get }
    /// Where reference recordings go (files, whatever the backend).
    var directory: String { get }
    /// Reads the whole store into its `CharacterStore` (none there: an empty one).
    func load() throws
    /// `change` applied to the store as committed now and saved, as one transaction; refused or not
    /// written, the store in memory is again what the backend holds.
    func commit(_ change: (CharacterStore) throws -> Void) throws
    /// Writes what the store holds now (a migration's copy, inside its own commit).
    func save() throws
    /// Everything sealed again under `newKey` (key rotate), in one transaction.
    func reseal(newKey: [UInt8]) throws
    /// Held by a key rotation from before the store is read until the key file is replaced (nil:
    /// the backend's transaction is enough).
    func rotationLock() throws -> JobLock?
    /// An interrupted rotation left the store sealed with the key at `newPath`: make it the key.
    func finishRotation(_ newPath: String)
    /// A character taken out of the store (a row to delete at the next save).
    func forget(_ id: String)
    /// True while every character is about to be written again (each one validated first).
    var rewritesAll: Bool { get }
}

/// The store as one file, sealed whole (docs/FORMATS.md): one writer at a time under its lock file.
final class FileCharacterBackend: CharacterBackend {
    unowned let store: CharacterStore
    let path: String
    /// The file as last read or written (a commit reads it again when it differs).
    var fingerprint = FileFingerprint.missing
    var lockPath: String { path + ".lock" }

    init(_ store: CharacterStore) {
        self.store = store
        path = store.path
    }

    var exists: Bool { fingerprint != .missing }
    var directory: String { FileIO.directory(of: path) }
    var rewritesAll: Bool { false }
    func forget(_ id: String) {}

    func load() throws {
        // Names and voices only (the desk): never the whole decrypted store in memory.
        if !store.withEmbeddings { return try loadSkimming() }
        guard var bytes = try FileIO.readIfExists(path, owner: .own) else {
            store.reset()
            fingerprint = .missing
            return
        }
        let fp = FileIO.fingerprint(path: path, bytes: bytes)
        let header = try Envelope.header(bytes, file: store.shownPath)
        let (k, source) = try store.resolveKey(header)
        let range = try Envelope.open(&bytes, key: k, file: store.shownPath)
        try store.parse(bytes, range)
        store.sealed(key: k, kdf: header.kdf)
        fingerprint = fp
        if case .keyFile(let p) = source.kind, p.hasSuffix(".new") { finishRotation(p) }
    }

    func commit(_ change: (CharacterStore) throws -> Void) throws {
        try FileIO.makeDirectories(directory)
        let lock = try JobLock.acquire(lockPath)
        defer { lock.release() }
        let disk = try FileIO.readIfExists(path, owner: .own)
        let fp = FileIO.fingerprint(path: path, bytes: disk)
        if fp.sha256 != fingerprint.sha256 || fp.size != fingerprint.size { try load() }
        do {
            try store.apply(change)
            try save()
        } catch {
            // Refused or not written: this store is again what the disk holds, not the change.
            try? load()
            throw error
        }
    }

    func save() throws {
        try store.validateChanged()
        let sealed = try Envelope.seal(store.plaintext(), key: store.key, kdf: store.kdf)
        if FileIO.faults.failCharacterStoreWrite { throw DubdeckError.io(store.shownPath, "write failed: \(errnoText(ENOSPC))") }
        try FileIO.writeAtomically(path, sealed, mode: 0o600)
        fingerprint = FileIO.fingerprint(path: path, bytes: sealed)
        store.markSaved()
    }

    func reseal(newKey: [UInt8]) throws {
        store.sealed(key: newKey, kdf: .raw)
        try save()
    }

    func rotationLock() throws -> JobLock? {
        try FileIO.makeDirectories(directory)
        return try JobLock.acquire(lockPath)
    }

    /// Under the store's lock, and only when `newPath` is still the key that opens the file (a
    /// rotation running in another process right now has the lock, so this waits or gives up).
    func finishRotation(_ newPath: String) {
        guard let lock = try? JobLock.acquire(lockPath, timeout: 0.5) else { return }
        defer { lock.release() }
        guard let bytes = try? FileIO.readIfExists(path, owner: .own), let header = try? Envelope.header(bytes, file: store.shownPath),
              let newKey = try? KeySource.readKeyFile(newPath), Envelope.keyCheck(newKey) == header.keyCheck else { return }
        CharacterStore.adoptNewKeyFile(newPath)
    }
}
