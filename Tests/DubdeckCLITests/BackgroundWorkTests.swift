import Foundation
import TestSupport
import XCTest

/// A command opens its job on both cores (the store read, scanned and hashed on the other one): one
/// that fails on the store must still exit with its own code, every time, never while the other core
/// is inside OpenSSL (whose exit-time clean-up crashed it before it was turned off and the command
/// line waited for the other core).
final class BackgroundWorkTests: XCTestCase {
    func testACommandThatFailsOnTheStoreExitsWithItsOwnCodeWhileTheStoreIsHashed() {
        let dir = TempDir()
        Fixtures.job(in: dir)
        // 32 MB that both readings refuse at their first byte: the other core is then still hashing
        // them for tens of milliseconds when the error is reported.
        dir.writeBytes("ep01/transcript_store.json", [UInt8](repeating: UInt8(ascii: "x"), count: 32 << 20))
        for run in 0..<10 {
            let r = DubdeckBinary.run(["status", dir.file("ep01")])
            XCTAssertEqual(r.status, 65, "run \(run): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("transcript_store.json"), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one error line, no crash report: \(r.stderr)")
        }
        // A bad job is still reported first, before anything about its store.
        XCTAssertEqual(unlink(dir.file("ep01/translated.json")), 0)
        let r = DubdeckBinary.run(["status", dir.file("ep01")])
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertTrue(r.stderr.contains("translated.json"), r.stderr)
    }
}
