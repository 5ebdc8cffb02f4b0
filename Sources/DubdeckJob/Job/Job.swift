/// One line of the episode, as the pipeline wrote it in translated.json (read-only input).
public struct Segment: Sendable {
    /// 1-based position in translated.json.
    public let number: Int
    public let start: Double
    public let end: Double
    /// The episode's diarization label ("" when the pipeline gave none).
    public package(set) var speaker: String
    public let srcText: String
    /// The machine translation (the target text before any review).
    public let text: String
    /// Set by the pipeline when it already identified the character; wins over characters.map.json.
    public package(set) var characterID: String?

    public var duration: Double { end - start }

    /// The same line at other times (a dub slot the reviewer moved).
    public func at(_ slot: TimeSlot) -> Segment {
        Segment(number: number, start: slot.start, end: slot.end, speaker: speaker, srcText: srcText, text: text, characterID: characterID)
    }
}

public struct JobInfo: Sendable {
    public var stem: String
    public var seriesID: String?
    public var episode: String
    public var sourceAudio: String?
    public var srcLang: String?
    public var tgtLang: String
    /// The reading-speed limit (characters per second), overriding the language's.
    public var maxCPS: Double? = nil
}

/// A job directory, loaded and validated. Inputs are never written.
public final class Job: Sendable {
    /// For messages and for what is recorded (observations): never used to reach a file.
    public let directory: String
    /// The job directory opened once: every file of the job is reached relative to it (SPEC §11.2),
    /// so a directory swapped for a link meanwhile cannot move a read or a write elsewhere.
    public let handle: DirectoryHandle
    public let info: JobInfo
    public let segments: [Segment]
    /// Diarization labels that carry a speaker embedding (the embeddings themselves are not kept).
    public let diarizationLabels: [String]
    public let embeddingDim: Int?
    /// Absolute or JOB-relative path of the source audio, when there is one.
    public let sourceAudioPath: String?
    /// label → character ID from characters.map.json (brought up to date with the store by
    /// `CharacterIdentifier.followStore`).
    public let characterMap: [String: String]
    /// Segment numbers whose time range overlaps another segment's.
    public let overlapping: Set<Int>
    /// Segment numbers with exactly the same times as another segment.
    public let duplicated: Set<Int>
    /// translated.json's bytes as the segments were read from them: a writer checks, under the job
    /// lock, that the file still holds them (a line written against a translation that is no longer
    /// there would land on another line, or on none).
    public let translatedBytes: [UInt8]

    public var translatedPath: String { directory + "/translated.json" }
    public var storePath: String { directory + "/" + Job.storeFileName }
    public var historyPath: String { directory + "/" + Job.historyFileName }
    public var lockPath: String { directory + "/.dubdeck.lock" }

    /// A file of the job, reached through its directory handle.
    public func place(_ name: String) -> FilePlace { handle.place(name) }
    public var storePlace: FilePlace { place(Job.storeFileName) }
    public var historyPlace: FilePlace { place(Job.historyFileName) }
    public var lockPlace: FilePlace { place(".dubdeck.lock") }
    public static let storeFileName = "transcript_store.json"
    public static let historyFileName = "transcript_versions.jsonl"
    public var mapPlace: FilePlace { place(CharacterMap.fileName) }

    init(directory: String, handle: DirectoryHandle, info: JobInfo, segments: [Segment], diarizationLabels: [String], embeddingDim: Int?,
         sourceAudioPath: String?, characterMap: [String: String], translatedBytes: [UInt8]) {
        self.translatedBytes = translatedBytes
        self.directory = directory
        self.handle = handle
        self.info = info
        self.segments = segments
        self.diarizationLabels = diarizationLabels
        self.embeddingDim = embeddingDim
        self.sourceAudioPath = sourceAudioPath
        self.characterMap = characterMap
        (overlapping, duplicated) = Job.findOverlaps(segments)
    }

    /// The same job with another label → character map (the map derived again from the store).
    public func with(characterMap map: [String: String]) -> Job {
        Job(directory: directory, handle: handle, info: info, segments: segments, diarizationLabels: diarizationLabels, embeddingDim: embeddingDim,
            sourceAudioPath: sourceAudioPath, characterMap: map, translatedBytes: translatedBytes)
    }

    /// Under the job lock, before a write: translated.json still holds the bytes this job was read
    /// from (always read and compared: a size, mtime or inode cannot prove a file unchanged), else
    /// nothing is written (75).
    public func requireTranslationUnchanged() throws {
        let place = self.place("translated.json")
        let now = try FileIO.readIfExists(place)
        guard let now, FileIO.sameBytes(now, translatedBytes) else {
            throw DubdeckError.conflict("\(place.shown): written again since it was read: nothing written")
        }
    }

    /// The character a segment belongs to: its own `character_id`, else the episode's map.
    public func characterID(of segment: Segment) -> String? {
        segment.characterID ?? characterMap[segment.speaker]
    }

    static func findOverlaps(_ segments: [Segment]) -> (Set<Int>, Set<Int>) {
        let order = segments.indices.sorted {
            (segments[$0].start, segments[$0].end) < (segments[$1].start, segments[$1].end)
        }
        var overlapping = Set<Int>()
        var duplicated = Set<Int>()
        var maxEnd = -Double.infinity
        var maxEndIndex = -1
        var previous = -1
        for i in order {
            let s = segments[i]
            if previous >= 0, segments[previous].start == s.start, segments[previous].end == s.end {
                duplicated.insert(s.number)
                duplicated.insert(segments[previous].number)
            }
            if maxEndIndex >= 0, s.start < maxEnd {
                overlapping.insert(s.number)
                overlapping.insert(segments[maxEndIndex].number)
            }
            if s.end > maxEnd { maxEnd = s.end; maxEndIndex = i }
            previous = i
        }
        return (overlapping, duplicated)
    }
}

public enum JobLoader {
    /// `series` (the command line's --series) wins over job.json's series_id.
    /// The directory as a job names it (no trailing slash).
    static func normalized(_ directory: String) -> String {
        var dir = directory
        while dir.count > 1, dir.hasSuffix("/") { dir.removeLast() }
        return dir
    }

    public static func load(_ directory: String, series: String? = nil) throws -> Job {
        try load(openDirectory(directory), series: series)
    }

    /// The job directory, opened once (the directory named may itself be a link to it).
    public static func openDirectory(_ directory: String) throws -> DirectoryHandle {
        let dir = normalized(directory)
        guard FileIO.isDirectory(dir) else {
            throw DubdeckError(.noInput, "\(Sanitizer.display(dir)): no such job directory")
        }
        return try DirectoryHandle(path: dir)
    }

    public static func load(_ handle: DirectoryHandle, series: String? = nil) throws -> Job {
        // Engine folders a SIGKILL left (their line texts in /tmp) go with the next job operation.
        EngineFolders.sweepOnce()
        let dir = handle.path
        var info = try loadInfo(handle)
        if let series, !series.isEmpty { info.seriesID = try SafeName.checkArgument(series, option: "--series") }
        let translated = try readTranslated(handle.place("translated.json"))
        let segments = try segments(from: translated, file: handle.place("translated.json").shown)
        let (labels, dim) = try loadDiarization(handle.place("diarization.json"))
        let map = try loadCharacterMap(handle.place(CharacterMap.fileName), info: info)
        var audio: String? = nil
        if let declared = info.sourceAudio {
            audio = declared.hasPrefix("/") ? declared : dir + "/" + declared
        } else {
            for name in ["audio.wav", "audio.flac"] where handle.status(name) != nil {
                audio = dir + "/" + name
                break
            }
        }
        return Job(directory: dir, handle: handle, info: info, segments: segments, diarizationLabels: labels, embeddingDim: dim,
                   sourceAudioPath: audio, characterMap: map, translatedBytes: translated)
    }

    static func baseName(_ dir: String) -> String {
        String(dir.split(separator: "/").last ?? Substring(dir))
    }

    /// Parses a JSON file into a value; errors name the file and the line.
    public static func parseFile(_ path: String, bytes: [UInt8], context: (JSONParseError) -> String? = { _ in nil }) throws -> JSONValue {
        do {
            return try JSONParser.parse(bytes)
        } catch let e as JSONParseError {
            let where_ = context(e).map { "\($0): " } ?? ""
            throw DubdeckError.data(Sanitizer.display(path), "\(where_)line \(e.line): \(e.message)")
        }
    }

    static func loadInfo(_ handle: DirectoryHandle) throws -> JobInfo {
        let dir = handle.path
        let place = handle.place("job.json")
        let path = place.path
        let name = baseName(dir)
        guard let bytes = try FileIO.readIfExists(place) else {
            return JobInfo(stem: name, seriesID: nil, episode: name, sourceAudio: nil, srcLang: nil, tgtLang: "en")
        }
        return try info(from: bytes, path: path, directory: dir)
    }

    /// job.json's bytes as the job reads them (also what a writer checks before it writes one).
    public static func info(from bytes: [UInt8], path: String, directory dir: String) throws -> JobInfo {
        let name = baseName(dir)
        var info = JobInfo(stem: name, seriesID: nil, episode: name, sourceAudio: nil, srcLang: nil, tgtLang: "en")
        guard case .object(let obj) = try parseFile(path, bytes: bytes) else {
            throw DubdeckError.data(Sanitizer.display(path), "expected a JSON object")
        }
        func str(_ key: String) throws -> String? {
            guard let v = obj[key], !v.isNull else { return nil }
            guard let s = v.stringValue else {
                throw DubdeckError.data(Sanitizer.display(path), "\(key) must be a string, not \(v.typeName)")
            }
            return s
        }
        // Names that become paths (stem → <stem>.edited.srt) or library arguments (languages → espeak-ng).
        func safe(_ key: String) throws -> String? {
            guard let s = try str(key) else { return nil }
            return try SafeName.check(s, file: path, field: key)
        }
        if let s = try safe("stem") { info.stem = s }
        if let s = try safe("episode") { info.episode = s }
        if let s = try safe("series_id") { info.seriesID = s }
        if let s = try str("source_audio"), !s.isEmpty {
            if s.utf8.contains(0) { throw DubdeckError.data(Sanitizer.display(path), "source_audio holds a NUL byte") }
            info.sourceAudio = s
        }
        info.srcLang = try safe("src_lang")
        if let s = try safe("tgt_lang") { info.tgtLang = s }
        if let v = obj["max_cps"], !v.isNull {
            guard let x = v.doubleValue, x.isFinite, ReadingSpeed.limitRange.contains(x) else {
                throw DubdeckError.data(Sanitizer.display(path), "max_cps must be a number from 1 to 100 (characters per second)")
            }
            info.maxCPS = x
        }
        return info
    }

    public static func loadSegments(_ place: FilePlace) throws -> [Segment] {
        try segments(from: readTranslated(place), file: place.shown)
    }

    static func readTranslated(_ place: FilePlace) throws -> [UInt8] {
        guard let bytes = try FileIO.readIfExists(place) else {
            throw DubdeckError(.noInput, "\(place.shown): no such file (every job needs translated.json)")
        }
        return bytes
    }

    static func loadDiarization(_ place: FilePlace) throws -> ([String], Int?) {
        let path = place.path
        guard let bytes = try FileIO.readIfExists(place) else { return ([], nil) }
        let shown = Sanitizer.display(path)
        let root = try parseFile(path, bytes: bytes) { e in e.index(under: "segments").map { "segment \($0 + 1)" } }
        guard case .object(let obj) = root else { throw DubdeckError.data(shown, "expected a JSON object") }
        if let segs = obj["segments"] {
            guard case .array(let items) = segs else { throw DubdeckError.data(shown, "\"segments\" must be an array") }
            for (i, item) in items.enumerated() {
                guard case .object(let s) = item, let a = s["start"]?.doubleValue, let b = s["end"]?.doubleValue,
                      Bounds.isTime(a), Bounds.isTime(b) else {
                    throw DubdeckError.data(shown, "segment \(i + 1): expected an object with numeric start and end within 0–\(Int(Bounds.maxTime)) s")
                }
            }
        }
        var labels: [String] = []
        var dim: Int? = nil
        if let emb = obj["speaker_embeddings"], !emb.isNull {
            guard case .object(let table) = emb else {
                throw DubdeckError.data(shown, "\"speaker_embeddings\" must be an object")
            }
            for (label, vector) in table.members {
                guard case .array(let values) = vector, values.allSatisfy({ $0.doubleValue != nil }) else {
                    throw DubdeckError.data(shown, "speaker_embeddings.\(Sanitizer.display(label)): expected an array of numbers")
                }
                if let d = dim, d != values.count {
                    throw DubdeckError.data(shown, "speaker_embeddings.\(Sanitizer.display(label)): \(values.count) values, the others have \(d)")
                }
                dim = values.count
                labels.append(label)
            }
        }
        return (labels, dim)
    }

    /// The map, which must be this episode's: another episode's or series' map would give its
    /// characters to this episode's labels (65).
    static func loadCharacterMap(_ place: FilePlace, info: JobInfo) throws -> [String: String] {
        guard let map = try CharacterMap.read(place) else { return [:] }
        try map.requireEpisode(info.episode, series: info.seriesID, path: place.path)
        return map.characterIDs
    }
}
