/// One label of an episode and the character it is.
public struct LabelAssignment: Equatable, Sendable {
    public var label: String
    public var characterID: String
    public var similarity: Double
    public var created: Bool
    /// Set by a reviewer (`characters assign`): identify keeps it.
    public var override = false

    public init(label: String, characterID: String, similarity: Double, created: Bool, override: Bool = false) {
        self.label = label
        self.characterID = characterID
        self.similarity = similarity
        self.created = created
        self.override = override
    }
}

/// JOB/characters.map.json — one reader and one writer for every place that reads or writes it
/// (the job loader, identify, assign, reconcile, and a map following the store).
///
///     {"series_id": "s1", "episode": "ep03", "embedding": {"type": "ecapa", "dim": 192},
///      "store_generation": 41, "labels": {"SPEAKER_00": {"character_id": "SPEAKER_07",
///      "similarity": 0.83, "created": false, "override": true}}, …}
///
/// `store_generation` (third edition) is the character store's generation the map was derived
/// from: a map older than the store's last change to its episode is derived again from the store's
/// observations when a command that has the store reads it (SPEC §11.4).
public struct CharacterMap: Equatable, Sendable {
    public var series: String?
    public var episode: String?
    public var embeddingType = "none"
    public var embeddingDim = 0
    public var storeGeneration = 0
    public var labels: [LabelAssignment] = []
    /// Members this dubdeck does not interpret (reconcile's stamp, unknown fields), kept as they are.
    public var extra = JSONObject()

    public init(series: String?, episode: String?, embeddingType: String, embeddingDim: Int, storeGeneration: Int, labels: [LabelAssignment]) {
        self.series = series
        self.episode = episode
        self.embeddingType = embeddingType
        self.embeddingDim = embeddingDim
        self.storeGeneration = storeGeneration
        self.labels = labels
    }

    /// label → character ID.
    public var characterIDs: [String: String] {
        var out: [String: String] = [:]
        for l in labels { out[l.label] = l.characterID }
        return out
    }

    static let known: Swift.Set<String> = ["series_id", "episode", "embedding", "store_generation", "labels"]

    /// The map, or nil when there is none. Ours, so never a link, FIFO or device; every character
    /// ID a safe name, the generation an integer from 0.
    public static func read(_ path: String) throws -> CharacterMap? { try read(FilePlace(path: path)) }

    public static func read(_ place: FilePlace) throws -> CharacterMap? {
        guard let bytes = try FileIO.readIfExists(place, owner: .own) else { return nil }
        let path = place.path
        let shown = place.shown
        guard case .object(let obj) = try JobLoader.parseFile(path, bytes: bytes) else {
            throw DubdeckError.data(shown, "expected a JSON object")
        }
        var map = CharacterMap(series: obj["series_id"]?.stringValue, episode: obj["episode"]?.stringValue,
                               embeddingType: obj["embedding"]?.objectValue?["type"]?.stringValue ?? "none",
                               embeddingDim: obj["embedding"]?.objectValue?["dim"]?.intValue ?? 0, storeGeneration: 0, labels: [])
        if let g = obj["store_generation"], !g.isNull {
            guard let n = g.intValue, n >= 0 else { throw DubdeckError.data(shown, "store_generation must be an integer from 0 to 2^53") }
            map.storeGeneration = n
        }
        if let labels = obj["labels"], !labels.isNull {
            guard let members = labels.objectValue?.members else { throw DubdeckError.data(shown, "labels must be an object") }
            for (label, entry) in members {
                guard let e = entry.objectValue, let id = e["character_id"]?.stringValue else {
                    throw DubdeckError.data(shown, "labels.\(Sanitizer.display(label)): expected {\"character_id\": …}")
                }
                try SafeName.check(id, file: path, field: "labels.\(label).character_id")
                map.labels.append(LabelAssignment(label: label, characterID: id, similarity: e["similarity"]?.doubleValue ?? 0,
                                                  created: e["created"]?.boolValue ?? false, override: e["override"]?.boolValue ?? false))
            }
        }
        map.extra = JSONObject(obj.members.filter { !known.contains($0.key) })
        return map
    }

    public var json: JSONValue {
        let entries = JSONObject(labels.map { x in
            (x.label, JSONValue.object(JSONObject([("character_id", .string(x.characterID)), ("similarity", .number(x.similarity)),
                                                    ("created", .bool(x.created))] + (x.override ? [("override", .bool(true))] : []))))
        })
        var o = JSONObject([("series_id", series.map { .string($0) } ?? .null), ("episode", episode.map { .string($0) } ?? .null),
                            ("embedding", .object(JSONObject([("type", .string(embeddingType)), ("dim", .number(embeddingDim))]))),
                            ("store_generation", .number(storeGeneration)), ("labels", .object(entries))])
        o.members += extra.members
        return .object(o)
    }

    /// The map must be this episode's: another episode's or series' map would give its characters
    /// to this episode's labels (65). A map that does not say (older) is taken as this episode's.
    public func requireEpisode(_ episode: String, series: String?, path: String) throws {
        if let e = self.episode, e != episode {
            throw DubdeckError.data(Sanitizer.display(path), "is episode \(Sanitizer.display(e))'s map, not \(Sanitizer.display(episode))'s")
        }
        if let s = self.series, let mine = series, s != mine {
            throw DubdeckError.data(Sanitizer.display(path), "is series \(Sanitizer.display(s))'s map, not \(Sanitizer.display(mine))'s")
        }
    }

    /// Written atomically; what is written is checked as the reader checks it first.
    public func write(_ path: String) throws { try write(FilePlace(path: path)) }

    public func write(_ place: FilePlace) throws {
        for l in labels { try SafeName.check(l.characterID, file: place.path, field: "labels.\(l.label).character_id") }
        try FileIO.writeAtomically(place, JSONWriter.encodePretty(json))
    }

    /// The map as the store's observations say (SPEC §11.4), the one rule for reading a map and for
    /// reconcile's re-writing of it: each label the store observed names the character it recorded
    /// (a merge is followed where the ID is used); a label it did not observe keeps its entry unless
    /// that names a character the store does not hold. Labels are never added (a reviewer's undo of
    /// an assignment removed its entry).
    public func following(_ observed: [String: String], holds: (String) -> Bool) -> CharacterMap {
        var map = self
        for i in map.labels.indices {
            if let id = observed[map.labels[i].label] { map.labels[i].characterID = id }
        }
        map.labels.removeAll { !holds($0.characterID) }
        return map
    }

    /// Its name in a job directory.
    public static let fileName = "characters.map.json"

}
