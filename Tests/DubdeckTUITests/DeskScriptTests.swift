import Foundation
import Testing
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore
@testable import DubdeckTUI

/// The desk's scripted tests, one file each in Tests/DubdeckTUITests/Desk/*.desk, each its own test
/// case (`swift test --filter "DeskScripts"`; a failing script does not stop the others): the job,
/// the keys and the expected screens together, read like tig's and vis's test files. Keys and `:`
/// commands are the language of `review --script` (ScriptRunner reads them: one dialect); `@` lines
/// set up what a script cannot and say what to expect.
///
///     # what this shows
///     @job sample              the fixture: sample (seven lines, wide and hostile text), charids,
///                              identified (the sample with a character store),
///                              reconcile (identified, and two more episodes: one merge to propose),
///                              poorly_heard (identified, SPEAKER_01 heard under the poor-audio quality),
///                              english (three English lines dubbed into Spanish, for R)
///                              (lines the pipeline gave character IDs) or long N
///     @audio [bursts] [tone]   sound: source audio (a steady tone; bursts: silence but for a loud
///                              second at 1.5 s and a quiet 0.4 s at 3.6 s), espeak-ng (tone: the
///                              ToneEngine, whose takes are known to the sample), a paced sink (50×)
///     @hold-lock / @release-lock   another writer holds the job lock
///     :size 90x24              (ScriptRunner) the terminal's size
///     j                        (ScriptRunner) a key in keymap notation; also :type TEXT, :wait-idle
///     @outside set 2 text Hi   another writer: set N text T | approve N | lock N | unlock N |
///                              identify 0 LABEL ID (characters.map.json)
///     @tick                    one background poll (a second later)
///     @screen                  the screen as it is now, until @end: a `>` gutter marks the
///     …                        selected row, the last line says where the cursor is
///     @end
///     @disk 2 text Hi          what the store on disk says (text T | approved | locked | unlocked |
///                              take K: the current take is K of the takes listed newest first |
///                              speaker LABEL | character ID, as the job and its map give them now |
///                              times S E: the dub line's start and end)
///     @cast ID merged-into ID2 what the character store on disk says (merged-into X | active |
///                              reference | no-reference)
///
/// DUBDECK_UPDATE_REFS=1 rewrites the @screen blocks with what the desk shows, and still reports
/// every block that differed (review the diff; the next run passes).
@Suite(.serialized) struct DeskScripts {
    static let folder = DubdeckBinary.packageRoot + "/Tests/DubdeckTUITests/Desk"

    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".desk") }.sorted()

    @Test func theScriptsAreFound() {
        #expect(DeskScripts.files.count >= 18)
    }

    @Test(arguments: DeskScripts.files)
    func script(_ file: String) throws {
        // The character store of a fixture is sealed with a key of the test's own.
        let saved = Environment.get("DUBDECK_STORE_KEY")
        setenv("DUBDECK_STORE_KEY", Base64.encode([UInt8](repeating: 9, count: 32)), 1)
        defer { if let saved { setenv("DUBDECK_STORE_KEY", saved, 1) } else { unsetenv("DUBDECK_STORE_KEY") } }
        var harness = DeskScriptHarness(file: file)
        try harness.run()
        for problem in harness.problems { Issue.record(Comment(rawValue: problem)) }
    }
}

/// Runs one .desk file; what did not hold is collected in `problems` (one line each, file:line first).
struct DeskScriptHarness {
    let file: String
    var problems: [String] = []

    init(file: String) { self.file = file }

    mutating func check(_ ok: Bool, _ message: @autoclosure () -> String) {
        if !ok { problems.append(message()) }
    }

    static func fixture(_ name: String, in dir: TempDir) -> String {
        switch name {
        case "identified":
            // The sample lines, their three labels identified into a character store under the test's
            // own key (fixed embeddings: the screens do not depend on speech synthesis).
            let path = Fixtures.job(in: dir, lines: Fixtures.sample)
            let vectors = ["SPEAKER_00": [1, 0, 0, 0.1], "SPEAKER_01": [0, 1, 0, 0.1], "SPEAKER_02": [0, 0, 1, 0.1]]
            let table = JSONObject(vectors.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.array($0.value.map { .number($0) })) })
            dir.writeBytes("ep01/diarization.json", JSONWriter.encode(.object(JSONObject([("speaker_embeddings", .object(table))]))))
            _ = try! CharacterIdentifier.identify(job: try! JobLoader.load(path),
                                                  store: try! CharacterStore.open(dir.file("data/characters.json")), threshold: 0.7, force: false)
            return path
        case "english":
            // Three English lines to dub into Spanish (job.json: en → es), the second flagged for
            // re-translation by the pipeline's reviewer: what Apertium (eng-spa) is asked for.
            let path = Fixtures.job(in: dir, lines: [.init(1, 3, "SPEAKER_00", "The ship leaves the harbour at dawn.", "El barco sale."),
                                                     .init(4, 6, "SPEAKER_01", "Nobody knows where the captain went.", "Nadie sabe."),
                                                     .init(7, 9, "SPEAKER_00", "We will find the treasure together.", "Juntos.")])
            dir.write("ep01/job.json", #"{"stem": "ep01", "episode": "ep01", "src_lang": "en", "tgt_lang": "es"}"#)
            return path
        case "poorly_heard":
            // The identified sample, SPEAKER_01's voice heard under the poor-audio quality (as identify
            // from a noisy track records it).
            let path = DeskScriptHarness.fixture("identified", in: dir)
            let store = try! CharacterStore.open(dir.file("data/characters.json"))
            try! store.update { s in
                s.setObservations(s.observations(series: "test_series").map { o in
                    var o = o
                    if o.label == "SPEAKER_01" { o.quality = 0.02 }
                    return o
                }, series: "test_series")
            }
            return path
        case "reconcile":
            // The identified sample, then two more episodes of the series: in ep03 SPEAKER_00's voice
            // (a little off) was taken for a stranger, so reconcile proposes merging that character back.
            let path = DeskScriptHarness.fixture("identified", in: dir)
            for (name, tilt, threshold) in [("ep02", 0.3, 0.7), ("ep03", 0.9, 0.99)] {
                let job = Fixtures.job(in: dir, name: name, lines: [.init(1, 3, "SPEAKER_00", "a", "x"), .init(4, 6, "SPEAKER_00", "b", "y")])
                let table = JSONObject([("SPEAKER_00", JSONValue.array([1, 0, 0, tilt].map { .number($0) }))])
                dir.writeBytes("\(name)/diarization.json", JSONWriter.encode(.object(JSONObject([("speaker_embeddings", .object(table))]))))
                _ = try! CharacterIdentifier.identify(job: try! JobLoader.load(job), store: try! CharacterStore.open(dir.file("data/characters.json")),
                                                      threshold: threshold, force: false)
            }
            return path
        case "charids":
            let path = Fixtures.job(in: dir, lines: Fixtures.sample)
            var root = try! JSONParser.parse(Array(Fixtures.translatedJSON(Fixtures.sample).utf8)).objectValue!
            var segs = root["segments"]!.arrayValue!
            for (i, id) in [(1, "SPEAKER_07"), (3, "SPEAKER_09")] {
                var o = segs[i].objectValue!
                o["character_id"] = .string(id)
                segs[i] = .object(o)
            }
            root["segments"] = .array(segs)
            dir.writeBytes("ep01/translated.json", JSONWriter.encodePretty(.object(root)))
            return path
        case let n where n.hasPrefix("long "):
            let count = Int(n.dropFirst(5)) ?? 100
            return Fixtures.job(in: dir, lines: (0..<count).map {
                Fixtures.Line(Double($0) * 2, Double($0) * 2 + 1.5, "SPEAKER_0\($0 % 3)", "げんご \($0)", "line \($0 + 1) of the long job")
            })
        default:
            return Fixtures.job(in: dir, lines: Fixtures.sample + [
                .init(12, 14.5, "SPEAKER_03", "にほんご です", "日本語のテキスト 😀 wide"),
                .init(15, 16, "SPEAKER_04\u{1b}]0;title\u{07}", "\u{202e}reversed", "clear\u{1b}[2J osc\u{1b}]52;c;aGk=\u{07} c1\u{9b}1m"),
            ])
        }
    }

    mutating func run() throws {
        let path = DeskScripts.folder + "/" + file
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let dir = TempDir()
        var job = ""
        var runner: ScriptRunner? = nil
        var out: [String] = []
        var now = Clock.monotonic()
        var i = 0
        var withAudio = false
        var bursts = false
        var tone = false
        var held: JobLock? = nil
        defer { held?.release() }
        func start() throws {
            if runner != nil { return }
            if job.isEmpty { job = DeskScriptHarness.fixture("sample", in: dir) }
            var audio: DeskAudio? = nil
            if withAudio {
                // A steady tone, or (bursts) silence but for a loud second at 1.5 s and a quiet 0.4 s at 3.6 s.
                let source = AudioBuffer(samples: (0..<(48_000 * 20)).map { i -> Float in
                    let t = Double(i) / 48_000
                    let amplitude: Float = !bursts ? 0.3 : (1.5..<2.5).contains(t) ? 0.5 : (3.6..<4.0).contains(t) ? 0.05 : 0
                    return Float(sin(Double(i) * 0.03)) * amplitude
                }, rate: 48_000)
                try AudioFile.writeWAV16Atomically(source, to: job + "/audio.wav")
                audio = DeskAudio(makeEngine: { tone ? ToneEngine() as SpeechEngine : try EspeakEngine() }, sink: PacedSink(speed: 50))
            }
            let castPath = dir.file("data/characters.json")
            runner = ScriptRunner(desk: Desk(store: try TranscriptStore(job: try JobLoader.load(job), by: "tester"), keymap: .builtIn(), audio: audio,
                                             characterStorePath: FileIO.exists(castPath) ? castPath : nil, predictor: CharacterCountPredictor()),
                                  width: 90, height: 24)
        }
        func other() throws -> TranscriptStore { try TranscriptStore(job: try JobLoader.load(job), by: "other") }
        reading: while i < lines.count {
            let line = lines[i]
            i += 1
            out.append(line)
            let where_ = "\(file):\(i)"
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(separator: " ").map(String.init)
            switch words[0] {
            case "@job": job = DeskScriptHarness.fixture(words.dropFirst().joined(separator: " "), in: dir)
            case "@outside":
                try start()
                let n = Int(words[2])!
                switch words[1] {
                case "set": try other().commit([.edit(n, text: words.dropFirst(4).joined(separator: " "))])
                case "approve": try other().commit([.approve(n, true)])
                case "lock": try other().commit([.lock(n, true, by: "other")])
                case "unlock": try other().commit([.lock(n, false, by: "other")])
                case "identify":
                    // words: @outside identify 0 LABEL ID — another process wrote the episode's map.
                    let map = #"{"series_id": "test_series", "episode": "ep01", "labels": {"\#(words[3])": {"character_id": "\#(words[4])"}}}"#
                    try FileIO.writeAtomically(job + "/characters.map.json", Array(map.utf8))
                default: check(false, "\(where_): unknown @outside \(words[1])")
                }
            case "@audio":
                withAudio = true
                bursts = words.contains("bursts")
                tone = words.contains("tone")
            case "@hold-lock":
                try start()
                held = try JobLock.acquire(job + "/.dubdeck.lock")
            case "@release-lock":
                held?.release()
                held = nil
            case "@tick":
                try start()
                now += 1
                if runner!.desk.tick(now: now) != .nothing { DeskView.draw(runner!.desk, into: &runner!.grid) }
            case "@pipeline":
                // The pipeline writes translated.json again (atomically), line N's text now the rest:
                // "@pipeline 2 New text".
                try start()
                let translated = try JSONParser.parse(FileIO.read(job + "/translated.json"))
                var root = translated.objectValue!
                var segs = root["segments"]!.arrayValue!
                var seg = segs[Int(words[1])! - 1].objectValue!
                seg["text"] = .string(words.dropFirst(2).joined(separator: " "))
                segs[Int(words[1])! - 1] = .object(seg)
                root["segments"] = .array(segs)
                try FileIO.writeAtomically(job + "/translated.json", JSONWriter.encodePretty(.object(root)))
            case "@mt":
                // The desk's engine: "@mt server FIXTURE" runs python3 Tests/Fixtures/FIXTURE as the MT server.
                try start()
                runner!.desk.useTranslation(engine: words[1], command: ["python3", DubdeckBinary.packageRoot + "/Tests/Fixtures/" + words[2]], srcLang: nil)
            case "@poll":
                // The desk's look for outside changes, now (its tick does it twice a second).
                try start()
                if runner!.desk.reloadIfChangedOutside() != .nothing { DeskView.draw(runner!.desk, into: &runner!.grid) }
            case "@disk":
                try start()
                let st = try other().state(Int(words[1])!)
                let said = words.dropFirst(3).joined(separator: " ")
                switch words[2] {
                case "text": check(st.text == said, "\(where_): the text on disk is \(st.text.debugDescription)")
                case "approved": check(st.approved, "\(where_): not approved on disk")
                case "locked": check(st.locked, "\(where_): not locked on disk")
                case "unlocked": check(!st.locked, "\(where_): locked on disk")
                case "speaker":
                    let got = try other().segment(Int(words[1])!).speaker
                    check(got == words[3], "\(where_): the speaker on disk is \(got)")
                case "character":
                    let got = try other().characterID(Int(words[1])!)
                    check(got == words[3], "\(where_): the character on disk is \(got ?? "none")")
                case "times":  // the dub line's times on disk: "@disk 2 times 3.5 5.1"
                    let seg = try other().segment(Int(words[1])!)
                    let got = "\(JSONValue.formatNumber(seg.start)) \(JSONValue.formatNumber(seg.end))"
                    check(got == said, "\(where_): the times on disk are \(got)")
                case "take":
                    let got = PlaybackSource.currentListed(try other(), Int(words[1])!)
                    check(got == Int(words[3]), "\(where_): the current take is \(got.map(String.init) ?? "none")")
                default: check(false, "\(where_): unknown @disk \(words[2])")
                }
            case "@cast":
                let cast = try CharacterStore.open(dir.file("data/characters.json"))
                guard let c = cast.character(words[1]) else { check(false, "\(where_): no character \(words[1]) on disk"); continue }
                switch words[2] {
                case "merged-into": check(c.mergedInto == words[3], "\(where_): merged into \(c.mergedInto ?? "nothing")")
                case "active": check(c.mergedInto == nil, "\(where_): merged into \(c.mergedInto ?? "")")
                case "reference": check(!c.speakerWavs.isEmpty, "\(where_): no reference")
                case "no-reference": check(c.speakerWavs.isEmpty, "\(where_): a reference")
                default: check(false, "\(where_): unknown @cast \(words[2])")
                }
            case "@screen":
                try start()
                var expected: [String] = []
                while i < lines.count, lines[i] != "@end" { expected.append(lines[i]); i += 1 }
                i += 1
                // What changes from run to run: the temporary directory and clock times.
                let shown = runner!.grid.annotatedText().replacingOccurrences(of: dir.path, with: "<tmp>")
                    .replacingOccurrences(of: #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"#, with: "<time··············>", options: .regularExpression)
                let got = shown.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
                out.append(contentsOf: got)
                out.append("@end")
                // Compared in both modes: an update still says which screens changed.
                check(got == expected, "\(where_): the screen differs:\n\(got.joined(separator: "\n"))")
            default:
                if line.hasPrefix("@") { check(false, "\(where_): unknown \(words[0]) (keys and : commands are ScriptRunner's)"); continue }
                // A key or a `:` command: the language of `review --script`, read by ScriptRunner.
                try start()
                guard try runner!.perform(line, file: file, line: i) else { break reading }
            }
        }
        if ProcessInfo.processInfo.environment["DUBDECK_UPDATE_REFS"] != nil {
            try out.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}
