#if canImport(Glibc)
import Glibc
#endif
import CLibpq
import CLazyLibs

/// One libpq connection, synchronous (a terminal tool does one thing at a time). Every query is
/// parameterised (`$1` …): no value is ever spliced into SQL text.
final class PGConnection {
    let conn: OpaquePointer
    /// The URL as it may be shown: without a password.
    let shown: String

    /// A failure of the server or the connection (not of our SQL): the operation can be tried again.
    struct Failure: Error {
        var sqlState: String
        var message: String
        /// Serialization failure or deadlock: the transaction is retried.
        var retryable: Bool { sqlState == "40001" || sqlState == "40P01" }
        /// The connection is gone (server restarted, network): 75, nothing was committed by us.
        var connectionLost: Bool
    }

    init(url: String) throws {
        shown = PGConnection.redacted(url)
        // A server that does not answer is given 5 s (unless the environment says otherwise).
        if getenv("PGCONNECT_TIMEOUT") == nil { setenv("PGCONNECT_TIMEOUT", "5", 0) }
        if getenv("PGAPPNAME") == nil { setenv("PGAPPNAME", "dubdeck", 0) }
        if let why = dd_pq_load() { throw DubdeckError(.ioError, "\(shown): \(String(cString: why)) (Debian package libpq5)") }
        let c = dd_PQconnectdb(url)
        guard let c else { throw DubdeckError(.conflict, "\(shown): out of memory connecting") }
        guard dd_PQstatus(c) == CONNECTION_OK else {
            let why = PGConnection.text(dd_PQerrorMessage(c))
            dd_PQfinish(c)
            throw DubdeckError(.conflict, "\(shown): cannot connect to the database (\(why)); nothing was changed")
        }
        // Server notices (CREATE TABLE IF NOT EXISTS … skipping) are not for the user's terminal.
        dd_PQsetNoticeProcessor(c, { _, _ in }, nil)
        conn = c
    }

    deinit { dd_PQfinish(conn) }

    static func text(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "" }
        return Sanitizer.display(String(cString: p).trimmingWhitespace())
    }

    /// postgresql://user:secret@host/db → postgresql://user@host/db (and password=… in a query).
    static func redacted(_ url: String) -> String {
        var out = url
        if let scheme = out.firstRange(of: "://"), let at = out[scheme.upperBound...].firstIndex(of: "@") {
            let auth = out[scheme.upperBound..<at]
            if let colon = auth.firstIndex(of: ":") { out.replaceSubrange(colon..<at, with: "") }
        }
        if let q = out.firstRange(of: "password=") {
            let end = out[q.upperBound...].firstIndex(of: "&") ?? out.endIndex
            out.replaceSubrange(q.upperBound..<end, with: "***")
        }
        return Sanitizer.display(out)
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
