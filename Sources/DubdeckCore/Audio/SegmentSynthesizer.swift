import CInterrupt
#if canImport(Glibc)
import Glibc
#endif

/// Regenerates the speech of one segment, fitted to its slot: text → engine → fit (speed up to
/// `maxSpeedup`, else overflow; pad at the end) → resample → a new take, rotated in durably, and
/// `last_preview` + `audio_status` + a `synth` history record in the store.
public final class SegmentSynthesizer {
    public let store: TranscriptStore
    public let engine: SpeechEngine
    public var maxSpeedup: Double
    /// Voices by character ID (from the character store); absent: a voice from the diarization label.
    public var characterVoices: [String: Voice] = [:]
    /// Reference recordings by character ID, for voice-cloning engines.
    public var referenceWavs: [String: String] = [:]
    lazy var outputRate: Int = {
        if let src = store.job.sourceAudioPath, let info = try? AudioFile.info(src) { return info.rate }
        return 48_000
    }()

    public static let takesKept = Takes.kept

    public init(store: TranscriptStore, engine: SpeechEngine, maxSpeedup: Double = 1.30) {
        self.store = store
        self.engine = engine
        self.maxSpeedup = max(1, maxSpeedup)
    }

    public struct Result: Equatable {
        public var segment: Int
        public var status: String
        public var durationS: Double
        public var speechS: Double
        public var stretch: Double
        public var overflowS: Double
        public var wav: String
        /// The immutable take file's name (`NNNN.take-<seq>.wav`).
        public var take: String = ""
    }

    public var previewDirectory: String { store.job.directory + "/segments_preview" }

    /// `segments_preview/0001.wav`: the current take, for the pipeline.
    public func currentPath(_ n: Int) -> String { previewDirectory + "/" + Takes.currentName(n) }

    public func voice(for seg: Segment) -> Voice {
        Voice.forSegment(seg, job: store.job, characterVoices: characterVoices)
    }

    /// The fitted take, in memory (no file written): what `synthesize` writes.
    public func render(_ n: Int) throws -> (AudioBuffer, Result, Voice, String) {
        let seg = store.segment(n)  // with the reviewer's speaker label, if any
        if seg.duration > Bounds.maxSynthSlot {
            throw DubdeckError(.dataError, "\(Sanitizer.display(store.job.translatedPath)): segment \(n): a \(JSONValue.formatNumber(seg.duration)) s slot is longer than \(Int(Bounds.maxSynthSlot)) s; not synthesized")
        }
        let text = store.state(n).text  // a locked line's text is its store text
        guard text.contains(where: { !$0.isWhitespace }) else {
            throw DubdeckError(.dataError, "segment \(n) has no text to speak")
        }
        let voice = voice(for: seg)
        let who = store.job.characterID(of: seg) ?? seg.speaker
        var request = SpeechRequest(text: text, voice: voice, lang: store.job.info.tgtLang,
                                    referenceWav: store.job.characterID(of: seg).flatMap { referenceWavs[$0] }, speakerName: who)
        let natural = try engine.synthesize(request).trimmedSilence()
        guard natural.frames > 0 else { throw DubdeckError(.ioError, "the engine produced no speech for segment \(n)") }
        let slot = seg.duration
        let naturalS = natural.duration
        // An engine's audio far longer than its slot is refused before it costs more memory.
        if naturalS > 4 * slot + 30 {
            throw DubdeckError(.dataError, "segment \(n): the engine's audio is \(Int(naturalS)) s for a \(JSONValue.formatNumber(slot)) s slot (more than 4 × slot + 30 s)")
        }
        var speech = natural
        if naturalS > slot + 0.001, slot > 0 {
            let target = min(naturalS / slot, maxSpeedup)
            if engine.canChangeRate {
                // espeak: speak faster, once (2% more than needed, never past the cap, so the rate
                // lands inside the slot without a stretch); a small remainder is stretched within the limit.
                request.rateFactor = min(target * 1.02, maxSpeedup)
                speech = try engine.synthesize(request).trimmedSilence()
                let achieved = naturalS / max(speech.duration, 1e-6)
                if speech.duration > slot + 0.001, achieved < target {
                    speech = TimeStretch.stretch(speech, speedup: min(speech.duration / slot, target / achieved)).trimmedSilence()
                }
            } else {
                speech = TimeStretch.stretch(natural, speedup: target).trimmedSilence()
            }
            // --max-speedup is a hard cap: espeak's rate is not linear and trimming shortens a little
            // more, so whatever went past it is slowed back (at most twice, each a small correction).
            for _ in 0..<2 {
                let final = naturalS / max(speech.duration, 1e-6)
                if final <= maxSpeedup * 1.001 || speech.frames == 0 { break }
                speech = TimeStretch.stretch(speech, speedup: maxSpeedup / final).trimmedSilence()
            }
        }
        var out = try Resampler.resample(speech, to: outputRate)
        let speechS = out.duration
        let slotFrames = Int((slot * Double(outputRate)).rounded())
        let overflow = max(0, speechS - slot)
        out = out.padded(toFrames: slotFrames)
        let result = Result(segment: n, status: overflow > 0.001 ? "overflow" : "fresh", durationS: out.duration, speechS: speechS,
                            stretch: naturalS / max(speechS, 1e-9), overflowS: overflow > 0.001 ? overflow : 0,
                            wav: Takes.directoryName + "/" + Takes.currentName(n))
        return (out, result, voice, text)
    }

    /// Synthesizes segment N as a new immutable take and makes it the current one, in one
    /// transaction (SPEC §10.2–§10.3): the take file is installed under the job lock with the seq of
    /// its `synth` record, the store then names it, and `NNNN.wav` is re-pointed to it.
    @discardableResult
    public func synthesize(_ n: Int, batch: String? = nil) throws -> Result {
        guard n >= 1, n <= store.job.segments.count else {
            throw DubdeckError(.usage, "no segment \(n) (the job has \(store.job.segments.count))")
        }
        let (audio, rendered, voice, text): (AudioBuffer, Result, Voice, String)
        do {
            (audio, rendered, voice, text) = try render(n)
        } catch let e as DubdeckError {
            // An engine that failed is recorded on the line; bad input changes no file.
            if e.status == .ioError {
                _ = try? store.commit([SegmentChange(segment: n, action: "synth", fields: ["last_preview"]) { $0["audio_status"] = .string("failed") }], batch: batch)
            }
            throw e
        }
        var result = rendered
        try FileIO.ensureDirectory(previewDirectory)
        try FileIO.refuseIfNotRegular(currentPath(n))  // a planted link or FIFO: refused before anything is written
        let tmp = FileIO.temporaryName(for: previewDirectory + "/" + Takes.padded(n) + ".take")
        do {
            try AudioFile.writeWAV16(audio, to: tmp)
        } catch {
            unlink(tmp)
            throw error
        }
        defer { unlink(tmp) }  // renamed away on success; gone in every other case
        var takeSeq = 0
        let job = store.job.directory
        let change = SegmentChange(segment: n, action: "synth", fields: ["last_preview"]) { e in
            let preview = JSONObject([
                ("wav", .string(result.wav)), ("take", .string(Takes.directoryName + "/" + Takes.takeName(n, seq: takeSeq))),
                ("duration_s", .number(self.round3(result.durationS))),
                ("speech_s", .number(self.round3(result.speechS))), ("stretch", .number(self.round3(result.stretch))),
                ("overflow_s", .number(self.round3(result.overflowS))), ("engine", .string(self.engine.name)), ("voice", voice.json),
                ("text_sha256", .string(SHA256.hex(Array(text.utf8)))), ("created_at", .string(Clock.isoNow())),
            ])
            e["last_preview"] = .object(preview)
            e["audio_status"] = .string(result.status)
            // The text may have been edited while this take was being made: then it is stale at once.
            if let current = e["tgt_text"]?.stringValue { SegmentChange.markTakeAgainstText(&e, current) }
        }
        let tmpSlot = dd_cleanup_register(tmp, 0)
        var takeSlot: Int32 = -1
        defer {
            dd_cleanup_unregister(tmpSlot)
            dd_cleanup_unregister(takeSlot)
        }
        let outcome = try store.commit([change], batch: batch) { seq in
            takeSeq = seq
            if Takes.isLegacy(self.store.entry(n)) { try Takes.convertLegacy(job: job, n) }
            let take = self.previewDirectory + "/" + Takes.takeName(n, seq: seq)
            try FileIO.refuseIfNotRegular(take)
            takeSlot = dd_cleanup_register(take, 0)  // not yet named by the store: Ctrl-C removes it
            if rename(tmp, take) != 0 {
                throw DubdeckError.io(Sanitizer.display(take), "cannot install the new take: \(errnoText())")
            }
            try FileIO.fsyncDirectory(self.previewDirectory)
            return { unlink(take) }
        }
        lastWarnings = outcome.warnings
        Takes.prune(job: job, n, keepingCurrent: Takes.current(of: store.entry(n), n))
        result.take = Takes.takeName(n, seq: takeSeq)
        return result
    }

    /// Repairs the last commit made on the way (shown by the CLI and the desk).
    public var lastWarnings: [String] = []

    func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    /// Which lines a batch synthesizes: approved (or all) lines, skipping locked lines whose take is fresh.
    public static func batchSelection(_ store: TranscriptStore, approvedOnly: Bool) -> [Int] {
        store.job.segments.compactMap { seg in
            let st = store.state(seg.number)
            if approvedOnly && !st.approved { return nil }
            if st.locked && st.audioStatus == "fresh" { return nil }
            return seg.number
        }
    }

    public struct BatchSummary: Equatable {
        public var done = 0, fresh = 0, overflow = 0, failed = 0, cancelled = false
        public var failures: [String] = []
    }

    /// Synthesizes each line in turn; a failure is counted and the batch goes on; `cancelled()` is
    /// checked between lines (every finished take is already durable).
    public func batch(_ numbers: [Int], cancelled: () -> Bool = { false },
                      progress: (Int, Int, Int) -> Void = { _, _, _ in }) -> BatchSummary {
        var summary = BatchSummary()
        let batchID = "synth-\(Clock.isoNow())-\(getpid())"  // one batch: undone as one
        for (i, n) in numbers.enumerated() {
            if cancelled() { summary.cancelled = true; break }
            progress(i, numbers.count, n)
            do {
                let r = try synthesize(n, batch: batchID)
                if r.status == "overflow" { summary.overflow += 1 } else { summary.fresh += 1 }
            } catch let e as DubdeckError where e.status == .interrupted {
                summary.cancelled = true  // Ctrl-C during this line: it was not made, nothing failed
                break
            } catch let e as DubdeckError {
                summary.failed += 1
                summary.failures.append("segment \(n): \(e.message)")
            } catch {
                summary.failed += 1
            }
            summary.done += 1
        }
        progress(summary.done, numbers.count, 0)
        return summary
    }
}
