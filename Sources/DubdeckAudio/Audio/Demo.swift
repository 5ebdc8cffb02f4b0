/// The sample job of `dubdeck demo`: a short classroom scene, four speakers, kana source text
/// (espeak-ng's Japanese voice reads kanji badly), English dub text, diarization embeddings.
public enum DemoJob {
    public static let marker = "dubdeck demo"

    static let lines: [(speaker: String, src: String, text: String)] = [
        ("SPEAKER_00", "おはよう、みんな！ きょうは いい てんき だね。", "Morning, everyone! Nice weather today."),
        ("SPEAKER_01", "おはよう、はな。はやい ね。", "Morning, Hana. You're early."),
        ("SPEAKER_02", "みなさん、せきに ついて ください。", "Everyone, please take your seats."),
        ("SPEAKER_00", "せんせい、しゅくだい を わすれました。", "Teacher, I forgot my homework."),
        ("SPEAKER_02", "また ですか？ こまりました ね。", "Again? That's a problem."),
        ("SPEAKER_01", "ぼく の を みせて あげる よ。", "I'll show you mine."),
        ("SPEAKER_00", "ほんとう？ ありがとう、けんた！", "Really? Thanks, Kenta!"),
        ("SPEAKER_03", "ピピッ。データ を ほぞん しました。", "Beep. Data saved."),
        ("SPEAKER_01", "あれ？ ロボ が しゃべった！", "Huh? Robo just talked!"),
        ("SPEAKER_03", "わたし は ロボ です。よろしく おねがいします。", "I am Robo. Pleased to meet you."),
        ("SPEAKER_02", "しずかに！ じゅぎょう を はじめます。", "Quiet! Class is starting."),
        ("SPEAKER_00", "ロボ、いっしょに べんきょう しよう。", "Robo, let's study together."),
        ("SPEAKER_03", "りょうかい。けいさん は とくい です。", "Roger. Arithmetic is my specialty."),
        ("SPEAKER_01", "じゃあ、この もんだい を といて みて。", "Then try solving this one."),
        ("SPEAKER_03", "こたえ は よんじゅうに です。", "The answer is forty-two."),
        ("SPEAKER_02", "せいかい です。すばらしい！", "Correct. Wonderful!"),
        ("SPEAKER_00", "すごい！ ロボ は てんさい だね。", "Amazing! Robo is a genius."),
        ("SPEAKER_01", "ぼく も まけない ぞ。", "I won't lose either."),
        ("SPEAKER_02", "では、つぎ の ページ を ひらいて。", "Now, open to the next page."),
        ("SPEAKER_03", "エラー。ページ が みつかりません。", "Error. Page not found."),
        ("SPEAKER_00", "あはは、ロボ って おもしろい ね。", "Ha ha, Robo is funny."),
        ("SPEAKER_01", "きょう は たのしい いちにち に なりそう。", "Today is going to be a fun day."),
        ("SPEAKER_02", "ほうかご、みんな で そうじ を しましょう。", "After school, let's all clean up."),
        ("SPEAKER_03", "そうじ モード、きどう します。", "Cleaning mode, starting up."),
    ]

    public static let seriesID = "dubdeck_demo_s01"
    public static let embeddingDim = 192

    /// Segment times from the spoken source lines: each line's slot is its Japanese speech, lines
    /// 0.45 s apart; line 9 starts 0.3 s before line 8 ends (overlaps are legal and shown).
    public static func segmentTimes(durations: [Double]) -> [(Double, Double)] {
        var t = 0.8
        var out: [(Double, Double)] = []
        for (i, d) in durations.enumerated() {
            var start = t
            if i == 8 { start = max(0, t - 0.45 - 0.3) }
            let s = (start * 100).rounded() / 100
            let e = ((start + d) * 100).rounded(.up) / 100
            out.append((s, e))
            t = e + 0.45
        }
        return out
    }

    /// The source audio: each kana line spoken by espeak-ng's Japanese voice (one variant per
    /// speaker) at its segment time, 48 kHz mono.
    static func sourceAudio() throws -> (AudioBuffer, [(Double, Double)]) {
        let engine = try EspeakEngine()
        var spoken: [AudioBuffer] = []
        for line in lines {
            let voice = Voice.deterministic(for: line.speaker)
            let raw = try engine.synthesize(SpeechRequest(text: line.src, voice: voice, lang: "ja", speakerName: line.speaker))
            spoken.append(try Resampler.resample(raw.trimmedSilence(), to: 48_000))
        }
        let times = segmentTimes(durations: spoken.map { $0.duration })
        let total = Int(((times.map { $0.1 }.max() ?? 0) + 1.0) * 48_000)
        var mix = [Float](repeating: 0, count: total)
        for (i, audio) in spoken.enumerated() {
            let at = Int((times[i].0 * 48_000).rounded())
            for (k, v) in audio.samples.enumerated() where at + k < total { mix[at + k] = max(-1, min(1, mix[at + k] + v * 0.9)) }
        }
        return (AudioBuffer(samples: mix, rate: 48_000), times)
    }

    /// Deterministic pseudo-random unit vectors per speaker (xorshift), jittered per segment.
    static func embedding(speaker: Int, seed: UInt64) -> [Double] {
        var state: UInt64 = 0x9E3779B97F4A7C15 &* (UInt64(speaker) + 1) ^ seed
        func next() -> Double {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Double(state % 20_001) / 10_000 - 1
        }
        var v = (0..<embeddingDim).map { _ in next() }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        v = v.map { ($0 / norm * 10_000).rounded() / 10_000 }
        return v
    }

    public static func translatedJSON(_ times: [(Double, Double)]) -> JSONValue {
        let segs: [JSONValue] = lines.enumerated().map { i, l in
            .object(JSONObject([("start", .number(times[i].0)), ("end", .number(times[i].1)), ("speaker", .string(l.speaker)),
                                ("src_text", .string(l.src)), ("text", .string(l.text))]))
        }
        return .object(JSONObject([("segments", .array(segs))]))
    }

    public static func jobJSON(episode: String) -> JSONValue {
        .object(JSONObject([("stem", .string(episode)), ("series_id", .string(seriesID)), ("episode", .string(episode)),
                            ("source_audio", .string("audio.wav")), ("src_lang", .string("ja")), ("tgt_lang", .string("en")),
                            ("generator", .string(marker))]))
    }

    public static func diarizationJSON(_ times: [(Double, Double)]) -> JSONValue {
        let speakers = Array(Set(lines.map { $0.speaker })).sorted()
        let segs: [JSONValue] = lines.enumerated().map { i, l in
            .object(JSONObject([("start", .number(times[i].0)), ("end", .number(times[i].1)), ("speaker", .string(l.speaker)),
                                ("conf", .number(0.9))]))
        }
        var table = JSONObject()
        for (k, s) in speakers.enumerated() {
            table[s] = .array(embedding(speaker: k, seed: 7).map { .number($0) })
        }
        return .object(JSONObject([
            ("segments", .array(segs)), ("speaker_embeddings", .object(table)),
            ("embedding", .object(JSONObject([("type", .string("ecapa")), ("dim", .number(embeddingDim)),
                                              ("model", .string("speechbrain/spkrec-ecapa-voxceleb"))]))),
        ]))
    }

    /// True when DIR holds a demo job written earlier (it is reused, not overwritten).
    public static func isDemo(_ dir: String) -> Bool {
        guard let bytes = try? FileIO.readIfExists(dir + "/job.json"),
              let v = try? JSONParser.parse(bytes) else { return false }
        return v.objectValue?["generator"]?.stringValue == marker
    }

    /// Writes the demo job into DIR (created when missing). A previous demo is reused; any other
    /// non-empty directory is refused (73).
    @discardableResult
    public static func write(to dir: String) throws -> Bool {
        if FileIO.isDirectory(dir) {
            if isDemo(dir) { return false }
            if !DirectoryListing.isEmpty(dir) {
                throw DubdeckError(.cannotCreate, "\(Sanitizer.display(dir)): not empty and not a dubdeck demo; refusing to write there")
            }
        } else if FileIO.exists(dir) {
            throw DubdeckError(.cannotCreate, "\(Sanitizer.display(dir)): exists and is not a directory")
        }
        try FileIO.makeDirectories(dir)
        let (audio, times) = try sourceAudio()
        try AudioFile.writeWAV16Atomically(audio, to: dir + "/audio.wav")
        try FileIO.writeAtomically(dir + "/translated.json", JSONWriter.encodePretty(translatedJSON(times)))
        try FileIO.writeAtomically(dir + "/diarization.json", JSONWriter.encodePretty(diarizationJSON(times)))
        // job.json last: it marks a complete demo.
        try FileIO.writeAtomically(dir + "/job.json", JSONWriter.encodePretty(jobJSON(episode: "ep01")))
        return true
    }
}

#if canImport(Glibc)
import Glibc
#endif
