#if canImport(Glibc)
import Glibc
#endif

/// `characters identify`: the episode's diarization labels → characters, written to
/// JOB/characters.map.json and recorded in the store.
public enum CharacterIdentifier {
    public struct Outcome {
        public var assignments: [LabelAssignment]
        public var reused: Bool
        public var series: String
        public var episode: String
        /// The labels' pitch as measured from the audio (a new character's voice was cast from it).
        public var pitches: [String: PitchEstimate] = [:]
        /// Why the source audio gave no pitch (said as a warning; the voices then come from the IDs).
        public var pitchProblem: String?
        /// Labels with no speech in their spans (embedded from the audio): left without a character,
        /// or — identified again — with the one an earlier run heard (`kept`).
        public var unheard: [String] = []
        /// Unheard labels that keep their earlier character (listed in `assignments` too).
        public var kept: [String] = []
    }

    /// The episode's labels with their embeddings: diarization.json's `speaker_embeddings`, or —
    /// when it has none — GE2E embeddings computed here from the source audio (per label, the mean
    /// of its segments' embeddings; the segments of diarization.json, else the job's lines).
    /// `fromAudio`: the labels' voices embedded from the source audio even where diarization.json
    /// has the pipeline's embeddings (a store of audio embeddings, for suggestions).
    public static func labels(of job: Job, encoder: (() throws -> SpeakerEncoder)? = nil, fromAudio: Bool = false) throws -> EpisodeVoices {
        let place = job.place("diarization.json")
        let path = place.path
        let bytes = try FileIO.readIfExists(place)
        let root = try bytes.map { try JobLoader.parseFile(path, bytes: $0) }
        guard !fromAudio, let table = root?.objectValue?["speaker_embeddings"]?.objectValue, !table.members.isEmpty else {
            guard let encoder else {
                throw DubdeckError.data(Sanitizer.display(path), "no \"speaker_embeddings\"")
            }
            return try labelsFromAudio(job, diarization: root, encoder: try encoder())
        }
        var labels: [(String, [Float])] = []
        for (label, v) in table.members {
            guard let values = v.arrayValue?.compactMap({ $0.doubleValue }), values.count == v.arrayValue?.count, !values.isEmpty else {
                throw DubdeckError.data(Sanitizer.display(path), "speaker_embeddings.\(Sanitizer.display(label)): expected an array of numbers")
            }
            let vector = values.map { Float($0) }
            if let why = Matching.embeddingProblem(vector) {
                throw DubdeckError.data(Sanitizer.display(path), "speaker_embeddings.\(Sanitizer.display(label)): \(why)")
            }
            labels.append((label, vector))
        }
        let dim = labels[0].1.count
        for (label, v) in labels where v.count != dim {
            throw DubdeckError.data(Sanitizer.display(path), "speaker_embeddings.\(Sanitizer.display(label)): \(v.count) values, the others have \(dim)")
        }
        let meta = root?.objectValue?["embedding"]?.objectValue
        if let declared = meta?["dim"]?.intValue, declared != dim {
            throw DubdeckError.data(Sanitizer.display(path), "embedding.dim is \(declared) but the vectors have \(dim) values")
        }
        return EpisodeVoices(labels: labels, type: meta?["type"]?.stringValue ?? "ecapa", dim: dim, model: meta?["model"]?.stringValue)
    }

    /// An episode's labels with their embeddings, and — when embedded here from the audio — how
    /// much of each was heard and how clearly.
    public struct EpisodeVoices {
        public var labels: [(String, [Float])]
        public var type: String
        public var dim: Int
        public var model: String?
        /// Per label from the audio (empty: the pipeline's embeddings, nothing heard here).
        public var heard: [String: LabelHearing] = [:]
        /// Labels whose spans held no speech the detector finds (from the audio): no embedding, no character.
        public var unheard: [String] = []

        /// What identify weighs a label by: from the audio, what was heard; else diarization's speech counts.
        func evidence(_ label: String, _ embedding: [Float], speech: [String: (count: Int, seconds: Double)]) -> LabelEvidence {
            if let h = heard[label] {
                return LabelEvidence(label: label, embedding: embedding, utterances: h.utterances, seconds: h.seconds, quality: h.quality)
            }
            // A label nobody says how much speech it has is taken as enough (unknown, not thin).
            return LabelEvidence(label: label, embedding: embedding, utterances: speech[label]?.count, seconds: speech[label]?.seconds)
        }
    }

    /// Who speaks when: diarization.json's segments (times checked, empty labels and empty spans
    /// left out), else the job's lines — one reading for the speech counts and for the embeddings.
    /// A segment diarization is unsure of (`conf` under 0.5) is no evidence of who its label is; a
    /// `conf` that is not a number in [0, 1] makes the segment unreadable (left out).
    /// Each label's pitch, from up to `Pitch.maxSeconds` of its lines in the source audio (none
    /// without audio; a label whose lines cannot be read or hold too little voiced speech has none:
    /// its character keeps the voice its ID gives).
    static func labelPitches(_ job: Job, labels: [String]) -> (pitches: [String: PitchEstimate], problem: String?) {
        guard let audioPath = job.sourceAudioPath else { return ([:], nil) }
        let info: AudioFile.Info
        do {
            info = try AudioFile.info(audioPath)
        } catch {
            return ([:], "\((error as? DubdeckError)?.message ?? "\(error)") — the new characters' voices come from their IDs")
        }
        guard info.rate > 0 else { return ([:], "\(Sanitizer.display(audioPath)): no sample rate — the new characters' voices come from their IDs") }
        let root = (try? FileIO.readIfExists(job.place("diarization.json"))).flatMap { $0 }.flatMap { try? JobLoader.parseFile("diarization.json", bytes: $0) }
        let wanted = Swift.Set(labels)
        var parts: [String: [AudioBuffer]] = [:], seconds: [String: Double] = [:]
        var problem: String?
        for (label, a, b) in labelSpans(job, diarization: root) where wanted.contains(label) && b - a >= 0.3 {
            let have = seconds[label] ?? 0
            guard have < Pitch.maxSeconds else { continue }
            let from = Int((a * Double(info.rate)).rounded())
            let to = min(info.frames, Int((min(b, a + Pitch.maxSeconds - have) * Double(info.rate)).rounded()))
            guard to > from else { continue }
            do {
                let audio = try AudioFile.read(audioPath, frames: from..<to, mono: true)
                // Audio that is not finite is no pitch (and no voice to cast from).
                guard audio.samples.allSatisfy({ $0.isFinite }) else {
                    problem = problem ?? "\(Sanitizer.display(audioPath)): samples that are not finite numbers — no pitch measured"
                    continue
                }
                parts[label, default: []].append(audio)
                seconds[label] = have + audio.duration
            } catch {
                problem = problem ?? "\((error as? DubdeckError)?.message ?? "\(error)") — no pitch measured there"
            }
        }
        var out: [String: PitchEstimate] = [:]
        for (label, audio) in parts {
            do {
                if let e = try Pitch.estimate(audio) { out[label] = e }
            } catch {
                problem = problem ?? "\((error as? DubdeckError)?.message ?? "\(error)") — no pitch measured for \(Sanitizer.display(label))"
            }
        }
        return (out, problem)
    }

    static func labelSpans(_ job: Job, diarization: JSONValue?) -> [(label: String, start: Double, end: Double)] {
        labelSpansWithConfidence(job, diarization: diarization).filter(\.confident).map { ($0.label, $0.start, $0.end) }
    }

    static func labelSpansWithConfidence(_ job: Job, diarization: JSONValue?) -> [(label: String, start: Double, end: Double, confident: Bool)] {
        var spans: [(label: String, start: Double, end: Double, confident: Bool)] = []
        if let segs = diarization?.objectValue?["segments"]?.arrayValue, !segs.isEmpty {
            for s in segs {
                guard let o = s.objectValue, let a = o["start"]?.doubleValue, let b = o["end"]?.doubleValue,
                      let label = o["speaker"]?.stringValue, Bounds.isTime(a), Bounds.isTime(b) else { continue }
                var confident = true
                if let c = o["conf"], !c.isNull {
                    guard let conf = c.doubleValue, conf >= 0, conf <= 1 else { continue }
                    confident = conf >= minimumConfidence
                }
                spans.append((label, a, b, confident))
            }
        } else {
            spans = job.segments.map { ($0.speaker, $0.start, $0.end, true) }
        }
        return spans.filter { !$0.label.isEmpty && $0.end > $0.start }
    }

    /// Diarization's confidence below which a segment says nothing of its speaker.
    public static let minimumConfidence = 0.5

    static func diarizationDocument(_ job: Job) -> JSONValue? {
        let place = job.place("diarization.json")
        guard let bytes = try? FileIO.readIfExists(place) else { return nil }
        return try? JobLoader.parseFile(place.path, bytes: bytes)
    }

    /// How much speech each label has.
    public static func speechPerLabel(_ job: Job) -> [String: (count: Int, seconds: Double)] {
        var out: [String: (count: Int, seconds: Double)] = [:]
        // A label diarization only ever was unsure of is there, with no speech: thin, not unknown.
        for span in labelSpansWithConfidence(job, diarization: diarizationDocument(job)) {
            let c = out[span.label] ?? (0, 0)
            out[span.label] = span.confident ? (c.count + 1, c.seconds + span.end - span.start) : c
        }
        return out
    }

    /// Per-label GE2E embeddings from the source audio: each span's speech (the voice activity
    /// detector's) embedded when it holds at least `minSpeechSeconds`; the label's embedding the
    /// L2-normed mean weighted by seconds of speech times how clearly it was heard (SPEC §11.13).
    static func labelsFromAudio(_ job: Job, diarization: JSONValue?, encoder: SpeakerEncoder) throws -> EpisodeVoices {
        guard let audioPath = job.sourceAudioPath else {
            throw DubdeckError(.noInput, "\(Sanitizer.display(job.directory)): no speaker embeddings in diarization.json and no source audio to compute them from")
        }
        var spans = labelSpans(job, diarization: diarization)
        spans = spans.filter { $0.end - $0.start >= minSpeechSeconds }
        guard !spans.isEmpty else { throw DubdeckError.data(Sanitizer.display(job.directory), "no labelled speech of 0.3 s or more to embed") }
        let info = try AudioFile.info(audioPath)
        var sums: [String: [Float]] = [:]
        var heard: [String: LabelHearing] = [:]
        var order: [String] = []
        // In chunks: the audio of a few dozen lines in memory at a time, embedded on every core.
        let chunk = 64
        var read: [String: Double] = [:]  // seconds of audio read per label
        for first in stride(from: 0, to: spans.count, by: chunk) {
            var part: [(String, VoiceActivity.Hearing)] = []
            for (label, a, b) in spans[first..<min(first + chunk, spans.count)] {
                // A voice is known from its first minute: a span of hours is not read whole; nor
                // is a label's audio past its first `maxLabelSeconds` (10,000 copies of one span
                // would cost as much as hours).
                guard read[label, default: 0] < maxLabelSeconds else { continue }
                let from = Int((a * Double(info.rate)).rounded())
                let to = min(info.frames, Int((min(b, a + maxEmbedSeconds) * Double(info.rate)).rounded()))
                guard to > from else { continue }
                read[label, default: 0] += Double(to - from) / Double(info.rate)
                let hearing = try VoiceActivity.hear(try AudioFile.read(audioPath, frames: from..<to, mono: true))
                guard hearing.seconds >= minSpeechSeconds else { continue }
                part.append((label, hearing))
            }
            let embeddings = try encoder.embed(batch: part.map { $0.1.speech })
            for ((label, hearing), e) in zip(part, embeddings) {
                if sums[label] == nil { sums[label] = [Float](repeating: 0, count: e.count); order.append(label) }
                // Weighed by how clearly it was heard, gently (the fourth root: a stronger weight let a
                // label's one clear span outvote its others and cost identity at 10 dB); a span heard
                // badly still counts a little, a label heard only badly still has a voice, marked poor.
                let weight = Float(pow(max(hearing.quality, 0.05), qualityExponent) * hearing.seconds)
                for k in e.indices { sums[label]![k] += weight * e[k] }
                heard[label, default: LabelHearing()].add(hearing)
            }
        }
        // A label none of whose spans holds speech the detector finds has no voice to know: said,
        // never dropped without a word; an episode with no speech at all is refused (nothing written).
        var unheard: [String] = []
        for (label, _, _) in spans where sums[label] == nil && !unheard.contains(label) { unheard.append(label) }
        guard !order.isEmpty else {
            throw DubdeckError.data(Sanitizer.display(audioPath), "no speech the voice detector finds in any labelled span (\(unheard.count) label\(unheard.count == 1 ? "" : "s"))")
        }
        let labels = order.map { ($0, Matching.normalized(sums[$0]!)) }
        return EpisodeVoices(labels: labels, type: SpeakerEncoder.type, dim: SpeakerEncoder.dim, model: SpeakerEncoder.model, heard: heard, unheard: unheard)
    }

    /// The most of one span or line that is embedded (seconds).
    public static let maxEmbedSeconds = 60.0
    /// The most of one label's audio that is read (seconds, its spans in order): a voice is known well
    /// before five minutes, and the work of an episode stays bounded by its labels.
    public static let maxLabelSeconds = 300.0
    /// The least speech a span must hold to be embedded (seconds): less is no voice to know.
    public static let minSpeechSeconds = 0.3
    /// How much a span's quality weighs its embedding in its label's mean (SPEC §11.13): quality^¼.
    static let qualityExponent = 0.25

    /// What of a span's audio is embedded: its speech alone, as the voice activity detector finds it
    /// (SPEC §11.13: the silence, music and noise a span begins and ends in are not the speaker); nil
    /// when too little is left.
    static func speechToEmbed(_ audio: AudioBuffer) throws -> AudioBuffer? {
        let hearing = try VoiceActivity.hear(audio)
        return hearing.seconds >= minSpeechSeconds ? hearing.speech : nil
    }

    public struct Suggestion: Equatable {
        public var characterID: String
        public var name: String
        public var similarity: Double
        /// The episode's label(s) mapped to that character (picking one fixes the line's label).
        public var labels: [String]
    }

    /// The top 3 characters of this episode for line n's original audio (GE2E; the store must hold
    /// GE2E embeddings).
    public static func suggest(_ store: TranscriptStore, _ n: Int, cast: CharacterStore, encoder: SpeakerEncoder) throws -> [Suggestion] {
        guard cast.embeddingType == SpeakerEncoder.type, cast.dim == SpeakerEncoder.dim else {
            throw DubdeckError(.dataError, "run: dubdeck characters identify --from-audio --store characters-audio.json \(Sanitizer.display(store.job.directory)) — suggestions compare voices from the audio (\(SpeakerEncoder.type)/\(SpeakerEncoder.dim)); this store holds the pipeline's \(cast.embeddingType ?? "none")/\(cast.dim ?? 0): then give that --store")
        }
        guard let src = store.job.sourceAudioPath else {
            throw DubdeckError(.noInput, "\(Sanitizer.display(store.job.directory)): no source audio (job.json source_audio, audio.wav or audio.flac)")
        }
        let seg = store.job.segments[n - 1]
        let info = try AudioFile.info(src)
        let a = min(info.frames, Int((seg.start * Double(info.rate)).rounded()))
        let b = min(info.frames, Int((min(seg.end, seg.start + maxEmbedSeconds) * Double(info.rate)).rounded()))
        guard b > a else { throw DubdeckError(.dataError, "line \(n) has no audio in \(Sanitizer.display(src))") }
        guard let buffer = try speechToEmbed(try AudioFile.read(src, frames: a..<b, mono: true)) else {
            throw DubdeckError(.dataError, "line \(n) has no speech the voice detector finds in \(Sanitizer.display(src))")
        }
        let e = try encoder.embed(buffer)
        let sims = cast.similarities(e)
        var byCharacter: [String: [String]] = [:]
        for label in episodeLabels(store) {
            if let id = store.job.characterMap[label].flatMap({ cast.resolve($0)?.id }) { byCharacter[id, default: []].append(label) }
        }
        for seg in store.job.segments { if let id = store.characterID(seg.number).flatMap({ cast.resolve($0)?.id }), byCharacter[id] == nil { byCharacter[id] = [] } }
        var out: [Suggestion] = []
        for (i, c) in cast.characters.enumerated() where byCharacter[c.id] != nil && sims[i] > -2 {
            out.append(Suggestion(characterID: c.id, name: c.name, similarity: (Double(sims[i]) * 1000).rounded() / 1000, labels: byCharacter[c.id]!.sorted()))
        }
        return Array(out.sorted { ($0.similarity, $1.characterID) > ($1.similarity, $0.characterID) }.prefix(3))
    }

    public static func identify(job: Job, store: CharacterStore, threshold: Double, force: Bool, fromAudio: Bool = false) throws -> Outcome {
        guard let series = job.info.seriesID else {
            throw DubdeckError(.usage, "\(Sanitizer.display(job.directory)): no series (give --series or set series_id in job.json; a file name is never a series)")
        }
        let episode = job.info.episode
        let voices = try labels(of: job, encoder: { try SpeakerEncoder() }, fromAudio: fromAudio)
        let (labels, type, dim, model) = (voices.labels, voices.type, voices.dim, voices.model)
        let mapPlace = job.mapPlace
        var outcome = Outcome(assignments: [], reused: false, series: series, episode: episode, unheard: voices.unheard)
        // The map as the store has it now, read once.
        let current = try following(mapPlace, series: series, episode: episode, cast: store)
        // Already identified: reuse the map, count nothing twice, move nothing.
        if !force, store.episodeIdentified(series: series, episode: episode), let existing = current {
            outcome.assignments = existing.labels
            outcome.reused = true
            return outcome
        }
        // A reviewer's assignment stands: its label is neither matched nor counted again.
        let overrides = (current?.labels ?? []).filter(\.override)
        let matched = labels.filter { l in !overrides.contains { $0.label == l.0 } }
        // Each label's pitch from the episode's audio, measured before the store's lock is taken: a
        // character made for a label is cast in its register (SPEC §11.9).
        let (pitches, pitchProblem) = labelPitches(job, labels: matched.map { $0.0 })
        outcome.pitches = pitches
        outcome.pitchProblem = pitchProblem
        // The map is written once the store committed (SPEC §11.4): a store that refused the change
        // leaves the map as it was, never naming a character the store does not hold.
        try store.update(then: {
            try CharacterMap(series: series, episode: episode, embeddingType: type, embeddingDim: dim, storeGeneration: store.generation,
                             labels: outcome.assignments).write(mapPlace)
        }) { s in
            try s.checkEmbedding(type: type, dim: dim, model: model, file: job.directory + "/diarization.json")
            let again = s.episodeIdentified(series: series, episode: episode)
            let speech = speechPerLabel(job)
            let evidence = matched.map { voices.evidence($0.0, $0.1, speech: speech) }
            let jobPath = CharacterStore.absoluteDirectory(job.directory)
            // Identified again: a label heard before but not in this audio keeps what it had — its
            // observation and its character. A run that cannot hear a voice undoes nothing of it.
            let keptObservations = again ? s.observations(series: series).filter { o in
                o.episode == episode && !o.override && voices.unheard.contains(o.label)
            } : []
            outcome.assignments = s.identify(evidence: evidence, series: series, episode: episode, threshold: threshold,
                                             update: !again || force, job: jobPath) + overrides
            if !keptObservations.isEmpty { s.recordObservations(series: series, episode: episode, keptObservations, replace: false) }
            // A reviewer's assignment of a label unheard now stands as every override does: said as kept.
            outcome.kept += overrides.filter { voices.unheard.contains($0.label) }.map(\.label)
            for o in keptObservations where !outcome.assignments.contains(where: { $0.label == o.label }) {
                guard let id = s.resolve(o.characterID)?.id else { continue }
                let before = current?.labels.first { $0.label == o.label }
                outcome.assignments.append(LabelAssignment(label: o.label, characterID: id, similarity: before?.similarity ?? 0, created: false))
                outcome.kept.append(o.label)
            }
            for a in outcome.assignments where a.created {
                if let estimate = pitches[a.label] { s.cast(a.characterID, from: estimate) }
            }
            // A reviewer's assignment is observed too (reconcile never moves it).
            if !again || force {
                let now = Clock.isoNow()
                s.recordObservations(series: series, episode: episode, overrides.compactMap { a in
                    guard let l = labels.first(where: { $0.0 == a.label }) else { return nil }
                    let e = voices.evidence(l.0, l.1, speech: speech)
                    return Observation(episode: episode, label: a.label, characterID: a.characterID, embedding: l.1, utterances: e.utterances,
                                       seconds: e.seconds, quality: e.quality, override: true, job: jobPath, at: now)
                }, replace: false)
            }
        }
        return outcome
    }

    /// The episode's map as the store has it now: a map older than the store's last change to its
    /// episode (another reviewer's reconcile, an assignment) is derived again from the store's
    /// observations — each observed label's character, through merges — and written back with the
    /// store's generation (SPEC §11.4). nil when there is no map.
    static func following(_ place: FilePlace, series: String, episode: String, cast: CharacterStore) throws -> CharacterMap? {
        guard var map = try CharacterMap.read(place) else { return nil }
        try map.requireEpisode(episode, series: series, path: place.path)
        let view = cast.episodeView(series: series, episode: episode)
        // A store that never saw this episode (another store, another series) says nothing of it:
        // the map is left as it is, never emptied.
        guard !view.labels.isEmpty else { return map }
        // A map newer than this reading of the store: this reading is the stale one (another process
        // committed since it was read), so it decides nothing.
        guard map.storeGeneration <= cast.generation else { return map }
        // Older than the store's last change to the episode, naming a character the store does not
        // hold, or saying of an observed label another ID than the store records: derived again. The
        // store's observations are the truth for every label they hold (a merge is followed where an
        // ID is used, so the map names what the observation names).
        let unheld = map.labels.contains { cast.character($0.characterID) == nil }
        let disagrees = map.labels.contains { l in view.labels[l.label].map { $0 != l.characterID } ?? false }
        guard view.generation > map.storeGeneration || unheld || disagrees else { return map }
        map = map.following(view.labels) { cast.character($0) != nil }
        // Inside a change the generation is not yet committed: a map stamped with it could claim a
        // generation another reviewer's commit then takes (its change would never be followed). The
        // change's own commit writes the map (assign's `then`).
        guard !cast.changing else { return map }
        map.storeGeneration = cast.generation
        try map.write(place)
        return map
    }

    /// The job's map brought up to date with the store (see `following`): the store's job and its
    /// label → character map are replaced when the map moved. Returns whether it did.
    @discardableResult
    public static func followStore(_ store: TranscriptStore, cast: CharacterStore) throws -> Bool {
        guard let series = store.job.info.seriesID else { return false }
        guard let map = try following(store.job.mapPlace, series: series, episode: store.job.info.episode, cast: cast) else { return false }
        let ids = map.characterIDs
        guard ids != store.job.characterMap else { return false }
        store.job = store.job.with(characterMap: ids)
        return true
    }

    /// The labels a line of this episode can be given: the diarization labels and every line's
    /// label (the pipeline's and the reviewers'), in first-seen order.
    public static func episodeLabels(_ store: TranscriptStore) -> [String] {
        var out: [String] = []
        for l in store.job.diarizationLabels + store.job.segments.map({ store.segment($0.number).speaker }) where !l.isEmpty && !out.contains(l) {
            out.append(l)
        }
        return out
    }

    public struct Assignment: Equatable {
        public var label: String
        public var characterID: String
        /// What the label had before (nil: no character), to say so and to undo.
        public var previous: LabelAssignment?
    }

    /// `characters assign`: this episode's LABEL is character ID, as a reviewer's override that
    /// re-identify keeps (`"override": true` in characters.map.json). `nil` removes the label's entry
    /// (the desk's undo of an assignment that had none). Serialized with identify by the store's lock.
    @discardableResult
    public static func assign(_ store: TranscriptStore, label: String, to id: String?, in cast: CharacterStore,
                              restoring previous: LabelAssignment? = nil) throws -> Assignment {
        let job = store.job
        guard let series = job.info.seriesID else {
            throw DubdeckError(.usage, "\(Sanitizer.display(job.directory)): no series (set series_id in job.json)")
        }
        guard episodeLabels(store).contains(label) else {
            throw DubdeckError(.usage, "no label \(Sanitizer.display(label)) in \(Sanitizer.display(job.info.episode)) (its labels: \(episodeLabels(store).joined(separator: ", ")))")
        }
        let mapPlace = job.mapPlace
        var result = Assignment(label: label, characterID: id ?? "", previous: nil)
        var mapWrite: CharacterMap?
        try cast.update(then: {
            if var m = mapWrite {
                m.storeGeneration = cast.generation
                try m.write(mapPlace)
            }
        }) { s in
            mapWrite = nil
            var target: String? = nil
            if let id {
                guard let c = s.resolve(id) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(id)) in the store") }
                target = c.id
            }
            let existing = try following(mapPlace, series: series, episode: job.info.episode, cast: s)
                ?? CharacterMap(series: series, episode: job.info.episode, embeddingType: "none", embeddingDim: 0, storeGeneration: 0, labels: [])
            var list = existing.labels
            let old = list.firstIndex { $0.label == label }
            result.previous = old.map { list[$0] }
            if let old { list.remove(at: old) }
            if let previous { list.append(previous) } else if let target {
                list.append(LabelAssignment(label: label, characterID: target, similarity: result.previous?.similarity ?? 0, created: false, override: true))
            }
            result.characterID = target ?? previous?.characterID ?? ""
            s.noteAssignment(series: series, episode: job.info.episode, label: label, characterID: target ?? previous?.characterID,
                             override: previous?.override ?? (target != nil))
            var m = existing
            m.series = series
            m.episode = job.info.episode
            m.labels = list
            mapWrite = m
        }
        return result
    }

    /// `voice_map.json` for the pipeline's TTS: every label of the episode → its character, name,
    /// voice and reference recording (SPEC §10.6).
    public static func voiceMap(_ store: TranscriptStore, cast: CharacterStore?) -> JSONValue {
        let job = store.job
        let voices = cast?.voices() ?? [:]
        var out = JSONObject()
        for label in episodeLabels(store) {
            // A character the store does not hold is no character for the pipeline's TTS.
            let id = job.characterMap[label].flatMap { id in cast == nil || cast?.resolve(id) != nil ? id : nil }
            let c = id.flatMap { cast?.resolve($0) }
            let voice = id.flatMap { voices[$0] } ?? Voice.deterministic(for: id ?? label)
            out[label] = .object(JSONObject([
                ("character_id", (c?.id ?? id).map { .string($0) } ?? .null),
                ("name", c.map { .string($0.name) } ?? .null),
                ("voice", voice.json),
                ("speaker_wav", c?.speakerWavs.first.map { .string($0) } ?? .null),
            ]))
        }
        return .object(out)
    }
}
