#if canImport(Glibc)
import Glibc
#endif

/// `key rotate`: store.key.new is written first, then the store re-encrypted with it, then it
/// replaces store.key. Interrupted anywhere, the store opens: with the old key before the store
/// was rewritten, with store.key.new after (an open tries both).
public enum KeyRotation {
    public static func rotate(storePath: String, keyPath: String) throws {
        let newPath = keyPath + ".new"
        // The file's lock from before it is read until the key file is replaced (a database re-seals
        // every row in one transaction: no lock).
        let lock = try CharacterStore(path: storePath, withEmbeddings: true).backend.rotationLock()
        defer { lock?.release() }
        let store = try CharacterStore.open(storePath)  // under the lock: nobody writes meanwhile
        let newKey = try Crypto.randomBytes(32)
        try KeySource.writeKeyFile(newPath, key: newKey)
        if store.exists { try store.reencrypt(newKey: newKey) }
        guard rename(newPath, keyPath) == 0 else {
            throw DubdeckError.io(Sanitizer.display(keyPath), "cannot replace the key file: \(errnoText())")
        }
        try FileIO.fsyncDirectory(FileIO.directory(of: keyPath))
    }
}
