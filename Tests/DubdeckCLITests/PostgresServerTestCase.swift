import Foundation
import TestSupport
import XCTest

/// A private PostgreSQL server per test class (started once, removed at the end); each test makes
/// its own database. Never skipped: make test installs PostgreSQL, so a server that cannot start fails.
class PostgresServerTestCase: XCTestCase {
    nonisolated(unsafe) static var clusters: [ObjectIdentifier: PostgresCluster] = [:]

    override class func setUp() {
        super.setUp()
        clusters[ObjectIdentifier(self)] = try? PostgresCluster()
    }

    override class func tearDown() {
        clusters.removeValue(forKey: ObjectIdentifier(self))?.remove()
        super.tearDown()
    }

    func server() throws -> PostgresCluster {
        try XCTUnwrap(Self.clusters[ObjectIdentifier(type(of: self))], "the test PostgreSQL server did not start (scripts/pg_cluster.sh)")
    }
}
