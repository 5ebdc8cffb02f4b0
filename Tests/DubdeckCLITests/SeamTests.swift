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

/// SPEC §11.7 and §11.2: audio and screen never lie; an empty --out names nothing.
final class NeverLieTests: XCTestCase {
    /// export to a terminal (a pseudo-terminal made by script(1)): the texts' escape sequences are
    /// shown as placeholders, never run; to a pipe the bytes stay raw.
    func testExportToATerminalIsSanitizedAndRawOnlyToPipes() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir, lines: [Fixtures.Line(1, 2, "A", "src", "title\u{1b}]0;owned\u{07} clip\u{1b}]52;c;ZXZpbA==\u{07} clear\u{1b}[2J")])
        let cmd = "\(DubdeckBinary.path) export \(job) --format srt"
        let r = PostgresCluster.run(["script", "-q", "-e", "-c", cmd, "/dev/null"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.contains("\u{1b}]0;") || r.stdout.contains("\u{1b}]52") || r.stdout.contains("\u{1b}[2J"), r.stdout.debugDescription)
        XCTAssertTrue(r.stdout.contains("␛]0;owned␇"), r.stdout.debugDescription)
        for out in ["/dev/stdout", "/dev/tty", "/proc/self/fd/1"] {
            let r = PostgresCluster.run(["script", "-q", "-e", "-c", cmd + " --out " + out, "/dev/null"])
            XCTAssertEqual(r.status, 0, "\(out): \(r.stderr)")
            XCTAssertFalse(r.stdout.contains("\u{1b}]52") || r.stdout.contains("\u{1b}[2J"), "\(out): \(r.stdout.debugDescription)")
            XCTAssertTrue(r.stdout.contains("␛]0;owned␇"), "\(out): \(r.stdout.debugDescription)")
        }
        let piped = DubdeckBinary.run(["export", job, "--format", "srt"])
        XCTAssertTrue(piped.stdout.contains("\u{1b}]52;c;"), "a data stream to a pipe is raw")
    }

    func testAnEmptyOutIsRefused() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        dir.write("a.srt", "1\n00:00:01,000 --> 00:00:02,000\nhi\n")
        for args in [["apply", job, "--out", ""], ["import", dir.file("a.srt"), "--out", ""], ["export", job, "--format", "srt", "--out", ""]] {
            let r = DubdeckBinary.run(args, cwd: dir.path)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--out must not be empty"), r.stderr)
        }
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), ["ep01", "a.srt"], "nothing written")
    }

    /// A file device that cannot be written: 74 with ALSA's reason, not 0 with nothing played.
    func testAFileDeviceThatCannotBeWrittenIsAnError() throws {
        let dir = TempDir()
        let job = dir.file("demo")
        XCTAssertEqual(DubdeckBinary.run(["demo", job, "--no-tui"]).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["synth", job, "1"]).status, 0)
        let bad = DubdeckBinary.run(["play", job, "1", "--device", "file:FILE=\(dir.file("no/such/dir/x.wav")),FORMAT=wav"])
        XCTAssertEqual(bad.status, 74, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("no/such/dir/x.wav"), bad.stderr)
        let good = DubdeckBinary.run(["play", job, "1", "--device", "file:FILE=\(dir.file("x.wav")),FORMAT=wav"])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("x.wav")))
    }

    /// espeak speaks near full scale; resampled to 48 kHz it overshot and clipped. Every take of
    /// the demo keeps at least 1 dB below full scale.
    func testEveryTakeKeepsOneDecibelOfHeadroom() throws {
        let dir = TempDir()
        let job = dir.file("demo")
        XCTAssertEqual(DubdeckBinary.run(["demo", job, "--no-tui"]).status, 0)
        let r = DubdeckBinary.run(["synth", job, "--all"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let limit = Int(32767 * pow(10, -1.0 / 20)) + 1
        var takes = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: job + "/segments_preview") where name.hasSuffix(".wav") && !name.contains("take") {
            let data = try Data(contentsOf: URL(fileURLWithPath: job + "/segments_preview/" + name))
            var peak = 0
            data.withUnsafeBytes { b in
                var i = 44
                while i + 1 < b.count { peak = max(peak, abs(Int(Int16(bitPattern: UInt16(b[i]) | UInt16(b[i + 1]) << 8)))); i += 2 }
            }
            XCTAssertLessThanOrEqual(peak, limit, "\(name): peak \(peak)")
            takes += 1
        }
        XCTAssertGreaterThan(takes, 5)
    }
}
