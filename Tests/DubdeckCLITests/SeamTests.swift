import Foundation
import TestSupport
import XCTest

/// SPEC §11.1: numbers and sizes from outside. Memory follows what was read, never what a header or
/// a count claims; each case runs the real binary under an address-space limit far below the claim.
final class OutsideNumbersTests: XCTestCase {
    static let limit = 1_500_000_000

    /// A 3 KB FLAC whose STREAMINFO claims 2^27 frames × 8 channels at 96 kHz (4.3 GB as floats,
    /// under the 30-minute embedding limit): embedded from what it holds.
    func testAFlacHeaderClaimingGigabytesCostsWhatItHolds() throws {
        let dir = TempDir()
        let flac = dir.file("claim.flac")
        XCTAssertEqual(Fixtures.runQuietly(["sox", "-n", "-r", "96000", "-c", "8", "-b", "16", flac, "synth", "0.5", "sine", "440"]), 0)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: flac)))
        XCTAssertEqual(Array(bytes[0..<4]), Array("fLaC".utf8))
        // STREAMINFO bytes 18…25: rate (20 bits), channels − 1 (3), bits − 1 (5), total frames (36).
        var v = bytes[18..<26].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        v = ((v >> 36) << 36) | (1 << 27)
        for i in 0..<8 { bytes[18 + i] = UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64(i))) }
        try Data(bytes).write(to: URL(fileURLWithPath: flac))
        let r = DubdeckBinary.run(["characters", "embed", flac, "--json"], addressSpace: OutsideNumbersTests.limit)
        XCTAssertEqual(r.status, 0, "read within \(OutsideNumbersTests.limit) bytes: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("\"embedding\""), r.stdout)
    }

    /// 9.9 M empty objects in a field dubdeck does not know, at the top of translated.json and inside
    /// a segment: each costs what it is, not room for eight members (3.8 GB before, ~0.5 GB now).
    func testEmptyObjectsInAnUnknownFieldDoNotReserveMembers() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let path = job + "/translated.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let many = "[" + Array(repeating: "{}", count: 9_900_000).joined(separator: ",") + "]"
        for variant in [String(text.trimmingCharacters(in: .whitespacesAndNewlines).dropLast()) + ", \"pipeline_extra\": " + many + "}",
                        text.replacingOccurrences(of: "\"start\"", with: "\"extra\": " + many + ", \"start\"", options: [], range: text.range(of: "\"start\""))] {
            try variant.write(toFile: path, atomically: true, encoding: .utf8)
            let r = DubdeckBinary.run(["segments", job], addressSpace: OutsideNumbersTests.limit)
            XCTAssertEqual(r.status, 0, "read within \(OutsideNumbersTests.limit) bytes: \(r.stderr)")
        }
    }
}
