import DubdeckCore
import Foundation

/// A temporary directory removed when the test ends (keep it with DUBDECK_KEEP_TMP=1).
public final class TempDir {
    public let path: String

    public init(_ name: String = "dubdeck-test") {
        var template = Array((NSTemporaryDirectory() + "/\(name).XXXXXX").utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }

    deinit {
        if ProcessInfo.processInfo.environment["DUBDECK_KEEP_TMP"] == nil {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    public func file(_ name: String) -> String { path + "/" + name }

    public func write(_ name: String, _ text: String) {
        let full = file(name)
        try? FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
    }

    public func writeBytes(_ name: String, _ bytes: [UInt8]) {
        _ = FileManager.default.createFile(atPath: file(name), contents: Data(bytes))
    }

    public func read(_ name: String) -> String? {
        guard let d = FileManager.default.contents(atPath: file(name)) else { return nil }
        return String(decoding: d, as: UTF8.self)
    }

    public func bytes(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: file(name)).map { Array($0) }
    }
}

/// Builds job directories for tests.
public enum Fixtures {
    public struct Line: Sendable {
        public var start: Double, end: Double, speaker: String, src: String, text: String
        public init(_ start: Double, _ end: Double, _ speaker: String, _ src: String, _ text: String) {
            self.start = start
            self.end = end
            self.speaker = speaker
            self.src = src
            self.text = text
        }
    }

    public static let sample: [Line] = [
        Line(1.0, 3.0, "SPEAKER_00", "おはよう", "Good morning"),
        Line(3.5, 5.0, "SPEAKER_01", "こんにちは", "Hello there"),
        Line(5.5, 8.0, "SPEAKER_00", "さようなら", "Goodbye for now"),
        Line(7.5, 9.0, "SPEAKER_02", "ありがとう", "Thank you"),
        Line(9.5, 11.0, "SPEAKER_01", "すみません", "Excuse me"),
    ]

    public static func translatedJSON(_ lines: [Line]) -> String {
        let segs = lines.map { l in
            JSONValue.object(JSONObject([("start", .number(l.start)), ("end", .number(l.end)), ("speaker", .string(l.speaker)),
                                         ("src_text", .string(l.src)), ("text", .string(l.text))]))
        }
        return String(decoding: JSONWriter.encodePretty(.object(JSONObject([("segments", .array(segs))]))), as: UTF8.self)
    }

    /// A job in `dir/name` with the given lines (and a job.json naming the series).
    @discardableResult
    public static func job(in dir: TempDir, name: String = "ep01", lines: [Line] = sample, series: String? = "test_series") -> String {
        dir.write("\(name)/translated.json", translatedJSON(lines))
        if let series {
            dir.write("\(name)/job.json", "{\"series_id\": \"\(series)\", \"episode\": \"\(name)\"}")
        }
        return dir.file(name)
    }
}

/// Runs the real `dubdeck` binary.
public enum DubdeckBinary {
    public static var path: String {
        let fm = FileManager.default
        let candidates = [
            (CommandLine.arguments[0] as NSString).deletingLastPathComponent + "/dubdeck",
            ((CommandLine.arguments[0] as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent + "/dubdeck",
            packageRoot + "/.build/debug/dubdeck",
        ]
        for c in candidates where fm.isExecutableFile(atPath: c) { return c }
        return candidates.last!
    }

    public static var packageRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    public struct Result {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs with a clean, isolated environment (temporary XDG_CONFIG_HOME and DUBDECK_STORE).
    /// A command that has not ended after `timeout` seconds is killed (a hang is a failure, not a stuck suite).
    /// `addressSpace`: the process may map at most this many bytes (prlimit --as): an input that makes
    /// it allocate what a header claims fails instead of passing on a machine with memory to spare.
    public static func run(_ args: [String], env extra: [String: String] = [:], cwd: String? = nil, timeout: Double = 60,
                           addressSpace: Int? = nil) -> Result {
        let p = Process()
        if let limit = addressSpace {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            p.arguments = ["--as=\(limit)", path] + args
        } else {
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = args
        }
        var env = ProcessInfo.processInfo.environment
        let isolated = NSTemporaryDirectory() + "/dubdeck-isolated-\(getpid())"
        try? FileManager.default.createDirectory(atPath: isolated + "/config", withIntermediateDirectories: true)
        env["XDG_CONFIG_HOME"] = isolated + "/config"
        env["DUBDECK_STORE"] = isolated + "/characters.json"
        // A crash ends the child at once: Swift's backtracer would inherit the child's output pipe
        // and hold it open after the child is killed, and the test would wait for it forever.
        env["SWIFT_BACKTRACE"] = "enable=no"
        env["USER"] = "tester"
        for (k, v) in extra { env[k] = v }
        p.environment = env
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return Result(status: -1, stdout: "", stderr: "cannot run \(path): \(error)") }
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { if p.isRunning { kill(pid, SIGKILL) } }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

/// Values collected from concurrent test workers. Sendable: `values` is used only under `lock`.
public final class Collected<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []

    public init() {}

    public func append(_ v: T) {
        lock.lock()
        items.append(v)
        lock.unlock()
    }

    public var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

extension Fixtures {
    /// A job of six lines spoken by two espeak-ng voices (labels SPEAKER_00: odd lines, SPEAKER_01:
    /// even lines) with its source audio (each line at its time), and a diarization.json without
    /// embeddings: speaker embeddings must be computed from the audio.
    public static func twoVoiceJob(in dir: TempDir) -> String {
        let voices = [("SPEAKER_00", "en+m3"), ("SPEAKER_01", "en+f4")]
        let texts = ["The ship leaves the harbour at dawn.", "Nobody knows where the captain went.", "We will find the treasure together.",
                     "Everyone please take your seats now.", "I forgot my homework again today.", "Then try solving this one instead."]
        var lines: [Line] = []
        var soxArgs = ["sox"]
        var t = 0.0
        for (k, text) in texts.enumerated() {
            let (label, voice) = voices[k % 2]
            let wav = dir.file("line\(k).wav"), padded = dir.file("pad\(k).wav")
            _ = runQuietly(["espeak-ng", "-v", voice, "-w", wav, text])
            let info = try! AudioFile.info(wav)
            let seconds = Double(info.frames) / Double(info.rate)
            lines.append(Line(t + 0.2, t + 0.2 + seconds, label, "x", text))
            _ = runQuietly(["sox", wav, "-r", "48000", "-c", "1", padded, "pad", "0.2", "0.3"])
            soxArgs.append(padded)
            t += seconds + 0.5
        }
        let job = Fixtures.job(in: dir, lines: lines)
        _ = runQuietly(soxArgs + [job + "/audio.wav"])
        dir.write("ep01/diarization.json", #"{"segments": []}"#)
        return job
    }

    /// An episode of `series` whose labels each speak two 2-s lines, their embeddings given in
    /// diarization.json (type t8): enough speech for identify to count every label.
    @discardableResult
    public static func embeddedEpisode(in dir: TempDir, _ name: String, series: String = "s1", _ labels: [(String, [Float])]) -> String {
        var lines: [Line] = []
        var t = 1.0
        for (label, _) in labels { for _ in 0..<2 { lines.append(Line(t, t + 2, label, "src", "text")); t += 2.5 } }
        let job = Fixtures.job(in: dir, name: name, lines: lines, series: series)
        let emb = labels.map { "\"\($0.0)\": [\($0.1.map { String($0) }.joined(separator: ", "))]" }.joined(separator: ", ")
        dir.write("\(name)/diarization.json", "{\"embedding\": {\"type\": \"t8\", \"dim\": \(embeddingDim(labels))}, \"speaker_embeddings\": {\(emb)}}")
        return job
    }

    static func embeddingDim(_ labels: [(String, [Float])]) -> Int { labels.first?.1.count ?? 0 }

    /// Runs a program (no shell), its output discarded; its exit status.
    @discardableResult
    public static func runQuietly(_ argv: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

