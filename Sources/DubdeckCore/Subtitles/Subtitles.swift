/// Subtitle files in and out: SRT, WebVTT and ASS/SSA (SPEC §8, §10.7). Hand-written (no
/// maintained Swift library for them here); compared against pysubs2's reading in the tests.
///
/// A parsed file keeps its layout: every line is either part of a cue or kept as written (headers,
/// NOTE/STYLE/REGION blocks, ASS sections, `Comment:` lines, drawings, blank lines, cues that could
/// not be read), so a file written back in its own format is the same file but for edited texts.
public struct SubtitleCue: Equatable, Sendable {
    /// Milliseconds (ASS: centisecond precision).
    public var startMs: Int
    public var endMs: Int
    /// The text as shown: formatting tags removed, line breaks as "\n".
    public var text: String
    /// The text as written in the file (tags kept).
    public var raw: String
    /// ASS Name/actor, a WebVTT <v Speaker> voice, or a TTML ttm:agent's name.
    public var speaker: String = ""
    /// TTML: "top" when the cue's region is at the top of the picture ("" otherwise).
    public var region: String = ""
    /// ASS fields of the Dialogue line (Layer, Style, MarginL, …) by Format name.
    public var fields: [(String, String)] = []
    /// WebVTT cue settings (`line:0 align:start`).
    public var vttSettings: String = ""
    /// WebVTT cue identifier / SRT cue number, as written ("" when none).
    public var id: String = ""
    /// WebVTT opening voice tag as written (`<v.loud Joe>`), kept on an edited line.
    public var voice: String = ""
    /// The cue's lines as written, for a file written back in its own format.
    public var lines: [String] = []
    /// The file's line number where the cue starts.
    public var line: Int = 0

    public init(startMs: Int, endMs: Int, text: String, raw: String, speaker: String = "", fields: [(String, String)] = []) {
        self.startMs = startMs
        self.endMs = endMs
        self.text = text
        self.raw = raw
        self.speaker = speaker
        self.fields = fields
    }

    public static func == (a: SubtitleCue, b: SubtitleCue) -> Bool {
        a.startMs == b.startMs && a.endMs == b.endMs && a.text == b.text && a.raw == b.raw && a.speaker == b.speaker
            && a.vttSettings == b.vttSettings && a.fields.map { $0.0 } == b.fields.map { $0.0 } && a.fields.map { $0.1 } == b.fields.map { $0.1 }
            && a.id == b.id && a.voice == b.voice && a.lines == b.lines && a.region == b.region
    }
}

public enum SubtitleFormat: String, CaseIterable, Sendable {
    case srt, vtt, ass
    /// YouTube's SubViewer-like format: `0:00:01.000,0:00:03.500`, the text, a blank line.
    case sbv
    /// `{start}{end}text` in frames, `|` between lines; `{1}{1}23.976` gives the frame rate.
    case microdvd
    /// TTML / IMSC 1.1 Text (`.ttml`, `.dfxp`, `.xml`), read with libxml2.
    case ttml

    public static func of(path: String) -> SubtitleFormat? {
        let lower = path.lowercased()
        if lower.hasSuffix(".srt") { return .srt }
        if lower.hasSuffix(".vtt") || lower.hasSuffix(".webvtt") { return .vtt }
        if lower.hasSuffix(".ass") || lower.hasSuffix(".ssa") { return .ass }
        if lower.hasSuffix(".sbv") { return .sbv }
        if lower.hasSuffix(".sub") || lower.hasSuffix(".mdvd") { return .microdvd }
        if lower.hasSuffix(".ttml") || lower.hasSuffix(".dfxp") || lower.hasSuffix(".xml") { return .ttml }
        return nil
    }

    /// Its name in messages.
    public var title: String {
        switch self {
        case .srt: return "SubRip (SRT)"
        case .vtt: return "WebVTT"
        case .ass: return "ASS/SSA"
        case .sbv: return "SBV"
        case .microdvd: return "MicroDVD"
        case .ttml: return "TTML"
        }
    }

    /// The format the text is written in, found from its first lines (nil: none of ours). The
    /// extension only breaks ties (SPEC §11.10): an SRT named `.vtt` is SRT.
    public static func of(content text: String) -> SubtitleFormat? {
        if TTML.looksLike(text) { return .ttml }
        var looked = 0
        var sawArrow = false, sawSBV = false
        for raw in SubtitleParser.splitLines(text) {
            let line = raw.trimmingCharacters()
            if line.isEmpty { continue }
            looked += 1
            if looked == 1 {
                if line.hasPrefix("WEBVTT") { return .vtt }
                if line.hasPrefix("[Script Info]") || line.lowercased().hasPrefix("[script info]") { return .ass }
                if MicroDVD.frames(of: line) != nil { return .microdvd }
            }
            let lower = line.lowercased()
            if lower.hasPrefix("[events]") || lower.hasPrefix("[v4+ styles]") || lower.hasPrefix("[v4 styles]") || lower.hasPrefix("dialogue:") { return .ass }
            if line.contains("-->") { sawArrow = true }
            if SubtitleParser.sbvTiming(line, at: 0) != nil { sawSBV = true }
            if looked >= 40 || sawArrow || sawSBV { break }
        }
        if sawArrow { return .srt }
        if sawSBV { return .sbv }
        return nil
    }
}

/// One piece of a file's layout: lines kept as written, or the place of cue K.
public enum SubtitleItem: Equatable, Sendable {
    case lines([String])
    case cue(Int)
}

public struct SubtitleDocument: Sendable {
    public var format: SubtitleFormat
    public var cues: [SubtitleCue]
    /// ASS: the [Script Info] and [V4+ Styles] sections as written, and the [Events] Format fields.
    public var scriptInfo: [String] = []
    public var styles: [String] = []
    public var eventFormat: [String] = []
    /// The whole file: kept lines and cue places, in order.
    public var items: [SubtitleItem] = []
    /// One line per cue that was skipped (tolerant reading), and the encoding guess if any.
    public var warnings: [String] = []
    /// The character set the file was decoded from.
    public var encoding = "UTF-8"
    /// MicroDVD: the frame rate the times were counted at.
    public var fps: Double?
    /// TTML: the document's xml:lang.
    public var language: String?

    public init(format: SubtitleFormat, cues: [SubtitleCue], scriptInfo: [String] = [], styles: [String] = [], eventFormat: [String] = []) {
        self.format = format
        self.cues = cues
        self.scriptInfo = scriptInfo
        self.styles = styles
        self.eventFormat = eventFormat
    }
}

public struct SubtitleError: Error, Equatable {
    public let line: Int
    public let message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

public enum SubtitleParser {
    /// Lines split on LF, CRLF or CR.
    public static func splitLines(_ text: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var lastWasCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\r" { out.append(String(current)); current = .init(); lastWasCR = true; continue }
            if scalar == "\n" {
                if !lastWasCR { out.append(String(current)) }
                current = .init()
                lastWasCR = false
                continue
            }
            lastWasCR = false
            current.append(scalar)
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    /// Decodes the file (TextEncoding: BOM, UTF-8, else a guess; or `encoding`) and reads it.
    /// Tolerant: a cue that cannot be read is skipped with a warning naming its line (kept as written
    /// in the layout); `strict` makes that an error. Nothing readable left is an error.
    /// `fps`: MicroDVD's frame rate (else the file's `{1}{1}FPS` line; without either it is refused).
    public static func parse(_ bytes: [UInt8], format: SubtitleFormat, encoding: String? = nil, strict: Bool = false, fps: Double? = nil) throws -> SubtitleDocument {
        var decoded: TextEncoding.Decoded
        do {
            decoded = try TextEncoding.decode(bytes, encoding: encoding)
        } catch let e as TextEncoding.Failure {
            throw SubtitleError(line: 0, message: e.message)
        }
        // XML names its character set: a TTML file that is not Unicode is read in the one it declares
        // (libuchardet's guess, which the decoding above fell back to, only when it declares none).
        if format == .ttml, encoding == nil, !decoded.hadBOM, decoded.encoding != "UTF-8", !decoded.encoding.hasPrefix("UTF-"),
           let declared = TextEncoding.declaredXMLEncoding(bytes), !TextEncoding.normalized(declared).hasPrefix("UTF"),
           let again = try? TextEncoding.decode(bytes, encoding: declared) {
            decoded = again
        }
        var doc: SubtitleDocument
        if format == .ttml {
            doc = try TTML.read(decoded.text, strict: strict)
            doc.encoding = decoded.encoding
            if let w = decoded.warning { doc.warnings.insert(w, at: 0) }
            return doc
        }
        var reader = Reader(lines: splitLines(decoded.text), strict: strict)
        switch format {
        case .srt: doc = try reader.srt()
        case .vtt: doc = try reader.vtt()
        case .ass: doc = try reader.ass()
        case .sbv: doc = try reader.sbv()
        case .microdvd: doc = try reader.microdvd(fps: fps)
        case .ttml: doc = try TTML.read(decoded.text, strict: strict)
        }
        doc.encoding = decoded.encoding
        if let w = decoded.warning { doc.warnings.insert(w, at: 0) }
        return doc
    }

    // MARK: Times

    /// "hh:mm:ss,mmm" / "hh:mm:ss.mmm" / "mm:ss.mmm" / ASS "h:mm:ss.cc" → milliseconds.
    static func time(_ text: Substring, line: Int) throws -> Int {
        let t = text.trimmingCharacters()
        let bad = SubtitleError(line: line, message: "bad time '\(Sanitizer.display(String(t.prefix(40))))'")
        let parts = t.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { throw bad }
        // Digits only (no sign, no spaces inside), and few of them: no product below can overflow.
        func digits<S: StringProtocol>(_ p: S) -> Bool { !p.isEmpty && p.count <= 4 && p.allSatisfy { $0.isASCII && $0.isNumber } }
        let secPart = parts.last!.replacingComma()
        let secPieces = secPart.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.dropLast().allSatisfy({ digits($0) }), digits(secPieces[0]) else { throw bad }
        guard secPieces.count <= 2, let sec = Int(secPieces[0]), sec >= 0, sec < 60 else { throw bad }
        var frac = 0
        if secPieces.count == 2 {
            let digits = secPieces[1]
            guard !digits.isEmpty, digits.count <= 3, let f = Int(digits), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw bad }
            frac = f * [1, 100, 10, 1][digits.count]
        }
        guard let minutes = Int(parts[parts.count - 2]), minutes >= 0, minutes < 60 else { throw bad }
        let hours = parts.count == 3 ? Int(parts[0]) : 0
        let ms = hours.map { ((($0 * 60 + minutes) * 60 + sec) * 1000 + frac) }
        // The job reader's rule for times (Bounds.isTime): a cue it would refuse is never imported.
        guard let h = hours, h >= 0, let ms, Bounds.isTime(Double(ms) / 1000) else {
            throw SubtitleError(line: line, message: "bad time '\(Sanitizer.display(String(t.prefix(40))))' (0 to 48 hours)")
        }
        _ = h
        return ms
    }

    static func timing(_ line: String, at n: Int) throws -> (Int, Int, String) {
        guard let arrow = line.range(ofArrow: "-->") else { throw SubtitleError(line: n, message: "expected 'start --> end'") }
        let start = try time(line[..<arrow.lowerBound], line: n)
        let rest = line[arrow.upperBound...].trimmingLeadingSpaces()
        // The end time to the first space; settings glued to it (`…02.000align:start`: a letter right
        // after its digits) are settings.
        var endText = rest.prefix { !$0.isWhitespace }
        let timePart = endText.prefix { ($0.isASCII && $0.isNumber) || $0 == ":" || $0 == "." || $0 == "," }
        let glued = endText.dropFirst(timePart.count)
        if !glued.isEmpty, timePart.last?.isNumber == true, (try? time(timePart, line: n)) != nil,
           let colon = glued.firstIndex(of: ":"), glued[..<colon].allSatisfy({ $0.isASCII && $0.isLetter }), colon != glued.startIndex {
            endText = timePart
        }
        let settings = rest.dropFirst(endText.count).trimmingCharacters()
        let end = try time(endText, line: n)
        guard end >= start else { throw SubtitleError(line: n, message: "end is before start") }
        return (start, end, settings)
    }

    static func isTiming(_ line: String, at n: Int) -> Bool {
        line.contains("-->") && (try? timing(line, at: n)) != nil
    }

    /// An SBV timing line, `0:00:01.000,0:00:03.500` (nil: not one).
    static func sbvTiming(_ line: String, at n: Int) -> (Int, Int)? {
        let parts = line.trimmingCharacters().split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.contains(":") && $0.contains(".") }),
              let a = try? time(parts[0], line: n), let b = try? time(parts[1], line: n), b >= a else { return nil }
        return (a, b)
    }

    // MARK: Reading, with the layout

    struct Reader {
        let lines: [String]
        let strict: Bool
        var doc = SubtitleDocument(format: .srt, cues: [])
        var kept: [String] = []
        /// The first cue skipped: the error when nothing readable is left.
        var firstSkip: SubtitleError?

        init(lines: [String], strict: Bool) {
            self.lines = lines
            self.strict = strict
        }

        static func blank(_ s: String) -> Bool { s.allSatisfy { $0 == " " || $0 == "\t" } }

        mutating func keep(_ l: ArraySlice<String>) { kept.append(contentsOf: l) }

        mutating func flush() {
            if !kept.isEmpty { doc.items.append(.lines(kept)) }
            kept = []
        }

        mutating func add(_ cue: SubtitleCue) {
            flush()
            doc.items.append(.cue(doc.cues.count))
            doc.cues.append(cue)
        }

        /// A cue that cannot be read: an error when strict, else a warning — and its lines left out
        /// of the layout: an export never writes back what its own strict import refuses (SPEC §11.1).
        mutating func skip(_ e: SubtitleError, lines range: Range<Int>) throws {
            if strict { throw e }
            if firstSkip == nil { firstSkip = e }
            doc.warnings.append("line \(e.line): \(e.message) (cue skipped)")
        }

        mutating func finish() throws -> SubtitleDocument {
            flush()
            if doc.cues.isEmpty, let first = firstSkip { throw first }  // nothing readable is left
            return doc
        }

        /// The index past a block of non-blank lines from `i`.
        func blockEnd(_ i: Int) -> Int {
            var j = i
            while j < lines.count, !Reader.blank(lines[j]) { j += 1 }
            return j
        }

        /// Cue text from `i`: to a blank line, or to the next cue when the blank line is missing (a
        /// timing line, its number or id just before it when that is a number).
        func cueTextEnd(_ i: Int) -> Int {
            var j = i
            while j < lines.count, !Reader.blank(lines[j]) {
                if SubtitleParser.isTiming(lines[j], at: j + 1) {
                    if j > i, Int(lines[j - 1].trimmingCharacters()) != nil { return j - 1 }
                    return j
                }
                j += 1
            }
            return j
        }

        /// One SRT or WebVTT cue: its number or id at `start` (or none), the timing line, the text
        /// to a blank line or the next cue. A bad timing skips the block. Returns where to go on.
        mutating func cue(from start: Int, timing timingLine: Int, format: SubtitleFormat) throws -> Int {
            let times: (Int, Int, String)
            do {
                times = try SubtitleParser.timing(lines[timingLine], at: timingLine + 1)
            } catch let e as SubtitleError {
                // Read again from the next timing line (a cue that follows without a blank line is kept).
                let end = cueTextEnd(timingLine + 1)
                try skip(e, lines: start..<end)
                return end
            }
            let end = cueTextEnd(timingLine + 1)
            let raw = lines[(timingLine + 1)..<end].joined(separator: "\n")
            var cue = SubtitleCue(startMs: times.0, endMs: times.1, text: Markup.plain(raw, format: format), raw: raw)
            if format == .vtt {
                (cue.voice, cue.speaker) = Markup.voice(raw)
                cue.vttSettings = times.2
            }
            cue.id = timingLine > start ? lines[start] : ""
            cue.lines = Array(lines[start..<end])
            cue.line = start + 1
            add(cue)
            return end
        }

        // MARK: SRT

        mutating func srt() throws -> SubtitleDocument {
            doc = SubtitleDocument(format: .srt, cues: [])
            var i = 0
            while i < lines.count {
                if Reader.blank(lines[i]) { keep(lines[i...i]); i += 1; continue }
                let start = i
                var timingLine = i
                if !lines[i].contains("-->") {
                    let number = Int(lines[i].trimmingCharacters()) != nil
                    guard number, i + 1 < lines.count, lines[i + 1].contains("-->") else {
                        let end = cueTextEnd(i + 1)
                        let e = number && i + 1 < lines.count && !Reader.blank(lines[i + 1])
                            ? SubtitleError(line: i + 2, message: "expected 'start --> end'")
                            : SubtitleError(line: i + 1, message: "expected a cue number or a timing line ('start --> end')")
                        try skip(e, lines: i..<end)
                        i = end
                        continue
                    }
                    timingLine = i + 1
                }
                i = try cue(from: start, timing: timingLine, format: .srt)
            }
            return try finish()
        }

        // MARK: WebVTT

        mutating func vtt() throws -> SubtitleDocument {
            doc = SubtitleDocument(format: .vtt, cues: [])
            guard let first = lines.first, first.hasPrefix("WEBVTT"),
                  first.count == 6 || first.dropFirst(6).first == " " || first.dropFirst(6).first == "\t" else {
                throw SubtitleError(line: 1, message: "a WebVTT file starts with WEBVTT")
            }
            // The header: WEBVTT and any lines up to the first blank one (X-TIMESTAMP-MAP, Kind, Language…)
            // or the first timing line (a cue right after the WEBVTT line is a cue).
            var i = 1
            while i < lines.count, !Reader.blank(lines[i]), !SubtitleParser.isTiming(lines[i], at: i + 1) { i += 1 }
            keep(lines[0..<i])
            while i < lines.count {
                if Reader.blank(lines[i]) { keep(lines[i...i]); i += 1; continue }
                let word = lines[i].prefix { !$0.isWhitespace }
                if ["NOTE", "STYLE", "REGION"].contains(String(word)), !lines[i].contains("-->") {
                    let end = blockEnd(i)
                    keep(lines[i..<end])
                    i = end
                    continue
                }
                let start = i
                var timingLine = i
                if !lines[i].contains("-->") {
                    guard i + 1 < lines.count, lines[i + 1].contains("-->") else {
                        let end = cueTextEnd(i + 1)
                        try skip(SubtitleError(line: i + 1, message: "expected a cue timing ('start --> end')"), lines: i..<end)
                        i = end
                        continue
                    }
                    timingLine = i + 1
                }
                i = try cue(from: start, timing: timingLine, format: .vtt)
            }
            return try finish()
        }

        // MARK: SBV

        /// Blocks of a timing line `H:MM:SS.mmm,H:MM:SS.mmm` and the text to a blank line (or to the
        /// next timing line when the blank line is missing).
        mutating func sbv() throws -> SubtitleDocument {
            doc = SubtitleDocument(format: .sbv, cues: [])
            var i = 0
            while i < lines.count {
                if Reader.blank(lines[i]) { keep(lines[i...i]); i += 1; continue }
                guard let (a, b) = SubtitleParser.sbvTiming(lines[i], at: i + 1) else {
                    // Resynchronised at the next timing line, not the next blank one.
                    var end = i + 1
                    while end < lines.count, !Reader.blank(lines[end]), SubtitleParser.sbvTiming(lines[end], at: end + 1) == nil { end += 1 }
                    try skip(SubtitleError(line: i + 1, message: "expected an SBV timing line ('0:00:01.000,0:00:03.500')"), lines: i..<end)
                    i = end
                    continue
                }
                var end = i + 1
                while end < lines.count, !Reader.blank(lines[end]), SubtitleParser.sbvTiming(lines[end], at: end + 1) == nil { end += 1 }
                let raw = lines[(i + 1)..<end].joined(separator: "\n")
                var cue = SubtitleCue(startMs: a, endMs: b, text: Markup.plain(raw, format: .sbv), raw: raw)
                cue.lines = Array(lines[i..<end])
                cue.line = i + 1
                add(cue)
                i = end
            }
            return try finish()
        }

        // MARK: MicroDVD

        /// `{start}{end}text` lines in frames, `|` between a cue's lines. The frame rate: `fps`, else
        /// the file's `{1}{1}23.976` line (kept in the layout), else refused with a hint.
        mutating func microdvd(fps given: Double?) throws -> SubtitleDocument {
            doc = SubtitleDocument(format: .microdvd, cues: [])
            var fps = given
            for (k, line) in lines.enumerated() {
                if Reader.blank(line) { keep(lines[k...k]); continue }
                guard let (a, b, rest) = MicroDVD.frames(of: line) else {
                    try skip(SubtitleError(line: k + 1, message: "expected a MicroDVD line ('{start}{end}text', in frames)"), lines: k..<(k + 1))
                    continue
                }
                // {1}{1}23.976: the frame rate the file was made at (not a subtitle).
                if doc.cues.isEmpty, a == b, a <= 1, let rate = Double(rest.trimmingCharacters()), MicroDVD.fpsRange.contains(rate) {
                    if fps == nil { fps = rate }
                    doc.fps = rate
                    keep(lines[k...k])
                    continue
                }
                guard let rate = fps else {
                    throw SubtitleError(line: k + 1, message: "MicroDVD counts frames and the file names no frame rate: give --fps (23.976, 25, 29.97 …)")
                }
                let start = Int((Double(a) * 1000 / rate).rounded()), end = Int((Double(b) * 1000 / rate).rounded())
                guard b >= a, Bounds.isTime(Double(end) / 1000) else {
                    try skip(SubtitleError(line: k + 1, message: b < a ? "end is before start" : "frame \(b) at \(rate) fps is past 48 hours"), lines: k..<(k + 1))
                    continue
                }
                // On scalars: a `|` before a combining mark is one Character with it.
                let raw = String(String.UnicodeScalarView(rest.unicodeScalars.map { $0 == "|" ? "\n" : $0 }))
                var cue = SubtitleCue(startMs: start, endMs: end, text: Markup.plain(raw, format: .microdvd), raw: raw)
                cue.lines = [line]
                cue.line = k + 1
                add(cue)
            }
            if doc.fps == nil { doc.fps = fps }
            return try finish()
        }

        // MARK: ASS / SSA

        mutating func ass() throws -> SubtitleDocument {
            doc = SubtitleDocument(format: .ass, cues: [])
            var section = ""
            var sawScriptInfo = false
            for (k, line) in lines.enumerated() {
                let n = k + 1
                let t = line.trimmingCharacters()
                if t.hasPrefix("[") && t.hasSuffix("]") {
                    section = t.lowercased()
                    if section == "[script info]" {
                        sawScriptInfo = true
                        doc.scriptInfo.append(t)
                    } else if section.contains("styles") {
                        doc.styles.append(t)
                    }
                    keep(lines[k...k])
                    continue
                }
                switch section {
                case "[script info]":
                    doc.scriptInfo.append(line)
                case "[v4+ styles]", "[v4 styles]", "[v4 styles+]":
                    doc.styles.append(line)
                case "[events]":
                    if let cue = try dialogue(String(line.drop { $0 == " " || $0 == "\t" }), n: n) {
                        var c = cue
                        c.lines = [line]
                        c.line = n
                        add(c)
                        continue
                    }
                default:
                    if !sawScriptInfo, !t.isEmpty, section.isEmpty, !t.hasPrefix(";") {
                        throw SubtitleError(line: n, message: "not an ASS/SSA file (expected [Script Info])")
                    }
                }
                keep(lines[k...k])
            }
            guard sawScriptInfo || !doc.eventFormat.isEmpty else {
                throw SubtitleError(line: 1, message: "not an ASS/SSA file (no [Script Info] or [Events])")
            }
            return try finish()
        }

        /// A line of [Events]: a cue for a readable Dialogue line that is not a drawing; nil for every
        /// other line (kept as written: Format, Comment, Picture, Sound, drawings, skipped ones).
        mutating func dialogue(_ t: String, n: Int) throws -> SubtitleCue? {
            if t.trimmingCharacters().isEmpty || t.hasPrefix(";") { return nil }
            guard let colon = t.firstIndex(of: ":") else { return nil }
            let key = t[..<colon].trimmingCharacters().lowercased()
            let value = t[t.index(after: colon)...].trimmingLeadingSpaces()
            if key == "format" {
                doc.eventFormat = value.split(separator: ",").map { String($0).trimmingCharacters() }
                guard doc.eventFormat.last?.lowercased() == "text" else {
                    throw SubtitleError(line: n, message: "the [Events] Format must end with Text")
                }
                return nil
            }
            guard key == "dialogue" else { return nil }  // Comment, Picture, Sound, Movie, Command
            guard !doc.eventFormat.isEmpty else {
                try skip(SubtitleError(line: n, message: "Dialogue before the [Events] Format line"), lines: 0..<0)
                return nil
            }
            // Split on scalars: a comma followed by a combining mark is still a separator.
            let values = value.unicodeScalars.split(separator: ",", maxSplits: doc.eventFormat.count - 1, omittingEmptySubsequences: false)
                .map { String(String.UnicodeScalarView($0)) }
            guard values.count == doc.eventFormat.count else {
                try skip(SubtitleError(line: n, message: "Dialogue has \(values.count) fields, the Format has \(doc.eventFormat.count)"), lines: 0..<0)
                return nil
            }
            var fields: [(String, String)] = []
            var start = 0, end = 0, raw = "", name = ""
            do {
                for (f, v) in zip(doc.eventFormat, values) {
                    switch f.lowercased() {
                    case "start": start = try SubtitleParser.time(Substring(v), line: n)
                    case "end": end = try SubtitleParser.time(Substring(v), line: n)
                    case "text": raw = v
                    case "name", "actor": name = v.trimmingCharacters(); fields.append((f, v))
                    default: fields.append((f, v))
                    }
                }
                guard end >= start else { throw SubtitleError(line: n, message: "end is before start") }
            } catch let e as SubtitleError {
                try skip(e, lines: 0..<0)
                return nil
            }
            // A drawing (\p1 …) is a shape, not words: never a segment, never spoken, kept as written.
            if Markup.isDrawing(raw) { return nil }
            return SubtitleCue(startMs: start, endMs: end, text: Markup.plain(raw, format: .ass), raw: raw, speaker: name, fields: fields)
        }
    }
}

extension String {
    func range(ofArrow needle: String) -> Range<String.Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }

}

extension Substring {
    func trimmingLeadingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        return s
    }

    func replacingComma() -> Substring { Substring(String(self.map { $0 == "," ? "." : $0 })) }
}


/// MicroDVD's frame lines.
public enum MicroDVD {
    /// The frame rates a file or `--fps` may name.
    public static let fpsRange = 1.0...240.0

    /// `{start}{end}rest` (nil: not such a line). Frame numbers of at most 9 digits.
    static func frames(of line: String) -> (Int, Int, String)? {
        let s = Array(line.unicodeScalars)
        func number(from i: Int) -> (Int, Int)? {
            guard i < s.count, s[i] == "{" else { return nil }
            var j = i + 1
            while j < s.count, ("0"..."9").contains(s[j]) { j += 1 }
            guard j > i + 1, j - i - 1 <= 9, j < s.count, s[j] == "}", let v = Int(String(String.UnicodeScalarView(s[(i + 1)..<j]))) else { return nil }
            return (v, j + 1)
        }
        guard let (a, next) = number(from: 0), let (b, rest) = number(from: next) else { return nil }
        return (a, b, String(String.UnicodeScalarView(s[rest...])))
    }

    /// Milliseconds to the frame at `fps`.
    /// Never a frame past 48 hours (the reader's bound): rounding up at the very end would be.
    public static func frame(_ ms: Int, fps: Double) -> Int {
        min(Int((Double(ms) * fps / 1000).rounded()), Int((Bounds.maxTime * fps).rounded(.down)))
    }
}
