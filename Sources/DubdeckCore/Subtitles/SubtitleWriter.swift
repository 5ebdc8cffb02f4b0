/// Writing subtitle files. In the file's own format with its layout, everything but an edited text
/// is written as it was read; across formats, italic/bold/underline and "top" are carried over.
/// Whatever is written reads back with the same texts and times (a property test checks it).
public enum SubtitleWriter {
    static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    static func three(_ v: Int) -> String { v < 10 ? "00\(v)" : v < 100 ? "0\(v)" : "\(v)" }

    public static func srtTime(_ ms: Int) -> String {
        "\(two(ms / 3_600_000)):\(two(ms / 60_000 % 60)):\(two(ms / 1000 % 60)),\(three(ms % 1000))"
    }

    public static func vttTime(_ ms: Int) -> String {
        "\(two(ms / 3_600_000)):\(two(ms / 60_000 % 60)):\(two(ms / 1000 % 60)).\(three(ms % 1000))"
    }

    public static func sbvTime(_ ms: Int) -> String {
        "\(ms / 3_600_000):\(two(ms / 60_000 % 60)):\(two(ms / 1000 % 60)).\(three(ms % 1000))"
    }

    /// A MicroDVD line: `{start}{end}` in frames at `fps`, the cue's lines joined by `|`.
    static func microdvdLine(_ e: Entry, fps: Double) -> String {
        let text = String(String.UnicodeScalarView(cueText(e, format: .microdvd).unicodeScalars.map { $0 == "\n" ? "|" : $0 }))
        return "{\(MicroDVD.frame(e.startMs, fps: fps))}{\(MicroDVD.frame(e.endMs, fps: fps))}" + text
    }

    /// `{1}{1}23.976`: the frame rate, first, so the file says what its frames count.
    static func microdvdRateLine(_ fps: Double) -> String { "{1}{1}" + JSONValue.formatNumber(fps) }

    public static func assTime(_ ms: Int) -> String {
        let cs = Int((Double(ms) / 10).rounded())
        return "\(cs / 360_000):\(two(cs / 6000 % 60)):\(two(cs / 100 % 60)).\(two(cs % 100))"
    }

    /// One cue to write: its times and current text, and what the import kept of it.
    public struct Entry: Sendable {
        public var startMs: Int
        public var endMs: Int
        /// The text now (plain).
        public var text: String
        public var speaker: String
        /// The cue as imported, and the format it was read from.
        public var original: SubtitleCue?
        public var originalFormat: SubtitleFormat?

        public init(startMs: Int, endMs: Int, text: String, speaker: String = "", original: SubtitleCue? = nil, originalFormat: SubtitleFormat? = nil) {
            self.startMs = startMs
            self.endMs = endMs
            self.text = text
            self.speaker = speaker
            self.original = original
            self.originalFormat = originalFormat
        }

        var changed: Bool { original.map { $0.text != text } ?? true }
        /// Moved since it was imported (a timing edit): its timing line is written anew.
        var retimed: Bool { original.map { $0.startMs != startMs || $0.endMs != endMs } ?? true }
    }

    /// The text of a cue as the file holds it.
    static func cueText(_ e: Entry, format: SubtitleFormat) -> String {
        guard let o = e.original, let from = e.originalFormat else {
            return Markup.render(Markup.styled(plain: e.text, like: nil), to: format)
        }
        let source = Markup.styled(o.raw, format: from, vttSettings: o.vttSettings, region: o.region)
        // TTML's spans are balanced XML: an edited line takes the style its whole line had.
        if from == format, format != .ttml {
            return e.changed ? Markup.merge(original: o.raw, edited: e.text, format: format) : o.raw
        }
        return Markup.render(e.changed ? Markup.styled(plain: e.text, like: source) : source, to: format)
    }

    static func isTop(_ e: Entry) -> Bool {
        guard let o = e.original, let from = e.originalFormat else { return false }
        return Markup.styled(o.raw, format: from, vttSettings: o.vttSettings, region: o.region).top
    }

    // MARK: A fresh file

    /// `fps`: MicroDVD's frame rate (25 when none is known). `language`: TTML's xml:lang.
    public static func write(_ entries: [Entry], format: SubtitleFormat, assHeader: SubtitleDocument? = nil, fps: Double? = nil, language: String? = nil) -> String {
        switch format {
        case .ttml:
            return TTML.write(entries, language: language)
        case .sbv:
            var out = ""
            for e in entries { out += "\(sbvTime(e.startMs)),\(sbvTime(e.endMs))\n\(cueText(e, format: .sbv))\n\n" }
            return out
        case .microdvd:
            let rate = fps ?? 25
            return ([microdvdRateLine(rate)] + entries.map { microdvdLine($0, fps: rate) }).joined(separator: "\n") + "\n"
        case .srt:
            var out = ""
            for (k, e) in entries.enumerated() {
                out += "\(k + 1)\n\(srtTime(e.startMs)) --> \(srtTime(e.endMs))\n\(cueText(e, format: .srt))\n\n"
            }
            return out
        case .vtt:
            var out = "WEBVTT\n\n"
            for e in sortedByStart(entries) { out += vttCue(e).joined(separator: "\n") + "\n\n" }
            return out
        case .ass:
            let info = assHeader?.scriptInfo.isEmpty == false ? assHeader!.scriptInfo
                : ["[Script Info]", "; written by dubdeck", "ScriptType: v4.00+", "PlayResX: 1920", "PlayResY: 1080"]
            let styles = assHeader?.styles.isEmpty == false ? assHeader!.styles
                : ["[V4+ Styles]",
                   "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
                   "Style: Default,Arial,48,&H00FFFFFF,&H000000FF,&H00000000,&H64000000,0,0,0,0,100,100,0,0,1,2,1,2,60,60,40,1"]
            var lines = info
            if lines.last?.isEmpty == false { lines.append("") }
            lines += styles
            if lines.last?.isEmpty == false { lines.append("") }
            let format = assHeader?.eventFormat.isEmpty == false ? assHeader!.eventFormat : defaultEventFormat
            lines.append("[Events]")
            lines.append("Format: " + format.joined(separator: ", "))
            for e in entries { lines.append(dialogue(e, format: format)) }
            return lines.joined(separator: "\n") + "\n"
        }
    }

    static let defaultEventFormat = ["Layer", "Start", "End", "Style", "Name", "MarginL", "MarginR", "MarginV", "Effect", "Text"]

    static func sortedByStart(_ entries: [Entry]) -> [Entry] {
        entries.enumerated().sorted { ($0.element.startMs, $0.offset) < ($1.element.startMs, $1.offset) }.map(\.element)
    }

    /// A WebVTT cue's lines: id (from a WebVTT source), timing with settings, text.
    static func vttCue(_ e: Entry) -> [String] {
        var settings = e.originalFormat == .vtt ? e.original?.vttSettings ?? "" : ""
        if e.originalFormat != .vtt, isTop(e) { settings = "line:0" }
        var text = cueText(e, format: .vtt)
        if e.originalFormat != .vtt, !e.speaker.isEmpty {
            let name = String(e.speaker.unicodeScalars.filter { $0 != ">" && $0 != "<" && $0 != "\n" }.map(Character.init))
            text = "<v \(name)>" + text
        }
        var lines: [String] = []
        if e.originalFormat == .vtt, let id = e.original?.id, !id.isEmpty { lines.append(id) }
        lines.append("\(vttTime(e.startMs)) --> \(vttTime(e.endMs))" + (settings.isEmpty ? "" : " " + settings))
        if !text.isEmpty { lines.append(text) }
        return lines
    }

    /// A Dialogue line in the given Format.
    static func dialogue(_ e: Entry, format: [String]) -> String {
        let fields = e.originalFormat == .ass ? e.original?.fields ?? [] : []
        let values: [String] = format.map { f in
            switch f.lowercased() {
            case "start": return assTime(e.startMs)
            case "end": return assTime(e.endMs)
            case "text": return cueText(e, format: .ass)
            case "name", "actor":
                // One field of one line: no comma, no line break (a name with one would end the Dialogue).
                return String(String.UnicodeScalarView(e.speaker.unicodeScalars.map { $0 == "," ? ";" : $0.properties.isWhitespace || $0.value < 0x20 ? " " : $0 }))
            case "layer": return fields.first { $0.0.lowercased() == "layer" }?.1 ?? "0"
            case "style": return fields.first { $0.0.lowercased() == "style" }?.1 ?? "Default"
            case "marginl", "marginr", "marginv": return fields.first { $0.0.lowercased() == f.lowercased() }?.1 ?? "0"
            default: return fields.first { $0.0.lowercased() == f.lowercased() }?.1 ?? ""
            }
        }
        return "Dialogue: " + values.joined(separator: ",")
    }

    // MARK: The file's own format, its layout kept

    /// `items` as read; `entries[k]` the cue in place K (nil: left out, e.g. not approved). WebVTT
    /// cues are written in start order (the places are filled in that order).
    public static func writeLayout(_ items: [SubtitleItem], entries: [Entry?], format: SubtitleFormat, eventFormat: [String], fps: Double? = nil,
                                   language: String? = nil) -> String {
        // A TTML document is written anew (IMSC 1.1 Text), its cues in their places.
        if format == .ttml { return TTML.write(entries.compactMap { $0 }, language: language) }
        var queue: [Entry] = entries.compactMap { $0 }
        if format == .vtt { queue = sortedByStart(queue) }
        let inPlace = format != .vtt
        var out: [String] = []
        var next = 0
        for item in items {
            switch item {
            case .lines(let l): out += l
            case .cue(let k):
                let e: Entry?
                if inPlace {
                    e = k < entries.count ? entries[k] : nil
                } else {
                    e = next < queue.count ? queue[next] : nil
                    next += 1
                }
                guard let e else { continue }
                out += cueLines(e, format: format, eventFormat: eventFormat, fps: fps)
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// A cue's lines: as read when neither its text nor its times changed — but for a timing line
    /// the reader tolerated (`00:00:01 --> 00:00:03,5`), which is always written in the format's
    /// canonical spelling (a delivered file is clean, SPEC §11.10); else its number or id as read,
    /// its timing line canonical, WebVTT settings kept, and its text (an edited one with its tags
    /// kept where their words remain).
    static func cueLines(_ e: Entry, format: SubtitleFormat, eventFormat: [String], fps: Double? = nil) -> [String] {
        guard let o = e.original, e.originalFormat == format, !o.lines.isEmpty else {
            switch format {
            case .srt: return ["0", "\(srtTime(e.startMs)) --> \(srtTime(e.endMs))", cueText(e, format: .srt)]
            case .vtt: return vttCue(e)
            case .ass: return [dialogue(e, format: eventFormat.isEmpty ? defaultEventFormat : eventFormat)]
            case .sbv: return ["\(sbvTime(e.startMs)),\(sbvTime(e.endMs))"] + cueText(e, format: .sbv).split(separator: "\n").map(String.init)
            case .microdvd: return [microdvdLine(e, fps: fps ?? 25)]
            case .ttml: return []  // written whole by TTML.write
            }
        }
        let at = format == .sbv ? 0 : (o.id.isEmpty ? 0 : 1)
        let timing: String? = switch format {
        case .srt: "\(srtTime(e.startMs)) --> \(srtTime(e.endMs))" + (at < o.lines.count ? srtTimingTail(o.lines[at]) : "")
        case .vtt: "\(vttTime(e.startMs)) --> \(vttTime(e.endMs))" + (o.vttSettings.isEmpty ? "" : " " + o.vttSettings)
        case .sbv: "\(sbvTime(e.startMs)),\(sbvTime(e.endMs))"
        default: nil
        }
        if !e.changed && !e.retimed {
            // The timing line where it was read (SBV: the first; SRT and WebVTT: after the number
            // or id), in canonical spelling; every other line as read.
            var lines = o.lines
            if let timing, at < lines.count, !isCanonicalTiming(lines[at], format: format) { lines[at] = timing }
            return lines
        }
        let text = cueText(e, format: format)
        switch format {
        case .srt, .vtt:
            let head = (o.id.isEmpty ? [] : [o.lines[0]]) + [timing!]
            return head + (text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        case .ass:
            if e.retimed { return [dialogue(e, format: eventFormat.isEmpty ? defaultEventFormat : eventFormat)] }
            return [replacingText(o.lines[0], fieldCount: max(1, eventFormat.count), with: text)]
        case .sbv:
            return [timing!] + (text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        case .microdvd:
            return [microdvdLine(e, fps: fps ?? 25)]
        case .ttml:
            return []
        }
    }

    /// A timing line in its format's own spelling, kept as read: SRT `00:00:01,000 --> 00:00:03,500`
    /// (anything after it too), WebVTT the same with `.` and the hours optional (`00:01.000` is
    /// valid WebVTT), SBV `0:00:01.000,0:00:03.500`. What the reader only tolerated is not.
    static func isCanonicalTiming(_ line: String, format: SubtitleFormat) -> Bool {
        switch format {
        case .srt: return line.wholeMatch(of: /\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}( .*)?/) != nil
        case .vtt: return line.wholeMatch(of: /(\d{2,}:)?\d{2}:\d{2}\.\d{3}[ \t]+-->[ \t]+(\d{2,}:)?\d{2}:\d{2}\.\d{3}([ \t].*)?/) != nil
        case .sbv: return line.wholeMatch(of: /\d+:\d{2}:\d{2}\.\d{3},\d+:\d{2}:\d{2}\.\d{3}/) != nil
        default: return true
        }
    }

    /// What an SRT timing line has after its end time (position coordinates, `X1:… Y2:…`), kept
    /// when its times are written anew: " X1:1 X2:2 …", or "".
    static func srtTimingTail(_ line: String) -> String {
        guard let arrow = line.firstRange(of: "-->") else { return "" }
        var rest = line[arrow.upperBound...].drop { $0 == " " || $0 == "\t" }
        rest = rest.drop { $0 != " " && $0 != "\t" }  // the end time
        let tail = rest.drop { $0 == " " || $0 == "\t" }
        return tail.isEmpty ? "" : " " + tail
    }

    /// A Dialogue line with its Text field (the last, after fieldCount − 1 commas) replaced.
    static func replacingText(_ line: String, fieldCount: Int, with text: String) -> String {
        let s = Array(line.unicodeScalars)
        guard let colon = s.firstIndex(of: ":") else { return line }
        var commas = 0
        var i = colon + 1
        while i < s.count, commas < fieldCount - 1 {
            if s[i] == "," { commas += 1 }
            i += 1
        }
        return String(String.UnicodeScalarView(s[..<i])) + text
    }
}
