import DubdeckCore
import Foundation
import TestSupport
import XCTest

/// SPEC §11.5: PostgreSQL as a careful client, on a real server: exit codes by class, the password
/// in no spelling of the URL, a hostile search_path that runs nothing of ours, a held lock that
/// times out instead of hanging, and SQLSTATE errors as one line.
final class PostgresClientTests: PostgresServerTestCase {
    func env(_ dir: TempDir, _ store: String) -> [String: String] {
        ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": store]
    }

    /// A store with one character in database `name`; its URL.
    func populated(_ pg: PostgresCluster, _ dir: TempDir, _ name: String) -> String {
        let url = pg.database(name)
        let job = Fixtures.embeddedEpisode(in: dir, "ep1", [("A", [1, 0, 0, 0.2])])
        let r = DubdeckBinary.run(["characters", "identify", job], env: env(dir, url))
        XCTAssertEqual(r.status, 0, r.stderr)
        return url
    }

    func testExitCodesByClassAndThePasswordInNoSpelling() throws {
        let pg = try server()
        let dir = TempDir()
        let url = populated(pg, dir, "codes")
        let base = "host=\(pg.directory)&port=\(pg.port)"
        let cases: [(String, Int32, String)] = [
            ("postgresql://postgres@/nosuchdb?\(base)&password=REAL1", 78, "does not exist"),
            ("postgresql://nosuchrole:REAL2@/codes?\(base)", 78, "does not exist"),
            ("postgresql://postgres@/codes?\(base)&password=x&password=REAL3&nosuchkey=1", 64, "not a PostgreSQL URL"),
            ("postgresql://postgres@/nosuchdb?\(base)&%70assword=REAL4", 78, "does not exist"),
            ("postgresql://postgres@/nosuchdb?\(base)&pass%77ord=REAL5", 78, "does not exist"),
            ("postgresql://postgres:REAL6@/codes?host=\(pg.directory)&port=1", 75, "cannot connect"),
            ("postgresql://postgres:%52EAL7@/nosuchdb?\(base)", 78, "does not exist"),
            ("postgresql://postgres@/codes?\(base)&options=-csearch_path%3Dnosuchschema&password=REAL8", 78, "no schema"),
            // Other spellings libpq reads are databases too, never a file named after the password.
            ("host=\(pg.directory) port=\(pg.port) dbname=nosuchdb user=postgres password=REAL9", 78, "does not exist"),
            ("POSTGRESQL://postgres:REAL10@/nosuchdb?\(base)", 64, "not a PostgreSQL URL"),
            ("postgresql://postgres:REAL11@/codes?\(base)&connect_timeout=REAL12", 64, "cannot connect"),
            ("postgresql://postgres@/codes?host=\(pg.directory)&port=notaport&password=REAL13", 64, "cannot connect"),
            ("postgresql://postgres@/codes?host=\(pg.directory)&port=99999&password=REAL14", 64, "cannot connect"),
            ("host=\(pg.directory) port=\(pg.port) sslmode=REAL15 password=REAL16", 64, "cannot connect"),
            ("postgresql:nosuch?password=REAL17", 64, "not a PostgreSQL URL"),
            (" postgresql://u:REAL18@h/db?nosuchkey=1", 64, "not a PostgreSQL URL"),
            ("file:postgresql://u:REAL19@h/db", 64, "not a PostgreSQL URL"),
        ]
        let cwd = TempDir()
        for (u, code, says) in cases {
            let r = DubdeckBinary.run(["characters", "list"], env: env(dir, u), cwd: cwd.path)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cwd.path), [], "\(u): nothing made in the working directory")
            XCTAssertEqual(r.status, code, "\(u): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(says), "\(u): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("REAL"), "the password printed: \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stdout.isEmpty, r.stdout)
        }
        // A role that may not read the tables: permission, 77, one line with its SQLSTATE.
        pg.psql("DROP ROLE IF EXISTS outsider; CREATE ROLE outsider LOGIN", database: "codes")
        let r = DubdeckBinary.run(["characters", "list"], env: env(dir, url.replacingOccurrences(of: "postgres@", with: "outsider@")))
        XCTAssertEqual(r.status, 77, r.stderr)
        XCTAssertTrue(r.stderr.contains("42501"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(r.stderr.contains("Failure("), r.stderr)
    }

    /// The role's search path puts a schema someone else controls before pg_catalog: none of its
    /// functions or operators runs in our session.
    /// One connection per command (SPEC §11.5): the server logs every connection it authorizes; each
    /// command — a reading, an identify that reads the map and commits, an assignment, a rename, a
    /// reconcile that commits and re-writes maps — is one of them.
    func testEachCommandOpensOneConnection() throws {
        let pg = try server()
        let dir = TempDir()
        let url = populated(pg, dir, "conns")
        XCTAssertEqual(pg.psql("ALTER SYSTEM SET log_connections = on"), "")
        XCTAssertEqual(pg.psql("SELECT pg_reload_conf()").trimmingCharacters(in: .whitespacesAndNewlines), "t")
        defer {
            pg.psql("ALTER SYSTEM RESET log_connections")
            pg.psql("SELECT pg_reload_conf()")
        }
        let log = pg.directory + "/server.log"
        func connections(_ args: [String]) -> Int {
            let before = (try? Data(contentsOf: URL(fileURLWithPath: log)).count) ?? 0
            let r = DubdeckBinary.run(args, env: env(dir, url))
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            let text = String(decoding: ((try? Data(contentsOf: URL(fileURLWithPath: log))) ?? Data()).dropFirst(before), as: UTF8.self)
            return text.split(separator: "\n").filter { $0.contains("connection authorized") && $0.contains("database=conns") }.count
        }
        // The setting reaches new sessions once the server has re-read it.
        var seen = 0
        for _ in 0..<50 where seen == 0 {
            seen = connections(["characters", "list"])
            if seen == 0 { usleep(100_000) }
        }
        XCTAssertEqual(seen, 1, "characters list")
        let ep2 = Fixtures.embeddedEpisode(in: dir, "ep2", [("A", [1, 0, 0, 0.25]), ("B", [0, 1, 0, 0])])
        let commands: [[String]] = [
            ["characters", "identify", ep2],
            ["characters", "identify", ep2],
            ["characters", "assign", ep2, "B", "SPEAKER_01"],
            ["characters", "rename", "SPEAKER_01", "Ana"],
            ["characters", "reconcile", "--series", "test_series", "--apply"],
            ["characters", "show", "SPEAKER_01"],
            ["segments", ep2, "--store", url],
        ]
        for c in commands { XCTAssertEqual(connections(c), 1, "\(c)") }
    }

    func testAHostileSearchPathRunsNothingOfOurs() throws {
        let pg = try server()
        let dir = TempDir()
        let url = populated(pg, dir, "hostile_path")
        pg.psql("""
            CREATE TABLE public.pwned (what text);
            CREATE SCHEMA evil;
            CREATE FUNCTION evil.to_regclass(text) RETURNS regclass LANGUAGE sql AS
              $$ INSERT INTO public.pwned VALUES ('to_regclass'); SELECT pg_catalog.to_regclass($1) $$;
            CREATE FUNCTION evil.current_setting(text) RETURNS text LANGUAGE sql AS
              $$ INSERT INTO public.pwned VALUES ('current_setting'); SELECT pg_catalog.current_setting($1) $$;
            CREATE FUNCTION evil.textanycat(text, anynonarray) RETURNS text LANGUAGE sql AS
              $$ INSERT INTO public.pwned VALUES ('||'); SELECT $1 OPERATOR(pg_catalog.||) $2::text $$;
            ALTER ROLE postgres IN DATABASE hostile_path SET search_path = public, evil, pg_catalog;
            """, database: "hostile_path")
        for args in [["characters", "list"], ["characters", "rename", "SPEAKER_01", "Hana"], ["characters", "list", "--json"]] {
            let r = DubdeckBinary.run(args, env: env(dir, url))
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        }
        XCTAssertEqual(pg.psql("SELECT count(*) FROM public.pwned", database: "hostile_path").trimmingCharacters(in: .whitespacesAndNewlines), "0")
        XCTAssertTrue(DubdeckBinary.run(["characters", "list"], env: env(dir, url)).stdout.contains("Hana"))
    }

    /// A lock someone holds: the command gives up after the lock timeout (the URL's, else 5 s) with
    /// 75 and one line, instead of hanging; the holder's work is untouched.
    func testAHeldLockTimesOutInsteadOfHanging() throws {
        let pg = try server()
        let dir = TempDir()
        let url = populated(pg, dir, "held_lock")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["psql", "-X", "-q", "postgresql://postgres@/held_lock?host=\(pg.directory)&port=\(pg.port)", "-c",
                            "BEGIN; LOCK TABLE public.dubdeck_characters IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT;"]
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        // Wait until the lock is held.
        for _ in 0..<100 where !pg.psql("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'dubdeck_characters'::regclass",
                                         database: "held_lock").hasPrefix("1") { usleep(50_000) }
        let quick = url + "&options=-c%20lock_timeout%3D300"
        let r = DubdeckBinary.run(["characters", "rename", "SPEAKER_01", "Hana"], env: env(dir, quick), timeout: 20)
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertTrue(r.stderr.contains("busy"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        // No timeout in the URL: the 5-second default ends it.
        let slow = DubdeckBinary.run(["characters", "list"], env: env(dir, url), timeout: 25)
        XCTAssertEqual(slow.status, 75, slow.stderr)
    }

    /// SPEC §11.4: the sealed meta row commits to the set of rows. A row deleted, an older (version,
    /// sealed) pair put back, a meta row rolled back (a row it does not list), an emptied meta row:
    /// each is 65 naming the row, and nothing is written over it.
    func testTheMetaRowCommitsToEveryRow() throws {
        let pg = try server()
        let dir = TempDir()
        let url = pg.database("row_set")
        let e = env(dir, url)
        let ep1 = Fixtures.embeddedEpisode(in: dir, "ep1", [("A", [1, 0, 0, 0.2]), ("B", [0, 1, 0, 0.2])])
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", ep1], env: e).status, 0)
        func sql(_ q: String) -> String { pg.psql(q, database: "row_set").trimmingCharacters(in: .whitespacesAndNewlines) }
        func refused(_ what: String, says: String, file: StaticString = #filePath, line: UInt = #line) {
            for args in [["characters", "list"], ["characters", "rename", "SPEAKER_01", "Zed"]] {
                let r = DubdeckBinary.run(args, env: e)
                XCTAssertEqual(r.status, 65, "\(what) \(args): \(r.stderr)", file: file, line: line)
                XCTAssertTrue(r.stderr.contains(says), "\(what): \(r.stderr)", file: file, line: line)
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
            }
        }
        let snapshot = "CREATE TABLE saved AS SELECT * FROM dubdeck_characters; CREATE TABLE saved_meta AS SELECT * FROM dubdeck_meta"
        _ = sql(snapshot)
        XCTAssertEqual(DubdeckBinary.run(["characters", "rename", "SPEAKER_02", "Bo"], env: e).status, 0)

        // An older (version, sealed) pair put back: an un-rename.
        _ = sql("CREATE TABLE now AS SELECT * FROM dubdeck_characters WHERE id = 'SPEAKER_02'")
        _ = sql("UPDATE dubdeck_characters d SET version = s.version, sealed = s.sealed FROM saved s WHERE d.id = s.id AND d.id = 'SPEAKER_02'")
        refused("rolled-back row", says: "row dubdeck_characters SPEAKER_02 is at version 1 but the store wrote version 2")
        _ = sql("UPDATE dubdeck_characters d SET version = n.version, sealed = n.sealed FROM now n WHERE d.id = n.id")
        XCTAssertEqual(DubdeckBinary.run(["characters", "list"], env: e).status, 0, "put right, it reads")

        // A row deleted: a character vanishing.
        _ = sql("DELETE FROM dubdeck_characters WHERE id = 'SPEAKER_01'")
        refused("deleted row", says: "row dubdeck_characters SPEAKER_01 (version 1) is missing")
        _ = sql("INSERT INTO dubdeck_characters SELECT * FROM saved WHERE id = 'SPEAKER_01'")
        XCTAssertEqual(DubdeckBinary.run(["characters", "list"], env: e).status, 0)

        // The meta row rolled back to before the rename: the rows it lists are older than those there.
        _ = sql("UPDATE dubdeck_meta m SET version = s.version, sealed = s.sealed, header = s.header FROM saved_meta s")
        refused("rolled-back meta", says: "row dubdeck_characters SPEAKER_02 is at version 2 but the store wrote version 1")

        // The meta row emptied: never a new store over the rows (the names would be lost).
        _ = sql("DELETE FROM dubdeck_meta")
        let ep2 = Fixtures.embeddedEpisode(in: dir, "ep2", [("A", [1, 0, 0, 0.2])])
        let r = DubdeckBinary.run(["characters", "identify", ep2], env: e)
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("row dubdeck_meta 1 is missing but 3 other rows exist"), r.stderr)
        XCTAssertEqual(sql("SELECT count(*) FROM dubdeck_meta"), "0", "no store made over the rows")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ep2 + "/characters.map.json"))
    }

    /// Three reviewers on one database at once, each with their own copy of the season's jobs, in
    /// bounded loops of identify, merge, unmerge, assign, reconcile and its undo (a fixed random
    /// order). Every command ends 0, 64 (nothing to do) or 75 (changed since, try again) with one
    /// line; no reconcile is reported applied or undone twice; the store reads back whole; and once
    /// each copy has been opened by a command, every map says what the store's observations say.
    func testThreeReviewersAtOnceLeaveMapsThatAgreeWithTheStore() throws {
        let pg = try server()
        let dir = TempDir()
        let url = pg.database("three_reviewers")
        let e = env(dir, url)
        func unit(_ axis: Int, _ tilt: Float) -> [Float] {
            var v = [Float](repeating: 0, count: 8)
            v[axis] = 1
            v[7] = tilt
            return v
        }
        let names = (1...5).map { "ep\($0)" }
        for (k, name) in names.enumerated() {
            let made = Fixtures.embeddedEpisode(in: dir, name, series: "s1",
                                                [("A", unit(0, 0.1 + 0.05 * Float(k % 4))), ("B", unit(2, 0.2)), ("C", unit(4, 0.15 + 0.3 * Float(k % 2)))])
            try FileManager.default.createDirectory(atPath: dir.file("r0"), withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: made, toPath: dir.file("r0/" + name))
            let r = DubdeckBinary.run(["characters", "identify", dir.file("r0/" + name), "--threshold", "0.97"], env: e)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        // The other reviewers' copies, maps included (made on their machines from the same store).
        for r in 1...2 { try FileManager.default.copyItem(atPath: dir.file("r0"), toPath: dir.file("r\(r)")) }
        let outputs = Collected<(args: [String], result: DubdeckBinary.Result)>()
        let root = dir.path
        DispatchQueue.concurrentPerform(iterations: 3) { reviewer in
            var seed = UInt64(reviewer + 1) &* 0x9E37_79B9_7F4A_7C15
            func next(_ n: Int) -> Int { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Int((seed >> 33) % UInt64(n)) }
            for _ in 0..<10 {
                let ep = root + "/r\(reviewer)/" + names[next(names.count)]
                let a = "SPEAKER_0\(1 + next(6))", b = "SPEAKER_0\(1 + next(6))"
                let args: [String]
                switch next(7) {
                case 0: args = ["characters", "identify", ep, "--force", "--threshold", next(2) == 0 ? "0.97" : "0.75"]
                case 1: args = ["characters", "merge", a, b]
                case 2: args = ["characters", "unmerge", a]
                case 3: args = ["characters", "assign", ep, ["A", "B", "C"][next(3)], a]
                case 4, 5: args = ["characters", "reconcile", "--series", "s1", "--apply"]
                default: args = ["characters", "reconcile", "--series", "s1", "--undo"]
                }
                outputs.append((args, DubdeckBinary.run(args, env: e)))
            }
        }
        var applied: [String] = [], undone: [String] = []
        for (args, r) in outputs.values {
            XCTAssertTrue([0, 64, 75].contains(r.status), "\(args): \(r.status) \(r.stderr)")
            if r.status != 0 { XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(args): \(r.stderr)") }
            for line in r.stdout.split(separator: "\n") {
                if line.hasPrefix("applied reconcile ") { applied.append(String(line.split(separator: " ")[2])) }
                if line.hasPrefix("undid reconcile ") { undone.append(String(line.split(separator: " ")[2])) }
            }
        }
        let codes = Dictionary(outputs.values.map { ($0.result.status, 1) }, uniquingKeysWith: +)
        print("three reviewers: exit codes \(codes.sorted { $0.key < $1.key }), reconciles applied \(applied), undone \(undone)")
        XCTAssertEqual(applied.count, Set(applied).count, "a reconcile reported applied twice: \(applied)")
        XCTAssertEqual(undone.count, Set(undone).count, "a reconcile reported undone twice: \(undone)")
        XCTAssertEqual(DubdeckBinary.run(["characters", "list"], env: e).status, 0, "the store reads back whole")

        // Each copy opened by a command; then its map says what the store's observations say.
        var stale = 0
        for r in 0...2 {
            for name in names {
                let before = try? Data(contentsOf: URL(fileURLWithPath: dir.file("r\(r)/\(name)/characters.map.json")))
                XCTAssertEqual(DubdeckBinary.run(["segments", dir.file("r\(r)/" + name)], env: e).status, 0)
                if before != (try? Data(contentsOf: URL(fileURLWithPath: dir.file("r\(r)/\(name)/characters.map.json")))) { stale += 1 }
            }
        }
        print("three reviewers: \(stale) maps followed the store")
        let saved = ["XDG_CONFIG_HOME", "DUBDECK_STORE_KEY", "DUBDECK_STORE_PASSPHRASE"].map { ($0, ProcessInfo.processInfo.environment[$0]) }
        setenv("XDG_CONFIG_HOME", dir.file("config"), 1)
        unsetenv("DUBDECK_STORE_KEY")
        unsetenv("DUBDECK_STORE_PASSPHRASE")
        defer { for (k, v) in saved { if let v { setenv(k, v, 1) } else { unsetenv(k) } } }
        let store = try CharacterStore.open(url, withEmbeddings: false)
        var checked = 0
        for r in 0...2 {
            for name in names {
                let view = store.episodeView(series: "s1", episode: name)
                let map = try XCTUnwrap(try CharacterMap.read(dir.file("r\(r)/\(name)/characters.map.json")))
                for (label, id) in view.labels {
                    XCTAssertEqual(map.characterIDs[label], id, "r\(r)/\(name) label \(label): the map and the store disagree")
                    checked += 1
                }
                for l in map.labels { XCTAssertNotNil(store.character(l.characterID), "r\(r)/\(name): the map names \(l.characterID), the store has no such character") }
            }
        }
        XCTAssertGreaterThan(checked, 30)
    }
}
