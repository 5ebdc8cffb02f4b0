import Synchronization
import CInterrupt
import Dispatch
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

    public struct Result: Equatable, Sendable {
        public var segment: Int
        public var status: String
        public var durationS: Double
        public var speechS: Double
        public var stretch: Double
        public var overflowS: Double
        public var wav: String
        /// Samples the engine's audio held at full scale (hard clipping it came with; 0: none).
        /// Turned down to the headroom like any take, but the distortion stays: said, never hidden.
        public var clippedSamples = 0
        /// The immutable take file's name (`NNNN.take-<seq>.wav`).
        public var take: String = ""
    }

    public var previewDirectory: String { store.job.directory + "/segments_preview" }

    /// `segments_preview/0001.wav`: the current take, for the pipeline.
    public func currentPath(_ n: Int) -> String { previewDirectory + "/" + Takes.currentName(n) }

    public func voice(for seg: Segment) -> Voice {
        Voice.forSegment(seg, job: store.job, characterVoices: characterVoices)
    }

    /// What rendering line n needs, read from the store (on the thread that owns it): rendering
    /// itself then touches no store and may run on another core.
    struct RenderInput: Sendable {
        var n: Int
        var slot: Double
        var text: String
        var voice: Voice
        var request: SpeechRequest
        /// The spoken length predicted for this text and voice (the desk's, while the reviewer typed).
        var predicted: Double?
    }

    func prepare(_ n: Int) throws -> RenderInput {
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
        request.maxSeconds = SpeechRequest.longestAudio(slot: seg.duration)
        _ = outputRate  // decided here, on the store's thread
        return RenderInput(n: n, slot: seg.duration, text: text, voice: voice, request: request,
                           predicted: store.prediction(n, text: text, voice: voice))
    }

    /// Resampling overshoots a little past an engine's peak (espeak speaks at −0.01 dBFS): every take
    /// keeps at least this much below full scale, so nothing is clipped when it is written as 16 bits.
    public static let headroomDB = 1.0

    /// The fitted take, in memory (no file written): what `synthesize` writes.
    public func render(_ n: Int) throws -> (AudioBuffer, Result, Voice, String) {
        let input = try prepare(n)
        let (audio, result) = try render(input, rate: outputRate)
        return (audio, result, input.voice, input.text)
    }

    /// Engine, fit, resample, pad: no store access (thread-safe as the engine is).
    func render(_ input: RenderInput, rate outputRate: Int) throws -> (AudioBuffer, Result) {
        let n = input.n
        var request = input.request
        let slot = input.slot
        // One engine call a line (SPEC §11.12, P3): a line predicted too long for its slot is asked
        // for at the rate the prediction needs (2% more, never past the cap), not spoken twice.
        var asked = 1.0
        if engine.canChangeRate, let p = input.predicted, slot > 0, p > slot + 0.001 {
            asked = min(p / slot * 1.02, maxSpeedup)
            request.rateFactor = asked
        }
        let spoken = try engine.synthesize(request)
        let clipped = spoken.clippedSamples  // as the engine gave it, its channels before a mix-down too
        let first = spoken.trimmedSilence()
        guard first.frames > 0 else { throw DubdeckError(.ioError, "the engine produced no speech for segment \(n)") }
        // An engine's audio far longer than its slot is refused before it costs more memory.
        if first.duration > SpeechRequest.longestAudio(slot: slot) {
            throw DubdeckError(.dataError, "segment \(n): the engine's audio is \(Int(first.duration)) s for a \(JSONValue.formatNumber(slot)) s slot (more than 4 × slot + 30 s)")
        }
        // The natural length: measured; asked faster, the prediction, within what the take allows (as
        // spoken, when the engine ignored the rate; the take times the rate, when it followed it).
        let naturalS = asked > 1 ? min(max(input.predicted ?? first.duration, first.duration), first.duration * asked) : first.duration
        var speech = first
        if speech.duration > slot + 0.001, slot > 0 {
            if asked == 1, engine.retakesFaster {
                // No prediction, and a second synthesis is cheap (espeak-ng in process): faster, once.
                let target = min(naturalS / slot, maxSpeedup)
                request.rateFactor = min(target * 1.02, maxSpeedup)
                speech = try engine.synthesize(request).trimmedSilence()
                let achieved = naturalS / max(speech.duration, 1e-6)
                if speech.duration > slot + 0.001, achieved < target {
                    speech = try TimeStretch.stretch(speech, speedup: min(speech.duration / slot, target / achieved)).trimmedSilence()
                }
            } else {
                // What is still too long is stretched, within the cap counted from the natural length.
                let room = maxSpeedup * speech.duration / naturalS
                if room > 1.0001 { speech = try TimeStretch.stretch(speech, speedup: min(speech.duration / slot, room)).trimmedSilence() }
            }
            // --max-speedup is a hard cap: espeak's rate is not linear and trimming shortens a little
            // more, so whatever went past it is slowed back (at most twice, each a small correction).
            for _ in 0..<2 {
                let final = naturalS / max(speech.duration, 1e-6)
                if final <= maxSpeedup * 1.001 || speech.frames == 0 { break }
                speech = try TimeStretch.stretch(speech, speedup: maxSpeedup / final).trimmedSilence()
            }
        }
        var out = try Resampler.resample(speech, to: outputRate).withHeadroom(Self.headroomDB)
        let speechS = out.duration
        let slotFrames = Int((slot * Double(outputRate)).rounded())
        let overflow = max(0, speechS - slot)
        out = out.padded(toFrames: slotFrames)
        var result = Result(segment: n, status: (overflow > 0.001 ? TakeStatus.overflow : .fresh).rawValue, durationS: out.duration, speechS: speechS,
                            stretch: naturalS / max(speechS, 1e-9), overflowS: overflow > 0.001 ? overflow : 0,
                            wav: Takes.directoryName + "/" + Takes.currentName(n))
        result.clippedSamples = clipped
        return (out, result)
    }

    /// A rendered line waiting to be installed: its take already in a temporary file.
    struct Rendered: Sendable {
        // The audio is written out; only its temporary's name travels.
        var input: RenderInput
        var result: Result
        /// The temporary's name inside `dir` (segments_preview, opened once for the line or the batch).
        var tmp: String
        var tmpSlot: Int32
        var dir: DirectoryHandle
    }

    /// Renders and writes the take to a temporary file next to the takes (registered for Ctrl-C).
    func renderToFile(_ input: RenderInput, rate: Int, in dir: DirectoryHandle) throws -> Rendered {
        let (audio, result) = try render(input, rate: rate)
        return try writeTemporary(input, audio, result, in: dir)
    }

    func writeTemporary(_ input: RenderInput, _ audio: AudioBuffer, _ result: Result, in dir: DirectoryHandle) throws -> Rendered {
        let tmp = FileIO.temporaryName(for: Takes.padded(input.n) + ".take")
        let slot = dd_cleanup_register(dir.path + "/" + tmp, 0)
        do {
            let fd = try dir.createExclusive(tmp, mode: 0o644)
            defer { close(fd) }
            try AudioFile.writeWAV16(audio, fd: fd, shown: dir.shown(tmp))
        } catch {
            dir.unlink(tmp)
            dd_cleanup_unregister(slot)
            throw error
        }
        return Rendered(input: input, result: result, tmp: tmp, tmpSlot: slot, dir: dir)
    }

    /// segments_preview, opened (and made) once; NNNN.wav there must not be a link, FIFO or device.
    func previewHandle(refusingCurrentOf numbers: [Int] = []) throws -> DirectoryHandle {
        guard let dir = try Takes.open(job: store.job.handle, create: true) else {
            throw DubdeckError.io(Sanitizer.display(previewDirectory), "cannot make the directory")
        }
        for n in numbers { try dir.refuseIfNotRegular(Takes.currentName(n)) }
        return dir
    }

    /// Synthesizes segment N as a new immutable take and makes it the current one, in one
    /// transaction (SPEC §10.2–§10.3): the take file is installed under the job lock with the seq of
    /// its `synth` record, the store then names it, and `NNNN.wav` is re-pointed to it.
    @discardableResult
    public func synthesize(_ n: Int, batch: String? = nil) throws -> Result {
        guard n >= 1, n <= store.job.segments.count else {
            throw DubdeckError(.usage, "no segment \(n) (the job has \(store.job.segments.count))")
        }
        let input = try prepare(n)
        let (audio, result): (AudioBuffer, Result)
        do {
            (audio, result) = try render(input, rate: outputRate)
        } catch let e as DubdeckError {
            recordFailure(e, n, batch: batch)
            throw e
        }
        // A planted link or FIFO: refused before anything is written.
        let dir = try previewHandle(refusingCurrentOf: [n])
        return try install(try writeTemporary(input, audio, result, in: dir), batch: batch)
    }

    /// An engine that failed is recorded on the line; bad input changes no file.
    func recordFailure(_ e: DubdeckError, _ n: Int, batch: String?) {
        if e.status == .ioError {
            _ = try? store.commit([SegmentChange(segment: n, action: "synth", fields: ["last_preview"]) { $0["audio_status"] = .string(TakeStatus.failed.rawValue) }], batch: batch)
        }
    }

    /// The commit of a rendered take: the record, the take under its seq, the store, `NNNN.wav`.
    func install(_ rendered: Rendered, batch: String?) throws -> Result {
        let n = rendered.input.n, voice = rendered.input.voice, text = rendered.input.text, tmp = rendered.tmp, dir = rendered.dir
        var result = rendered.result
        defer {
            dir.unlink(tmp)  // renamed away on success; gone in every other case
            dd_cleanup_unregister(rendered.tmpSlot)
        }
        try dir.refuseIfNotRegular(Takes.currentName(n))
        var takeSeq = 0
        let change = SegmentChange(segment: n, action: "synth", fields: ["last_preview"]) { e in
            var preview = JSONObject([
                ("wav", .string(result.wav)), ("take", .string(Takes.directoryName + "/" + Takes.takeName(n, seq: takeSeq))),
                ("duration_s", .number(self.round3(result.durationS))),
                ("speech_s", .number(self.round3(result.speechS))), ("stretch", .number(self.round3(result.stretch))),
                ("overflow_s", .number(self.round3(result.overflowS))), ("engine", .string(self.engine.name)), ("voice", voice.json),
                ("text_sha256", .string(SHA256.hex(Array(text.utf8)))), ("created_at", .string(Clock.isoNow())),
            ])
            if result.clippedSamples > 0 { preview["clipped_samples"] = .number(Double(result.clippedSamples)) }
            e["last_preview"] = .object(preview)
            e["audio_status"] = .string(result.status)
            // The text may have been edited while this take was being made: then it is stale at once.
            if let current = e["tgt_text"]?.stringValue { SegmentChange.markTakeAgainstText(&e, current) }
        }
        var takeSlot: Int32 = -1
        defer { dd_cleanup_unregister(takeSlot) }
        let outcome = try store.commit([change], batch: batch) { seq in
            takeSeq = seq
            if Takes.isLegacy(self.store.entry(n)) { try Takes.convertLegacy(dir, n) }
            let take = Takes.takeName(n, seq: seq)
            try dir.refuseIfNotRegular(take)
            takeSlot = dd_cleanup_register(dir.path + "/" + take, 0)  // not yet named by the store: Ctrl-C removes it
            try dir.rename(tmp, take)
            try dir.sync()
            return { dir.unlink(take) }
        }
        lastWarnings = outcome.warnings
        Takes.prune(dir, n, keepingCurrent: Takes.current(of: store.entry(n), n))
        result.take = Takes.takeName(n, seq: takeSeq)
        return result
    }

    /// Repairs the last commit made on the way (shown by the CLI and the desk).
    public var lastWarnings: [String] = []

    func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    /// Which lines a batch synthesizes: approved (or all) lines, skipping locked lines whose take is fresh.
    /// The lines a batch synthesizes (SPEC §11.9): those without a take that matches their text and
    /// voice (fresh or overflow) and without a take a reviewer chose; `force`: every one.
    public static func batchSelection(_ store: TranscriptStore, approvedOnly: Bool, force: Bool = false) -> [Int] {
        store.job.segments.compactMap { seg in
            let st = store.state(seg.number)
            if approvedOnly && !st.approved { return nil }
            if force { return seg.number }
            if st.takeStatus == .fresh || st.takeStatus == .overflow || st.preview?.chosenBy != nil { return nil }
            return seg.number
        }
    }

    public struct BatchSummary: Equatable, Sendable {
        public var done = 0, fresh = 0, overflow = 0, failed = 0, cancelled = false
        /// Lines whose engine audio came clipped (their takes made, the clipping said).
        public var clipped: [Int] = []
        public var failures: [String] = []
    }

    /// Synthesizes the lines on every core: workers render takes ahead (engine, fit, resample, WAV
    /// into a temporary file) while this thread installs them in order, one transaction per line
    /// under the job lock (commits stay serialized). A failure is counted and the batch goes on;
    /// `cancelled()` is checked between lines (every installed take is already durable; rendered
    /// ones not yet installed are removed).
    public func batch(_ numbers: [Int], cancelled: () -> Bool = { false },
                      progress: (Int, Int, Int) -> Void = { _, _, _ in }) -> BatchSummary {
        var summary = BatchSummary()
        let batchID = "synth-\(Clock.isoNow())-\(getpid())"  // one batch: undone as one
        // What each line needs is read from the store here, on its thread.
        let inputs: [Swift.Result<RenderInput, Error>] = numbers.map { n in Swift.Result { try prepare(n) } }
        var opened: DirectoryHandle?
        if inputs.contains(where: { (try? $0.get()) != nil }) {
            do {
                opened = try previewHandle()
            } catch {
                return batchFailedAtOnce(numbers, error, progress: progress)
            }
        }
        let dir = opened  // set whenever a line is to be rendered
        // One worker a core; more for an engine that waits on a server (it says how many it takes).
        let workers = max(max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))), engine.concurrentRequests)
        let shared = BatchPipeline(count: numbers.count, window: 2 * workers + 2)
        // Sendable proof: workers call only render/writeTemporary, which read immutable settings
        // (engine, maxSpeedup, the output rate fixed above) and no store; every engine is safe to
        // call from several threads (espeak under its static lock, a command per call, a server
        // under its own lock).
        let me = UncheckedSendable(self), rate = outputRate, work = UncheckedSendable(inputs)
        // Threads of their own: the global queues would add one a second while these wait on a server.
        for _ in 0..<min(workers, max(1, numbers.count)) {
            Threads.detach {
                while let i = shared.claim() {
                    let r = work.value[i].flatMap { input in Swift.Result { try me.value.renderToFile(input, rate: rate, in: dir!) } }
                    shared.finish(i, r)
                }
            }
        }
        var installed = 0
        for (i, n) in numbers.enumerated() {
            if cancelled() || Interrupt.requested { summary.cancelled = true; break }
            progress(i, numbers.count, n)
            let outcome = shared.take(i)
            installed = i + 1
            do {
                let r = try install(try outcome.get(), batch: batchID)
                if r.status == TakeStatus.overflow.rawValue { summary.overflow += 1 } else { summary.fresh += 1 }
                if r.clippedSamples > 0 { summary.clipped.append(n) }
            } catch let e as DubdeckError where e.status == .interrupted {
                summary.cancelled = true  // Ctrl-C during this line: it was not made, nothing failed
                break
            } catch let e as DubdeckError {
                if case .failure = outcome { recordFailure(e, n, batch: batchID) }
                summary.failed += 1
                summary.failures.append("segment \(n): \(e.message)")
            } catch {
                summary.failed += 1
            }
            summary.done += 1
        }
        // Rendered ahead but not installed (cancelled): their temporary files go.
        for r in shared.stopAndDrain(from: installed) {
            r.dir.unlink(r.tmp)
            dd_cleanup_unregister(r.tmpSlot)
        }
        progress(summary.done, numbers.count, 0)
        return summary
    }

    func batchFailedAtOnce(_ numbers: [Int], _ error: Error, progress: (Int, Int, Int) -> Void) -> BatchSummary {
        var summary = BatchSummary()
        summary.done = numbers.count
        summary.failed = numbers.count
        summary.failures = numbers.map { "segment \($0): \((error as? DubdeckError)?.message ?? "\(error)")" }
        progress(summary.done, numbers.count, 0)
        return summary
    }
}

/// Hands lines from the batch's workers to its installing thread, in order, at most `window` ahead.
final class BatchPipeline: Sendable {
    struct State {
        var next = 0, taken = 0, stopped = false
        var results: [Swift.Result<SegmentSynthesizer.Rendered, Error>?]
    }
    let state: Synchronization.Mutex<State>
    let ready = DispatchSemaphore(value: 0)
    let room = DispatchSemaphore(value: 0)
    let count: Int, window: Int

    init(count: Int, window: Int) {
        self.count = count
        self.window = window
        state = Synchronization.Mutex(State(results: Array(repeating: nil, count: count)))
    }

    /// The next line to render, once it is within the window; nil when none is left or stopped.
    func claim() -> Int? {
        while true {
            let answer: Int?? = state.withLock { s in
                if s.stopped || s.next >= count { return .some(nil) }
                if s.next >= s.taken + window { return nil }  // wait for room
                s.next += 1
                return .some(s.next - 1)
            }
            if let a = answer { return a }
            room.wait()
        }
    }

    func finish(_ i: Int, _ r: Swift.Result<SegmentSynthesizer.Rendered, Error>) {
        state.withLock { $0.results[i] = r }
        ready.signal()
    }

    /// Waits for line i's outcome and moves the window on.
    func take(_ i: Int) -> Swift.Result<SegmentSynthesizer.Rendered, Error> {
        while true {
            if let r = state.withLock({ s -> Swift.Result<SegmentSynthesizer.Rendered, Error>? in
                guard let r = s.results[i] else { return nil }
                s.results[i] = nil
                s.taken = i + 1
                return r
            }) {
                room.signal()
                return r
            }
            ready.wait()
        }
    }

    /// Stops the workers, waits for the lines they are rendering, and returns what was rendered
    /// from line `from` on (never installed).
    func stopAndDrain(from: Int) -> [SegmentSynthesizer.Rendered] {
        let inFlight: Int = state.withLock { s in
            s.stopped = true
            return s.next
        }
        for _ in 0..<64 { room.signal() }  // wake workers waiting for room: they see `stopped`
        var out: [SegmentSynthesizer.Rendered] = []
        for i in from..<inFlight {
            if case .success(let r) = take(i) { out.append(r) }
        }
        return out
    }
}

