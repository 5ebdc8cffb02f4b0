#if canImport(Glibc)
import Glibc
#endif

/// The job ↔ pipeline and job ↔ subtitle-tool round trips: import, export, apply, merge-mt.
public enum RoundTrip {
    /// translated.json as a value (the loader keeps only what the desk needs; these keep all fields),
    /// from the bytes the job's segments were read from: one read of the file, never two that differ.
    static func translatedDocument(_ job: Job) throws -> JSONObject {
        guard let obj = try JobLoader.parseFile(job.translatedPath, bytes: job.translatedBytes).objectValue else {
            throw DubdeckError.data(Sanitizer.display(job.translatedPath), "expected a JSON object")
        }
        return obj
    }

    // MARK: import / export

    public struct ImportResult {
        public var cues: Int
        /// One line per skipped cue, and the encoding guess if the file was not UTF-8.
        public var warnings: [String]
    }

    /// Creates a job from a subtitle file: the text becomes the target text, an ASS actor or a
    /// WebVTT voice the speaker; the file's whole layout is kept in translated.json, so an export in
    /// the same format writes it back as it was but for edited texts.
    public static func importSubtitles(_ path: String, into dir: String, audio: String?, series: String?,
                                       encoding: String? = nil, strict: Bool = false, fps: Double? = nil) throws -> ImportResult {
        if let series { try SafeName.checkArgument(series, option: "--series") }
        let bytes = try FileIO.read(path, limit: FileIO.subtitleLimit)
        // The format is the content's; the name only breaks ties (SPEC §11.10).
        let named = SubtitleFormat.of(path: path)
        let found = (try? TextEncoding.decode(bytes, encoding: encoding)).flatMap { SubtitleFormat.of(content: $0.text) }
        guard let format = found ?? named else {
            throw DubdeckError(.dataError, "\(Sanitizer.display(path)): not a subtitle file dubdeck reads (SRT, WebVTT, ASS/SSA, SBV, MicroDVD, TTML)")
        }
        var formatWarning: String?
        if let named, named != format {
            formatWarning = "the content is \(format.title), not \(named.title) as its name says: read as \(format.title)"
        }
        var doc: SubtitleDocument
        do {
            doc = try SubtitleParser.parse(bytes, format: format, encoding: encoding, strict: strict, fps: fps)
        } catch let e as SubtitleError {
            if e.message.hasPrefix("unknown character set") { throw DubdeckError(.usage, "--encoding: \(e.message)") }
            throw DubdeckError.data(Sanitizer.display(path), e.line > 0 ? "line \(e.line): \(e.message)" : e.message)
        }
        guard !doc.cues.isEmpty else { throw DubdeckError.data(Sanitizer.display(path), "no subtitles in the file") }
        if let formatWarning { doc.warnings.insert(formatWarning, at: 0) }
        if FileIO.exists(dir + "/translated.json") {
            throw DubdeckError(.cannotCreate, "\(Sanitizer.display(dir)): already holds a job (translated.json); refusing to overwrite it")
        }
        let segments: [JSONValue] = doc.cues.map { c in
            var sub = JSONObject([("raw", .string(c.raw))])
            if !c.fields.isEmpty { sub["fields"] = .object(JSONObject(c.fields.map { ($0.0, JSONValue.string($0.1)) })) }
            if !c.vttSettings.isEmpty { sub["vtt_settings"] = .string(c.vttSettings) }
            if !c.id.isEmpty { sub["id"] = .string(c.id) }
            if !c.voice.isEmpty { sub["voice"] = .string(c.voice) }
            if !c.region.isEmpty { sub["region"] = .string(c.region) }
            sub["lines"] = .array(c.lines.map { .string($0) })
            sub["line"] = .number(c.line)
            var o = JSONObject([("start", .number(Double(c.startMs) / 1000)), ("end", .number(Double(c.endMs) / 1000))])
            if !c.speaker.isEmpty { o["speaker"] = .string(c.speaker) }
            o["src_text"] = .string("")
            o["text"] = .string(c.text)
            o["subtitle"] = .object(sub)
            return .object(o)
        }
        let layout: [JSONValue] = doc.items.map { item in
            switch item {
            case .lines(let l): return .object(JSONObject([("lines", .array(l.map { .string($0) }))]))
            case .cue(let k): return .object(JSONObject([("cue", .number(k))]))
            }
        }
        var root = JSONObject([("segments", .array(segments))])
        var source = JSONObject([
            ("format", .string(format.rawValue)), ("file", .string(path)), ("encoding", .string(doc.encoding)),
            ("script_info", .array(doc.scriptInfo.map { .string($0) })), ("styles", .array(doc.styles.map { .string($0) })),
            ("event_format", .array(doc.eventFormat.map { .string($0) })), ("layout", .array(layout)),
        ])
        if let rate = doc.fps { source["fps"] = .number(rate) }  // MicroDVD's frames, for its export
        if let lang = doc.language, !TTML.language(lang).isEmpty { source["language"] = .string(lang) }  // TTML's xml:lang
        root["subtitle_source"] = .object(source)
        var stem = String(path.split(separator: "/").last ?? "subs")
        if let dot = stem.lastIndex(of: ".") { stem = String(stem[..<dot]) }
        stem = SafeName.make(stem)
        var info = JSONObject([("stem", .string(stem)), ("episode", .string(stem))])
        if let series { info["series_id"] = .string(series) }
        if let audio {
            guard FileIO.exists(audio) else { throw DubdeckError(.noInput, "\(Sanitizer.display(audio)): no such audio file") }
            info["source_audio"] = .string(audio.hasPrefix("/") ? audio : currentDirectory() + "/" + audio)
        }
        // What is written is read back first by the job's own readers: nothing import writes can make
        // every later command refuse the job (SPEC §11.1).
        let infoBytes = JSONWriter.encodePretty(.object(info)), translatedBytes = JSONWriter.encodePretty(.object(root))
        do {
            _ = try JobLoader.info(from: infoBytes, path: dir + "/job.json", directory: dir)
            _ = try JobLoader.segments(from: translatedBytes, file: "translated.json")
        } catch let e as DubdeckError {
            throw DubdeckError.data(Sanitizer.display(path), "the job it would make could not be read back: \(e.message)")
        }
        try FileIO.makeDirectories(dir)
        try FileIO.writeAtomically(dir + "/job.json", infoBytes, mode: 0o644)
        try FileIO.writeAtomically(dir + "/translated.json", translatedBytes, mode: 0o644)
        return ImportResult(cues: doc.cues.count, warnings: doc.warnings)
    }

    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        return getcwd(&buf, buf.count) != nil ? String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "."
    }

    /// The cue a segment was imported from (its text: the imported one), or nil.
    static func importedCue(_ seg: JSONObject, text: String) -> SubtitleCue? {
        guard let sub = seg["subtitle"]?.objectValue else { return nil }
        let fields = (sub["fields"]?.objectValue?.members ?? []).map { ($0.key, $0.value.stringValue ?? "") }
        // The times it was imported with (translated.json's, written from the cue's milliseconds).
        func ms(_ key: String) -> Int { seg[key]?.doubleValue.map { Int(($0 * 1000).rounded()) } ?? 0 }
        var c = SubtitleCue(startMs: ms("start"), endMs: ms("end"), text: text, raw: sub["raw"]?.stringValue ?? "",
                            speaker: seg["speaker"]?.stringValue ?? "", fields: fields)
        c.vttSettings = sub["vtt_settings"]?.stringValue ?? ""
        c.id = sub["id"]?.stringValue ?? ""
        c.voice = sub["voice"]?.stringValue ?? ""
        c.region = sub["region"]?.stringValue == "top" ? "top" : ""
        c.lines = (sub["lines"]?.arrayValue ?? []).compactMap { $0.stringValue }
        return c
    }

    /// The current target texts as a subtitle file: in the file's own format with its layout (all
    /// but edited texts as read), else a fresh file with styling carried over. Times are
    /// ms = round(s·1000).
    /// `cast`: a line whose character has a name is spoken by that name (ASS `Name`, WebVTT `<v>`);
    /// else by its diarization label.
    /// `fps`: MicroDVD's frame rate (else the imported MicroDVD file's; without either, 64).
    public static func export(_ store: TranscriptStore, format: SubtitleFormat, cast: CharacterStore? = nil, fps: Double? = nil,
                              include: (Int) -> Bool = { _ in true }) throws -> String {
        let root = try translatedDocument(store.job)
        let segs = root["segments"]?.arrayValue ?? []
        let source = root["subtitle_source"]?.objectValue
        let sourceFormat = source?["format"]?.stringValue.flatMap(SubtitleFormat.init(rawValue:))
        let rate = fps ?? source?["fps"]?.doubleValue.flatMap { MicroDVD.fpsRange.contains($0) ? $0 : nil }
        if format == .microdvd, rate == nil {
            throw DubdeckError(.usage, "MicroDVD counts frames: give --fps (23.976, 25, 29.97 …); this job was not imported from a MicroDVD file that names one")
        }
        var entries: [SubtitleWriter.Entry?] = []
        for seg in store.job.segments {
            guard include(seg.number) else { entries.append(nil); continue }
            let obj = segs[seg.number - 1].objectValue ?? JSONObject()
            let dub = store.segment(seg.number)  // the reviewer's label and times
            entries.append(SubtitleWriter.Entry(
                startMs: Int((dub.start * 1000).rounded()), endMs: Int((dub.end * 1000).rounded()),
                text: store.state(seg.number).text, speaker: characterName(store, seg.number, cast) ?? dub.speaker,
                original: importedCue(obj, text: seg.text), originalFormat: sourceFormat))
        }
        // TTML's xml:lang: the imported document's, else the job's target language.
        let language = source?["language"]?.stringValue ?? store.job.info.tgtLang
        let eventFormat = (source?["event_format"]?.arrayValue ?? []).compactMap { $0.stringValue }
        if let layout = source?["layout"]?.arrayValue, sourceFormat == format {
            let items: [SubtitleItem] = layout.compactMap { v in
                guard let o = v.objectValue else { return nil }
                if let k = o["cue"]?.intValue { return .cue(k) }
                return .lines((o["lines"]?.arrayValue ?? []).compactMap { $0.stringValue })
            }
            return SubtitleWriter.writeLayout(items, entries: entries, format: format, eventFormat: eventFormat, fps: rate, language: language)
        }
        var header: SubtitleDocument? = nil
        if let src = source, sourceFormat == .ass, format == .ass {
            header = SubtitleDocument(format: .ass, cues: [],
                                      scriptInfo: (src["script_info"]?.arrayValue ?? []).compactMap { $0.stringValue },
                                      styles: (src["styles"]?.arrayValue ?? []).compactMap { $0.stringValue },
                                      eventFormat: eventFormat)
        }
        return SubtitleWriter.write(entries.compactMap { $0 }, format: format, assHeader: header, fps: rate, language: language)
    }

    /// The name of line n's character, when it has one.
    static func characterName(_ store: TranscriptStore, _ n: Int, _ cast: CharacterStore?) -> String? {
        store.characterID(n).flatMap { cast?.resolve($0)?.name }.flatMap { $0.isEmpty ? nil : $0 }
    }

    // MARK: apply

    public struct ApplyResult {
        public var json: String
        public var srt: String
        public var segments: Int
        public var silenced: Int
        public var voiceMap: String = ""
    }

    /// translated.edited.json (the store's text, locked text winning, plus "locked" and "approved";
    /// approved-only: the others get "silence": true, their timing kept) and <stem>.edited.srt.
    public static func apply(_ store: TranscriptStore, approvedOnly: Bool, outDir: String?, cast: CharacterStore? = nil) throws -> ApplyResult {
        var root = try translatedDocument(store.job)
        var segs = root["segments"]?.arrayValue ?? []
        var silenced = 0
        for seg in store.job.segments {
            let st = store.state(seg.number)
            guard var o = segs[seg.number - 1].objectValue else { continue }
            o["text"] = .string(st.text)
            if o["tgt_text"] != nil { o["tgt_text"] = .string(st.text) }
            o["locked"] = .bool(st.locked)
            o["approved"] = .bool(st.approved)
            if let slot = st.slot {
                // The dub's times; the cue's own kept beside them.
                o["orig_start"] = o["start"]
                o["orig_end"] = o["end"]
                o["start"] = .number(slot.start)
                o["end"] = .number(slot.end)
            }
            if let label = st.speakerOverride, label != seg.speaker {
                // The reviewer's label; the pipeline's character_id was for the old one.
                if o["speaker_id"] != nil, o["speaker"] == nil { o["speaker_id"] = .string(label) } else { o["speaker"] = .string(label) }
                o["character_id"] = nil
            }
            if approvedOnly && !st.approved {
                o["silence"] = .bool(true)
                silenced += 1
            }
            segs[seg.number - 1] = .object(o)
        }
        root["segments"] = .array(segs)
        let out = outDir ?? store.job.directory
        try FileIO.makeDirectories(out)
        let jsonPath = out + "/translated.edited.json"
        let srtPath = out + "/" + store.job.info.stem + ".edited.srt"
        try FileIO.writeAtomically(jsonPath, JSONWriter.encodePretty(.object(root)), mode: 0o644)
        let srt = try export(store, format: .srt, cast: cast) { n in !(approvedOnly && !store.state(n).approved) }
        try FileIO.writeAtomically(srtPath, Array(srt.utf8), mode: 0o644)
        let voicePath = out + "/voice_map.json"
        try FileIO.writeAtomically(voicePath, JSONWriter.encodePretty(CharacterIdentifier.voiceMap(store, cast: cast)), mode: 0o644)
        return ApplyResult(json: jsonPath, srt: srtPath, segments: store.job.segments.count, silenced: silenced, voiceMap: voicePath)
    }

    // MARK: merge-mt

    public struct MergeResult {
        public var changed = 0, skippedLocked = 0, unchanged = 0, notFlagged = 0
    }

    /// A machine-translation refresh: NEW must have the same segments (number and times); every
    /// unlocked line (or only flagged ones, clearing the flag) gets the new text; never a locked one.
    public static func mergeMT(_ store: TranscriptStore, newPath: String, onlyFlagged: Bool) throws -> MergeResult {
        let shown = Sanitizer.display(newPath)
        let bytes = try FileIO.read(newPath)
        let fresh = try JobLoader.segments(from: bytes, file: shown)
        let old = store.job.segments
        guard fresh.count == old.count else {
            throw DubdeckError.data(shown, "\(fresh.count) segments, the job has \(old.count) (segment \(min(fresh.count, old.count) + 1) differs)")
        }
        for (a, b) in zip(old, fresh) where abs(a.start - b.start) > 0.0005 || abs(a.end - b.end) > 0.0005 {
            throw DubdeckError.data(shown, "segment \(a.number) is \(JSONValue.formatNumber(b.start))–\(JSONValue.formatNumber(b.end)) s, the job's is \(JSONValue.formatNumber(a.start))–\(JSONValue.formatNumber(a.end)) s")
        }
        var result = MergeResult()
        var changes: [SegmentChange] = []
        for seg in fresh {
            let st = store.state(seg.number)
            if onlyFlagged && !st.flaggedForRetranslation { result.notFlagged += 1; continue }
            if st.locked { result.skippedLocked += 1; continue }
            if st.text == seg.text && !onlyFlagged { result.unchanged += 1; continue }
            let text = seg.text
            let n = seg.number
            changes.append(SegmentChange(segment: n, action: "merge-mt", fields: ["tgt_text"]) { e in
                // Checked again on the entry as it is under the lock: a line locked meanwhile is kept.
                if e["locked"]?.boolValue == true { return }
                e["tgt_text"] = .string(text)
                SegmentChange.markTakeAgainstText(&e, text)
                if onlyFlagged {
                    let flags = (e["flags"]?.arrayValue ?? []).filter { $0 != .string(ReviewState.needsRetranslate) }
                    e["flags"] = .array(flags)
                }
            })
        }
        if !changes.isEmpty {
            let r = try store.commit(changes, batch: "merge-mt-\(Clock.isoNow())-\(getpid())")
            result.changed = r.records.count
            result.unchanged += changes.count - r.records.count
        }
        return result
    }
}
