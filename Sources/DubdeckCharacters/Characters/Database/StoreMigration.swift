/// `characters migrate`: the whole memory copied between the file store and a database (either
/// way) in one change of the destination, then read back from scratch and compared: the same counts
/// and the same digest on both sides, or an error. Run again after an interruption it finishes the
/// copy (the destination may hold a part of the source, unchanged; anything else is refused).
public enum StoreMigration {
    public struct Report: Equatable, Sendable {
        public var characters: Int
        public var series: Int
        public var observations: Int
        /// SHA-256 of the canonical content (characters, observations, reconcile records, counters).
        public var digest: String
        /// The destination held all of it already: nothing was written.
        public var alreadyThere: Bool
    }

    /// The canonical content: every character (sorted by ID, as the store encodes it), the counters,
    /// the embedding description, the observations and the reconcile records. Equal stores, equal digests.
    public static func digest(_ s: CharacterStore) -> String {
        var doc = JSONObject([("next_n", .number(s.nextN)), ("embedding", s.embeddingMeta.map { .object($0) } ?? .null)])
        doc["characters"] = .object(JSONObject(s.characters.sorted { $0.id < $1.id }.map { ($0.id, s.characterJSON($0)) }))
        doc["series"] = .object(JSONObject(Swift.Set(s.observationOrder + s.reconcileOrder).sorted().map { id in
            (id, JSONValue.array([s.observations[id].map { .array($0.map(\.json)) } ?? .null,
                                  s.reconcileLog[id]?.json ?? .null]))
        }))
        return SHA256.hex(SHA256.digest(JSONWriter.encode(.object(doc))))
    }

    static func report(_ s: CharacterStore, alreadyThere: Bool) -> Report {
        Report(characters: s.characters.count, series: Swift.Set(s.observationOrder + s.reconcileOrder).count,
               observations: s.observations.values.reduce(0) { $0 + $1.count }, digest: digest(s), alreadyThere: alreadyThere)
    }

    public static func copy(from source: String, to destination: String) throws -> Report {
        guard source != destination else { throw DubdeckError(.usage, "the source and the destination are the same store") }
        let from = try CharacterStore.open(source)
        guard from.exists else { throw DubdeckError(.noInput, "\(CharacterStore.shown(source)): no character store to migrate") }
        // A store from before identities were given gets its own now: the copy carries it.
        if from.storeID == nil { try from.update { _ in } }
        let want = digest(from)
        var already = false
        let to = try CharacterStore.open(destination)
        try to.update { d in
            if d.exists, digest(d) == want { already = true; return }
            // An earlier copy of this very store (an interrupted run, or the source grew since) is
            // brought up to date; another store is refused, untouched.
            if d.exists, !d.characters.isEmpty || !d.observations.isEmpty, d.storeID == nil || d.storeID != from.storeID {
                throw DubdeckError.data(CharacterStore.shown(destination),
                                        "holds another character store (\(d.characters.count) characters, store_id \(Sanitizer.display(d.storeID ?? "none"))): migrate into an empty store")
            }
            d.adoptContents(of: from)
        }
        // Verified from scratch: what a new reader of the destination gets.
        let check = try CharacterStore.open(destination)
        let got = report(check, alreadyThere: already)
        let expected = report(from, alreadyThere: already)
        guard got == expected else {
            throw DubdeckError.data(CharacterStore.shown(destination),
                                    "the copy does not read back as the source (\(got.characters) characters, digest \(got.digest.prefix(12)) against \(expected.characters), \(expected.digest.prefix(12)))")
        }
        return got
    }
}

extension CharacterStore {
    /// Everything of `other` becomes this store's (every row written again: raw bytes dropped).
    func adoptContents(of other: CharacterStore) {
        for c in characters { backend.forget(c.id) }
        nextN = other.nextN
        embeddingMeta = other.embeddingMeta
        extraTop = other.extraTop
        characters = other.characters
        index = other.index
        raw = Array(repeating: nil, count: other.characters.count)
        observations = other.observations
        observationOrder = other.observationOrder
        reconcileLog = other.reconcileLog
        reconcileOrder = other.reconcileOrder
        matrixCache = nil
    }
}
