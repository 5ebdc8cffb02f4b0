import Foundation
import TestSupport
import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckCore

/// `dubdeck translate` (SPEC §11.11) with the real Apertium (en→es, es→en) and a command engine that
/// misbehaves: proposals printed, applied as one undoable `retranslate` record a line with the flag
/// cleared, locked lines refused, every bad answer one clear error with nothing written.
final class TranslateCommandTests: XCTestCase {
    let english = ["The ship leaves the harbour at dawn.", "Nobody knows where the captain went.", "We will find the treasure together."]
    let spanish = ["El barco sale del puerto al amanecer.", "Nadie sabe dónde fue el capitán.", "Encontraremos el tesoro juntos."]

    /// A job whose lines have `sources` as their source text in `src`, translated into `tgt`.
    func job(_ dir: TempDir, src: String, tgt: String, _ sources: [String]) -> String {
        let lines = sources.enumerated().map { k, s in Fixtures.Line(Double(k) * 3 + 1, Double(k) * 3 + 3, "SPEAKER_00", s, "old \(k + 1)") }
        let path = Fixtures.job(in: dir, lines: lines)
        dir.write("ep01/job.json", #"{"stem": "ep01", "episode": "ep01", "src_lang": "\#(src)", "tgt_lang": "\#(tgt)"}"#)
        return path
    }

    /// What `apertium -u MODE` prints for `text`, run here directly.
    func apertium(_ mode: String, _ text: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/apertium")
        p.arguments = ["-u", mode]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(Data((text + "\n").utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func proposals(_ r: DubdeckBinary.Result) throws -> [[String: Any]] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], r.stdout + r.stderr)
    }

    func testApertiumBothWaysIsWhatApertiumSays() throws {
        let dir = TempDir()
        for (src, tgt, mode, texts) in [("en", "es", "eng-spa", english), ("es", "en", "spa-eng", spanish)] {
            let path = job(dir, src: src, tgt: tgt, texts)
            let r = DubdeckBinary.run(["translate", path, "1", "2", "3", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let got = try proposals(r)
            XCTAssertEqual(got.map { $0["segment"] as? Int }, [1, 2, 3])
            for (k, p) in got.enumerated() {
                let proposed = try XCTUnwrap(p["proposed"] as? String)
                XCTAssertEqual(proposed, try apertium(mode, texts[k]), "\(mode) line \(k + 1)")
                XCTAssertNotEqual(proposed, texts[k], "translated, not copied")
                XCTAssertFalse(proposed.contains("*"), "unknown words unmarked")
                XCTAssertEqual(p["current"] as? String, "old \(k + 1)")
                XCTAssertEqual(p["written"] as? Bool, false, "without --apply nothing is written")
            }
            XCTAssertEqual(try JobLoader.load(path).segments.map(\.text), ["old 1", "old 2", "old 3"])
            // The text form names the engine and both texts.
            let text = DubdeckBinary.run(["translate", path, "2"])
            XCTAssertTrue(text.stdout.contains("#2\n  now  old 2  ~"), text.stdout)
            XCTAssertTrue(text.stdout.contains("\n  apertium  \(try apertium(mode, texts[1]))  ~"), text.stdout)
            XCTAssertTrue(text.stdout.contains(" s / 2 s\n"), "each text with its predicted length against the slot: \(text.stdout)")
            try FileManager.default.removeItem(atPath: path)
        }
    }

    func testApplyIsOneUndoableRecordAndClearsTheFlagAndLockedLinesAreRefused() throws {
        let dir = TempDir()
        let path = job(dir, src: "en", tgt: "es", english)
        let env = ["USER": "tester"]
        XCTAssertEqual(DubdeckBinary.run(["set", path, "2", "--flag", "needs_retranslate"], env: env).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["set", path, "3", "--flag", "needs_retranslate", "--lock"], env: env).status, 0)
        // A locked line named with --apply: refused, nothing written.
        let before = dir.bytes("ep01/.dubdeck/review.jsonl") ?? dir.bytes("ep01/review.json")
        var r = DubdeckBinary.run(["translate", path, "2", "3", "--apply"], env: env)
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertTrue(r.stderr.contains("segment 3 is locked"), r.stderr)
        XCTAssertEqual(dir.bytes("ep01/.dubdeck/review.jsonl") ?? dir.bytes("ep01/review.json"), before)
        // --flagged: line 2 written, locked line 3 kept.
        r = DubdeckBinary.run(["translate", path, "--flagged", "--apply", "--json"], env: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try proposals(r)
        XCTAssertEqual(got.map { $0["segment"] as? Int }, [2, 3])
        XCTAssertEqual(got.map { $0["written"] as? Bool }, [true, false])
        XCTAssertEqual(got.map { $0["locked"] as? Bool }, [false, true])
        let segs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["segments", path, "--json"]).stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(segs[1]["tgt_text"] as? String, try apertium("eng-spa", english[1]))
        XCTAssertEqual(segs[2]["tgt_text"] as? String, "old 3")
        XCTAssertEqual((segs[1]["flags"] as? [String]) ?? [], [], "the flag is cleared")
        XCTAssertEqual(segs[2]["flags"] as? [String], ["needs_retranslate"], "the locked line keeps its flag")
        let history = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["history", path, "2", "--json"]).stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(history.last?["action"] as? String, "retranslate")
        // Undone like any edit: the text and the flag come back.
        XCTAssertEqual(DubdeckBinary.run(["undo", path], env: env).status, 0)
        let again = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["segments", path, "--json"]).stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(again[1]["tgt_text"] as? String, "old 2")
        XCTAssertEqual(again[1]["flags"] as? [String], ["needs_retranslate"])
        XCTAssertEqual(DubdeckBinary.run(["translate", path, "--flagged"], env: env).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["translate", path, "9"]).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["translate", path]).status, 64, "no line named")
    }

    /// Another writer edits the line while the engine is translating it: --apply writes nothing over
    /// that edit (75), and the other writer's text and history stay.
    func testASecondWriterBetweenTheProposalAndApplyIsNeverOverwritten() throws {
        let dir = TempDir()
        let path = job(dir, src: "en", tgt: "es", english)
        // The engine: while it "translates", a reviewer sets line 2 with the real binary.
        let engine = "import subprocess, sys; subprocess.run([sys.argv[1], 'set', sys.argv[2], '2', '--text', 'Su arreglo'], check=True); print('propuesta')"
        let r = DubdeckBinary.run(["translate", path, "2", "--apply", "--mt-engine", "command", "--mt-command", "python3", "-c", engine, DubdeckBinary.path, path],
                                  env: ["USER": "tester"])
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertTrue(r.stderr.contains("segment 2"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        let segs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["segments", path, "--json"]).stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(segs[1]["tgt_text"] as? String, "Su arreglo", "the other writer's edit stays")
        let history = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["history", path, "2", "--json"]).stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(history.map { $0["action"] as? String }, ["edit"], "no retranslate record")
        // Asked again, the proposal is made against what is there now, and taken.
        let again = DubdeckBinary.run(["translate", path, "2", "--apply", "--json", "--mt-engine", "command", "--mt-command", "python3", "-c", "print('propuesta')"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try proposals(again).first?["current"] as? String, "Su arreglo")
        XCTAssertEqual(try proposals(again).first?["written"] as? Bool, true)
    }

    /// The pipeline writes translated.json again while the engine is translating (fewer lines, or
    /// other texts): --apply writes nothing against the translation that is no longer there (75).
    func testTranslatedJSONWrittenAgainMeanwhileIsNeverWrittenAgainst() throws {
        let dir = TempDir()
        for rewrite in ["d['segments'] = d['segments'][:1]", "d['segments'][1]['text'] = 'otra'; d['segments'][1]['src_text'] = 'Another line.'"] {
            let path = job(dir, src: "en", tgt: "es", english)
            let engine = "import json, os, sys; p = sys.argv[1] + '/translated.json'; d = json.load(open(p)); \(rewrite); "
                + "open(p + '.new', 'w').write(json.dumps(d)); os.replace(p + '.new', p); print('propuesta')"
            let r = DubdeckBinary.run(["translate", path, "2", "--apply", "--mt-engine", "command", "--mt-command", "python3", "-c", engine, path])
            XCTAssertEqual(r.status, 75, "\(rewrite): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("translated.json: written again since it was read: nothing written"), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/transcript_store.json"), "nothing written")
            XCTAssertEqual((try? String(contentsOfFile: path + "/transcript_versions.jsonl", encoding: .utf8)) ?? "", "")
            try FileManager.default.removeItem(atPath: path)
        }
    }

    /// The proposal's change itself refuses a line whose text is not the one it was made against
    /// (the desk's Enter and --apply share it), even on a store that has read the other's edit.
    func testTheChangeIsMadeAgainstTheTextItWasShownBeside() throws {
        let dir = TempDir()
        let path = job(dir, src: "en", tgt: "es", english)
        let store = try TranscriptStore(job: try JobLoader.load(path), by: "tester")
        try store.commit([.edit(1, text: "nuevo")])
        XCTAssertThrowsError(try store.commit([Translation.change(1, "propuesta", replacing: "old 1")])) { e in
            XCTAssertEqual((e as? DubdeckError)?.status, .conflict)
        }
        XCTAssertEqual(store.state(1).text, "nuevo")
        XCTAssertEqual(try store.commit([Translation.change(1, "propuesta", replacing: "nuevo")]).records.map(\.action), ["retranslate"])
    }

    func testAMissingPairSaysWhichPackage() throws {
        let dir = TempDir()
        let path = job(dir, src: "ja", tgt: "en", ["おはよう"])
        let r = DubdeckBinary.run(["translate", path, "1"])
        XCTAssertEqual(r.status, 66)
        XCTAssertTrue(r.stderr.contains("apertium-jpn-eng"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    /// The command engine: {src_lang}/{tgt_lang} in its argv, the text on stdin; each way an engine
    /// can misbehave is one clear error (74 or 75) and nothing written.
    func testACommandEngineAndItsMisbehaviour() throws {
        let dir = TempDir()
        let path = job(dir, src: "en", tgt: "es", english)
        func run(_ script: String, _ extra: [String] = []) -> DubdeckBinary.Result {
            DubdeckBinary.run(["translate", path, "1", "--apply"] + extra + ["--mt-engine", "command", "--mt-command", "python3", "-c", script, "{src_lang}", "{tgt_lang}"])
        }
        var r = run("import sys; print(sys.argv[1] + '>' + sys.argv[2] + ': ' + sys.stdin.read().strip().upper())")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try JobLoader.load(path).segments.count, 3)
        let segs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["segments", path, "--json"]).stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(segs[0]["tgt_text"] as? String, "en>es: " + english[0].uppercased())
        let cases: [(String, [String], Int32, String)] = [
            ("import sys; sys.stdout.write('x' * 200000)", [], 74, "more than 65536 bytes"),
            ("import sys; sys.stdout.buffer.write(b'\\xff\\xfe bad')", [], 74, "not UTF-8"),
            ("import sys; sys.stdout.buffer.write(b'a\\x00b')", [], 74, "a NUL byte"),
            // Its last words, bytes that are not UTF-8 among them, shown byte by byte (never U+FFFD).
            ("import sys; sys.stderr.buffer.write(b'bad \\xff\\xfe bytes\\n'); sys.exit(2)", [], 74, "bad ⟨0xFF⟩⟨0xFE⟩ bytes"),
            ("print('   ')", [], 74, "no translation"),
            ("import sys; sys.stderr.write('no model\\n'); sys.exit(3)", [], 74, "exit 3"),
            ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", [], 74, "signal 9"),
            ("import time; time.sleep(30)", ["--mt-timeout", "1"], 74, "timed out after 1 s"),
            // Endless floods are stopped at their bound, long before the timeout.
            ("import sys\nwhile True: sys.stdout.write('x' * 65536); sys.stdout.flush()", ["--mt-timeout", "600"], 74, "printed more than 65536 bytes"),
            ("import sys\nwhile True: sys.stderr.write('x' * 65536); sys.stderr.flush()", ["--mt-timeout", "600"], 74, "wrote more than 1048576 bytes to its standard error"),
        ]
        let before = try XCTUnwrap(DubdeckBinary.run(["segments", path, "--json"]).stdout)
        for (script, extra, status, said) in cases {
            let r = run(script, extra)
            XCTAssertEqual(r.status, status, "\(script): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(said), "\(script): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
        XCTAssertEqual(DubdeckBinary.run(["segments", path, "--json"]).stdout, before, "nothing written")
        r = DubdeckBinary.run(["translate", path, "1", "--mt-command", "cat"])
        XCTAssertEqual(r.status, 64, "--mt-command without --mt-engine command")
        r = DubdeckBinary.run(["translate", path, "1", "--mt-engine", "command", "--mt-command", "/nonexistent/mt"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(DubdeckBinary.run(["translate", path, "1", "--mt-timeout", "0"]).status, 64)
    }

    /// The server engine: one process for the run, the reference over Apertium says what Apertium
    /// says; a server that hangs, lies about ids, floods, refuses or dies is one clear error (74),
    /// nothing written.
    func testTheServerEngineAndItsMisbehaviour() throws {
        let dir = TempDir()
        let path = job(dir, src: "en", tgt: "es", english)
        let reference = ["python3", DubdeckBinary.packageRoot + "/scripts/mt_server.py"]
        var r = DubdeckBinary.run(["translate", path, "1", "2", "3", "--json", "--mt-engine", "server", "--mt-command"] + reference)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try proposals(r).map { $0["proposed"] as? String }, try english.map { try apertium("eng-spa", $0) })
        // Alternatives: what a request carries is what the server saw; ranked by their predicted fit,
        // the first is the proposal.
        let echo = "import json,sys\nfor l in sys.stdin:\n q=json.loads(l); print(json.dumps({'id':q['id'],'ok':True,'alternatives':[q['src_lang']+q['tgt_lang']+':'+q['text']+' '+str(q['max_chars']), 'x'],'concurrent':1}), flush=True)"
        r = DubdeckBinary.run(["translate", path, "2", "--json", "--mt-engine", "server", "--mt-command", "python3", "-c", echo])
        XCTAssertEqual(r.status, 0, r.stderr)
        var got = try XCTUnwrap(try proposals(r).first)
        XCTAssertEqual((got["alternatives"] as? [[String: Any]])?.map { $0["text"] as? String }, ["x", "enes:" + english[1] + " None"],
                       "the one that fits first; a line that fits asks for any length")
        XCTAssertEqual(got["proposed"] as? String, "x")
        XCTAssertTrue(got["max_chars"] is NSNull)
        // A line predicted to run past its slot asks for at most the characters the slot holds at
        // its present text's speaking rate; the answers that fit come first.
        let long = "Nadie en este barco sabe a dónde se fue el capitán aquella noche de tormenta tan larga"
        XCTAssertEqual(DubdeckBinary.run(["set", path, "2", "--text", long]).status, 0)
        r = DubdeckBinary.run(["translate", path, "2", "--json", "--mt-engine", "server", "--mt-command", "python3", "-c", echo])
        XCTAssertEqual(r.status, 0, r.stderr)
        got = try XCTUnwrap(try proposals(r).first)
        let maxChars = try XCTUnwrap(got["max_chars"] as? Int, "\(got)")
        let predicted = try XCTUnwrap(got["current_predicted_s"] as? Double)
        XCTAssertGreaterThan(predicted, 2, "the long text runs past the 2 s slot")
        XCTAssertEqual(maxChars, Int(Double(long.count) * 2 / predicted), accuracy: 1)
        let alternatives = try XCTUnwrap(got["alternatives"] as? [[String: Any]])
        XCTAssertEqual(alternatives.map { $0["text"] as? String }, ["x", "enes:\(english[1]) \(maxChars)"], "max_chars reached the server")
        XCTAssertLessThanOrEqual(try XCTUnwrap(alternatives[0]["predicted_s"] as? Double), 2)
        let text = DubdeckBinary.run(["translate", path, "2", "--mt-engine", "server", "--mt-command", "python3", "-c", echo])
        XCTAssertTrue(text.stdout.contains("#2 (runs past its slot: asked for at most \(maxChars) characters)\n"), text.stdout)
        XCTAssertTrue(text.stdout.contains("\n  server  x  ~"), text.stdout)
        XCTAssertTrue(text.stdout.contains("\n          enes:"), "the other answers below the first: \(text.stdout)")
        let before = DubdeckBinary.run(["segments", path, "--json"]).stdout
        let cases: [(String, String)] = [
            ("import time,sys\nfor l in sys.stdin: time.sleep(30)", "no answer within 2 s"),
            ("import json,sys\nfor l in sys.stdin: print(json.dumps({'id':999,'ok':True,'text':'lie'}), flush=True)", "no answer within 2 s"),
            ("import sys\nfor l in sys.stdin: sys.stdout.write('x' * 3000000); sys.stdout.flush()", "line"),
            ("import json,sys\nfor l in sys.stdin: q=json.loads(l); print(json.dumps({'id':q['id'],'ok':False,'error':'no model'}), flush=True)", "no model"),
            ("import json,sys\nfor l in sys.stdin: q=json.loads(l); print(json.dumps({'id':q['id'],'ok':True,'text':'  '}), flush=True)", "no translation"),
            ("import json,sys\nfor l in sys.stdin: q=json.loads(l); print(json.dumps({'id':q['id'],'ok':True,'text':'x\\ud800y'}), flush=True)", "lone surrogate"),
            ("import json,sys\nfor l in sys.stdin: q=json.loads(l); print(json.dumps({'id':q['id'],'ok':True,'text':'x\\u0000y'}), flush=True)", "NUL"),
            ("import sys\nfor l in sys.stdin: sys.stdout.buffer.write(b'\\xff\\xfe{}\\n'); sys.stdout.flush()", "⟨0xFF⟩⟨0xFE⟩"),
            ("import json,sys\nfor l in sys.stdin: q=json.loads(l); print(json.dumps({'id':q['id'],'ok':True}), flush=True)", "no \"text\""),
            ("import sys; sys.stderr.write('cannot load\\n'); sys.exit(1)", "after a restart"),
        ]
        for (script, said) in cases {
            let r = DubdeckBinary.run(["translate", path, "1", "--apply", "--mt-timeout", "2", "--mt-engine", "server", "--mt-command", "python3", "-c", script])
            XCTAssertEqual(r.status, 74, "\(script): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(said), "\(script): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
        XCTAssertEqual(DubdeckBinary.run(["segments", path, "--json"]).stdout, before, "nothing written")
    }
}

