import Foundation
import TestSupport
import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

final class CharacterCommandTests: XCTestCase {
    func env(_ dir: TempDir) -> [String: String] {
        ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("data/characters.json")]
    }

    func testIdentifyListShowRenameMergeAndNoEmbeddingsInJSON() throws {
        let dir = TempDir()
        let e = env(dir)
        XCTAssertEqual(DubdeckBinary.run(["demo", dir.file("ep01"), "--no-tui"], env: e).status, 0)
        var r = DubdeckBinary.run(["characters", "identify", dir.file("ep01")], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        // label → character, never alike; the key file the first identify created is said, once.
        let said = r.stdout.split(separator: "\n")
        XCTAssertEqual(said.count, 5, r.stdout)
        XCTAssertEqual(said.filter { $0.hasPrefix("label SPEAKER_0") && $0.contains(" → unnamed 0") && $0.contains("(character 0") }.count, 4, r.stdout)
        XCTAssertEqual(said.last, "the character store's key: created \(dir.file("config"))/dubdeck/store.key (mode 0600); keep a copy somewhere safe", r.stdout)
        XCTAssertFalse(DubdeckBinary.run(["characters", "identify", dir.file("ep01"), "--force"], env: e).stdout.contains("key"), "said once")
        r = DubdeckBinary.run(["characters", "list", "--json", "--series", "dubdeck_demo_s01"], env: e)
        let list = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(list.count, 4)
        XCTAssertEqual(Set(list[0].keys), ["id", "name", "series", "speaker_wavs", "voice", "embedding_count"])
        XCTAssertFalse(r.stdout.contains("embedding_avg") || r.stdout.contains("snapshots"), "never embeddings")
        XCTAssertLessThan(r.stdout.components(separatedBy: "\n").map { $0.count }.max()!, 200, "no long base64 anywhere")
        XCTAssertEqual(DubdeckBinary.run(["characters", "rename", "SPEAKER_01", "Hana"], env: e).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["characters", "merge", "SPEAKER_04", "SPEAKER_03"], env: e).status, 0)
        r = DubdeckBinary.run(["characters", "show", "SPEAKER_04", "--json"], env: e)
        let shown = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(shown["id"] as? String, "SPEAKER_03", "an old ID resolves")
        XCTAssertEqual(shown["requested_id"] as? String, "SPEAKER_04")
        r = DubdeckBinary.run(["segments", dir.file("ep01"), "--json"], env: e)
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows[0]["character"] as? String, "SPEAKER_01")
        XCTAssertEqual(rows[0]["character_name"] as? String, "Hana")
        XCTAssertEqual(DubdeckBinary.run(["characters", "show", "SPEAKER_99"], env: e).status, 64)
    }

    /// Diarization errors fixed: one line's label (`set --speaker`, undoable, the take goes stale when
    /// the voice changes), a label's character (`characters assign`, kept by re-identify), and what
    /// `segments --json` and `apply`'s voice_map.json say of them.
    func testSpeakerFixesThroughIdentifyUndoAndApply() throws {
        let dir = TempDir()
        let e = env(dir)
        let job = dir.file("ep01")
        XCTAssertEqual(DubdeckBinary.run(["demo", job, "--no-tui"], env: e).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", job], env: e).status, 0)
        func rows() throws -> [[String: Any]] {
            let r = DubdeckBinary.run(["segments", job, "--json"], env: e)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        }
        let before = try rows()
        let (l1, c1) = (before[0]["speaker"] as! String, before[0]["character"] as! String)
        let other = before.first { ($0["character"] as? String) != c1 }!
        let (l2, c2) = (other["speaker"] as! String, other["character"] as! String)
        XCTAssertEqual(before[0]["label_override"] as? Bool, false)
        XCTAssertTrue(before[0]["take"] is NSNull)
        XCTAssertNotNil(before[0]["cps"] as? Double)
        XCTAssertEqual(DubdeckBinary.run(["synth", job, "1"], env: e).status, 0)
        XCTAssertEqual((try rows()[0]["take"] as? [String: Any])?["of"] as? Int, 1)

        // One line's label: history-recorded, the take stale, the character follows.
        var r = DubdeckBinary.run(["set", job, "1", "--speaker", l2], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("speaker"), r.stdout)
        var row = try rows()[0]
        XCTAssertEqual(row["speaker"] as? String, l2)
        XCTAssertEqual(row["label_override"] as? Bool, true)
        XCTAssertEqual(row["character"] as? String, c2)
        XCTAssertEqual(row["audio_status"] as? String, "stale", "another voice: the take is stale")
        XCTAssertEqual(DubdeckBinary.run(["undo", job], env: e).status, 0)
        row = try rows()[0]
        XCTAssertEqual(row["speaker"] as? String, l1)
        XCTAssertEqual(row["label_override"] as? Bool, false)
        XCTAssertEqual(row["character"] as? String, c1)
        XCTAssertEqual(row["audio_status"] as? String, "fresh", "undone: the take is right again")
        for bad in ["../x", "", "a b", String(repeating: "x", count: 65)] {
            XCTAssertEqual(DubdeckBinary.run(["set", job, "1", "--speaker", bad], env: e).status, 64, bad)
        }

        // A label's character: an override that re-identify keeps.
        r = DubdeckBinary.run(["characters", "assign", job, l1, c2], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "label \(l1) → unnamed \(c2.dropFirst(8)) (character \(c2.dropFirst(8)); was unnamed \(c1.dropFirst(8)), character \(c1.dropFirst(8)))\n")
        XCTAssertEqual(try rows()[0]["character"] as? String, c2)
        for args in [[], ["--force"]] {
            XCTAssertEqual(DubdeckBinary.run(["characters", "identify", job] + args, env: e).status, 0)
            let map = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/characters.map.json"))) as! [String: Any]
            let entry = (map["labels"] as! [String: Any])[l1] as! [String: Any]
            XCTAssertEqual(entry["character_id"] as? String, c2, "re-identify \(args) keeps the override")
            XCTAssertEqual(entry["override"] as? Bool, true)
        }
        XCTAssertEqual(DubdeckBinary.run(["characters", "assign", job, "NO_SUCH_LABEL", c2], env: e).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["characters", "assign", job, l1, "SPEAKER_99"], env: e).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["characters", "assign", job, "../x", c2], env: e).status, 64)

        // apply: the reviewer's label in translated.edited.json, every label in voice_map.json.
        XCTAssertEqual(DubdeckBinary.run(["set", job, "2", "--speaker", l1], env: e).status, 0)
        r = DubdeckBinary.run(["apply", job], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        let edited = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/translated.edited.json"))) as! [String: Any]
        let seg2 = (edited["segments"] as! [[String: Any]])[1]
        XCTAssertEqual((seg2["speaker"] ?? seg2["speaker_id"]) as? String, l1)
        let voices = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/voice_map.json"))) as! [String: [String: Any]]
        XCTAssertEqual(voices[l1]?["character_id"] as? String, c2)
        XCTAssertEqual(Set(voices[l1]!.keys), ["character_id", "name", "voice", "speaker_wav"])
        XCTAssertNotNil(voices[l1]?["voice"] as? [String: Any])
        XCTAssertTrue(voices.keys.contains(l2))
    }

    /// A job whose diarization has no embeddings: identify computes GE2E embeddings from the source
    /// audio (two espeak-ng voices: two characters), and suggest puts each line's own character first.
    func testIdentifyFromAudioAndSuggest() throws {
        let dir = TempDir()
        let e = env(dir)
        let job = Fixtures.twoVoiceJob(in: dir)
        var r = DubdeckBinary.run(["characters", "identify", job], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        let map = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/characters.map.json"))) as! [String: Any]
        XCTAssertEqual((map["embedding"] as? [String: Any])?["type"] as? String, "ge2e")
        let labels = map["labels"] as! [String: [String: Any]]
        let a = labels["SPEAKER_00"]?["character_id"] as? String, b = labels["SPEAKER_01"]?["character_id"] as? String
        XCTAssertNotNil(a)
        XCTAssertNotNil(b)
        XCTAssertNotEqual(a, b, "two voices, two characters")
        for n in 1...4 {
            r = DubdeckBinary.run(["characters", "suggest", job, "\(n)", "--json"], env: e)
            XCTAssertEqual(r.status, 0, r.stderr)
            let list = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
            XCTAssertEqual(list.first?["character_id"] as? String, n % 2 == 1 ? a : b, "line \(n): \(list)")
            XCTAssertEqual(list.first?["labels"] as? [String], [n % 2 == 1 ? "SPEAKER_00" : "SPEAKER_01"])
        }
        XCTAssertEqual(DubdeckBinary.run(["characters", "suggest", job, "99"], env: e).status, 64)
        // The embedding of a part of a file, as JSON.
        r = DubdeckBinary.run(["characters", "embed", job + "/audio.wav", "--start", "0.2", "--end", "2", "--json"], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(doc["type"] as? String, "ge2e")
        XCTAssertEqual(doc["model"] as? String, "resemblyzer-0.1.4")
        XCTAssertEqual((doc["embedding"] as? [Double])?.count, 256)
        XCTAssertEqual(DubdeckBinary.run(["characters", "embed", job + "/audio.wav", "--start", "5", "--end", "2"], env: e).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["characters", "embed", job + "/audio.wav", "--start", "nan"], env: e).status, 64)
        XCTAssertEqual(DubdeckBinary.run(["characters", "embed", job + "/audio.wav", "--start", "9999"], env: e).status, 64)
    }

    /// A voice buried in noise (SPEC §11.13): identify from the audio still gives it a character, but
    /// the match rests on poor audio and `characters show` says so (text and JSON); the clear voice's
    /// does not.
    func testAMatchOnPoorAudioIsSaid() throws {
        let dir = TempDir()
        let e = env(dir)
        let job = Fixtures.twoVoiceJob(in: dir)
        // SPEAKER_01's lines (the even ones) under white noise far louder than the voice.
        let loaded = try JobLoader.load(job)
        var audio = try AudioFile.read(job + "/audio.wav", mono: true)
        var state: UInt64 = 5
        for seg in loaded.segments where seg.speaker == "SPEAKER_01" {
            for i in Int((seg.start - 0.2) * Double(audio.rate))..<min(audio.frames, Int((seg.end + 0.2) * Double(audio.rate))) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                audio.samples[i] = audio.samples[i] * 0.05 + (Float(state >> 40) / Float(1 << 24) - 0.5) * 1.2
            }
        }
        unlink(job + "/audio.wav")
        try AudioFile.writeWAV16(audio, to: job + "/audio.wav")
        // The buried voice's label carries terminal escapes (a hostile pipeline): printed, they are
        // shown, never sent to the terminal.
        let hostile = "SPEAKER_01\u{1b}[2J\u{9b}1m"
        let translated = try String(contentsOfFile: job + "/translated.json", encoding: .utf8)
        unlink(job + "/translated.json")
        try FileIO.writeAtomically(job + "/translated.json", Array(translated.replacingOccurrences(of: "\"SPEAKER_01\"", with: "\"SPEAKER_01\\u001b[2J\\u009b1m\"").utf8))
        var r = DubdeckBinary.run(["characters", "identify", job], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        let map = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/characters.map.json"))) as! [String: Any]
        let labels = map["labels"] as! [String: [String: Any]]
        let clear = try XCTUnwrap(labels["SPEAKER_00"]?["character_id"] as? String), buried = try XCTUnwrap(labels[hostile]?["character_id"] as? String)
        r = DubdeckBinary.run(["characters", "show", buried], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("poor audio: 1 match rests on it, none moved the voice — test_series ep01 SPEAKER_01␛[2J⟨U+009B⟩1m (quality 0"), r.stdout)
        XCTAssertFalse(r.stdout.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x9b }, "no escape reaches the terminal")
        r = DubdeckBinary.run(["characters", "show", buried, "--json"], env: e)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let poor = try XCTUnwrap(doc["poor_audio"] as? [[String: Any]])
        XCTAssertEqual(poor.count, 1)
        XCTAssertEqual(poor.first?["label"] as? String, hostile, "JSON carries the label as it is, escaped by JSON")
        XCTAssertLessThan(try XCTUnwrap(poor.first?["quality"] as? Double), Matching.poorQuality)
        r = DubdeckBinary.run(["characters", "show", clear], env: e)
        XCTAssertFalse(r.stdout.contains("poor audio"), r.stdout)
        r = DubdeckBinary.run(["characters", "show", clear, "--json"], env: e)
        XCTAssertEqual(((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["poor_audio"] as? [Any])?.count, 0, r.stdout)
    }

    /// A label whose spans hold no speech is said (no character), never dropped without a word; an
    /// episode with no speech at all is refused and its map left as it was.
    func testALabelWithNoSpeechIsSaidAndAnEpisodeWithoutAnyIsRefused() throws {
        let dir = TempDir()
        let e = env(dir)
        let job = Fixtures.twoVoiceJob(in: dir)
        let loaded = try JobLoader.load(job)
        func silence(_ label: String?) throws {
            var audio = try AudioFile.read(job + "/audio.wav", mono: true)
            for seg in loaded.segments where label == nil || seg.speaker == label {
                for i in max(0, Int((seg.start - 0.2) * Double(audio.rate)))..<min(audio.frames, Int((seg.end + 0.2) * Double(audio.rate))) { audio.samples[i] = 0 }
            }
            unlink(job + "/audio.wav")
            try AudioFile.writeWAV16(audio, to: job + "/audio.wav")
        }
        try silence("SPEAKER_01")
        var r = DubdeckBinary.run(["characters", "identify", job], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("label SPEAKER_01: no speech the voice detector finds in its spans — no character\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("label SPEAKER_00 → "), r.stdout)
        let map = try XCTUnwrap(dir.read("ep01/characters.map.json"))
        XCTAssertFalse(map.contains("\"SPEAKER_01\": {"), "no label SPEAKER_01 in the map: \(map)")
        XCTAssertTrue(map.contains("\"SPEAKER_00\": {"), map)
        try silence(nil)
        r = DubdeckBinary.run(["characters", "identify", job, "--force"], env: e)
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("no speech the voice detector finds in any labelled span"), r.stderr)
        XCTAssertEqual(dir.read("ep01/characters.map.json"), map, "the map is left as it was")
    }

    /// Identified again (--force) from audio where one voice is now silent: that label keeps the
    /// character an earlier run heard (map and observation), said so; the others are matched anew.
    func testALabelHeardBeforeButNotNowKeepsItsCharacter() throws {
        let dir = TempDir()
        let key = Base64.encode([UInt8](repeating: 5, count: 32))
        let e = env(dir).merging(["DUBDECK_STORE_KEY": key]) { $1 }
        let job = Fixtures.twoVoiceJob(in: dir)
        var r = DubdeckBinary.run(["characters", "identify", job], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        func labels() throws -> [String: String] {
            let map = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/characters.map.json"))) as! [String: Any]
            return (map["labels"] as! [String: [String: Any]]).mapValues { $0["character_id"] as! String }
        }
        let before = try labels()
        let heard = try XCTUnwrap(before["SPEAKER_01"])
        // SPEAKER_01's spans silent now.
        let loaded = try JobLoader.load(job)
        var audio = try AudioFile.read(job + "/audio.wav", mono: true)
        for seg in loaded.segments where seg.speaker == "SPEAKER_01" {
            for i in max(0, Int((seg.start - 0.2) * Double(audio.rate)))..<min(audio.frames, Int((seg.end + 0.2) * Double(audio.rate))) { audio.samples[i] = 0 }
        }
        unlink(job + "/audio.wav")
        try AudioFile.writeWAV16(audio, to: job + "/audio.wav")
        r = DubdeckBinary.run(["characters", "identify", job, "--force"], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("label SPEAKER_01: no speech the voice detector finds in its spans — keeps "), r.stdout)
        XCTAssertTrue(r.stdout.contains("heard in an earlier run"), r.stdout)
        XCTAssertFalse(r.stdout.contains("label SPEAKER_01 → "), "said once: \(r.stdout)")
        XCTAssertEqual(try labels(), before, "the map keeps both labels")
        // The store keeps its observation of the label (what reconcile and the map follow).
        let saved = Environment.get("DUBDECK_STORE_KEY")
        setenv("DUBDECK_STORE_KEY", key, 1)
        defer { if let saved { setenv("DUBDECK_STORE_KEY", saved, 1) } else { unsetenv("DUBDECK_STORE_KEY") } }
        let observed = try CharacterStore.open(dir.file("data/characters.json")).observations(series: "test_series")
        XCTAssertEqual(observed.first { $0.episode == "ep01" && $0.label == "SPEAKER_01" }?.characterID, heard)
        // And once more: nothing drifts.
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", job, "--force"], env: e).status, 0)
        XCTAssertEqual(try labels(), before)
    }

    func testKeyErrorsAndTamperingLeaveTheFileUntouched() throws {
        let dir = TempDir()
        let e = env(dir)
        XCTAssertEqual(DubdeckBinary.run(["demo", dir.file("ep01"), "--no-tui"], env: e).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", dir.file("ep01")], env: e).status, 0)
        let store = dir.file("data/characters.json")
        let original = try Data(contentsOf: URL(fileURLWithPath: store))

        var wrong = e
        wrong["DUBDECK_STORE_KEY"] = Data(repeating: 7, count: 32).base64EncodedString()
        var r = DubdeckBinary.run(["characters", "rename", "SPEAKER_01", "X"], env: wrong)
        XCTAssertEqual(r.status, 77, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: store)), original)

        var tampered = original
        tampered[tampered.count - 40] ^= 0xFF
        try tampered.write(to: URL(fileURLWithPath: store))
        r = DubdeckBinary.run(["characters", "rename", "SPEAKER_01", "X"], env: e)
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("authentication failed"), r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: store)), tampered, "never replaced")
        try original.write(to: URL(fileURLWithPath: store))

        try FileManager.default.removeItem(atPath: dir.file("config/dubdeck/store.key"))
        r = DubdeckBinary.run(["characters", "list"], env: e)
        XCTAssertEqual(r.status, 77, "no key")
        r = DubdeckBinary.run(["key", "init"], env: e)
        XCTAssertEqual(r.status, 73, "no new key while a store exists: \(r.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("config/dubdeck/store.key")))
        var fromEnv = e
        fromEnv["DUBDECK_STORE_KEY"] = Data(repeating: 1, count: 32).base64EncodedString()
        XCTAssertEqual(DubdeckBinary.run(["key", "rotate"], env: fromEnv).status, 64)
    }

    /// Casting from the original voice: identify says each new character's voice and the pitch it was
    /// cast from, `characters show` prints the estimate, `characters voice` re-casts (the line's take
    /// goes stale) and --undo puts the voice back.
    func testIdentifyCastsAndCharactersVoiceRecasts() throws {
        let dir = TempDir()
        let e = env(dir)
        let job = dir.file("ep01")
        XCTAssertEqual(DubdeckBinary.run(["demo", job, "--no-tui"], env: e).status, 0)
        var r = DubdeckBinary.run(["characters", "identify", job], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        let cast = r.stdout.split(separator: "\n").filter { $0.contains(" Hz median") }
        XCTAssertEqual(cast.count, 4, r.stdout)
        r = DubdeckBinary.run(["characters", "show", "SPEAKER_01"], env: e)
        XCTAssertTrue(r.stdout.contains("original voice: median "), r.stdout)
        XCTAssertTrue(r.stdout.contains("register"), r.stdout)
        let shown = try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["characters", "show", "SPEAKER_01", "--json"], env: e).stdout.utf8)) as! [String: Any]
        let estimate = try XCTUnwrap(shown["voice_estimate"] as? [String: Any])
        XCTAssertGreaterThan(estimate["f0_median_hz"] as! Double, 40)
        let before = shown["voice"] as! [String: Any]

        // Line 1's take, then a re-cast of its character: stale.
        XCTAssertEqual(DubdeckBinary.run(["synth", job, "1"], env: e).status, 0)
        let id = try XCTUnwrap((try json(DubdeckBinary.run(["segments", job, "--json"], env: e)) as! [[String: Any]])[0]["character"] as? String)
        r = DubdeckBinary.run(["characters", "voice", id, "m2:20"], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("now speaks with m2 pitch 20"), r.stdout)
        XCTAssertEqual((try json(DubdeckBinary.run(["segments", job, "--json"], env: e)) as! [[String: Any]])[0]["audio_status"] as? String, "stale")
        r = DubdeckBinary.run(["characters", "voice", id, "--undo"], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(DubdeckBinary.run(["characters", "voice", id, "--undo"], env: e).status, 66, "nothing left to undo")
        if id == "SPEAKER_01" {
            let after = try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["characters", "show", id, "--json"], env: e).stdout.utf8)) as! [String: Any]
            XCTAssertEqual(after["voice"] as? NSDictionary, before as NSDictionary)
        }
        XCTAssertEqual((try json(DubdeckBinary.run(["segments", job, "--json"], env: e)) as! [[String: Any]])[0]["audio_status"] as? String, "fresh",
                       "the voice it was spoken with again")
        for bad in [["m2:101"], ["nope"], ["m2:-1"], ["m2:50:79"], ["m2:50:451"], ["../x"], ["m2", "--undo"], [], ["m2:1:2:3"]] {
            XCTAssertEqual(DubdeckBinary.run(["characters", "voice", id] + bad, env: e).status, 64, "\(bad)")
        }
        XCTAssertEqual(DubdeckBinary.run(["characters", "voice", "SPEAKER_77", "m2"], env: e).status, 64, "no such character")
    }

    /// Source audio that cannot be read for the pitch: identify still identifies, and says why the
    /// new characters' voices come from their IDs (never silently).
    func testUnreadableAudioForThePitchIsSaid() throws {
        let dir = TempDir()
        let e = env(dir)
        let job = Fixtures.job(in: dir)
        let table = JSONObject(["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"].enumerated().map { k, l in (l, JSONValue.array((0..<4).map { .number($0 == k ? 1 : 0.05) })) })
        dir.writeBytes("ep01/diarization.json", JSONWriter.encode(.object(JSONObject([("speaker_embeddings", .object(table))]))))
        dir.write("ep01/audio.wav", "RIFF this is not audio at all")
        let r = DubdeckBinary.run(["characters", "identify", job], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("dubdeck: warning: ") && r.stderr.contains("audio.wav") && r.stderr.contains("voices come from their IDs"), r.stderr)
        XCTAssertTrue(r.stdout.contains("(no pitch measured)"), r.stdout)
    }

    func json(_ r: DubdeckBinary.Result) throws -> Any { try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) }

    func testKeyInitAndRotate() throws {
        let dir = TempDir()
        let e = env(dir)
        var r = DubdeckBinary.run(["key", "init"], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(DubdeckBinary.run(["key", "init"], env: e).status, 73, "never over an existing key file")
        XCTAssertEqual(DubdeckBinary.run(["demo", dir.file("ep01"), "--no-tui"], env: e).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", dir.file("ep01")], env: e).status, 0)
        let key1 = try String(contentsOfFile: dir.file("config/dubdeck/store.key"), encoding: .utf8)
        r = DubdeckBinary.run(["key", "rotate"], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotEqual(try String(contentsOfFile: dir.file("config/dubdeck/store.key"), encoding: .utf8), key1)
        XCTAssertEqual(DubdeckBinary.run(["characters", "list"], env: e).status, 0)
    }

    func testIdentifyNeedsASeriesAndEmbeddings() {
        let dir = TempDir()
        let job = Fixtures.job(in: dir, series: nil)
        var r = DubdeckBinary.run(["characters", "identify", job, "--series", "s1"], env: env(dir))
        XCTAssertEqual(r.status, 66, "no diarization.json: \(r.stderr)")
        dir.write("ep01/diarization.json", #"{"speaker_embeddings": {"A": [1, 0, 0]}}"#)
        r = DubdeckBinary.run(["characters", "identify", job], env: env(dir))
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--series"), r.stderr)
        r = DubdeckBinary.run(["characters", "identify", job, "--series", "s1"], env: env(dir))
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}

final class UnmergeCommandTests: XCTestCase {
    func testMergeThenUnmergeGivesBothBackAndIsRefusedOnceTheTargetChanged() throws {
        let dir = TempDir()
        let e = ["XDG_CONFIG_HOME": dir.file("config"), "DUBDECK_STORE": dir.file("data/characters.json")]
        XCTAssertEqual(DubdeckBinary.run(["demo", dir.file("ep01"), "--no-tui"], env: e).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["characters", "identify", dir.file("ep01")], env: e).status, 0)
        func list() throws -> [[String: Any]] {
            try JSONSerialization.jsonObject(with: Data(DubdeckBinary.run(["characters", "list", "--json"], env: e).stdout.utf8)) as! [[String: Any]]
        }
        let before = try list()
        XCTAssertEqual(DubdeckBinary.run(["characters", "merge", "SPEAKER_04", "SPEAKER_03"], env: e).status, 0)
        XCTAssertEqual(try list().count, before.count - 1)
        var r = DubdeckBinary.run(["characters", "unmerge", "SPEAKER_04"], env: e)
        XCTAssertEqual(r.status, 0, r.stderr)
        let again = try list()
        XCTAssertEqual(again.count, before.count)
        let b3 = before.first { $0["id"] as? String == "SPEAKER_03" }!, a3 = again.first { $0["id"] as? String == "SPEAKER_03" }!
        XCTAssertEqual(a3["embedding_count"] as? Int, b3["embedding_count"] as? Int, "the target is as it was")
        XCTAssertEqual(DubdeckBinary.run(["characters", "unmerge", "SPEAKER_04"], env: e).status, 64, "not merged any more")
        // Merged, then the target changes: undoing would lose that, so it is refused.
        XCTAssertEqual(DubdeckBinary.run(["characters", "merge", "SPEAKER_04", "SPEAKER_03"], env: e).status, 0)
        XCTAssertEqual(DubdeckBinary.run(["characters", "rename", "SPEAKER_03", "Robo"], env: e).status, 0)
        r = DubdeckBinary.run(["characters", "unmerge", "SPEAKER_04"], env: e)
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertTrue(r.stderr.contains("changed since the merge"), r.stderr)
    }
}
