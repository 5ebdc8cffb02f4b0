import DubdeckCore
import Foundation
import TestSupport
import XCTest

/// New variants of the §11.1/§11.6/§11.7 classes, each tried on the real binary: a value its reader
/// takes but a writer downstream would store broken, a file that costs more than it holds, a text
/// that a subtitle format would split, a program we ran leaving files behind, a planted take.
final class HostileValuesTests: XCTestCase {
    func env(_ dir: TempDir) -> [String: String] {
        ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("data/characters.json")]
    }

    /// 1e39 is a JSON number but no float32: stored, it became infinity in an observation and NaN
    /// in an average, and every later write of the store failed (65) for every series. Refused at
    /// the door now, naming diarization.json; an all-zero vector too (it has no direction).
    func testAnEmbeddingPastFloat32OrAllZeroIsRefusedBeforeTheStoreIsTouched() throws {
        let dir = TempDir()
        let good = Fixtures.embeddedEpisode(in: dir, "ep0", [("A", [1, 0, 0, 0.2])])
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", good], env: env(dir)).status, 0)
        let store = try Data(contentsOf: URL(fileURLWithPath: dir.file("data/characters.json")))
        for (name, first, says) in [("big", "1e39", "finite float32"), ("nan", "-1e40", "finite float32"), ("zero", "0", "all zeros")] {
            let job = Fixtures.embeddedEpisode(in: dir, name, [("A", [7, 0, 0, 0])])
            var text = try String(contentsOfFile: job + "/diarization.json", encoding: .utf8)
            text = text.replacingOccurrences(of: "7.0", with: first)
            if name == "zero" { text = text.replacingOccurrences(of: "[0, 0.0, 0.0, 0.0]", with: "[0, 0, 0, 0]") }
            try text.write(toFile: job + "/diarization.json", atomically: true, encoding: .utf8)
            let r = DubdeckBinary.run(["characters", "identify", job], env: env(dir))
            XCTAssertEqual(r.status, 65, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("diarization.json") && r.stderr.contains(says), "\(name): \(r.stderr)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.file("data/characters.json"))), store, "\(name): the store untouched")
        }
        // The store still takes every writer.
        XCTAssertEqual(DubdeckBinary.run(["characters", "rename", "SPEAKER_01", "Hana"], env: env(dir)).status, 0)
        let other = Fixtures.embeddedEpisode(in: dir, "ep9", series: "s2", [("B", [0, 1, 0, 0])])
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", other], env: env(dir)).status, 0)
    }

    /// A legacy registry's .npy whose mean is past float32: that character is refused, the rest go in.
    func testALegacyNpyPastFloat32IsRefused() throws {
        let dir = TempDir()
        let legacy = dir.file("legacy")
        let voices = legacy + "/voices"
        try FileManager.default.createDirectory(atPath: voices + "/embeddings", withIntermediateDirectories: true)
        func npy(_ values: [Double]) -> Data {
            var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, \(values.count)), }"
            while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
            d.append(contentsOf: Array(header.utf8))
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            return d
        }
        try npy([1e39, 0, 0, 1]).write(to: URL(fileURLWithPath: voices + "/embeddings/BAD.npy"))
        try npy([1, 0, 0, 0]).write(to: URL(fileURLWithPath: voices + "/embeddings/GOOD.npy"))
        try #"{"speakers": {"BAD": {"name": "Bad"}, "GOOD": {"name": "Good"}}}"#.write(toFile: voices + "/registry.json", atomically: true, encoding: .utf8)
        let r = DubdeckBinary.run(["characters", "import-legacy", legacy], env: env(dir))
        XCTAssertTrue(r.stdout.contains("BAD") && r.stdout.contains("finite float32"), r.stdout + r.stderr)
        let list = DubdeckBinary.run(["characters", "list"], env: env(dir))
        XCTAssertTrue(list.stdout.contains("Good") && !list.stdout.contains("Bad"), list.stdout + list.stderr)
    }

    /// A float WAV holding infinities: never a take (it became a full-scale, clipped take reported
    /// fresh), 65 naming the engine's audio; `characters embed` names the file.
    func testNonFiniteSamplesAreNeverATake() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let wav = dir.file("inf.wav")
        var samples = (0..<48_000).map { Float(sin(Double($0) * 0.05)) * 0.3 }
        samples[1000] = .infinity
        samples[2000] = -.infinity
        var d = Data("RIFF".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { d.append(contentsOf: $0) } }
        u32(36 + samples.count * 4); d.append(contentsOf: Array("WAVEfmt ".utf8)); u32(16); u16(3); u16(1); u32(48_000); u32(48_000 * 4); u16(4); u16(32)
        d.append(contentsOf: Array("data".utf8)); u32(samples.count * 4)
        for s in samples { withUnsafeBytes(of: s.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        try d.write(to: URL(fileURLWithPath: wav))
        let engine = #"["cp", "\#(wav)", "{out}"]"#
        let r = DubdeckBinary.run(["synth", job, "1", "--engine", "command"], env: ["DUBDECK_ENGINE_COMMAND": engine])
        XCTAssertEqual(r.status, 65, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("not finite"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: job + "/segments_preview/0001.wav"), "no take")
        let e = DubdeckBinary.run(["characters", "embed", wav])
        XCTAssertEqual(e.status, 65, e.stderr)
        XCTAssertTrue(e.stderr.contains("inf.wav"), "the file is named: \(e.stderr)")
    }

    /// Texts a reviewer can type that a subtitle format would read back otherwise: a line that is a
    /// timing line (SRT starts a new cue there) and Windows or old-Mac line ends (raw in a Dialogue
    /// line they split it). Written so that import --strict gives the same cues and texts back.
    func testTextsThatWouldSplitACueReadBackWhole() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let texts = [1: "hello\n00:00:05,000 --> 00:00:06,000\nworld", 2: "first\r\nsecond", 3: "one\rtwo", 4: "a --> b\n1\n00:01:00.000 --> 00:02:00.000"]
        for (n, t) in texts { XCTAssertEqual(DubdeckBinary.run(["set", job, String(n), "--text", t]).status, 0) }
        let count = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["segments", job, "--json"]).stdout.utf8)) as? [[String: Any]]).count
        for format in ["srt", "ass", "vtt"] {
            let file = dir.file("out.\(format)")
            var r = DubdeckBinary.run(["export", job, "--format", format, "--out", file])
            XCTAssertEqual(r.status, 0, "\(format): \(r.stderr)")
            let back = dir.file("back-\(format)")
            r = DubdeckBinary.run(["import", file, "--strict", "--out", back])
            XCTAssertEqual(r.status, 0, "\(format): \(r.stderr)")
            let segs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: back + "/translated.json"))) as? [String: Any])["segments"] as? [[String: Any]]
            XCTAssertEqual(segs?.count, count, "\(format): a cue was split")
            for (n, t) in texts {
                let want = t.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
                XCTAssertEqual(segs?[n - 1]["tgt_text"] as? String ?? segs?[n - 1]["text"] as? String, want, "\(format) line \(n)")
            }
        }
    }

    /// A program we ran that leaves files of its own beside {out}: its temporary folder goes all the
    /// same, on SIGTERM in the middle of a line.
    func testAnEngineFolderWithFilesOfItsOwnIsRemovedOnSIGTERM() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        let said = dir.file("engine-dir")
        let engine = #"["sh", "-c", "dirname \"$0\" > \#(said); echo partial > \"$0.part\"; mkdir \"$(dirname \"$0\")/sub\"; sleep 30", "{out}"]"#
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DubdeckBinary.path)
        p.arguments = ["synth", job, "1", "--engine", "command"]
        p.environment = ProcessInfo.processInfo.environment.merging(["DUBDECK_ENGINE_COMMAND": engine]) { $1 }
        p.standardError = FileHandle.nullDevice
        try p.run()
        var folder = ""
        for _ in 0..<100 where folder.isEmpty {
            folder = ((try? String(contentsOfFile: said, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if folder.isEmpty || !FileManager.default.fileExists(atPath: folder + "/sub") { folder = ""; usleep(50_000) }
        }
        XCTAssertTrue(folder.hasPrefix("/tmp/dubdeck-engine."), folder)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 143)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder), "the engine's folder was left: \(folder)")
    }

    /// A take's file swapped for a link: `take` says it was planted (65), never "missing" (74); a
    /// name of spaces only is no name (64).
    func testAPlantedTakeIsBadDataAndABlankNameIsNoName() throws {
        let dir = TempDir()
        let job = Fixtures.job(in: dir)
        for _ in 0..<2 { XCTAssertEqual(DubdeckBinary.run(["synth", job, "1"]).status, 0) }
        let preview = job + "/segments_preview"
        let older = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: preview).filter { $0.hasPrefix("0001.take-") }.sorted().first)
        try FileManager.default.removeItem(atPath: preview + "/" + older)
        try FileManager.default.createSymbolicLink(atPath: preview + "/" + older, withDestinationPath: dir.file("elsewhere.wav"))
        let r = DubdeckBinary.run(["take", job, "1", "2"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("symbolic link"), r.stderr)
        // Undo never gets stuck (SPEC §10.4): the planted take counts as gone, the link is neither
        // followed nor made current.
        XCTAssertEqual(DubdeckBinary.run(["undo", job]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("elsewhere.wav")))
        XCTAssertNil(try? FileManager.default.destinationOfSymbolicLink(atPath: preview + "/0001.wav"))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: preview + "/" + older), dir.file("elsewhere.wav"))
        let e = env(dir)
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", Fixtures.embeddedEpisode(in: dir, "ep5", [("A", [1, 0, 0, 0])])], env: e).status, 0)
        for blank in ["", "   ", "\t \u{3000}"] {
            let r = DubdeckBinary.run(["characters", "rename", "SPEAKER_01", blank], env: e)
            XCTAssertEqual(r.status, 64, "\(blank.debugDescription): \(r.stderr)")
        }
        XCTAssertEqual(DubdeckBinary.run(["characters", "rename", "SPEAKER_01", "  Hana "], env: e).status, 0)
        XCTAssertTrue(DubdeckBinary.run(["characters", "list"], env: e).stdout.contains("\tHana\t"))
    }
}

/// One reading of an audio file holds what it is asked for, mixed down as it is decoded when one
/// channel is wanted: a header claiming 64 channels at 384 kHz costs its frames, not frames × 64.
final class AudioReadBoundsTests: XCTestCase {
    func testAReadHoldsNoMoreThanItsBoundAndMixesDownAsItDecodes() throws {
        let dir = TempDir()
        let path = dir.file("wide.wav")
        let channels = 64, frames = 1 << 22  // 2^28 samples: past one reading's 2^27
        var d = Data("RIFF".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { d.append(contentsOf: $0) } }
        let bytes = frames * channels * 2
        u32(36 + bytes); d.append(contentsOf: Array("WAVEfmt ".utf8)); u32(16); u16(1); u16(channels); u32(384_000); u32(384_000 * channels * 2)
        u16(channels * 2); u16(16); d.append(contentsOf: Array("data".utf8)); u32(bytes)
        // A few frames with a value per channel, then a sparse rest (no disk used).
        for f in 0..<4 { for c in 0..<channels { withUnsafeBytes(of: Int16((c + 1) * 100 * (f + 1)).littleEndian) { d.append(contentsOf: $0) } } }
        try d.write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(truncate(path, off_t(44 + bytes)), 0)
        XCTAssertThrowsError(try AudioFile.read(path)) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(e)")
            XCTAssertTrue("\(e)".contains("more audio than one reading holds"), "\(e)")
        }
        XCTAssertThrowsError(try AudioFile.readPCM16(path)) { e in XCTAssertEqual((e as? DubdeckError)?.status, .dataError, "\(e)") }
        let mono = try AudioFile.read(path, frames: 0..<1000, mono: true)
        XCTAssertEqual(mono.channels, 1)
        XCTAssertEqual(mono.frames, 1000)
        let wide = try AudioFile.read(path, frames: 0..<1000)
        XCTAssertEqual(wide.channels, channels)
        XCTAssertEqual(mono.samples, wide.mono().samples, "the same mix as a whole reading mixed after")
        XCTAssertGreaterThan(mono.samples[3], 0)
    }
}
