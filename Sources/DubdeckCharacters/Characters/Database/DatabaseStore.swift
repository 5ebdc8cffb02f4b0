#if canImport(Glibc)
import Glibc
#endif
import CLibpq
import Synchronization
import CLazyLibs

/// The character store in PostgreSQL (SPEC §10.9): the same document as the file store, cut into
/// rows — one per character, one per series (observations and reconcile records), one for the rest
/// — each sealed with AES-256-GCM under the store key (table, row id and version as AAD). The
/// database sees ids, series ids, counts and timestamps only. Reading assembles the rows into the
/// file store's plaintext and parses it with the same code; writing is a SERIALIZABLE transaction,
/// retried when PostgreSQL reports a conflict, that re-reads everything first: two reviewers
/// identifying at the same moment are serialized, never both creating a character for one speaker.
struct DatabaseState {
    var exists = false
    /// Versions of the rows as read (absent: a new row).
    var metaVersion: Int?
    var characterVersions: [String: Int] = [:]
    var seriesVersions: [String: Int] = [:]
    /// The plaintext of the meta and series rows as read (unchanged rows are not written).
    var meta: [UInt8] = []
    var series: [String: [UInt8]] = [:]
    /// Characters removed since reading (reconcile undo).
    var deleted = Swift.Set<String>()
    /// Every row is written (a key rotation).
    var rewriteAll = false
    /// The set of rows the sealed meta row commits to (nil: a meta row written before it did).
    var rows: RowSet?
    /// The meta row's envelope header as read (the key and its derivation).
    var header: [UInt8] = []
}

/// The meta row, opened: its version and header, the document's own members (the row set taken out,
/// as `DatabaseState.meta` keeps them), and the row set.
struct MetaRow {
    var version: Int
    var header: [UInt8]
    var members: [UInt8]
    var rows: RowSet?
    var object: JSONObject
}

/// What the sealed meta row commits to (SPEC §11.4): the store's generation, incremented by every
/// commit, and each row's id and version. A row missing, added, rolled back or changed from outside
/// no longer matches it.
struct RowSet: Equatable {
    var generation = 0
    var characters: [String: Int] = [:]
    var series: [String: Int] = [:]

    var json: JSONValue {
        func versions(_ m: [String: Int]) -> JSONValue { .object(JSONObject(m.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.number($0.value)) })) }
        return .object(JSONObject([("generation", .number(generation)), ("characters", versions(characters)), ("series", versions(series))]))
    }

    init() {}

    init?(json: JSONValue?) {
        guard let o = json?.objectValue, let g = o["generation"]?.intValue, g >= 0 else { return nil }
        generation = g
        func versions(_ v: JSONValue?) -> [String: Int]? {
            guard let m = v?.objectValue else { return nil }
            var out: [String: Int] = [:]
            for (id, n) in m.members {
                guard let k = n.intValue, k >= 1 else { return nil }
                out[id] = k
            }
            return out
        }
        guard let c = versions(o["characters"]), let s = versions(o["series"]) else { return nil }
        characters = c
        series = s
    }

    /// The first difference between the rows found and the rows committed to, as a message naming the row.
    static func mismatch(table: String, found: [String: Int], committed: [String: Int]) -> String? {
        for (id, v) in found.sorted(by: { $0.key < $1.key }) {
            guard let w = committed[id] else {
                return "row \(table) \(Sanitizer.display(id)) (version \(v)) is not one the store wrote (the sealed meta row does not list it)"
            }
            if w != v {
                return "row \(table) \(Sanitizer.display(id)) is at version \(v) but the store wrote version \(w) (a row put back or changed from outside)"
            }
        }
        for (id, w) in committed.sorted(by: { $0.key < $1.key }) where found[id] == nil {
            return "row \(table) \(Sanitizer.display(id)) (version \(w)) is missing (deleted from outside)"
        }
        return nil
    }
}

enum RowSeal {
    static func aad(_ table: String, _ id: String, _ version: Int) -> [UInt8] {
        Array("dubdeck-row".utf8) + [0] + Array(table.utf8) + [0] + Array(id.utf8) + [0] + Array(String(version).utf8)
    }

    /// nonce (12) ‖ ciphertext ‖ tag (16).
    static func seal(_ plaintext: [UInt8], key: [UInt8], table: String, id: String, version: Int) throws -> [UInt8] {
        let nonce = try Crypto.randomBytes(12)
        var out = nonce + plaintext
        let tag = try Crypto.sealInPlace(&out, range: 12..<out.count, key: key, nonce: nonce, aad: aad(table, id, version))
        return out + tag
    }

    static func open(_ sealed: [UInt8], key: [UInt8], table: String, id: String, version: Int) -> [UInt8]? {
        guard sealed.count >= 28 else { return nil }
        var buf = sealed
        let nonce = Array(buf[0..<12]), tag = Array(buf[(buf.count - 16)...])
        guard Crypto.openInPlace(&buf, range: 12..<(buf.count - 16), key: key, nonce: nonce, aad: aad(table, id, version), tag: tag) else { return nil }
        return Array(buf[12..<(buf.count - 16)])
    }
}

extension CharacterStore {
    public static let databaseSchemaVersion = 1

    /// A database, however libpq may be told of one: a `postgresql://` or `postgres://` URL in any
    /// letter case, or a `keyword=value` connection string (`host=… dbname=… password=…`). Never
    /// taken for a file path: a file named after a password would be made, and the name printed.
    public static func isDatabaseURL(_ path: String) -> Bool {
        let lower = String(path.lowercased().drop { $0 == " " || $0 == "\t" })
        // Anything that reads like a database address (a scheme, a password) is one: libpq reads it or
        // it is refused (64) — never a file made with a password in its name.
        if lower.hasPrefix("postgres") || lower.contains("://") || lower.contains("password=") { return true }
        return isConnectionString(path)
    }

    /// `keyword = value …` as libpq's connection strings begin (a file path never does).
    static func isConnectionString(_ path: String) -> Bool {
        let trimmed = path.drop { $0 == " " || $0 == "\t" }
        guard let eq = trimmed.firstIndex(of: "=") else { return false }
        let key = trimmed[..<eq].trimmingCharacters()
        return !key.isEmpty && key.allSatisfy { ($0.isASCII && $0.isLetter) || $0 == "_" }
    }

    /// Whether there may be a store at `path` to read (a database is asked when opened).
    public static func mayExist(_ path: String) -> Bool { isDatabaseURL(path) || FileIO.exists(path) }

    /// The tables, in the connection's schema (never found through a search path).
    static func schemaSQL(_ c: PGConnection) -> [String] {
        let t = c.table
        return [
            "CREATE TABLE IF NOT EXISTS \(t("dubdeck_schema")) (version integer NOT NULL)",
            """
            CREATE TABLE IF NOT EXISTS \(t("dubdeck_meta")) (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL,
                next_n integer NOT NULL, header bytea NOT NULL, updated_at text NOT NULL, sealed bytea NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(t("dubdeck_characters")) (id text PRIMARY KEY, version bigint NOT NULL, merged_into text,
                series text[] NOT NULL, embedding_count integer NOT NULL, updated_at text NOT NULL, sealed bytea NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(t("dubdeck_series")) (id text PRIMARY KEY, version bigint NOT NULL, observations integer NOT NULL,
                sealed bytea NOT NULL)
            """,
            "INSERT INTO \(t("dubdeck_schema")) (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM \(t("dubdeck_schema")))",
        ]
    }

    /// A PostgreSQL array literal of safe names (store IDs: no quote or backslash can occur).
    static func textArray(_ items: [String]) -> String {
        "{" + items.map { "\"" + $0.filter { $0 != "\"" && $0 != "\\" } + "\"" }.joined(separator: ",") + "}"
    }

    /// A cheap signature of the database's content (the desk's poll): every row's version.
    public static func databaseSignature(_ url: String) -> String? {
        guard let c = try? PGConnection(url: url),
              let rows = try? c.exec("""
                SELECT (SELECT coalesce(max(version), 0) FROM \(c.table("dubdeck_meta"))), (SELECT coalesce(sum(version), 0) FROM \(c.table("dubdeck_characters"))),
                       (SELECT count(*) FROM \(c.table("dubdeck_characters"))), (SELECT coalesce(sum(version), 0) FROM \(c.table("dubdeck_series")))
                """), let r = rows.first else { return nil }
        return r.map { $0 ?? "" }.joined(separator: "/")
    }

    var shownPath: String { CharacterStore.shown(path) }
}

/// The store as rows of a PostgreSQL database (docs/FORMATS.md): every row sealed on its own,
/// the meta row committing to the set of rows; a change is one SERIALIZABLE transaction, retried
/// from the start on a conflict; one connection per command (SPEC §11.5).
final class DatabaseCharacterBackend: CharacterBackend {
    unowned let store: CharacterStore
    let url: String
    /// The rows' versions and what was read (nil: nothing read yet).
    var db: DatabaseState?
    /// The one connection of this store, made at the first use.
    var connection: PGConnection?
    var shownPath: String { store.shownPath }

    init(_ store: CharacterStore) {
        self.store = store
        url = store.path
    }

    var exists: Bool { db?.exists == true }
    /// Reference recordings are files: `data/` beside the commands.
    var directory: String { "data" }
    var rewritesAll: Bool { db?.rewriteAll == true }
    func forget(_ id: String) { db?.deleted.insert(id) }
    func rotationLock() throws -> JobLock? { nil }

    /// The re-sealing committed in one transaction: the new key is the key.
    func finishRotation(_ newPath: String) { CharacterStore.adoptNewKeyFile(newPath) }

    func save() throws {
        let c = try connect()
        try database {
            try ensureSchema(c)
            try withRetry(c) { _ in try writeRows(c) }
        }
        store.markSaved()
    }

    /// One connection per command (SPEC §11.5): made at the first use, kept while it is good.
    func connect() throws -> PGConnection {
        if let c = connection, dd_PQstatus(c.conn) == CONNECTION_OK { return c }
        connection = nil
        let c = try PGConnection(url: url)
        connection = c
        return c
    }

    /// A database call whose failures become one line and the exit code their SQLSTATE calls for.
    func database<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let f as PGConnection.Failure { throw f.error(shownPath) }
    }

    /// The schema's version, nil when dubdeck has not created it yet; newer than known: 65.
    func schemaVersion(_ c: PGConnection) throws -> Int? {
        guard try c.exec("SELECT pg_catalog.to_regclass($1) IS NOT NULL", [.text(c.table("dubdeck_schema"))])[0][0] == "t" else { return nil }
        let v = Int(try c.exec("SELECT coalesce(max(version), 0) FROM \(c.table("dubdeck_schema"))")[0][0] ?? "") ?? 0
        guard v <= CharacterStore.databaseSchemaVersion else {
            throw DubdeckError.data(shownPath, "database schema version \(v) is newer than this dubdeck knows (\(CharacterStore.databaseSchemaVersion))")
        }
        return v
    }

    /// Creates the tables once, serialized between processes by an advisory lock (READ COMMITTED:
    /// the second creator sees the first one's tables once it has the lock).
    func ensureSchema(_ c: PGConnection) throws {
        if try schemaVersion(c) != nil { return }
        try c.exec("BEGIN")
        do {
            try c.exec("SELECT pg_catalog.pg_advisory_xact_lock(7235001)")
            for sql in CharacterStore.schemaSQL(c) { try c.exec(sql) }
            try c.exec("COMMIT")
        } catch {
            _ = try? c.exec("ROLLBACK")
            throw error
        }
        _ = try schemaVersion(c)
    }

    /// Opens one sealed row: authenticated (table, id, version), then JSON of its own, so that an
    /// error names the row and not a line of the assembled whole.
    func openRow(_ sealed: [UInt8]?, key k: [UInt8], _ table: String, _ id: String, _ version: Int) throws -> [UInt8] {
        guard let sealed, let plain = RowSeal.open(sealed, key: k, table: table, id: id, version: version) else {
            throw DubdeckError.data(shownPath, "row \(table) \(Sanitizer.display(id)) (version \(version)): authentication failed: the row was modified or damaged")
        }
        do { _ = try JSONParser.parse(plain) } catch let e as JSONParseError {
            throw DubdeckError.data(shownPath, "row \(table) \(Sanitizer.display(id)): \(e.description)")
        }
        return plain
    }

    /// id, version and sealed bytes of a table's rows (only `ids`, when given).
    func fetchRows(_ c: PGConnection, _ table: String, ids: [String]? = nil) throws -> [(id: String, version: Int, sealed: [UInt8]?)] {
        let rows: [[[UInt8]?]]
        if let list = ids {
            rows = try c.execBinary("SELECT id, version, sealed FROM \(c.table(table)) WHERE id = ANY($1::text[]) ORDER BY id", [.text(CharacterStore.textArray(list))])
        } else {
            rows = try c.execBinary("SELECT id, version, sealed FROM \(c.table(table)) ORDER BY id")
        }
        return try rows.map { r in
            guard let idBytes = r[0], let v = PGConnection.int8(r[1]) else { throw DubdeckError.data(shownPath, "row \(table): damaged (id or version)") }
            return (String(decoding: idBytes, as: UTF8.self), v, r[2])
        }
    }

    func versions(_ c: PGConnection, _ table: String) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for r in try c.execBinary("SELECT id, version FROM \(c.table(table))") {
            guard let id = r[0], let v = PGConnection.int8(r[1]) else { throw DubdeckError.data(shownPath, "row \(table): damaged (id or version)") }
            out[String(decoding: id, as: UTF8.self)] = v
        }
        return out
    }

    /// Reads every row (inside the caller's transaction) into this store.
    func loadRows(_ c: PGConnection) throws {
        Self.wholeReads.add(1, ordering: .relaxed)
        store.reset()
        var state = DatabaseState()
        let shown = shownPath
        guard try schemaVersion(c) != nil else {
            db = state
            return
        }
        guard let meta = try c.execBinary("SELECT version, header, sealed FROM \(c.table("dubdeck_meta")) WHERE id = 1").first else {
            // No meta row: a new store, unless rows are there (an emptied meta row): never a store
            // created over them.
            let rows = try c.exec("SELECT (SELECT count(*) FROM \(c.table("dubdeck_characters"))) + (SELECT count(*) FROM \(c.table("dubdeck_series")))")
            if let n = Int(rows.first?[0] ?? "0"), n > 0 {
                throw DubdeckError.data(shown, "row dubdeck_meta 1 is missing but \(n) other row\(n == 1 ? "" : "s") exist: refusing to make a new store over them")
            }
            db = state
            return
        }
        guard let version = PGConnection.int8(meta[0]), let headerBytes = meta[1], headerBytes.count == Envelope.headerSize else {
            throw DubdeckError.data(shown, "row dubdeck_meta 1: damaged (header or version)")
        }
        let header = try Envelope.header(headerBytes + [UInt8](repeating: 0, count: Envelope.tagSize), file: shown)
        let (k, _) = try store.resolveKey(header)
        let m = try openMeta(version: version, header: headerBytes, sealed: meta[2], key: k)
        state.metaVersion = version
        state.header = headerBytes
        state.meta = m.members
        state.rows = m.rows
        var doc = Array(trimmedObject(JSONWriter.encode(.object(m.object)), shown: shown, row: "dubdeck_meta 1"))
        var observationsOut = JSONObject(), reconcileOut = JSONObject()
        for row in try fetchRows(c, "dubdeck_series") {
            let plain = try openRow(row.sealed, key: k, "dubdeck_series", row.id, row.version)
            let o = try JSONParser.parse(plain).objectValue
            if let obs = o?["observations"], !obs.isNull { observationsOut[row.id] = obs }
            if let rec = o?["reconcile"], !rec.isNull { reconcileOut[row.id] = rec }
            state.seriesVersions[row.id] = row.version
            state.series[row.id] = plain
        }
        if !observationsOut.members.isEmpty { doc += Array(", \"observations\": ".utf8) + JSONWriter.encode(.object(observationsOut)) }
        if !reconcileOut.members.isEmpty { doc += Array(", \"reconcile\": ".utf8) + JSONWriter.encode(.object(reconcileOut)) }
        doc += Array(", \"characters\": {".utf8)
        for (n, row) in try fetchRows(c, "dubdeck_characters").enumerated() {
            let plain = try openRow(row.sealed, key: k, "dubdeck_characters", row.id, row.version)
            if n > 0 { doc += Array(",\n".utf8) }
            JSONWriter.writeString(row.id, into: &doc)
            doc += Array(": ".utf8) + plain
            state.characterVersions[row.id] = row.version
        }
        doc += Array("}}".utf8)
        if let set = state.rows {
            if let why = RowSet.mismatch(table: "dubdeck_characters", found: state.characterVersions, committed: set.characters)
                ?? RowSet.mismatch(table: "dubdeck_series", found: state.seriesVersions, committed: set.series) {
                throw DubdeckError.data(shown, why)
            }
        }
        try store.parse(doc, 0..<doc.count)
        store.sealed(key: k, kdf: header.kdf)
        state.exists = true
        db = state
    }

    /// The meta row's plaintext opened and cut: the document's members, and the row set taken out
    /// (what this dubdeck would write for these members: the row set, written last, cut off).
    func openMeta(version: Int, header: [UInt8], sealed: [UInt8]?, key k: [UInt8]) throws -> MetaRow {
        let plain = try openRow(sealed, key: k, "dubdeck_meta", "1", version)
        let mark = Array(", \"rows\": ".utf8)
        let members = plain.ranges(of: mark).last.map { Array(plain[..<$0.lowerBound]) + [UInt8(ascii: "}")] } ?? plain
        var object = try JSONParser.parse(plain).objectValue ?? JSONObject()
        var rows: RowSet?
        if let r = object["rows"] {
            guard let set = RowSet(json: r) else { throw DubdeckError.data(shownPath, "row dubdeck_meta 1: its row set is damaged") }
            rows = set
            object["rows"] = nil
        }
        return MetaRow(version: version, header: header, members: members, rows: rows, object: object)
    }

    /// Inside a transaction, brings the store read earlier up to date by reading only the rows whose
    /// version moved (identify on a 2,000-character store reads a few rows, not megabytes). Another
    /// writer's commit (the meta row moved, the key the same) is read as its meta row and the rows it
    /// changed: reviewers taking turns do not each read the whole store again. Anything unusual — a
    /// new key, a row deleted, a store without a row set — reads everything again.
    func refreshRows(_ c: PGConnection) throws {
        guard var state = db, state.exists, let mv = state.metaVersion, store.withEmbeddings,
              let row = try c.execBinary("SELECT version, header, sealed FROM \(c.table("dubdeck_meta")) WHERE id = 1").first,
              let version = PGConnection.int8(row[0]) else {
            return try loadRows(c)
        }
        let characterNow = try versions(c, "dubdeck_characters"), seriesNow = try versions(c, "dubdeck_series")
        if version != mv {
            guard state.rows != nil, row[1] == state.header, !state.header.isEmpty else { return try loadRows(c) }
            let m = try openMeta(version: version, header: state.header, sealed: row[2], key: store.key)
            guard let set = m.rows else { return try loadRows(c) }
            if let why = RowSet.mismatch(table: "dubdeck_characters", found: characterNow, committed: set.characters)
                ?? RowSet.mismatch(table: "dubdeck_series", found: seriesNow, committed: set.series) {
                throw DubdeckError.data(shownPath, why)
            }
            if state.characterVersions.keys.contains(where: { characterNow[$0] == nil }) || state.seriesVersions.keys.contains(where: { seriesNow[$0] == nil }) {
                return try loadRows(c)
            }
            try store.reparseTop(JSONWriter.encode(.object(m.object)))
            state.metaVersion = version
            state.meta = m.members
            state.rows = set
            db = state
            try fetchMoved(c, characterNow: characterNow, seriesNow: seriesNow)
            return
        }
        if let set = state.rows {
            // Every commit moves the meta row: rows that moved while it did not were changed from outside.
            if let why = RowSet.mismatch(table: "dubdeck_characters", found: characterNow, committed: set.characters)
                ?? RowSet.mismatch(table: "dubdeck_series", found: seriesNow, committed: set.series) {
                throw DubdeckError.data(shownPath, why)
            }
            db = state
            return
        }
        if state.characterVersions.keys.contains(where: { characterNow[$0] == nil }) || state.seriesVersions.keys.contains(where: { seriesNow[$0] == nil }) {
            return try loadRows(c)
        }
        try fetchMoved(c, characterNow: characterNow, seriesNow: seriesNow)
    }

    /// The character and series rows whose version is not the one read, read and put in place (a
    /// character's matching row refreshed alone).
    func fetchMoved(_ c: PGConnection, characterNow: [String: Int], seriesNow: [String: Int]) throws {
        guard var state = db else { return }
        let staleCharacters = characterNow.filter { state.characterVersions[$0.key] != $0.value }.map(\.key)
        if !staleCharacters.isEmpty {
            for r in try fetchRows(c, "dubdeck_characters", ids: staleCharacters) {
                let plain = try openRow(r.sealed, key: store.key, "dubdeck_characters", r.id, r.version)
                var parser = JSONParser(bytes: plain)
                let ch = try store.parseCharacter(id: r.id, &parser, shown: shownPath)
                if let d = store.dim, !ch.embeddingAvg.isEmpty, ch.embeddingAvg.count != d {
                    throw DubdeckError.data(shownPath, "row dubdeck_characters \(Sanitizer.display(r.id)): embedding has \(ch.embeddingAvg.count) values, the store's dim is \(d)")
                }
                let i: Int
                if let at = store.index[r.id] {
                    i = at
                    store.characters[i] = ch
                    store.raw[i] = plain[...]
                } else {
                    i = store.characters.count
                    store.index[r.id] = i
                    store.characters.append(ch)
                    store.raw.append(plain[...])
                }
                store.matrixCache?.refresh(i, ch)
                state.characterVersions[r.id] = r.version
            }
        }
        let staleSeries = seriesNow.filter { state.seriesVersions[$0.key] != $0.value }.map(\.key)
        if !staleSeries.isEmpty {
            for r in try fetchRows(c, "dubdeck_series", ids: staleSeries) {
                let plain = try openRow(r.sealed, key: store.key, "dubdeck_series", r.id, r.version)
                let o = try JSONParser.parse(plain).objectValue
                store.observations[r.id] = nil
                store.observationOrder.removeAll { $0 == r.id }
                store.reconcileLog[r.id] = nil
                store.reconcileOrder.removeAll { $0 == r.id }
                if let obs = o?["observations"], !obs.isNull { try store.parseObservations(.object(JSONObject([(r.id, obs)]))) }
                if let rec = o?["reconcile"], !rec.isNull { try store.parseReconcileLog(.object(JSONObject([(r.id, rec)]))) }
                state.seriesVersions[r.id] = r.version
                state.series[r.id] = plain
            }
        }
        db = state
    }

    /// The members of a JSON object's text (its braces cut off), for the assembled document.
    func trimmedObject(_ bytes: [UInt8], shown: String, row: String) -> ArraySlice<UInt8> {
        var a = 0, b = bytes.count
        while a < b, bytes[a] != UInt8(ascii: "{") { a += 1 }
        while b > a, bytes[b - 1] != UInt8(ascii: "}") { b -= 1 }
        return [UInt8(ascii: "{")] + bytes[(a + 1)..<max(a + 1, b - 1)]
    }

    func load() throws {
        try database {
            let c = try connect()
            try withRetry(c, readOnly: true) { _ in try loadRows(c) }
        }
    }

    /// A transaction, again while PostgreSQL says it conflicted with another (40001, 40P01).
    func withRetry(_ c: PGConnection, readOnly: Bool = false, _ body: (_ attempt: Int) throws -> Void) throws {
        var attempt = 0
        while true {
            attempt += 1
            if !readOnly { Self.writeAttempts.add(1, ordering: .relaxed) }
            do {
                try c.exec(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN ISOLATION LEVEL SERIALIZABLE")
                try body(attempt)
                try c.exec("COMMIT")
                return
            } catch let f as PGConnection.Failure {
                _ = try? c.exec("ROLLBACK")
                if f.connectionLost {
                    throw DubdeckError(.conflict, "\(shownPath): the database connection was lost (\(f.message)); the change was not made — run it again")
                }
                guard f.retryable, attempt < 40 else { throw f.error(shownPath) }
                // Back off a little, more each time, at random: two writers do not collide again in step.
                usleep(UInt32(1000 * (2 + Int.random(in: 0...(min(attempt, 10) * 8)))))
            } catch {
                _ = try? c.exec("ROLLBACK")
                throw error
            }
        }
    }

    /// The store's writers one at a time (SPEC §11.12, P11): a session-level advisory lock taken
    /// before the transaction begins (its snapshot then sees the last writer's rows) and given back
    /// after it ends. SERIALIZABLE stays the guarantee; the lock spares the reviewers who would
    /// otherwise all conflict on the series' rows and each read the store again to retry (eight
    /// reviewers identifying at once ran at a sixth of one reviewer's rate). A wait past the
    /// session's lock_timeout is tried again, for at most a minute, then said (75).
    static let writerLock = 7_235_002
    /// Write transactions begun by this process, first tries and retries, and whole reads of a store
    /// (the shapes a test checks).
    static let writeAttempts = Synchronization.Atomic<Int>(0)
    static let wholeReads = Synchronization.Atomic<Int>(0)

    func serialized<T>(_ c: PGConnection, _ body: () throws -> T) throws -> T {
        let start = Clock.monotonic()
        while true {
            do {
                try c.exec("SELECT pg_catalog.pg_advisory_lock(\(Self.writerLock))")
                break
            } catch let f as PGConnection.Failure where (f.sqlState == "55P03" || f.sqlState == "57014") && Clock.monotonic() - start < 60 {
                continue
            } catch let f as PGConnection.Failure {
                throw f.error(shownPath)
            }
        }
        defer { _ = try? c.exec("SELECT pg_catalog.pg_advisory_unlock(\(Self.writerLock))") }
        return try body()
    }

    /// `update` on a database: one SERIALIZABLE transaction that reads everything, applies `change`
    /// and writes the rows that changed; retried from the start on a conflict. Writers take turns.
    func commit(_ change: (CharacterStore) throws -> Void) throws {
        let c = try connect()
        try database { try ensureSchema(c) }
        do {
            try serialized(c) { try withRetry(c) { attempt in
                // The first try refreshes what was read at open; a retry (its change was applied to
                // this store in memory, then rolled back) reads everything again.
                if attempt == 1 { try refreshRows(c) } else { try loadRows(c) }
                try store.apply(change)  // this commit's generation (a retry read the store again first)
                try writeRows(c)
            } }
        } catch {
            // Rolled back: what is in memory is not the database's; the next use reads every row.
            db?.metaVersion = nil
            throw error
        }
        store.markSaved()
    }

    /// The meta row's plaintext: the top-level members but characters, observations and reconcile.
    func metaPlaintext() -> [UInt8] {
        var out: [UInt8] = []
        store.writeTopMembers(into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    func seriesPlaintext(_ id: String) -> [UInt8]? {
        let obs = store.observations[id], rec = store.reconcileLog[id]
        guard obs != nil || rec != nil else { return nil }
        let recJSON: JSONValue = rec?.json ?? .null
        return JSONWriter.encode(.object(JSONObject([("observations", obs.map { .array($0.map(\.json)) } ?? .null), ("reconcile", recJSON)])))
    }

    func writeRows(_ c: PGConnection) throws {
        try store.validateChanged()
        var state = db ?? DatabaseState()
        let now = Clock.isoNow()
        var wroteRows = false
        for (i, ch) in store.characters.enumerated() where store.raw[i] == nil || state.rewriteAll || state.characterVersions[ch.id] == nil {
            let v = (state.characterVersions[ch.id] ?? 0) + 1
            var plain: [UInt8] = []
            if let r = store.raw[i] { plain = Array(r) } else { JSONWriter.write(store.characterJSON(ch), into: &plain, indent: nil, level: 0) }
            let seriesArray = "{" + ch.series.map { "\"\($0.id)\"" }.joined(separator: ",") + "}"  // safe names: no quoting needed
            try c.exec("""
                INSERT INTO \(c.table("dubdeck_characters")) (id, version, merged_into, series, embedding_count, updated_at, sealed)
                VALUES ($1, $2, $3, $4::text[], $5, $6, $7)
                ON CONFLICT (id) DO UPDATE SET version = $2, merged_into = $3, series = $4::text[], embedding_count = $5,
                    updated_at = $6, sealed = $7
                """, [.text(ch.id), .text(String(v)), ch.mergedInto.map { .text($0) } ?? .null, .text(seriesArray),
                      .text(String(ch.embeddingCount)), .text(ch.updatedAt),
                      .bytes(try RowSeal.seal(plain, key: store.key, table: "dubdeck_characters", id: ch.id, version: v))])
            state.characterVersions[ch.id] = v
            wroteRows = true
        }
        for id in state.deleted where store.index[id] == nil {
            try c.exec("DELETE FROM \(c.table("dubdeck_characters")) WHERE id = $1", [.text(id)])
            state.characterVersions[id] = nil
            wroteRows = true
        }
        state.deleted = []
        for id in Swift.Set(store.observationOrder + store.reconcileOrder).sorted() {
            guard let plain = seriesPlaintext(id), state.rewriteAll || plain != state.series[id] else { continue }
            let v = (state.seriesVersions[id] ?? 0) + 1
            try c.exec("""
                INSERT INTO \(c.table("dubdeck_series")) (id, version, observations, sealed) VALUES ($1, $2, $3, $4)
                ON CONFLICT (id) DO UPDATE SET version = $2, observations = $3, sealed = $4
                """, [.text(id), .text(String(v)), .text(String(store.observations[id]?.count ?? 0)),
                      .bytes(try RowSeal.seal(plain, key: store.key, table: "dubdeck_series", id: id, version: v))])
            state.seriesVersions[id] = v
            state.series[id] = plain
            wroteRows = true
        }
        // The meta row last, committing to every row as now written: written whenever anything was.
        let meta = metaPlaintext()
        if wroteRows || state.rewriteAll || state.metaVersion == nil || state.rows == nil || meta != state.meta {
            var set = RowSet()
            set.generation = (state.rows?.generation ?? 0) + 1
            set.characters = state.characterVersions
            set.series = state.seriesVersions
            var sealedMeta = meta
            sealedMeta.removeLast()  // the closing brace: the row set goes in before it
            sealedMeta += Array(", \"rows\": ".utf8) + JSONWriter.encode(set.json) + [UInt8(ascii: "}")]
            let v = (state.metaVersion ?? 0) + 1
            let header = Envelope.headerBytes(kdf: store.kdf, key: store.key, nonce: [UInt8](repeating: 0, count: 12))
            try c.exec("""
                INSERT INTO \(c.table("dubdeck_meta")) (id, version, next_n, header, updated_at, sealed) VALUES (1, $1, $2, $3, $4, $5)
                ON CONFLICT (id) DO UPDATE SET version = $1, next_n = $2, header = $3, updated_at = $4, sealed = $5
                """, [.text(String(v)), .text(String(store.nextN)), .bytes(header), .text(now),
                      .bytes(try RowSeal.seal(sealedMeta, key: store.key, table: "dubdeck_meta", id: "1", version: v))])
            state.metaVersion = v
            state.meta = meta
            state.rows = set
        }
        state.rewriteAll = false
        state.exists = true
        db = state
    }

    /// Re-seals every row with a new key in one transaction (key rotate).
    func reseal(newKey: [UInt8]) throws {
        let c = try connect()
        try database { try serialized(c) { try withRetry(c) { _ in
            try loadRows(c)
            store.sealed(key: newKey, kdf: .raw)
            db?.rewriteAll = true
            try writeRows(c)
        } } }
    }


}
