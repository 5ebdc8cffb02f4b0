import DubdeckCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Identity in a real mix (SPEC §11.13): seasons spoken by espeak-ng voices, each episode one track
/// with its turns in a bed of noise at a given SNR (pink and brown from sox, babble from other
/// voices), diarization spans that begin and end in the noise, and the labels identified from the
/// audio alone — `CharacterIdentifier.labels(of:fromAudio:)`, the command's own path — then scored
/// as the season simulator scores (stability, characters shared by two real speakers).
public struct NoiseSeasons {
    public static let rate = 16_000
    /// The speakers: espeak-ng's variants, each at a pitch of its own.
    public static let allVoices: [Voice] = ["m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f4", "Alex", "Annie", "belinda", "max", "klatt", "klatt3"]
        .enumerated().map { i, v in Voice(variant: v, pitch: 25 + (i * 37) % 55, rate: 175) }

    /// The espeak-ng voices this bench's speakers are drawn from.
    public var pool = NoiseSeasons.allVoices
    /// Five voices the encoder keeps apart (no two closer than 0.74 cosine, each sentence of one voice
    /// ~0.9 to its other): the test measures the noise, not espeak-ng's look-alike variants.
    public static let distinctVoices = allVoices.filter { ["m1", "f1", "f2", "Annie", "klatt3"].contains($0.variant) }
    var r = LCG(state: 2813)
    let encoder: SpeakerEncoder
    let dir: String
    /// Real speakers' utterances (16 kHz), when given: the speakers are these people, each snippet
    /// 1–3 s cut from one of their utterances; else espeak-ng's voices speak.
    var real: [[[Float]]] = []

    public init(dir: String, speech: String?) throws {
        encoder = try SpeakerEncoder()
        self.dir = dir
        if let speech {
            for speaker in DirectoryListing.names(speech).sorted() where FileIO.isDirectory(speech + "/" + speaker) {
                let files = DirectoryListing.names(speech + "/" + speaker).filter { $0.hasSuffix(".flac") || $0.hasSuffix(".wav") }.sorted()
                real.append(try files.map { try Resampler.resample(AudioFile.read(speech + "/" + speaker + "/" + $0, mono: true), to: Self.rate).samples })
            }
        }
    }

    /// `text` said by `voice`, 16 kHz mono: espeak-ng's own program, a process a sentence. In process,
    /// the library keeps state from one call to the next (its Klatt voices breathe with the C library's
    /// `rand()`, which everything in the process shares): the same season came out different after
    /// other tests had spoken.
    func speak(_ text: String, _ voice: Voice) throws -> AudioBuffer {
        let path = dir + "/say.wav"
        unlink(path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/espeak-ng")
        p.arguments = ["-v", "en+" + voice.variant, "-p", String(voice.pitch), "-s", String(voice.rate), "-w", path, "--", text]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw DubdeckError(.ioError, "espeak-ng failed (\(p.terminationStatus)) on \(text)") }
        return try Resampler.resample(AudioFile.read(path, mono: true), to: Self.rate)
    }

    /// A noise bed of `seconds`: sox's pink or brown noise, or babble (six voices at once).
    public mutating func noise(_ kind: String, seconds: Double) throws -> [Float] {
        if kind == "babble" {
            var bed = [Float](repeating: 0, count: Int(seconds * Double(Self.rate)))
            for k in 0..<6 {
                var at = Int(r.next() % 4000)
                while at < bed.count {
                    let text = Self.sentence(&r, 6)
                    let voice = Voice(variant: ["m6", "f5", "klatt", "klatt2", "m8", "f3"][k], pitch: 40 + 5 * k, rate: 175)
                    let speech = try speak(text, voice).samples
                    for (i, x) in speech.enumerated() where at + i < bed.count { bed[at + i] += x }
                    at += speech.count + Int(r.next() % 3000)
                }
            }
            return bed
        }
        let path = dir + "/\(kind).wav"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sox")
        p.arguments = ["-R", "-n", "-r", String(Self.rate), "-c", "1", "-b", "16", path, "synth", String(seconds), kind == "pink" ? "pinknoise" : "brownnoise"]
        try p.run()
        p.waitUntilExit()
        return try AudioFile.read(path, mono: true).samples
    }

    static func rms(_ x: ArraySlice<Float>) -> Double {
        x.isEmpty ? 0 : (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
    }

    /// One season's episodes as clean turns: per episode, per present speaker, 2–3 turns of speech.
    public struct Turn { public var speaker: Int; public var samples: [Float] }
    public mutating func season() throws -> [[Turn]] {
        var order = Array(0..<(real.isEmpty ? pool.count : real.count))
        for i in order.indices.reversed() { order.swapAt(i, Int(r.next() % UInt64(i + 1))) }
        let cast = Array(order.prefix(real.isEmpty ? 4 + Int(r.next() % 2) : max(2, real.count - Int(r.next() % 2))))
        var episodes: [[Turn]] = []
        for _ in 0..<10 {
            var present = cast.filter { _ in r.next() % 100 < 85 }
            if present.count < 2 { present = Array(cast.prefix(2)) }
            var turns: [Turn] = []
            for s in present {
                for _ in 0..<(2 + Int(r.next() % 2)) {
                    if !real.isEmpty {
                        let utterances = real[s], u = utterances[Int(r.next() % UInt64(utterances.count))]
                        let length = min(u.count, Int(Double(Self.rate) * (1 + Double(r.next() % 2001) / 1000)))
                        let at = Int(r.next() % UInt64(max(1, u.count - length)))
                        turns.append(Turn(speaker: s, samples: Array(u[at..<(at + length)])))
                        continue
                    }
                    let text = Self.sentence(&r, 3 + Int(r.next() % 5))
                    turns.append(Turn(speaker: s, samples: try Resampler.resample(speak(text, pool[s]).trimmedSilence(), to: Self.rate).samples))
                }
            }
            for i in turns.indices.reversed() { turns.swapAt(i, Int(r.next() % UInt64(i + 1))) }
            episodes.append(turns)
        }
        return episodes
    }

    /// An episode as the pipeline leaves it: the mixed track, its diarization spans (0.25 s of the bed
    /// on either side of each turn) and its lines; the labels identified from the audio.
    public func episode(_ turns: [Turn], noise bed: [Float]?, snr: Double, index: Int) throws -> [SeasonSimulator.Label] {
        let gap = Int(0.6 * Double(Self.rate)), margin = 0.25
        var track: [Float] = [], spans: [(Int, Double, Double)] = []
        var speechPower = 0.0, speechCount = 0
        for t in turns {
            track += [Float](repeating: 0, count: gap)
            let start = Double(track.count) / Double(Self.rate)
            track += t.samples
            spans.append((t.speaker, start - margin, Double(track.count) / Double(Self.rate) + margin))
            speechPower += t.samples.reduce(0.0) { $0 + Double($1) * Double($1) }
            speechCount += t.samples.count
        }
        track += [Float](repeating: 0, count: gap)
        if let bed {
            let speechRMS = (speechPower / Double(max(1, speechCount))).squareRoot()
            let offset = Int(UInt64(index * 7919) % UInt64(max(1, bed.count - track.count)))
            let noise = bed[offset..<min(bed.count, offset + track.count)]
            let gain = Float(speechRMS / max(1e-9, Self.rms(noise)) / pow(10, snr / 20))
            for (i, x) in noise.enumerated() { track[i] += gain * x }
        }
        let peak = track.map { abs($0) }.max() ?? 1
        if peak > 0.98 { for i in track.indices { track[i] *= 0.98 / peak } }
        let job = dir + "/ep\(index)"
        try FileIO.makeDirectories(job)
        unlink(job + "/audio.wav")
        try AudioFile.writeWAV16(AudioBuffer(samples: track, rate: Self.rate), to: job + "/audio.wav")
        let label = { (s: Int) in "SPEAKER_" + (s < 10 ? "0" : "") + String(s) }
        let segs = spans.map { s, a, b in JSONValue.object(JSONObject([("start", .number(a)), ("end", .number(b)), ("speaker", .string(label(s))),
                                                                      ("src_text", .string("x")), ("text", .string("x"))])) }
        try FileIO.writeAtomically(job + "/translated.json", JSONWriter.encode(.object(JSONObject([("segments", .array(segs))]))))
        let diarization = spans.map { s, a, b in JSONValue.object(JSONObject([("start", .number(a)), ("end", .number(b)), ("speaker", .string(label(s)))])) }
        try FileIO.writeAtomically(job + "/diarization.json", JSONWriter.encode(.object(JSONObject([("segments", .array(diarization))]))))
        let loaded = try JobLoader.load(job)
        let voices = try CharacterIdentifier.labels(of: loaded, encoder: { [encoder] in encoder }, fromAudio: true)
        return voices.labels.map { name, e in
            let heard = voices.heard[name] ?? LabelHearing()
            return SeasonSimulator.Label(name: name, embedding: e, speaker: Int(name.dropFirst(8)) ?? -1,
                                         utterances: heard.utterances, seconds: heard.seconds, quality: heard.quality)
        }
    }

    static let words = ["the", "ship", "sails", "at", "dawn", "we", "must", "hurry", "captain", "said", "no", "way", "I", "will",
                        "never", "give", "up", "my", "dream", "treasure", "island", "friends", "wait", "for", "me", "tonight"]
    static func sentence(_ r: inout LCG, _ n: Int) -> String { (0..<n).map { _ in r.pick(words) }.joined(separator: " ") }

    /// Every episode of `seasons` (made by `season()`) identified from its mixed audio at `snr` over
    /// `kind` of noise (nil: clean), then scored as the season simulator scores.
    public mutating func measure(_ seasons: [[[Turn]]], noise kind: String?, snr: Double) throws -> (figures: SeasonSimulator.Figures, labels: [SeasonSimulator.Label]) {
        let bed = try kind.map { try noise($0, seconds: 300) }
        var all: [[[SeasonSimulator.Label]]] = []
        var index = 0
        for season in seasons {
            all.append(try season.map { turns in
                index += 1
                return try episode(turns, noise: bed, snr: snr, index: index)
            })
        }
        let f = try SeasonSimulator.measure(all, dim: SpeakerEncoder.dim, type: SpeakerEncoder.type, identify: { store, labels, series, episode in
            let r = store.identify(evidence: labels.map { LabelEvidence(label: $0.name, embedding: $0.embedding, utterances: $0.utterances, seconds: $0.seconds, quality: $0.quality) },
                                   series: series, episode: episode)
            return Dictionary(r.map { ($0.label, $0.characterID) }, uniquingKeysWith: { a, _ in a })
        })
        return (f, Array(all.joined().joined()))
    }
}

/// A repeatable stream of numbers (the same seasons on every run).
public struct LCG {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    public mutating func pick<T>(_ xs: [T]) -> T { xs[Int(next() % UInt64(xs.count))] }
}
