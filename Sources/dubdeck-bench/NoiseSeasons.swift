import DubdeckCore
import Foundation
import TestSupport

/// `dubdeck-bench noise DIR SEASONS [SPEECH|espeak] [CONDITION…]`: stability and shared characters per
/// condition (clean; pink noise at 20, 10 and 5 dB; brown noise and babble at 10 dB), the same seasons
/// in each; the speakers real people (a directory of one directory of utterances per speaker) or
/// espeak-ng's voices.
func noiseSeasons(_ dir: String, seasons: Int, speech: String?, conditions: [(String, String?, Double)]) throws {
    var bench = try NoiseSeasons(dir: dir, speech: speech)
    let spoken = try (0..<seasons).map { _ in try bench.season() }
    for (name, kind, snr) in conditions {
        let (f, labels) = try bench.measure(spoken, noise: kind, snr: snr)
        let heard = labels.compactMap(\.quality)
        let meanQuality = heard.isEmpty ? 0 : heard.reduce(0, +) / Double(heard.count)
        let poor = heard.isEmpty ? 0 : Double(heard.filter { $0 < Matching.poorQuality }.count) / Double(heard.count)
        print("NOISE \(name) stability \(f.stability) shared/season \(f.sharedPerSeason) | same mean \(f.sameMean) min \(f.sameMin) different mean \(f.differentMean) max \(f.differentMax) | quality mean \((meanQuality * 1000).rounded() / 1000) poor \((poor * 1000).rounded() / 1000)")
    }
}
