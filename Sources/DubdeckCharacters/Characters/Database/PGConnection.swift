#if canImport(Glibc)
import Glibc
#endif
import CLibpq
import CLazyLibs

/// One libpq connection, synchronous (a terminal tool does one thing at a time). Every query is
/// parameterised (`$1` …): no value is ever spliced into SQL text. A careful client (SPEC §11.5):
/// the URL is parsed by libpq itself (and shown from its parsed keywords, never with a password),
/// the session's `search_path` is pinned to `pg_catalog, pg_temp` once the schema is known (every
/// statement names its tables with the schema), and lock and statement timeouts are set.
final class PGConnection {
    let conn: OpaquePointer
    /// The URL as it may be shown: without a password, whatever its spelling.
    let shown: String

    /// A failure of the server or the connection (not of our SQL): the operation can be tried again.
    struct Failure: Error {
        var sqlState: String
        var message: String
        /// Serialization failure or deadlock: the transaction is retried.
        var retryable: Bool { sqlState == "40001" || sqlState == "40P01" }
        /// The connection is gone (server restarted, network): 75, nothing was committed by us.
        var connectionLost: Bool

        /// One line and the exit code its class of SQLSTATE calls for.
        func error(_ shown: String, doing what: String = "the database refused the request") -> DubdeckError {
            let line = "\(shown): \(what) (\(Sanitizer.display(sqlState)): \(message)); nothing was changed"
            if connectionLost || sqlState.hasPrefix("08") || sqlState == "57P01" {
                return DubdeckError(.conflict, "\(shown): the database connection was lost (\(message)); the change was not made — run it again")
            }
            switch sqlState {
            case "55P03", "57014":  // lock_not_available (lock_timeout), query_canceled (statement_timeout)
                return DubdeckError(.conflict, "\(shown): the database is busy (\(message)); nothing was changed — try again")
            case "42501": return DubdeckError(.keyError, line)  // insufficient_privilege
            case "3D000", "3F000": return DubdeckError(.config, line)  // missing database / schema
            default:
                if sqlState.hasPrefix("28") { return DubdeckError(.keyError, line) }  // authorization
                if sqlState.hasPrefix("40") { return DubdeckError(.conflict, line) }
                return DubdeckError(.dataError, line)
            }
        }
    }

    /// The URL's keywords as libpq reads them, or nil when it is not one libpq can read.
    static func parse(_ url: String) -> [String: String]? {
        guard LazyLibrary.failure(dd_pq_load, Soname.pq) == nil else { return nil }
        var err: UnsafeMutablePointer<CChar>? = nil
        guard let opts = dd_PQconninfoParse(url, &err) else {
            if let err { dd_PQfreemem(err) }
            return nil
        }
        defer { dd_PQconninfoFree(opts) }
        var out: [String: String] = [:]
        var p = opts
        while let k = p.pointee.keyword {
            if let v = p.pointee.val { out[String(cString: k)] = String(cString: v) }
            p += 1
        }
        return out
    }

    /// What a connection URL may show: scheme, user, hosts, ports and database from libpq's parse;
    /// never the password, nor any query parameter (`?password=…&password=…`, `%70assword`).
    static func redacted(_ url: String) -> String {
        guard let k = parse(url) else { return "the PostgreSQL URL" }  // unparsable: nothing of it is shown
        var out = "postgresql://"
        if let u = k["user"], !u.isEmpty { out += u + "@" }
        let host = k["host"] ?? k["hostaddr"] ?? "", port = k["port"] ?? ""
        if host.hasPrefix("/") {
            // A socket directory, as such URLs spell it: in the query.
            out += "/" + (k["dbname"] ?? "") + "?host=" + host + (port.isEmpty ? "" : "&port=" + port)
        } else {
            out += host + (port.isEmpty ? "" : ":" + port)
            if let db = k["dbname"], !db.isEmpty { out += "/" + db }
        }
        return Sanitizer.display(out)
    }

    init(url: String) throws {
        if let why = LazyLibrary.failure(dd_pq_load, Soname.pq) { throw DubdeckError(.ioError, "the character store's database: \(why)") }
        guard PGConnection.parse(url) != nil else {
            throw DubdeckError(.usage, "--store: not a PostgreSQL URL libpq can read (postgresql://[user@]host[:port]/database[?…])")
        }
        let shown = PGConnection.redacted(url)
        self.shown = shown
        // Defaults before the URL (its own keywords win), and only where the environment says nothing:
        // a server that does not answer is given 5 s. No setenv: other threads may read the environment.
        var keys: [String] = [], values: [String] = []
        if getenv("PGCONNECT_TIMEOUT") == nil { keys.append("connect_timeout"); values.append("5") }
        if getenv("PGAPPNAME") == nil { keys.append("application_name"); values.append("dubdeck") }
        keys.append("dbname")
        values.append(url)
        let c: OpaquePointer? = PGConnection.withCStrings(keys) { k in
            PGConnection.withCStrings(values) { v in dd_PQconnectdbParams(k, v, 1) }
        }
        guard let c else { throw DubdeckError(.conflict, "\(shown): out of memory connecting") }
        guard dd_PQstatus(c) == CONNECTION_OK else {
            // libpq may quote a value of the URL in its message: none of them is printed.
            let why = PGConnection.withoutValues(PGConnection.text(dd_PQerrorMessage(c)), of: url)
            dd_PQfinish(c)
            throw DubdeckError(PGConnection.connectFailureStatus(why), "\(shown): cannot connect to the database (\(why)); nothing was changed")
        }
        // Server notices (CREATE TABLE IF NOT EXISTS … skipping) are not for the user's terminal.
        dd_PQsetNoticeProcessor(c, { _, _ in }, nil)
        conn = c
        do {
            self.schemaName = try setUpSession()
        } catch let f as Failure {
            throw f.error(shown, doing: "the session could not be set up")
        }
    }

    /// The schema the tables live in (the session's own first schema, before the path was pinned), quoted.
    private(set) var schemaName = ""
    /// `"schema".name`: a table of ours, never found through the search path.
    func table(_ name: String) -> String { schemaName + "." + name }

    /// The schema (the first of the session's search path that exists: the URL's options or the role's
    /// setting choose it), then the path pinned so that no function, operator or type can come from a
    /// schema someone else controls; lock and statement timeouts of 5 s unless the URL or role set them.
    func setUpSession() throws -> String {
        let row = try exec("SELECT pg_catalog.current_schema(), pg_catalog.current_setting('lock_timeout'), pg_catalog.current_setting('statement_timeout')")
        guard let first = row.first, let name = first[0] ?? nil else {
            throw Failure(sqlState: "3F000", message: "no schema: the search path names none that exists", connectionLost: false)
        }
        let lock = (first[1] ?? nil) == "0" ? "5s" : (first[1] ?? "5s")!
        let statement = (first[2] ?? nil) == "0" ? "5s" : (first[2] ?? "5s")!
        try exec("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false), pg_catalog.set_config('lock_timeout', $1, false), pg_catalog.set_config('statement_timeout', $2, false)",
                 [.text(lock), .text(statement)])
        return "\"" + name.replacingAll("\"", with: "\"\"") + "\""
    }

    /// A connection refused: authentication or permission 77, a database or role that is not there 78,
    /// anything else (unreachable, refused, timed out) 75. libpq gives no SQLSTATE here: its message says.
    static func connectFailureStatus(_ why: String) -> ExitStatus {
        let w = why.lowercased()
        // A value libpq cannot use (port=notaport, connect_timeout=x): the URL is wrong, not the server.
        if w.contains("invalid") && (w.contains("connection option") || w.contains("value") || w.contains("port number")) { return .usage }
        if w.contains("definition of service") { return .usage }
        if w.contains("does not exist") { return .config }
        if w.contains("password") || w.contains("authentication") || w.contains("permission denied") || w.contains("not permitted")
            || w.contains("no pg_hba.conf entry") { return .keyError }
        return .conflict
    }

    /// `message` with every value the URL gives (a password, an option) replaced by `***`.
    static func withoutValues(_ message: String, of url: String) -> String {
        var out = message
        for (k, v) in parse(url) ?? [:] where v.count >= 3 && !["host", "port", "dbname", "user", "hostaddr"].contains(k) {
            out = out.replacingAll(Sanitizer.display(v), with: "***").replacingAll(v, with: "***")
        }
        return out
    }

    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return pointers.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    deinit { dd_PQfinish(conn) }

    static func text(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "" }
        return Sanitizer.display(String(cString: p).trimmingWhitespace())
    }

    enum Param {
        case text(String)
        case bytes([UInt8])
        case null
    }

    /// Runs one statement; returns its rows as text cells (nil: SQL NULL; bytea in hex).
    @discardableResult
    func exec(_ sql: String, _ params: [Param] = []) throws -> [[String?]] {
        try run(sql, params, binary: false) { result, r, f in String(cString: dd_PQgetvalue(result, r, f)) }
    }

    /// The same with results in binary form: text as its bytes, bytea as is, bigint as 8 bytes
    /// big-endian (no hex to decode: a store's rows are megabytes).
    func execBinary(_ sql: String, _ params: [Param] = []) throws -> [[[UInt8]?]] {
        try run(sql, params, binary: true) { result, r, f in
            let p = UnsafeRawPointer(dd_PQgetvalue(result, r, f)!).assumingMemoryBound(to: UInt8.self)
            return Array(UnsafeBufferPointer(start: p, count: Int(dd_PQgetlength(result, r, f))))
        }
    }

    /// Sends one parameterised statement and reads every cell of its result with `cell`; a
    /// failure of the statement or the connection is a `Failure` with PostgreSQL's SQLSTATE.
    func run<Cell>(_ sql: String, _ params: [Param], binary: Bool, cell: (OpaquePointer, Int32, Int32) -> Cell) throws -> [[Cell?]] {
        var buffers: [[CChar]?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        for p in params {
            switch p {
            case .text(let s): buffers.append(Array(s.utf8CString)); lengths.append(0); formats.append(0)
            case .bytes(let b): buffers.append(b.map { CChar(bitPattern: $0) }); lengths.append(Int32(b.count)); formats.append(1)
            case .null: buffers.append(nil); lengths.append(0); formats.append(0)
            }
        }
        let result: OpaquePointer? = withPointers(buffers) { values in
            dd_PQexecParams(conn, sql, Int32(params.count), nil, values, lengths, formats, binary ? 1 : 0)
        }
        guard let result else {
            throw Failure(sqlState: "", message: PGConnection.text(dd_PQerrorMessage(conn)), connectionLost: dd_PQstatus(conn) != CONNECTION_OK)
        }
        defer { dd_PQclear(result) }
        let status = dd_PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = dd_PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            throw Failure(sqlState: state, message: PGConnection.text(dd_PQresultErrorMessage(result)),
                          connectionLost: dd_PQstatus(conn) != CONNECTION_OK || state.hasPrefix("08") || state == "57P01")
        }
        let n = dd_PQntuples(result), m = dd_PQnfields(result)
        var rows: [[Cell?]] = []
        rows.reserveCapacity(Int(n))
        for r in 0..<n {
            rows.append((0..<m).map { f in dd_PQgetisnull(result, r, f) == 1 ? nil : cell(result, r, f) })
        }
        return rows
    }

    /// A bigint in binary form.
    static func int8(_ b: [UInt8]?) -> Int? {
        guard let b, b.count == 8 else { return nil }
        return Int(bitPattern: UInt(b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }))
    }

    func withPointers<R>(_ buffers: [[CChar]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = []
        defer { for p in pointers { p?.deallocate() } }
        for b in buffers {
            guard let b else { pointers.append(nil); continue }
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, b.count))
            p.initialize(from: b, count: b.count)
            pointers.append(p)
        }
        return body(pointers.map { $0.map { UnsafePointer($0) } })
    }

    /// A bytea cell in PostgreSQL's hex output (`\x0a1b…`).
    static func bytea(_ cell: String?) -> [UInt8]? {
        guard let cell else { return nil }
        let u = Array(cell.utf8)
        guard u.count >= 2, u[0] == UInt8(ascii: "\\"), u[1] == UInt8(ascii: "x"), u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2 - 1)
        var i = 2
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
