#if canImport(Glibc)
import Glibc
#endif

public struct SeriesInfo: Equatable, Sendable {
    public var episodes: [String]
    public var lastSeenAt: String?
    public var lastEpisode: String?
    public var seen: Int { episodes.count }
}

public struct EmbeddingSnapshot: Equatable, Sendable {
    public var series: String
    public var episode: String
    public var embedding: [Float]
    public var at: String

    public init(series: String, episode: String, embedding: [Float], at: String) {
        self.series = series
        self.episode = episode
        self.embedding = embedding
        self.at = at
    }
}

/// One character of the voice memory.
public struct CharacterRecord: Equatable, Sendable {
    public var id: String
    public var name: String
    /// Empty when the store was opened without embeddings (the desk).
    public var embeddingAvg: [Float]
    public var embeddingCount: Int
    public var snapshots: [EmbeddingSnapshot]
    /// series id → info, in the order first seen.
    public var series: [(id: String, info: SeriesInfo)]
    public var speakerWavs: [String]
    public var voice: Voice?
    /// The original speaker's pitch, measured from the episode's audio when the character was made
    /// (`voice_estimate`; nil: not measured): the voice was cast in its register.
    public var voiceEstimate: PitchEstimate? = nil
    /// The voice before the last re-cast and the version that re-cast gave the character
    /// (`voice_previous`): `characters voice ID --undo` puts it back while nothing changed since.
    public var previousVoice: (voice: Voice, version: Int)? = nil
    public var mergedInto: String?
    public var notes: String
    public var createdAt: String
    public var updatedAt: String
    /// Fields this dubdeck does not know, kept as they are.
    public var extra: JSONObject
    /// Incremented by every transaction that changes this character (never a clock): what an undo
    /// compares to know nothing changed since (SPEC §11.3). 0 for a character written before versions.
    public var version: Int = 0

    public static let maxSnapshots = 8

    public func seriesInfo(_ id: String) -> SeriesInfo? { series.first { $0.id == id }?.info }

    public mutating func setSeries(_ id: String, _ info: SeriesInfo) {
        if let i = series.firstIndex(where: { $0.id == id }) { series[i].info = info } else { series.append((id, info)) }
    }

    /// How a reviewer sees the character: its name, else `unnamed 07` (never the bare ID, which
    /// looks like the episode's diarization labels).
    public var displayName: String { CharacterRecord.shownName(id: id, name: name) }

    /// `Hana`, or `unnamed 07` for SPEAKER_07 without a name (`unnamed <ID>` for another kind of ID).
    public static func shownName(id: String, name: String) -> String {
        name.isEmpty ? "unnamed " + number(of: id) : name
    }

    /// The ID's number (`07` of SPEAKER_07), else the ID itself: `character 07` in the wording that
    /// puts a label and a character side by side.
    public static func number(of id: String) -> String {
        let prefix = "SPEAKER_"
        if id.hasPrefix(prefix), id.count > prefix.count, id.dropFirst(prefix.count).allSatisfy({ $0.isASCII && $0.isNumber }) {
            return String(id.dropFirst(prefix.count))
        }
        return id
    }

    /// A reference recording's path as the store may hold it: no `..` component, nothing the
    /// sanitizer would change, no NUL.
    public static func isSafeSpeakerWav(_ w: String) -> Bool {
        !w.isEmpty && !w.split(separator: "/").contains("..") && !Sanitizer.needsSanitizing(w) && !w.utf8.contains(0)
    }

    /// The rules every character follows, checked by the reader and by every writer before it
    /// writes (SPEC §11.1): nothing dubdeck saves can make it refuse its own store.
    public func validate(file: String) throws {
        let who = "character \(Sanitizer.display(id))"
        // IDs become paths (data/voices/<ID>/ref.wav), variants and engines library arguments.
        try SafeName.check(id, file: file, field: "character ID")
        for s in series { try SafeName.check(s.id, file: file, field: "\(who) series") }
        for w in speakerWavs where !CharacterRecord.isSafeSpeakerWav(w) {
            throw DubdeckError.data(Sanitizer.display(file), "\(who): speaker_wavs holds an unsafe path")
        }
        for (field, voice) in [("voice", voice), ("voice_previous", previousVoice?.voice)] {
            guard let voice else { continue }
            try SafeName.check(voice.variant, file: file, field: "\(who) \(field).variant")
            try SafeName.check(voice.engine, file: file, field: "\(who) \(field).engine")
            guard voice.isValid else {
                throw DubdeckError.data(Sanitizer.display(file), "\(who): \(field) has pitch \(voice.pitch) and rate \(voice.rate) (pitch 0–100, rate 80–450)")
            }
        }
        if let e = voiceEstimate, !e.isValid {
            throw DubdeckError.data(Sanitizer.display(file), "\(who): voice_estimate is not a pitch (40–1000 Hz, low ≤ median ≤ high)")
        }
        if let p = previousVoice, p.version < 0 || p.version > Int(JSONValue.maxExactInteger) {
            throw DubdeckError.data(Sanitizer.display(file), "\(who): voice_previous.version out of range")
        }
        if let m = mergedInto { try SafeName.check(m, file: file, field: "\(who) merged_into") }
        // An average is written by dubdeck only: NaN or infinity in it is a writer's fault, caught here.
        if !embeddingAvg.allSatisfy({ $0.isFinite }) {
            throw DubdeckError.data(Sanitizer.display(file), "\(who): its average embedding is not finite")
        }
        guard embeddingCount >= 0, version >= 0, version <= Int(JSONValue.maxExactInteger) else {
            throw DubdeckError.data(Sanitizer.display(file), "\(who): counts out of range")
        }
    }

    public static func == (a: CharacterRecord, b: CharacterRecord) -> Bool {
        a.id == b.id && a.name == b.name && a.embeddingAvg == b.embeddingAvg && a.embeddingCount == b.embeddingCount
            && a.snapshots == b.snapshots && a.series.map { $0.id } == b.series.map { $0.id }
            && a.series.map { $0.info } == b.series.map { $0.info } && a.speakerWavs == b.speakerWavs && a.voice == b.voice
            && a.voiceEstimate == b.voiceEstimate && a.previousVoice?.voice == b.previousVoice?.voice && a.previousVoice?.version == b.previousVoice?.version
            && a.mergedInto == b.mergedInto && a.notes == b.notes && a.extra == b.extra && a.version == b.version
    }
}

/// The canonical, persistent character voice memory, encrypted at rest (see `Envelope`).
/// Opened `withEmbeddings: false` (the desk) it keeps names, series and voices only.
public final class CharacterStore {
    public static let schemaVersion = 2

    public let path: String
    public let withEmbeddings: Bool
    public internal(set) var nextN = 1
    /// Incremented by every committed change of the store (never a clock): maps record the generation
    /// they were derived from, observations the generation of their last change (SPEC §11.4).
    public internal(set) var generation = 0
    /// True while a change runs: `generation` is then this commit's, not yet committed (a retry or a
    /// refused save never commits it), so nothing may be stamped with it outside the store.
    public internal(set) var changing = false
    /// {"type","dim","model","encoding","updated_at"}, nil for a store with no embedding yet.
    public internal(set) var embeddingMeta: JSONObject?
    var extraTop: [(key: String, value: JSONValue)] = []
    public internal(set) var characters: [CharacterRecord] = []
    var index: [String: Int] = [:]
    /// Each character's JSON as read; nil once it changed (re-encoded on save).
    var raw: [ArraySlice<UInt8>?] = []
    var key: [UInt8] = []
    var kdf: Envelope.KDF = .raw
    var matrixCache: EmbeddingMatrix?
    /// Per series, what identify saw of each (episode, label) (reconcile's input); withEmbeddings only.
    var observations: [String: [Observation]] = [:]
    var observationOrder: [String] = []
    /// Per series, the reconciles applied (undoable) and the proposals a reviewer rejected.
    var reconcileLog: [String: ReconcileLog] = [:]
    var reconcileOrder: [String] = []
    /// The file or the database the memory is kept in.
    lazy var backend: CharacterBackend = CharacterStore.isDatabaseURL(path) ? DatabaseCharacterBackend(self) : FileCharacterBackend(self)

    public var exists: Bool { backend.exists }
    public var dim: Int? { embeddingMeta?["dim"]?.intValue }
    public var embeddingType: String? { embeddingMeta?["type"]?.stringValue }

    /// The store path: --store, else DUBDECK_STORE, else data/characters.json.
    public static func defaultPath(_ explicit: String?) -> String {
        if let e = explicit, !e.isEmpty { return e }
        if let env = Environment.get("DUBDECK_STORE"), !env.isEmpty { return env }
        return "data/characters.json"
    }

    /// Where reference recordings go: beside the file store; for a database, `data/` (they are files).
    public var directory: String { backend.directory }

    /// A store path as it may be printed (a database URL without its password).
    public static func shown(_ path: String) -> String { isDatabaseURL(path) ? PGConnection.redacted(path) : Sanitizer.display(path) }

    init(path: String, withEmbeddings: Bool) {
        self.path = path
        self.withEmbeddings = withEmbeddings
    }

    /// Opens the store; a missing file is an empty store (no key needed until it is saved).
    public static func open(_ path: String, withEmbeddings: Bool = true) throws -> CharacterStore {
        let store = CharacterStore(path: path, withEmbeddings: withEmbeddings)
        try store.load()
        return store
    }

    func load() throws {
        try backend.load()
        if withEmbeddings { matrixCache = matrix() }  // ready for matching
    }

    /// The key the store was read or is to be written with.
    func sealed(key k: [UInt8], kdf d: Envelope.KDF) {
        key = k
        kdf = d
    }

    func reset() {
        nextN = 1
        generation = 0
        embeddingMeta = nil
        extraTop = []
        characters = []
        index = [:]
        raw = []
        matrixCache = nil
        observations = [:]
        observationOrder = []
        reconcileLog = [:]
        reconcileOrder = []
    }

    /// The key for this file; after an interrupted `key rotate` the new key file is tried too.
    func resolveKey(_ header: Envelope.Header) throws -> ([UInt8], KeySource) {
        guard let source = try KeySource.find() else {
            throw DubdeckError(.keyError, "\(shownPath): no key (set DUBDECK_STORE_KEY or DUBDECK_STORE_PASSPHRASE, or restore the key file \(Sanitizer.display(KeySource.keyFilePath())))")
        }
        let k = try source.key(for: header.kdf)
        if Envelope.keyCheck(k) == header.keyCheck { return (k, source) }
        if case .keyFile(let p) = source.kind, let newKey = try KeySource.readKeyFile(p + ".new"),
           Envelope.keyCheck(newKey) == header.keyCheck {
            return (newKey, KeySource(kind: .keyFile(p + ".new"), secret: newKey))
        }
        throw DubdeckError(.keyError, "\(shownPath): wrong key (the key check does not match)")
    }

    /// An interrupted rotate left the store sealed with store.key.new: the backend makes it the key.
    func finishRotation(_ newPath: String) { backend.finishRotation(newPath) }

    /// store.key.new becomes store.key (the store is already sealed with it).
    static func adoptNewKeyFile(_ newPath: String) {
        let final = String(newPath.dropLast(4))
        if Glibc.rename(newPath, final) == 0 { try? FileIO.fsyncDirectory(FileIO.directory(of: final)) }
    }

    // MARK: Parsing

    func parse(_ bytes: [UInt8], _ range: Range<Int>) throws {
        reset()
        let shown = shownPath
        // Parse the plaintext slice in place: a parser over the whole buffer starting at the range.
        var parser = JSONParser(bytes: bytes, start: range.lowerBound, end: range.upperBound)
        var sawVersion = false
        var observationsValue: JSONValue?
        var reconcileValue: JSONValue?
        do {
            try parser.parseObjectMembers(depth: 0) { key, p in
                switch key {
                case "characters":
                    try p.parseObjectMembers(depth: 1) { id, q in
                        q.skipWhitespace()
                        let start = q.offset
                        let c = try parseCharacter(id: id, &q, shown: shown)
                        index[id] = characters.count
                        characters.append(c)
                        raw.append(withEmbeddings ? bytes[start..<q.offset] : nil)
                    }
                case "observations":
                    // Read without embeddings too (the desk): maps follow the store by them.
                    observationsValue = try p.parseValue(depth: 1)
                case "reconcile" where withEmbeddings:
                    reconcileValue = try p.parseValue(depth: 1)
                case "reconcile":
                    try p.skipValue(depth: 1)
                default:
                    try parseTopMember(key, &p, shown: shown)
                    sawVersion = sawVersion || key == "version"
                }
            }
        } catch let e as JSONParseError {
            throw DubdeckError.data(shown, "line \(e.line): \(e.message)")
        }
        if !sawVersion { throw DubdeckError.data(shown, "missing \"version\"") }
        if let d = dim {
            for c in characters where !c.embeddingAvg.isEmpty && c.embeddingAvg.count != d {
                throw DubdeckError.data(shown, "character \(Sanitizer.display(c.id)): embedding has \(c.embeddingAvg.count) values, the store's dim is \(d)")
            }
        }
        // After the characters and the embedding's dim, wherever they were in the file.
        if let v = observationsValue { try parseObservations(v) }
        if let v = reconcileValue { try parseReconcileLog(v) }
    }

    /// One of the document's own members (not a character, observation or reconcile record).
    func parseTopMember(_ key: String, _ p: inout JSONParser, shown: String) throws {
        switch key {
        case "version":
            guard let v = try p.parseValue(depth: 1).intValue else { throw DubdeckError.data(shown, "\"version\" must be an integer") }
            guard v <= CharacterStore.schemaVersion else {
                throw DubdeckError.data(shown, "character store schema version \(v) is newer than this dubdeck knows (\(CharacterStore.schemaVersion))")
            }
        case "next_n":
            guard let n = try p.parseValue(depth: 1).intValue, n >= 0 else { throw DubdeckError.data(shown, "\"next_n\" must be an integer") }
            nextN = n
        case "generation":
            guard let n = try p.parseValue(depth: 1).intValue, n >= 0 else { throw DubdeckError.data(shown, "\"generation\" must be an integer from 0 to 2^53") }
            generation = n
        case "embedding":
            let v = try p.parseValue(depth: 1)
            embeddingMeta = v.isNull ? nil : v.objectValue
        default:
            extraTop.append((key, try p.parseValue(depth: 1)))
        }
    }

    /// The document's own members read again from `bytes` (an object of them alone: a database's
    /// meta row after another writer's commit), the characters kept.
    func reparseTop(_ bytes: [UInt8]) throws {
        let shown = shownPath
        let dimBefore = dim
        extraTop = []
        embeddingMeta = nil
        var parser = JSONParser(bytes: bytes, start: 0, end: bytes.count)
        var sawVersion = false
        do {
            try parser.parseObjectMembers(depth: 0) { key, p in
                guard !["characters", "observations", "reconcile"].contains(key) else { throw DubdeckError.data(shown, "the meta row holds \"\(key)\"") }
                try parseTopMember(key, &p, shown: shown)
                sawVersion = sawVersion || key == "version"
            }
        } catch let e as JSONParseError {
            throw DubdeckError.data(shown, "line \(e.line): \(e.message)")
        }
        if !sawVersion { throw DubdeckError.data(shown, "missing \"version\"") }
        if dim != dimBefore { matrixCache = nil }
    }

    func parseFloats(_ p: inout JSONParser, what: String, shown: String) throws -> [Float] {
        if p.peek() == UInt8(ascii: "n") { _ = try p.parseValue(depth: 4); return [] }
        let text = try p.rawString()
        guard let v = Base64.decodeFloats(text) else {
            throw DubdeckError.data(shown, "\(what): not base64 of little-endian float32")
        }
        return v
    }

    func parseCharacter(id: String, _ p: inout JSONParser, shown: String) throws -> CharacterRecord {
        var c = CharacterRecord(id: id, name: "", embeddingAvg: [], embeddingCount: 0, snapshots: [], series: [], speakerWavs: [],
                                voice: nil, mergedInto: nil, notes: "", createdAt: "", updatedAt: "", extra: JSONObject())
        let who = "character \(Sanitizer.display(id))"
        try SafeName.check(id, file: shownPath, field: "character ID")  // before its fields: an unsafe ID is named as such
        try p.parseObjectMembers(depth: 2) { key, q in
            switch key {
            case "embedding_avg":
                if withEmbeddings { c.embeddingAvg = try parseFloats(&q, what: "\(who) embedding_avg", shown: shown) } else { try q.skipValue(depth: 3) }
            case "snapshots":
                if !withEmbeddings { try q.skipValue(depth: 3); return }
                guard q.peek() == UInt8(ascii: "[") else { throw DubdeckError.data(shown, "\(who): snapshots must be an array") }
                let v = try q.parseEmbeddingSnapshots(depth: 3) { inner in try parseFloats(&inner, what: "\(who) snapshot", shown: shown) }
                c.snapshots = v
            default:
                let v = try q.parseValue(depth: 3)
                switch key {
                case "name": c.name = v.stringValue ?? ""
                case "embedding_count": c.embeddingCount = max(0, v.intValue ?? 0)
                case "series":
                    for (sid, info) in v.objectValue?.members ?? [] {
                        let o = info.objectValue
                        c.series.append((sid, SeriesInfo(episodes: (o?["episodes"]?.arrayValue ?? []).compactMap { $0.stringValue },
                                                         lastSeenAt: o?["last_seen_at"]?.stringValue, lastEpisode: o?["last_episode"]?.stringValue)))
                    }
                case "speaker_wavs":
                    c.speakerWavs = (v.arrayValue ?? []).compactMap { $0.stringValue }
                case "voice":
                    guard !v.isNull else { return }
                    guard let voice = Voice(strictJSON: v) else {
                        throw DubdeckError.data(shown, "\(who): voice must be an object with a variant and integer pitch and rate")
                    }
                    c.voice = voice
                case "voice_estimate":
                    guard !v.isNull else { return }
                    guard let o = v.objectValue, let m = o["f0_median_hz"]?.doubleValue, let lo = o["f0_low_hz"]?.doubleValue,
                          let hi = o["f0_high_hz"]?.doubleValue, let sec = o["voiced_s"]?.doubleValue else {
                        throw DubdeckError.data(shown, "\(who): voice_estimate must hold f0_median_hz, f0_low_hz, f0_high_hz and voiced_s")
                    }
                    c.voiceEstimate = PitchEstimate(medianHz: m, lowHz: lo, highHz: hi, voicedSeconds: sec)
                case "voice_previous":
                    guard !v.isNull else { return }
                    guard let o = v.objectValue, let pv = o["voice"].flatMap({ Voice(strictJSON: $0) }), let n = o["version"]?.intValue else {
                        throw DubdeckError.data(shown, "\(who): voice_previous must hold a voice and a version")
                    }
                    c.previousVoice = (pv, n)
                case "merged_into":
                    c.mergedInto = v.stringValue
                case "notes": c.notes = v.stringValue ?? ""
                case "created_at": c.createdAt = v.stringValue ?? ""
                case "updated_at": c.updatedAt = v.stringValue ?? ""
                case "version":
                    guard let n = v.intValue, n >= 0 else { throw DubdeckError.data(shown, "\(who): \"version\" must be an integer from 0 to 2^53") }
                    c.version = n
                default: c.extra.members.append((key, v))
                }
            }
        }
        try c.validate(file: shownPath)
        return c
    }

    /// Every character changed since it was read passes the reader's rules before anything is written.
    func validateChanged() throws {
        for (i, c) in characters.enumerated() where raw[i] == nil || backend.rewritesAll { try c.validate(file: shownPath) }
        for list in observations.values { for o in list { try Observation.checkQuality(o.quality, shownPath, o.episode) } }
    }

    // MARK: Encoding

    func characterJSON(_ c: CharacterRecord) -> JSONValue {
        var o = JSONObject([
            ("name", .string(c.name)),
            ("embedding_avg", c.embeddingAvg.isEmpty ? .null : .string(Base64.encodeFloats(c.embeddingAvg))),
            ("embedding_count", .number(c.embeddingCount)),
            ("snapshots", .array(c.snapshots.map { s in
                .object(JSONObject([("series", .string(s.series)), ("episode", .string(s.episode)),
                                    ("embedding", .string(Base64.encodeFloats(s.embedding))), ("at", .string(s.at))]))
            })),
            ("series", .object(JSONObject(c.series.map { s in
                (s.id, JSONValue.object(JSONObject([
                    ("seen", .number(s.info.seen)), ("episodes", .array(s.info.episodes.map { .string($0) })),
                    ("last_seen_at", s.info.lastSeenAt.map { .string($0) } ?? .null),
                    ("last_episode", s.info.lastEpisode.map { .string($0) } ?? .null),
                ])))
            }))),
            ("speaker_wavs", .array(c.speakerWavs.map { .string($0) })),
            ("voice", c.voice?.json ?? .null),
            ("voice_estimate", c.voiceEstimate.map { e in
                .object(JSONObject([("f0_median_hz", .number((e.medianHz * 10).rounded() / 10)), ("f0_low_hz", .number((e.lowHz * 10).rounded() / 10)),
                                    ("f0_high_hz", .number((e.highHz * 10).rounded() / 10)), ("voiced_s", .number((e.voicedSeconds * 100).rounded() / 100))]))
            } ?? .null),
            ("voice_previous", c.previousVoice.map { .object(JSONObject([("voice", $0.voice.json), ("version", .number($0.version))])) } ?? .null),
            ("merged_into", c.mergedInto.map { .string($0) } ?? .null),
            ("notes", .string(c.notes)), ("created_at", .string(c.createdAt)), ("updated_at", .string(c.updatedAt)),
            ("version", .number(c.version)),
        ])
        o.members += c.extra.members
        return .object(o)
    }

    /// `{` and the top-level members but characters, observations and reconcile (no closing brace).
    func writeTopMembers(into out: inout [UInt8]) {
        out += Array("{\"version\": \(CharacterStore.schemaVersion), \"next_n\": \(nextN), \"generation\": \(generation), \"embedding\": ".utf8)
        JSONWriter.write(embeddingMeta.map { .object($0) } ?? .null, into: &out, indent: nil, level: 0)
        for m in extraTop {
            out += Array(", ".utf8)
            JSONWriter.writeString(m.key, into: &out)
            out += Array(": ".utf8)
            JSONWriter.write(m.value, into: &out, indent: nil, level: 0)
        }
    }

    /// The plaintext JSON; unchanged characters are copied as the bytes they were read as.
    func plaintext() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.reduce(0) { $0 + ($1?.count ?? 2048) } + 1024)
        writeTopMembers(into: &out)
        if !observationOrder.isEmpty {
            out += Array(", \"observations\": ".utf8)
            JSONWriter.write(observationsJSON, into: &out, indent: nil, level: 0)
        }
        if !reconcileOrder.isEmpty {
            out += Array(", \"reconcile\": ".utf8)
            JSONWriter.write(reconcileLogJSON, into: &out, indent: nil, level: 0)
        }
        out += Array(", \"characters\": {".utf8)
        for (i, c) in characters.enumerated() {
            out += Array((i == 0 ? "\n" : ",\n").utf8)
            JSONWriter.writeString(c.id, into: &out)
            out += Array(": ".utf8)
            if let r = raw[i] { out += r } else { JSONWriter.write(characterJSON(c), into: &out, indent: nil, level: 0) }
        }
        out += Array("\n}}\n".utf8)
        return out
    }

    // MARK: Saving

    /// One change as one transaction of the backend: applied to the store as committed now (no
    /// lost update), validated, sealed and written. `then` runs once it is committed, still under
    /// the file's lock (files that follow the store: reconcile's maps).
    public func update(then: () throws -> Void = {}, _ change: (CharacterStore) throws -> Void) throws {
        guard withEmbeddings else { throw DubdeckError(.usage, "internal: the store was opened without embeddings") }
        try backend.commit(change)
        try then()
    }

    /// Inside a backend's transaction, on the store as committed: a new store gets its key, and the
    /// change is made under this commit's generation.
    func apply(_ change: (CharacterStore) throws -> Void) throws {
        if !exists { try prepareNewStore() }
        ensureStoreID()
        generation += 1  // this commit's: what the change stamps on what it changes
        changing = true
        defer { changing = false }
        try change(self)
    }

    /// This store's identity (random, made once, copied by migrate): `characters migrate` tells
    /// an earlier copy of this store from another store by it.
    public var storeID: String? { extraTop.first { $0.key == "store_id" }?.value.stringValue }

    func ensureStoreID() {
        guard storeID == nil, let bytes = try? Crypto.randomBytes(16) else { return }
        extraTop.append(("store_id", .string(SHA256.hex(bytes).prefix(32).description)))
    }

    /// A new store: the key from the environment, or a new key file (only ever made here or by `key init`).
    func prepareNewStore() throws {
        if let source = try KeySource.find() {
            switch source.kind {
            case .passphrase:
                let salt = try Crypto.randomBytes(16)
                let d = Envelope.defaultScrypt
                kdf = .scrypt(log2N: d.log2N, r: d.r, p: d.p, salt: salt)
                key = try source.key(for: kdf)
            default:
                kdf = .raw
                key = source.secret
            }
        } else {
            let made = try KeySource.createKeyFile(KeySource.keyFilePath())
            key = made.key
            if made.created { createdKeyFile = KeySource.keyFilePath() }
            kdf = .raw
        }
    }

    /// The key file this process created for a new store (the command says so, as `key init` does).
    public private(set) var createdKeyFile: String?

    public func save() throws { try backend.save() }

    /// What was written is what was read: each character's encoded bytes kept for the next save.
    func markSaved() {
        for i in raw.indices where raw[i] == nil {
            // Keep encoded bytes for the next save.
            var one: [UInt8] = []
            JSONWriter.write(characterJSON(characters[i]), into: &one, indent: nil, level: 0)
            raw[i] = one[...]
        }
    }

    /// Re-encrypts everything with a new key (key rotate).
    func reencrypt(newKey: [UInt8]) throws { try backend.reseal(newKey: newKey) }

    // MARK: Characters

    public func character(_ id: String) -> CharacterRecord? { index[id].map { characters[$0] } }

    /// Follows merge tombstones: an old ID still resolves to the character it became.
    public func resolve(_ id: String) -> CharacterRecord? {
        var seen = Set<String>()
        var current = character(id)
        while let c = current, let next = c.mergedInto, seen.insert(c.id).inserted {
            current = character(next)
        }
        return current
    }

    public var active: [CharacterRecord] { characters.filter { $0.mergedInto == nil } }

    func modify(_ id: String, _ body: (inout CharacterRecord) throws -> Void) rethrows {
        guard let i = index[id] else { return }
        try body(&characters[i])
        characters[i].updatedAt = Clock.isoNow()
        characters[i].version += 1
        raw[i] = nil
        matrixCache?.refresh(i, characters[i])  // its row alone: matching stays a series' work
    }

    /// A new character's voice, cast from the original speaker's pitch (`Casting`), the estimate kept.
    func cast(_ id: String, from estimate: PitchEstimate) {
        modify(id) { c in
            c.voice = Casting.voice(for: estimate, id: c.id)
            c.voiceEstimate = estimate
        }
    }

    /// `characters voice ID VOICE`: the reviewer re-casts; the voice it had is kept for `--undo`
    /// with the version this change gives the character.
    public func recast(_ id: String, to voice: Voice) throws -> Voice? {
        guard let c = resolve(id) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(id))") }
        let before = c.voice
        guard before != voice else { return before }
        modify(c.id) { r in
            r.previousVoice = before.map { ($0, r.version + 1) }
            r.voice = voice
        }
        return before
    }

    /// `characters voice ID --undo`: the voice before the last re-cast, refused (75) when the
    /// character changed since (versions, not clocks).
    public func undoRecast(_ id: String) throws -> Voice {
        guard let c = resolve(id) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(id))") }
        guard let previous = c.previousVoice else { throw DubdeckError(.noInput, "character \(Sanitizer.display(c.id)) has no re-cast to undo") }
        guard previous.version == c.version else {
            throw DubdeckError(.conflict, "character \(Sanitizer.display(c.id)) changed since its re-cast (version \(c.version), the re-cast made \(previous.version)): not undone")
        }
        modify(c.id) { r in
            r.voice = previous.voice
            r.previousVoice = nil
        }
        return previous.voice
    }

    @discardableResult
    func create(name: String = "", now: String = Clock.isoNow()) -> String {
        let digits = String(nextN)
        let id = "SPEAKER_" + (digits.count < 2 ? "0" + digits : digits)
        nextN += 1
        let c = CharacterRecord(id: id, name: name, embeddingAvg: [], embeddingCount: 0, snapshots: [], series: [],
                                speakerWavs: [], voice: Voice.deterministic(for: id), mergedInto: nil, notes: "", createdAt: now,
                                updatedAt: now, extra: JSONObject(), version: 1)
        index[id] = characters.count
        characters.append(c)
        raw.append(nil)
        matrixCache?.refresh(characters.count - 1, c)
        return id
    }

    /// Benchmark workloads (dubdeck-bench) build large stores through these.
    public func createForBench(name: String) -> String { create(name: name) }
    public func fillForBench(_ id: String, avg: [Float], snapshots: [EmbeddingSnapshot], series: String) {
        modify(id) { c in
            c.embeddingAvg = avg
            c.embeddingCount = snapshots.count
            c.snapshots = snapshots
            c.setSeries(series, SeriesInfo(episodes: snapshots.map { $0.episode }, lastSeenAt: snapshots.last?.at, lastEpisode: snapshots.last?.episode))
        }
    }

    public func rename(_ id: String, to name: String) throws {
        let name = try CharacterStore.checkedName(name)
        guard let c = resolve(id) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(id))") }
        modify(c.id) { $0.name = name }
    }

    /// A name as a reviewer gives it (the command line and the desk alike): spaces around it go,
    /// and a name of nothing but spaces is none (64).
    public static func checkedName(_ name: String) throws -> String {
        let trimmed = name.trimmingCharacters()  // the one trim (the desk's prompt and the subtitle reader use it too)
        guard !trimmed.isEmpty else { throw DubdeckError(.usage, "a name cannot be empty") }
        return trimmed
    }

    /// FROM becomes a tombstone pointing at INTO; INTO takes its embeddings, series and references.
    public func merge(_ from: String, into: String) throws {
        guard let a = character(from) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(from))") }
        guard a.mergedInto == nil else { throw DubdeckError(.usage, "\(Sanitizer.display(from)) was already merged into \(Sanitizer.display(a.mergedInto!))") }
        guard let b = resolve(into) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(into))") }
        guard a.id != b.id else { throw DubdeckError(.usage, "cannot merge \(Sanitizer.display(from)) into itself") }
        let intoBefore = characterJSON(b)
        modify(b.id) { t in
            let na = a.embeddingCount, nb = t.embeddingCount
            if !a.embeddingAvg.isEmpty, !t.embeddingAvg.isEmpty, na + nb > 0 {
                let wa = Float(na) / Float(na + nb), wb = Float(nb) / Float(na + nb)
                t.embeddingAvg = zip(t.embeddingAvg, a.embeddingAvg).map { $0 * wb + $1 * wa }
            } else if t.embeddingAvg.isEmpty {
                t.embeddingAvg = a.embeddingAvg
            }
            t.embeddingCount = na + nb
            t.snapshots = Array((t.snapshots + a.snapshots).sorted { $0.at < $1.at }.suffix(CharacterRecord.maxSnapshots))
            for s in a.series {
                var info = t.seriesInfo(s.id) ?? SeriesInfo(episodes: [], lastSeenAt: nil, lastEpisode: nil)
                for e in s.info.episodes where !info.episodes.contains(e) { info.episodes.append(e) }
                if (s.info.lastSeenAt ?? "") > (info.lastSeenAt ?? "") {
                    info.lastSeenAt = s.info.lastSeenAt
                    info.lastEpisode = s.info.lastEpisode
                }
                t.setSeries(s.id, info)
            }
            for w in a.speakerWavs where !t.speakerWavs.contains(w) { t.speakerWavs.append(w) }
            if t.name.isEmpty { t.name = a.name }
        }
        let merged = character(b.id)!
        // The tombstone keeps what INTO was, so the merge can be undone while INTO is unchanged:
        // unchanged is INTO's version as this merge left it (a clock cannot tell two changes in one second apart).
        modify(a.id) {
            $0.mergedInto = b.id
            $0.extra["unmerge"] = .object(JSONObject([("into_before", intoBefore), ("into_version", .number(merged.version)),
                                                      ("into_updated_at", .string(merged.updatedAt))]))
        }
    }

    /// Undoes a merge: FROM is active again and INTO is what it was before. Refused when INTO changed
    /// since (another episode identified, a rename): undoing would lose that.
    public func unmerge(_ from: String) throws {
        guard let a = character(from) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(from))") }
        guard let into = a.mergedInto else { throw DubdeckError(.usage, "\(Sanitizer.display(from)) is not merged") }
        guard let saved = a.extra["unmerge"]?.objectValue, let before = saved["into_before"],
              let version = saved["into_version"]?.intValue else {
            // A merge recorded with a time only cannot prove INTO unchanged since: refused, not guessed.
            throw DubdeckError(.usage, "the merge of \(Sanitizer.display(from)) into \(Sanitizer.display(into)) was made without what undoing it needs (its version)")
        }
        guard let b = character(into) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(into))") }
        guard b.version == version, b.mergedInto == nil else {
            throw DubdeckError.conflict("\(Sanitizer.display(into)) changed since the merge (version \(version) → \(b.version)): undoing it would lose that")
        }
        try restore(b.id, to: before)
        modify(a.id) {
            $0.mergedInto = nil
            $0.extra["unmerge"] = nil
        }
    }

    /// A character put back as `json` says it was (an undo) under a NEW version: versions only go up,
    /// so an older record that names the version it left can never match again.
    func restore(_ id: String, to json: JSONValue) throws {
        guard let i = index[id] else { throw DubdeckError.data(shownPath, "an undo names an unknown character \(Sanitizer.display(id))") }
        var parser = JSONParser(bytes: JSONWriter.encode(json))
        var restored = try parseCharacter(id: id, &parser, shown: shownPath)
        restored.version = characters[i].version + 1
        restored.updatedAt = Clock.isoNow()
        characters[i] = restored
        raw[i] = nil  // re-encoded on save
        matrixCache = nil
    }

    /// Voices by character ID (merged IDs map to their target's voice).
    public func voices() -> [String: Voice] {
        var out: [String: Voice] = [:]
        for c in characters {
            if let target = resolve(c.id), let v = target.voice { out[c.id] = v }
        }
        return out
    }

    public func referenceWavs() -> [String: String] {
        var out: [String: String] = [:]
        for c in characters { if let t = resolve(c.id), let w = t.speakerWavs.first { out[c.id] = w } }
        return out
    }
}

extension JSONParser {
    /// A character's snapshots: an array of objects whose "embedding" member is decoded by `embedding`
    /// (the store's reader; the base layer's parser knows nothing of characters).
    mutating func parseEmbeddingSnapshots(depth: Int, _ embedding: (inout JSONParser) throws -> [Float]) throws -> [EmbeddingSnapshot] {
        var out: [EmbeddingSnapshot] = []
        try parseArrayElements(depth: depth) { p in
            var snap = EmbeddingSnapshot(series: "", episode: "", embedding: [], at: "")
            try p.parseObjectMembers(depth: depth + 1) { key, p in
                switch key {
                case "embedding": snap.embedding = try embedding(&p)
                case "series": snap.series = try p.parseValue(depth: depth + 2).stringValue ?? ""
                case "episode": snap.episode = try p.parseValue(depth: depth + 2).stringValue ?? ""
                case "at": snap.at = try p.parseValue(depth: depth + 2).stringValue ?? ""
                default: try p.skipValue(depth: depth + 2)
                }
            }
            out.append(snap)
        }
        return out
    }
}
