import DubdeckCore
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Identity in a real mix (SPEC §11.13): seasons spoken by espeak-ng voices, each episode one track
/// with its turns in a bed of noise at a given SNR (pink and brown from sox, babble from other
/// voices), diarization spans that begin and end in the noise, and the labels identified from the
/// audio alone — `CharacterIdentifier.labels(of:fromAudio:)`, the command's own path — then scored
/// as the season simulator scores (stability, characters shared by two real speakers).
struct NoiseSeasons {
    static let rate = 16_000
    /// The speakers: espeak-ng's variants, each at a pitch of its own.
    static let pool: [Voice] = ["m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f4", "Alex", "Annie", "belinda", "max", "klatt", "klatt3"]
        .enumerated().map { i, v in Voice(variant: v, pitch: 25 + (i * 37) % 55, rate: 175) }

    var r = LCG(state: 2813)
    let espeak: EspeakEngine
    let encoder: SpeakerEncoder
    let dir: String
    /// Real speakers' utterances (16 kHz), when given: the speakers are these people, each snippet
    /// 1–3 s cut from one of their utterances; else espeak-ng's voices speak.
    var real: [[[Float]]] = []

    init(dir: String, speech: String?) throws {
        espeak = try EspeakEngine()
        encoder = try SpeakerEncoder()
        self.dir = dir
        if let speech {
            for speaker in DirectoryListing.names(speech).sorted() where FileIO.isDirectory(speech + "/" + speaker) {
                let files = DirectoryListing.names(speech + "/" + speaker).filter { $0.hasSuffix(".flac") || $0.hasSuffix(".wav") }.sorted()
                real.append(try files.map { try Resampler.resample(AudioFile.read(speech + "/" + speaker + "/" + $0, mono: true), to: Self.rate).samples })
            }
        }
    }

    /// A noise bed of `seconds`: sox's pink or brown noise, or babble (six voices at once).
    mutating func noise(_ kind: String, seconds: Double) throws -> [Float] {
        if kind == "babble" {
            var bed = [Float](repeating: 0, count: Int(seconds * Double(Self.rate)))
            for k in 0..<6 {
                var at = Int(r.next() % 4000)
                while at < bed.count {
                    let text = sentence(&r, words, 6, sep: " ")
                    let voice = Voice(variant: ["m6", "f5", "klatt", "klatt2", "m8", "f3"][k], pitch: 40 + 5 * k, rate: 175)
                    let speech = try Resampler.resample(espeak.synthesize(SpeechRequest(text: text, voice: voice, lang: "en", speakerName: "x")), to: Self.rate).mono().samples
                    for (i, x) in speech.enumerated() where at + i < bed.count { bed[at + i] += x }
                    at += speech.count + Int(r.next() % 3000)
                }
            }
            return bed
        }
        let path = dir + "/\(kind).wav"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sox")
        p.arguments = ["-n", "-r", String(Self.rate), "-c", "1", "-b", "16", path, "synth", String(seconds), kind == "pink" ? "pinknoise" : "brownnoise"]
        try p.run()
        p.waitUntilExit()
        return try AudioFile.read(path, mono: true).samples
    }

    static func rms(_ x: ArraySlice<Float>) -> Double {
        x.isEmpty ? 0 : (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
    }

    /// One season's episodes as clean turns: per episode, per present speaker, 2–3 turns of speech.
    struct Turn { var speaker: Int; var samples: [Float] }
    mutating func season() throws -> [[Turn]] {
        var order = Array((real.isEmpty ? Self.pool.count : real.count).range)
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
                    let text = sentence(&r, words, 3 + Int(r.next() % 5), sep: " ")
                    let speech = try espeak.synthesize(SpeechRequest(text: text, voice: Self.pool[s], lang: "en", speakerName: "x")).trimmedSilence()
                    turns.append(Turn(speaker: s, samples: try Resampler.resample(speech, to: Self.rate).mono().samples))
                }
            }
            for i in turns.indices.reversed() { turns.swapAt(i, Int(r.next() % UInt64(i + 1))) }
            episodes.append(turns)
        }
        return episodes
    }

    /// An episode as the pipeline leaves it: the mixed track, its diarization spans (0.25 s of the bed
    /// on either side of each turn) and its lines; the labels identified from the audio.
    func episode(_ turns: [Turn], noise bed: [Float]?, snr: Double, index: Int) throws -> [SeasonSimulator.Label] {
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
        let (labels, _, _, _) = try CharacterIdentifier.labels(of: loaded, encoder: { [encoder] in encoder }, fromAudio: true)
        let speech = CharacterIdentifier.speechPerLabel(loaded)
        return labels.map { name, e in
            SeasonSimulator.Label(name: name, embedding: e, speaker: Int(name.dropFirst(8)) ?? -1,
                                  utterances: speech[name]?.count ?? 0, seconds: speech[name]?.seconds ?? 0)
        }
    }
}

/// `dubdeck-bench noise DIR SEASONS [SPEECH|espeak] [CONDITION…]`: stability and shared characters per
/// condition (clean; pink noise at 20, 10 and 5 dB; brown noise and babble at 10 dB), the same seasons
/// in each; the speakers real people (a directory of one directory of utterances per speaker) or
/// espeak-ng's voices.
func noiseSeasons(_ dir: String, seasons: Int, speech: String?, conditions: [(String, String?, Double)]) throws {
    var bench = try NoiseSeasons(dir: dir, speech: speech)
    let spoken = try (0..<seasons).map { _ in try bench.season() }
    var beds: [String: [Float]] = [:]
    for kind in Set(conditions.compactMap(\.1)) { beds[kind] = try bench.noise(kind, seconds: 300) }
    for (name, kind, snr) in conditions {
        var all: [[[SeasonSimulator.Label]]] = []
        var index = 0
        for season in spoken {
            all.append(try season.map { turns in
                index += 1
                return try bench.episode(turns, noise: kind.flatMap { beds[$0] }, snr: snr, index: index)
            })
        }
        let f = try SeasonSimulator.measure(all, dim: SpeakerEncoder.dim, type: SpeakerEncoder.type, identify: { store, labels, series, episode in
            let r = store.identify(evidence: labels.map { LabelEvidence(label: $0.name, embedding: $0.embedding, utterances: $0.utterances, seconds: $0.seconds) },
                                   series: series, episode: episode)
            return Dictionary(r.map { ($0.label, $0.characterID) }, uniquingKeysWith: { a, _ in a })
        })
        print("NOISE \(name) stability \(f.stability) shared/season \(f.sharedPerSeason) | same mean \(f.sameMean) min \(f.sameMin) different mean \(f.differentMean) max \(f.differentMax)")
    }
}

extension Int {
    var range: Range<Int> { 0..<self }
}
