// dubdeck-bench: builds the benchmark workloads reproducibly and measures the in-process figures
// of SPEC §9 (P2, P4) with their same-run baselines. bench/run.py runs it and the process figures.
import DubdeckCore
import DubdeckTUI
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

let words = ["the", "ship", "sails", "at", "dawn", "we", "must", "hurry", "captain", "said", "no", "way", "I", "will",
             "never", "give", "up", "my", "dream", "treasure", "island", "friends", "wait", "for", "me", "ramen", "tonight"]
let kana = ["おれ", "は", "かいぞく", "おう", "に", "なる", "おとこ", "だ", "まって", "くれ", "いくぞ", "みんな", "ほんとう", "です"]

func sentence(_ r: inout LCG, _ pool: [String], _ n: Int, sep: String) -> String {
    (0..<n).map { _ in r.pick(pool) }.joined(separator: sep)
}

/// The 5,000-segment job: translated.json, a store with every segment edited, a 20,000-line history.
func generate(_ dir: String, segments: Int = 5000, history: Int = 20_000) throws {
    try FileIO.makeDirectories(dir)
    var r = LCG(state: 42)
    var segs: [JSONValue] = []
    var entries: [(Int, JSONObject)] = []
    var t = 1.0
    // Past 20,000 lines, shorter lines and gaps: 50,000 of them still fit dubdeck's 48 hours.
    let scale = segments > 20_000 ? 0.5 : 1.0
    for n in 1...segments {
        let dur = Double(15 + Int(r.next() % 35)) / 10 * scale
        let start = (t * 100).rounded() / 100, end = ((t + dur) * 100).rounded() / 100
        t += dur + Double(Int(r.next() % 10)) / 10 * scale
        let text = sentence(&r, words, 4 + Int(r.next() % 8), sep: " ")
        segs.append(.object(JSONObject([
            ("start", .number(start)), ("end", .number(end)), ("speaker", .string("SPEAKER_0\(r.next() % 6)")),
            ("src_text", .string(sentence(&r, kana, 3 + Int(r.next() % 5), sep: ""))), ("text", .string(text)),
        ])))
        entries.append((n, JSONObject([
            ("start", .number(start)), ("end", .number(end)), ("tgt_text", .string(text + " (reviewed)")),
            ("approved", .bool(n % 3 == 0)), ("locked", .bool(n % 7 == 0)),
            ("locked_at", n % 7 == 0 ? .string("2026-01-01T00:00:00Z") : .null), ("locked_by", n % 7 == 0 ? .string("bench") : .null),
            ("flags", .array(n % 11 == 0 ? [.string("needs_retranslate")] : [])), ("audio_status", .string("none")),
        ])))
    }
    try FileIO.writeAtomically(dir + "/translated.json", JSONWriter.encodePretty(.object(JSONObject([("segments", .array(segs))]))))
    try FileIO.writeAtomically(dir + "/job.json", Array(#"{"series_id": "bench_s01", "episode": "ep01"}"#.utf8))
    var store: [UInt8] = Array("{\n  \"version\": 3,\n  \"updated_at\": \"2026-01-01T00:00:00Z\",\n  \"segments\": {".utf8)
    for (i, (n, e)) in entries.enumerated() {
        store += Array((i == 0 ? "\n    \"\(n)\": " : ",\n    \"\(n)\": ").utf8)
        JSONWriter.write(.object(e), into: &store, indent: nil, level: 0)
    }
    store += Array("\n  }\n}\n".utf8)
    try FileIO.writeAtomically(dir + "/transcript_store.json", store)
    var hist: [UInt8] = []
    for seq in 1...history {
        let n = 1 + seq % segments
        let e = entries[n - 1].1
        let rec = HistoryRecord(ts: "2026-01-01T00:00:00Z", seq: seq, batch: nil, segment: n, action: "edit",
                                before: .object(e), after: .object(e), by: "bench")
        JSONWriter.write(rec.json, into: &hist, indent: nil, level: 0)
        hist.append(0x0A)
    }
    try FileIO.writeAtomically(dir + "/transcript_versions.jsonl", hist)
    // The episode's labels are characters of the P5 store: the desk loads their names (M1).
    let labels = (0..<6).map { k in "\"SPEAKER_0\(k)\": {\"character_id\": \"SPEAKER_0\(k + 1)\", \"similarity\": 0.9, \"created\": false}" }
    let map = "{\"series_id\": \"bench_s01\", \"episode\": \"ep01\", \"embedding\": {\"type\": \"ecapa\", \"dim\": 192}, \"labels\": {" + labels.joined(separator: ", ") + "}}"
    try FileIO.writeAtomically(dir + "/characters.map.json", Array(map.utf8))
}

/// Two decimals, for the figures' breakdowns.
func two(_ x: Double) -> String { String((x * 100).rounded() / 100) }

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func time(_ body: () throws -> Void) rethrows -> Double {
    let t0 = Clock.monotonic()
    try body()
    return Clock.monotonic() - t0
}

/// P2: one move/page/search keypress to a redrawn grid; baseline: the redraw alone.
/// P4: one durable toggle; baseline: the same durable I/O (append + fsync, atomic rewrite of a file
/// of the store's size + fsyncs) without dubdeck's logic.
func inProcess(_ dir: String, runs: Int) throws {
    let store = try TranscriptStore(job: try JobLoader.load(dir), by: "bench")
    let desk = Desk(store: store, keymap: .builtIn())
    var runner = ScriptRunner(desk: desk, width: 120, height: 40)
    var keyTimes: [Double] = []
    var drawTimes: [Double] = []
    let pattern = ["j", "j", "<PgDn>", "k", "<PgUp>", "n", "G", "g"]
    runner.desk.handle(key: "/")
    for ch in "treasure island" { runner.key(ch == " " ? "<Space>" : String(ch)) }
    runner.key("<Enter>")
    for i in 0..<max(runs * 20, 200) {
        let k = pattern[i % pattern.count]
        keyTimes.append(time { runner.key(k) })
        var grid = runner.grid
        drawTimes.append(time { DeskView.draw(desk, into: &grid) })
    }
    var commitTimes: [Double] = []
    for i in 0..<max(runs, 10) {
        let n = 2 + (i % 2)
        commitTimes.append(try time { try store.commit([.approve(n, !store.state(n).approved)]) })
    }
    let size = FileIO.statSignature(store.path)?.size ?? 1_000_000
    let payload = [UInt8](repeating: 0x20, count: size)
    let line = [UInt8](repeating: 0x41, count: 700) + [0x0A]
    var ioTimes: [Double] = []
    for _ in 0..<max(runs, 10) {
        ioTimes.append(try time {
            try FileIO.appendDurably(dir + "/bench-floor.jsonl", line)
            try FileIO.writeAtomically(dir + "/bench-floor.json", payload)
        })
    }
    unlink(dir + "/bench-floor.jsonl")
    unlink(dir + "/bench-floor.json")
    print("P2 \(median(keyTimes) * 1000) \(median(drawTimes) * 1000)")
    print("P4 \(median(commitTimes) * 1000) \(median(ioTimes) * 1000)")
}

/// The P3 line: natural espeak speech a little longer than its 3-second slot, so the fit
/// re-synthesizes once.
let p3Text = "Everyone get ready, the ship leaves the harbour at dawn and we cannot be late again."

/// P3: regenerate one 3-second line in-process (espeak, fit with one re-synthesis, resample to
/// 48 kHz, durable take + store + history); baseline: one raw in-process espeak synthesis of the
/// same text plus the three durable writes alone.
func p3(_ dir: String, runs: Int) throws {
    let engine = try EspeakEngine()
    var voice = Voice.deterministic(for: "SPEAKER_00")
    let first = try engine.synthesize(SpeechRequest(text: p3Text, voice: voice, lang: "en", speakerName: "x")).trimmedSilence().duration
    let slot = 3.0
    // A speaking rate that makes the natural speech about 10% longer than the slot.
    voice.rate = Int((Double(voice.rate) * first / (slot * 1.1)).rounded())
    let natural = try engine.synthesize(SpeechRequest(text: p3Text, voice: voice, lang: "en", speakerName: "x")).trimmedSilence().duration
    let job = dir + "/p3"
    try FileIO.makeDirectories(job)
    // Speak at a rate that makes the natural speech about 10% longer than the slot.
    let line = #"{"segments":[{"start":1.0,"end":4.0,"speaker":"SPEAKER_00","character_id":"SPEAKER_00","src_text":"x","text":""# + p3Text + #""}]}"#
    try FileIO.writeAtomically(job + "/translated.json", Array(line.utf8))
    let store = try TranscriptStore(job: try JobLoader.load(job), by: "bench")
    let synth = SegmentSynthesizer(store: store, engine: engine, maxSpeedup: 1.3)
    synth.characterVoices = ["SPEAKER_00": voice]
    // The desk predicted the line while it was on screen (SpokenLength, espeak-ng's own count).
    let predicted = try SpokenLength().espeakSeconds(p3Text, voice, lang: "en")
    store.recordPrediction(1, SpokenPrediction(text: p3Text, voice: synth.voice(for: store.segment(1)), seconds: predicted))
    var values: [Double] = []
    var last: SegmentSynthesizer.Result?
    for _ in 0..<max(runs, 10) { values.append(try time { last = try synth.synthesize(1) }) }
    var raw: [Double] = []
    let takeBytes = [UInt8](repeating: 1, count: Int(slot * 48_000) * 2 + 44)
    let storeBytes = try FileIO.read(store.path)
    let record = [UInt8](repeating: 0x41, count: 900) + [0x0A]
    for _ in 0..<max(runs, 10) {
        raw.append(try time {
            _ = try engine.synthesize(SpeechRequest(text: p3Text, voice: voice, lang: "en", speakerName: "x"))
            try FileIO.writeAtomically(job + "/floor-take.wav", takeBytes)
            try FileIO.appendDurably(job + "/floor-history.jsonl", record)
            try FileIO.writeAtomically(job + "/floor-store.json", storeBytes)
        })
    }
    // Where a regeneration goes: the engine's one pass at the predicted rate, the rest of the render
    // (trim, resample, pad), then the take's WAV and the commit (history, store, take, NNNN.wav).
    var parts: [String: [Double]] = [:]
    let fast = SpeechRequest(text: p3Text, voice: voice, lang: "en", rateFactor: min(predicted / slot * 1.02, 1.3), speakerName: "x")
    for _ in 0..<max(runs, 10) {
        parts["faster", default: []].append(try time { _ = try engine.synthesize(fast) })
        parts["render", default: []].append(try time { _ = try synth.render(1) })
    }
    // The floor of this figure's own definition: the line is spoken once, faster, and resampled to
    // 48 kHz (SPEC §5); the baseline speaks once and resamples nothing — one raw synthesis + one
    // resampling + the writes.
    var floor: [Double] = []
    for _ in 0..<max(runs, 10) {
        floor.append(try time {
            let faster = try engine.synthesize(fast)
            _ = try Resampler.resample(faster, to: 48_000)
            try FileIO.writeAtomically(job + "/floor-take.wav", takeBytes)
            try FileIO.appendDurably(job + "/floor-history.jsonl", record)
            try FileIO.writeAtomically(job + "/floor-store.json", storeBytes)
        })
    }
    let m = parts.mapValues { median($0) * 1000 }
    let rest = m["render"]! - m["faster"]!
    print("P3 \(median(values) * 1000) \(median(raw) * 1000) natural=\(natural) predicted=\(two(predicted)) stretch=\(last?.stretch ?? 0) status=\(last?.status ?? "")"
          + " floor \(median(floor) * 1000) parts: faster \(two(m["faster"]!)) trim+resample+pad \(two(rest)) wav+commit \(two(median(values) * 1000 - m["render"]!)) ms")
}

/// A job directory for a batch bench, left as a run found it but for its translated.json (takes,
/// store, history and temporaries of an earlier run removed).
func emptiedJob(_ job: String) throws -> String {
    try? FileIO.makeDirectories(job)
    for name in DirectoryListing.names(job) where name != "translated.json" { unlink(job + "/" + name) }
    if FileIO.exists(job + "/segments_preview") {
        for name in DirectoryListing.names(job + "/segments_preview") { unlink(job + "/segments_preview/" + name) }
    }
    return job
}

/// P6: a durable batch of 300 three-second lines on the cores there are (espeak, fit, 48 kHz takes,
/// one history record per line); baseline: the same 300 texts through raw in-process espeak alone
/// (no fit, no files) — the engine's own ceiling.
func p6(_ dir: String) throws {
    var r = LCG(state: 6)
    let job = try emptiedJob(dir + "/p6")
    let texts = (0..<300).map { _ in sentence(&r, words, 7, sep: " ").capitalized(first: true) + "." }
    let segs = texts.enumerated().map { i, t in
        JSONValue.object(JSONObject([("start", .number(Double(i) * 3.5)), ("end", .number(Double(i) * 3.5 + 3)),
                                     ("speaker", .string("SPEAKER_0\(i % 4)")), ("src_text", .string("x")), ("text", .string(t))]))
    }
    try FileIO.writeAtomically(job + "/translated.json", JSONWriter.encode(.object(JSONObject([("segments", .array(segs))]))))
    let store = try TranscriptStore(job: try JobLoader.load(job), by: "bench")
    let engine = try EspeakEngine()
    let synth = SegmentSynthesizer(store: store, engine: engine, maxSpeedup: 1.3)
    var summary: SegmentSynthesizer.BatchSummary?
    let t = time { summary = synth.batch(Array(1...300)) }
    let raw = try time {
        for text in texts { _ = try engine.synthesize(SpeechRequest(text: text, voice: Voice.deterministic(for: "SPEAKER_00"), lang: "en", speakerName: "x")) }
    }
    print("P6 \(300 / t) \(300 / raw) done=\(summary?.done ?? 0) failed=\(summary?.failed ?? 0) overflow=\(summary?.overflow ?? 0)")
}

/// P6s and P3 restated, through a server engine that costs `latency` a request and takes `concurrent`
/// at once (bench/slow_server.py): 300 lines of real length as one batch (P6s: goal ≤ 1.1 × 300 ×
/// latency / concurrent), then each line regenerated alone (P3: its time against one engine call,
/// the share of lines within 1.15×, and the engine calls a line took).
func p6s(_ dir: String, server: String, latency: Double, concurrent: Int) throws {
    var r = LCG(state: 61)
    let job = try emptiedJob(dir + "/p6s")
    // Texts of 4–14 words; slots of 2–4 s: at 70 ms a character many lines are too long for theirs.
    let texts = (0..<300).map { _ in sentence(&r, words, 4 + Int(r.next() % 11), sep: " ").capitalized(first: true) + "." }
    var t = 0.0
    let segs = texts.map { text -> JSONValue in
        let slot = 2 + Double(r.next() % 21) / 10
        defer { t += slot + 0.5 }
        return .object(JSONObject([("start", .number(t)), ("end", .number(t + slot)), ("speaker", .string("SPEAKER_00")),
                                   ("src_text", .string("x")), ("text", .string(text))]))
    }
    try FileIO.writeAtomically(job + "/translated.json", JSONWriter.encode(.object(JSONObject([("segments", .array(segs))]))))
    let count = dir + "/p6s-requests.txt"
    let argv = ["python3", server, "--latency", String(latency), "--concurrent", String(concurrent), "--count", count]
    let store = try TranscriptStore(job: try JobLoader.load(job), by: "bench")
    let engine = try ServerEngine(argv: argv, timeout: 60)
    defer { engine.close() }
    _ = try engine.synthesize(SpeechRequest(text: "warm up", voice: Voice.deterministic(for: "x"), lang: "en", speakerName: "x"))
    let synth = SegmentSynthesizer(store: store, engine: engine, maxSpeedup: 1.3)
    var summary: SegmentSynthesizer.BatchSummary?
    let batch = time { summary = synth.batch(Array(1...300)) }
    let afterBatch = Int((String(decoding: (try? FileIO.read(count)) ?? [], as: UTF8.self)).trimmingCharacters()) ?? 0
    // Each line alone: the regeneration against one raw call of the same request.
    var ratios: [Double] = [], lineMs: [Double] = [], callMs: [Double] = []
    var tooLong = 0
    for n in 1...300 {
        let request = SpeechRequest(text: store.state(n).text, voice: synth.voice(for: store.segment(n)), lang: store.job.info.tgtLang, speakerName: "x")
        // The desk asked the server for the line's length while it was on screen.
        if let p = engine.predictSeconds(request) { store.recordPrediction(n, SpokenPrediction(text: request.text, voice: request.voice, seconds: p)) }
        let call = try time { _ = try engine.synthesize(request) }
        var result: SegmentSynthesizer.Result?
        let whole = try time { result = try synth.synthesize(n) }
        if (result?.stretch ?? 1) > 1.0001 { tooLong += 1 }
        ratios.append(whole / call)
        lineMs.append(whole * 1000)
        callMs.append(call * 1000)
    }
    let requests = Int((String(decoding: (try? FileIO.read(count)) ?? [], as: UTF8.self)).trimmingCharacters()) ?? 0
    let within = Double(ratios.filter { $0 <= 1.15 }.count) / Double(ratios.count)
    let sorted = ratios.sorted()
    // Requests of the regeneration pass: 300 predictions + 300 raw calls + the lines' own.
    let callsPerLine = Double(requests - afterBatch - 600) / 300
    print("P6S \(batch) \(300 * latency / Double(concurrent)) done=\(summary?.done ?? 0) failed=\(summary?.failed ?? 0) calls_per_line=\(two(Double(afterBatch - 1) / 300))")
    print("P3S \(within) \(sorted[sorted.count * 9 / 10]) \(median(lineMs)) \(median(callMs)) calls_per_line=\(two(callsPerLine)) too_long=\(tooLong)")
}

/// A sink that only notes when it was handed a sound (P7 times the desk up to that moment).
final class TimingSink: AudioSink {
    var handedAt = 0.0
    var frames = 0
    func play(_ pcm: PCM16, label: String) throws {
        handedAt = Clock.monotonic()
        frames = pcm.frames
    }
    func stop() {}
    var isPlaying: Bool { false }
    var progress: (elapsed: Double, total: Double, label: String)? { nil }
    func wait() {}
}

/// P7: from the `p` key to the take handed to the sink, on the P6 job (takes on disk), the line
/// selected a moment before (the desk decodes the selected take between keys); baseline: decoding
/// that take from disk alone.
func p7(_ dir: String, runs: Int) throws {
    let job = dir + "/p6"
    let store = try TranscriptStore(job: try JobLoader.load(job), by: "bench")
    let sink = TimingSink()
    let desk = Desk(store: store, keymap: .builtIn(), audio: DeskAudio(makeEngine: { try EspeakEngine() }, sink: sink))
    var runner = ScriptRunner(desk: desk, width: 120, height: 40)
    var values: [Double] = [], decode: [Double] = []
    for i in 0..<max(runs * 5, 50) {
        runner.key("j")
        _ = desk.tick(now: Double(i))
        let t0 = Clock.monotonic()
        runner.key("p")
        guard sink.frames > 0 else { throw DubdeckError(.ioError, "the desk played nothing") }
        values.append(sink.handedAt - t0)
        sink.frames = 0
        let n = desk.selectedSegment!.number
        decode.append(try time { _ = try AudioFile.readPCM16(job + "/segments_preview/" + Takes.currentName(n)) })
    }
    print("P7 \(median(values) * 1000) \(median(decode) * 1000)")
}

/// P8: the GE2E embedding of a 3-second line (16 kHz speech from espeak-ng), in-process; baseline:
/// the mel spectrogram alone (the part before the network).
func p8(_ dir: String, runs: Int) throws {
    let encoder = try SpeakerEncoder()
    let engine = try EspeakEngine()
    var speech = try engine.synthesize(SpeechRequest(text: p3Text, voice: Voice.deterministic(for: "SPEAKER_01"), lang: "en", speakerName: "x"))
    speech = try Resampler.resample(speech, to: 16_000)
    let three = AudioBuffer(samples: Array(speech.samples.prefix(48_000)) + [Float](repeating: 0, count: max(0, 48_000 - speech.samples.count)), rate: 16_000)
    var values: [Double] = [], mel: [Double] = []
    for _ in 0..<max(runs, 10) {
        // As `characters suggest` embeds a line: its speech found by the detector (SPEC §11.13), then embedded.
        values.append(try time { _ = try encoder.embed(VoiceActivity.hear(three).speech) })
        mel.append(time { _ = encoder.melSpectrogram(three.samples) })
    }
    // A 20-minute episode: 400 three-second lines of four labels, embedded per label from its audio.
    let job = dir + "/p8"
    try? FileIO.makeDirectories(job)
    let rate = 16_000
    var episode = [Float]()
    episode.reserveCapacity(rate * 1200)
    var segs: [JSONValue] = []
    for k in 0..<400 {
        segs.append(.object(JSONObject([("start", .number(Double(k) * 3)), ("end", .number(Double(k) * 3 + 2.9)), ("speaker", .string("SPEAKER_0\(k % 4)")),
                                        ("src_text", .string("x")), ("text", .string("x"))])))
        episode += three.samples
    }
    try FileIO.writeAtomically(job + "/translated.json", JSONWriter.encode(.object(JSONObject([("segments", .array(segs))]))))
    try AudioFile.writeWAV16Atomically(AudioBuffer(samples: episode, rate: rate), to: job + "/audio.wav")
    let loaded = try JobLoader.load(job)
    let t = try time { _ = try CharacterIdentifier.labels(of: loaded, encoder: { encoder }) }
    print("P8 \(median(values) * 1000) \(median(mel) * 1000) \(t)")
}

/// The character memory on simulated seasons (TestSupport's SeasonSimulator): the first edition's
/// one-pass matching, the second edition's, and the second edition's with `reconcile --apply` at
/// the season's end. Reconcile's parameters can be given to tune them (link join apart).
func sim(seasons: Int, parameters: ReconcileParameters) throws {
    for (name, edition, oneStore) in [("first edition", 1, false), ("second edition", 2, false), ("second edition + reconcile", 3, false),
                                      ("second edition, every season in one store", 2, true)] {
        var s = SeasonSimulator(seed: 2026)
        let f = try s.measure(seasons: seasons, identify: { store, labels, series, episode in
            let result = edition == 1
                ? store.identify(labels: labels.map { ($0.name, $0.embedding) }, series: series, episode: episode)
                : store.identify(evidence: labels.map { LabelEvidence(label: $0.name, embedding: $0.embedding, utterances: $0.utterances, seconds: $0.seconds) },
                                 series: series, episode: episode)
            return Dictionary(result.map { ($0.label, $0.characterID) }, uniquingKeysWith: { a, _ in a })
        }, reconcile: edition == 3 ? { store, series in
            let proposals = store.reconcile(series: series, parameters: parameters).proposals
            if !proposals.isEmpty { try Reconcile.applyInMemory(store, series: series, proposals) }
        } : nil, oneStore: oneStore)
        print("SIM \(name): stability \(f.stability) shared/season \(f.sharedPerSeason) unassigned/season \(f.unassignedPerSeason) cross-series/season \(f.crossSeriesPerSeason) | same mean \(f.sameMean) min \(f.sameMin) different mean \(f.differentMean) max \(f.differentMax)")
    }
}

extension String {
    func capitalized(first: Bool) -> String { prefix(1).uppercased() + dropFirst() }
}

/// The P5 store: 2,000 characters, 192-d, 8 snapshots each, in 5 series.
func generateStore(_ path: String) throws -> [[Float]] {
    try generateStore(path, count: 2000) { i in "series_\(i % 5)" }
}

/// A store of `count` characters (192-d, 8 snapshots each), character i in series `series(i)`.
func generateStore(_ path: String, count: Int, series: (Int) -> String) throws -> [[Float]] {
    var r = LCG(state: 7)
    func vector() -> [Float] { (0..<192).map { _ in Float(Int(r.next() % 20001) - 10000) / 10000 } }
    let store = try CharacterStore.open(path)
    var centers: [[Float]] = []
    try store.update { s in
        try s.checkEmbedding(type: "ecapa", dim: 192, model: "speechbrain/spkrec-ecapa-voxceleb", file: "bench")
        for i in 0..<count {
            let center = vector()
            centers.append(center)
            let id = s.createForBench(name: "Character \(i)")
            s.fillForBench(id, avg: center, snapshots: (0..<8).map { k in
                EmbeddingSnapshot(series: series(i), episode: "ep\(k + 1)", embedding: center.map { $0 + Float(Int(r.next() % 2001) - 1000) / 10000 },
                                  at: "2026-01-0\(k + 1)T00:00:00Z")
            }, series: series(i))
        }
    }
    return centers
}

/// P5 at a store size: the series asked about always holds the same 40 characters (the first 40);
/// the others belong to 50 other series. Open+decrypt, one match, identify 20 labels, save.
func p5Curve(_ dir: String, count: Int, runs: Int) throws {
    let path = dir + "/characters-\(count).json"
    unlink(path)
    let centers = try generateStore(path, count: count) { i in i < 40 ? "series_fixed" : "other_\(i % 50)" }
    var r = LCG(state: 99)
    func noisy(_ c: [Float]) -> [Float] { c.map { $0 + Float(Int(r.next() % 2001) - 1000) / 20000 } }
    var open: [Double] = [], match: [Double] = [], identify: [Double] = [], save: [Double] = []
    for i in 0..<max(runs, 3) {
        var store: CharacterStore!
        open.append(try time { store = try CharacterStore.open(path) })
        let q = noisy(centers[i * 7 % 40])
        match.append(time { _ = store.match(q, series: "series_fixed") })
        let labels = (0..<20).map { k in LabelEvidence(label: "SPEAKER_\(k)", embedding: noisy(centers[(i * 3 + k) % 40]), utterances: 5, seconds: 20) }
        identify.append(time { _ = store.identify(evidence: labels, series: "series_fixed", episode: "bench\(i)") })
        save.append(try time { try store.save() })
    }
    unlink(path)
    print("P5CURVE \(count) \(median(open) * 1000) \(median(match) * 1000) \(median(identify) * 1000) \(median(save) * 1000)")
}

/// P10 at a series length: `episodes` episodes of 8 recurring characters and 2 one-off guests,
/// identified one by one (as the pipeline does), then `reconcile` timed (median of three).
func p10(_ dir: String, episodes: Int) throws {
    let path = dir + "/reconcile-\(episodes).json"
    unlink(path)
    var r = LCG(state: 11)
    func vector() -> [Float] { (0..<192).map { _ in Float(Int(r.next() % 20001) - 10000) / 10000 } }
    func noisy(_ c: [Float]) -> [Float] { c.map { $0 + Float(Int(r.next() % 2001) - 1000) / 8000 } }
    let cast = (0..<8).map { _ in vector() }
    let store = try CharacterStore.open(path)
    try store.update { s in
        try s.checkEmbedding(type: "ecapa", dim: 192, model: "speechbrain/spkrec-ecapa-voxceleb", file: "bench")
        for e in 0..<episodes {
            var labels = cast.enumerated().map { k, c in LabelEvidence(label: "SPEAKER_0\(k)", embedding: noisy(c), utterances: 20, seconds: 60) }
            labels += (0..<2).map { k in LabelEvidence(label: "SPEAKER_1\(k)", embedding: vector(), utterances: 3, seconds: 6) }
            _ = s.identify(evidence: labels, series: "long_series", episode: "ep\(e + 1)")
        }
    }
    var times: [Double] = []
    var proposals = 0
    for _ in 0..<3 { times.append(time { proposals = store.reconcile(series: "long_series").proposals.count }) }
    unlink(path)
    print("P10 \(episodes) \(median(times) * 1000) \(proposals)")
}

/// P4h: the first commit after a batch of `records` records (one commit of that many changes, as a
/// `synth` or `merge-mt` batch makes), in a fresh store as the next command would open it.
func p4h(_ dir: String, records: Int) throws {
    try generate(dir, segments: 2000, history: 1)
    let store = try TranscriptStore(job: try JobLoader.load(dir), by: "bench")
    let changes = (0..<records).map { i in
        SegmentChange(segment: 1 + i % 2000, action: "merge-mt", fields: ["tgt_text"]) { e in e["tgt_text"] = .string("batch text \(i)") }
    }
    _ = try store.commit(changes, batch: "bench-batch")
    let fresh = try TranscriptStore(job: try JobLoader.load(dir), by: "bench")
    let first = try time { _ = try fresh.commit([.approve(5, !fresh.state(5).approved)]) }
    let second = try time { _ = try fresh.commit([.approve(5, !fresh.state(5).approved)]) }
    print("P4H \(records) \(first * 1000) \(second * 1000)")
}

/// P5: open+decrypt, one match, identify 20 labels, save, on the 2,000-character store (raw key).
func p5(_ dir: String, runs: Int) throws {
    let path = dir + "/characters.json"
    let centers = try generateStore(path)
    var r = LCG(state: 99)
    func noisy(_ c: [Float]) -> [Float] { c.map { $0 + Float(Int(r.next() % 2001) - 1000) / 20000 } }
    var open: [Double] = [], match: [Double] = [], identify: [Double] = [], save: [Double] = []
    for i in 0..<max(runs, 10) {
        var store: CharacterStore!
        open.append(try time { store = try CharacterStore.open(path) })
        let q = noisy(centers[i * 37 % centers.count])
        match.append(time { _ = store.match(q, series: "series_\((i * 37 % centers.count) % 5)") })
        let labels = (0..<20).map { k in ("SPEAKER_\(k)", noisy(centers[(i * 101 + k * 53) % centers.count])) }
        identify.append(time { _ = store.identify(labels: labels, series: "series_1", episode: "bench\(i)") })
        save.append(try time { try store.save() })
    }
    // Leave the file as generated for the Python baseline.
    _ = try generateStore(path + ".tmp-gen")
    rename(path + ".tmp-gen", path)
    print("P5 \(median(open) * 1000) \(median(match) * 1000) \(median(identify) * 1000) \(median(save) * 1000)")
}

/// P9: the 2,000-character store of P5 in PostgreSQL (URL): open (connect, read, decrypt, parse),
/// and identify 20 labels as `characters identify` does it (one SERIALIZABLE transaction, written).
func p9(_ dir: String, url: String, runs: Int) throws {
    let path = dir + "/characters.json"
    let centers = try generateStore(path)
    _ = try StoreMigration.copy(from: path, to: url)
    var r = LCG(state: 99)
    func noisy(_ c: [Float]) -> [Float] { c.map { $0 + Float(Int(r.next() % 2001) - 1000) / 20000 } }
    var open: [Double] = [], identify: [Double] = []
    for i in 0..<max(runs, 10) {
        var store: CharacterStore!
        open.append(try time { store = try CharacterStore.open(url) })
        let labels = (0..<20).map { k in LabelEvidence(label: "SPEAKER_\(k)", embedding: noisy(centers[(i * 101 + k * 53) % centers.count]), utterances: 5, seconds: 20) }
        identify.append(try time { try store.update { s in _ = s.identify(evidence: labels, series: "series_1", episode: "bench\(i)") } })
    }
    print("P9 \(median(open) * 1000) \(median(identify) * 1000)")
}

/// P9 at a store size: the same store (a fixed series of 40 characters, the rest in 50 others) as a
/// file and in PostgreSQL (`url`, an empty database); `identify` of 20 labels as the command does it
/// — open, then one update (identify and write) — on each.
func p9Curve(_ dir: String, url: String, count: Int, runs: Int) throws {
    let path = dir + "/p9-\(count).json"
    unlink(path)
    let centers = try generateStore(path, count: count) { i in i < 40 ? "series_fixed" : "other_\(i % 50)" }
    _ = try StoreMigration.copy(from: path, to: url)
    var r = LCG(state: 19)
    func noisy(_ c: [Float]) -> [Float] { c.map { $0 + Float(Int(r.next() % 2001) - 1000) / 20000 } }
    var times: [String: [Double]] = [:]
    for i in 0..<max(runs, 3) {
        for (name, place) in [("file", path), ("pg", url)] {
            let labels = (0..<20).map { k in LabelEvidence(label: "SPEAKER_\(k)", embedding: noisy(centers[(i * 3 + k) % 40]), utterances: 5, seconds: 20) }
            var store: CharacterStore!
            times[name + "-open", default: []].append(try time { store = try CharacterStore.open(place) })
            times[name + "-identify", default: []].append(try time {
                try store.update { s in _ = s.identify(evidence: labels, series: "series_fixed", episode: "bench\(i)") }
            })
        }
    }
    unlink(path)
    let m = times.mapValues { median($0) * 1000 }
    print("P9CURVE \(count) \(m["file-open"]!) \(m["file-identify"]!) \(m["pg-open"]!) \(m["pg-identify"]!)")
}

/// P11's jobs: `episodes` episodes of one series, each with 8 recurring voices (a cast) and one guest,
/// as the pipeline leaves them (translated.json, job.json, diarization.json with 192-d embeddings).
func p11Jobs(_ dir: String, episodes: Int) throws {
    var r = LCG(state: 111)
    func vector() -> [Float] { (0..<192).map { _ in Float(Int(r.next() % 20001) - 10000) / 10000 } }
    func noisy(_ c: [Float]) -> [Float] { c.map { $0 + Float(Int(r.next() % 2001) - 1000) / 8000 } }
    let cast = (0..<8).map { _ in vector() }
    for e in 1...episodes {
        let job = dir + "/ep\(e)"
        try FileIO.makeDirectories(job)
        let labels = (0..<9).map { "SPEAKER_0\($0)" }
        let segs = labels.enumerated().map { k, l in
            JSONValue.object(JSONObject([("start", .number(Double(k) * 3)), ("end", .number(Double(k) * 3 + 2.5)), ("speaker", .string(l)),
                                         ("src_text", .string("x")), ("text", .string("Line \(k).")), ]))
        }
        try FileIO.writeAtomically(job + "/translated.json", JSONWriter.encode(.object(JSONObject([("segments", .array(segs))]))))
        try FileIO.writeAtomically(job + "/job.json", JSONWriter.encode(.object(JSONObject([("series_id", .string("p11")), ("episode", .string("ep\(e)"))]))))
        let embeddings = labels.enumerated().map { k, l in (l, JSONValue.array((k < 8 ? noisy(cast[k]) : vector()).map { .number(Double($0)) })) }
        let turns: [JSONValue] = labels.enumerated().flatMap { k, l in (0..<3).map { t in
            JSONValue.object(JSONObject([("start", .number(Double(k * 30 + t * 8))), ("end", .number(Double(k * 30 + t * 8 + 6))), ("speaker", .string(l))]))
        } }
        try FileIO.writeAtomically(job + "/diarization.json", JSONWriter.encode(.object(JSONObject([
            ("segments", .array(turns)), ("speaker_embeddings", .object(JSONObject(embeddings))),
            ("embedding", .object(JSONObject([("type", .string("ecapa")), ("dim", .number(192))]))),
        ]))))
    }
}

/// P11's check: every episode of the series recorded once with its 9 labels (no update lost), and
/// the series' characters (8 cast + one per guest when no two reviewers made one speaker twice).
func p11Check(_ url: String, episodes: Int) throws {
    let store = try CharacterStore.open(url)
    let observations = store.observations(series: "p11")
    var perEpisode: [String: Int] = [:]
    for o in observations { perEpisode[o.episode, default: 0] += 1 }
    let complete = (1...episodes).filter { perEpisode["ep\($0)"] == 9 }.count
    let characters = store.characters.filter { $0.mergedInto == nil && $0.seriesInfo("p11") != nil }.count
    print("P11CHECK \(complete) \(episodes) \(characters)")
}

/// Commits alone (for a profiler): N durable approve toggles on the job.
func commits(_ dir: String, count: Int) throws {
    let store = try TranscriptStore(job: try JobLoader.load(dir), by: "bench")
    let t = try time {
        for i in 0..<count { let n = 2 + (i % 2); try store.commit([.approve(n, !store.state(n).approved)]) }
    }
    print("commits \(count) \(t / Double(count) * 1000) ms each")
}

/// Predicted fit against real syntheses: per voice, the median and worst error of the prediction
/// against the length the engine then speaks (trimmed as a take is), and the time a prediction takes.
/// espeak-ng voices directly; flite (when installed) through the command engine, its scale learnt
/// from five of its takes as the desk learns it from a voice's takes.
func predictBench() throws {
    let sentences = [
        "Morning, everyone! Nice weather today.", "Teacher, I forgot my homework again.", "Again? That is a problem, you know.",
        "I will show you mine after class.", "Really? Thanks a lot, Kenta!", "Beep. Data saved.", "Huh? The robot just talked!",
        "I am Robo. Pleased to meet you.", "We should leave before it starts to rain.", "Where did you put the keys this time?",
        "Let us meet again tomorrow at the station.", "I have never seen the sea so calm.", "Nobody told me the shop was closed.",
        "Could you say that once more, slowly?", "The train to the city leaves at seven.", "Hurry up, we are going to be late!",
        "That is not what I said, and you know it.", "Please take your seats, the lesson begins.", "Wait for me at the gate.",
        "What a strange thing to say.", "I think the answer is forty two.", "Everyone was quiet for a long time.",
        "If it rains, the match will be cancelled.", "She laughed and walked away.", "Do you remember the first day we met?",
        "The library opens at nine every morning.", "He forgot his umbrella on the bus.", "Thank you, that helps a great deal.",
        "Turn left at the second light.", "Good night, and sleep well.",
    ]
    func stats(_ errors: [Double]) -> (median: Double, worst: Double) {
        let e = errors.sorted()
        return (e[e.count / 2], e.last!)
    }
    let predictor = try SpokenLength()
    let espeak = try EspeakEngine()
    for variant in ["m1", "m3", "f2", "f4", "Alex", "belinda", "max", "Annie"] {
        let voice = Voice(variant: variant, pitch: 50, rate: 175)
        var errors: [Double] = [], seconds: [Double] = [], predictMs: [Double] = [], synthMs: [Double] = []
        for text in sentences {
            var predicted = 0.0
            predictMs.append(try time { predicted = try SpokenLength().espeakSeconds(text, voice, lang: "en") })
            var spoken = 0.0
            synthMs.append(try time {
                spoken = try espeak.synthesize(SpeechRequest(text: text, voice: voice, lang: "en", speakerName: "x")).trimmedSilence().duration
            })
            errors.append(abs(predicted - spoken))
            seconds.append(spoken)
        }
        let (m, w) = stats(errors)
        print("PREDICT espeak \(variant) median_s \(m) worst_s \(w) mean_len_s \(seconds.reduce(0, +) / Double(seconds.count)) predict_ms \(median(predictMs) * 1000) synth_ms \(median(synthMs) * 1000)")
    }
    guard access("/usr/bin/flite", X_OK) == 0 else {
        print("PREDICT flite not installed: skipped")
        return
    }
    let voice = Voice.deterministic(for: "SPEAKER_00")
    for fliteVoice in ["slt", "kal", "awb", "rms"] {
        let engine = try CommandEngine(template: ["/usr/bin/flite", "-voice", fliteVoice, "-f", "{text_file}", "-o", "{out}"])
        func spoken(_ text: String) throws -> Double {
            try engine.synthesize(SpeechRequest(text: text, voice: voice, lang: "en", speakerName: "x")).trimmedSilence().duration
        }
        var samples: [(text: String, naturalS: Double)] = []
        for text in sentences.prefix(5) { samples.append((text, try spoken(text))) }
        var scaled: [Double] = [], raw: [Double] = []
        for text in sentences.dropFirst(5) {
            let input = SpokenLength.Input(n: 1, text: text, voice: voice, lang: "en", samples: samples)
            let predicted = predictor.predict(input)!.seconds
            let actual = try spoken(text)
            scaled.append(abs(predicted - actual) / actual)
            raw.append(abs(try predictor.espeakSeconds(text, voice, lang: "en") - actual) / actual)
        }
        let (m, w) = stats(scaled), (rm, rw) = stats(raw)
        print("PREDICT flite \(fliteVoice) scaled median_pct \(m * 100) worst_pct \(w * 100) unscaled median_pct \(rm * 100) worst_pct \(rw * 100)")
    }
}

let args = CommandLine.arguments
if args.count == 2, args[1] == "predict" {
    do { try predictBench() } catch { Console.err("dubdeck-bench: \(error)\n"); exit(1) }
    exit(0)
}
guard args.count >= 3 else {
    print("usage: dubdeck-bench generate DIR | inprocess DIR [RUNS] | p3 DIR [RUNS]")
    exit(64)
}
do {
    switch args[1] {
    case "generate":
        try generate(args[2], segments: args.count > 3 ? Int(args[3]) ?? 5000 : 5000)
    case "p5curve": try p5Curve(args[2], count: Int(args[3]) ?? 2000, runs: args.count > 4 ? Int(args[4]) ?? 5 : 5)
    case "p10": try p10(args[2], episodes: Int(args[3]) ?? 10)
    case "p4h": try p4h(args[2], records: Int(args[3]) ?? 1)
    case "inprocess": try inProcess(args[2], runs: args.count > 3 ? Int(args[3]) ?? 10 : 10)
    case "p3": try p3(args[2], runs: args.count > 3 ? Int(args[3]) ?? 10 : 10)
    case "phases":
        // Where opening the job goes (P1 is these, plus process start and exit).
        for _ in 0..<3 {
            var job: Job!
            let t1 = try time { job = try JobLoader.load(args[2]) }
            var store: TranscriptStore!
            let t2 = try time { store = try TranscriptStore(job: job, by: "bench") }
            var desk: Desk!
            let t3 = time { desk = Desk(store: store, keymap: .builtIn()) }
            var grid = CellGrid(width: 120, height: 40)
            let t4 = time { desk.width = 120; desk.height = 40; DeskView.draw(desk, into: &grid) }
            print("load \(t1 * 1000) store \(t2 * 1000) desk \(t3 * 1000) draw \(t4 * 1000)")
        }
    case "p5": try p5(args[2], runs: args.count > 3 ? Int(args[3]) ?? 10 : 10)
    case "p6": try p6(args[2])
    case "p6s": try p6s(args[2], server: args[3], latency: Double(args[4]) ?? 0.1, concurrent: Int(args[5]) ?? 4)
    case "sim":
        var p = ReconcileParameters()
        if args.count > 5, let l = Float(args[3]), let j = Double(args[4]), let a = Double(args[5]) { p.link = l; p.join = j; p.apart = a }
        try sim(seasons: Int(args[2]) ?? 20, parameters: p)
    case "commits": try commits(args[2], count: args.count > 3 ? Int(args[3]) ?? 100 : 100)
    case "p9": try p9(args[2], url: args[3], runs: args.count > 4 ? Int(args[4]) ?? 10 : 10)
    case "p9curve": try p9Curve(args[2], url: args[3], count: Int(args[4]) ?? 2000, runs: args.count > 5 ? Int(args[5]) ?? 3 : 3)
    case "noise":
        let conditions: [(String, String?, Double)] = [("clean", nil, 0), ("pink-20dB", "pink", 20), ("pink-10dB", "pink", 10), ("pink-5dB", "pink", 5),
                                                       ("brown-10dB", "brown", 10), ("babble-10dB", "babble", 10)]
        let speech = args.count > 4 && args[4] != "espeak" ? args[4] : nil
        try noiseSeasons(args[2], seasons: Int(args[3]) ?? 20, speech: speech, conditions: args.count > 5 ? conditions.filter { args[5...].contains($0.0) } : conditions)
    case "p11jobs": try p11Jobs(args[2], episodes: Int(args[3]) ?? 8)
    case "p11check": try p11Check(args[2], episodes: Int(args[3]) ?? 8)
    case "p8": try p8(args[2], runs: args.count > 3 ? Int(args[3]) ?? 10 : 10)
    case "p7": try p7(args[2], runs: args.count > 3 ? Int(args[3]) ?? 10 : 10)
    default: print("unknown command \(args[1])"); exit(64)
    }
} catch {
    Console.err("dubdeck-bench: \(error)\n")
    exit(1)
}

