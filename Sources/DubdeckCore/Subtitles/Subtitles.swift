/// Subtitle files in and out: SRT, WebVTT and ASS/SSA. Hand-written (no maintained Swift library
/// for them here); compared against pysubs2's reading in the tests' expectations.
public struct SubtitleCue: Equatable, Sendable {
    /// Milliseconds (ASS: centisecond precision).
    public var startMs: Int
    public var endMs: Int
    /// The text as shown: formatting tags removed, line breaks as "\n".
    public var text: String
    /// The text as written in the file (tags kept), for export when the text did not change.
    public var raw: String
    /// ASS Name/actor, or a WebVTT <v Speaker> voice.
    public var speaker: String = ""
    /// ASS fields of the Dialogue line (Layer, Style, MarginL, …) by Format name; WebVTT cue settings.
    public var fields: [(String, String)] = []
    public var vttSettings: String = ""

    public static func == (a: SubtitleCue, b: SubtitleCue) -> Bool {
        a.startMs == b.startMs && a.endMs == b.endMs && a.text == b.text && a.raw == b.raw && a.speaker == b.speaker
            && a.vttSettings == b.vttSettings && a.fields.map { $0.0 } == b.fields.map { $0.0 } && a.fields.map { $0.1 } == b.fields.map { $0.1 }
    }
}

public enum SubtitleFormat: String, CaseIterable, Sendable {
    case srt, vtt, ass

    public static func of(path: String) -> SubtitleFormat? {
        let lower = path.lowercased()
        if lower.hasSuffix(".srt") { return .srt }
        if lower.hasSuffix(".vtt") { return .vtt }
        if lower.hasSuffix(".ass") || lower.hasSuffix(".ssa") { return .ass }
        return nil
    }
}

public struct SubtitleDocument: Sendable {
    public var format: SubtitleFormat
    public var cues: [SubtitleCue]
    /// ASS: the [Script Info] and [V4+ Styles] sections as written, and the [Events] Format fields.
    public var scriptInfo: [String] = []
    public var styles: [String] = []
    public var eventFormat: [String] = []
}

public struct SubtitleError: Error {
    public let line: Int
    public let message: String
}

public enum SubtitleParser {
    /// Decodes the file (UTF-8, BOM stripped; invalid UTF-8 is an error), lines split on LF/CRLF/CR.
    public static func lines(_ bytes: [UInt8]) throws -> [String] {
        var b = bytes[...]
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { b = b.dropFirst(3) }
        guard let text = String(validating: b, as: UTF8.self) else { throw SubtitleError(line: 0, message: "not UTF-8 text") }
        var out: [String] = []
        var current = ""
        var lastWasCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\r" { out.append(current); current = ""; lastWasCR = true; continue }
            if scalar == "\n" {
                if !lastWasCR { out.append(current) }
                current = ""
                lastWasCR = false
                continue
            }
            lastWasCR = false
            current.unicodeScalars.append(scalar)
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    public static func parse(_ bytes: [UInt8], format: SubtitleFormat) throws -> SubtitleDocument {
        let l = try lines(bytes)
        switch format {
        case .srt: return SubtitleDocument(format: .srt, cues: try parseSRT(l))
        case .vtt: return SubtitleDocument(format: .vtt, cues: try parseVTT(l))
        case .ass: return try parseASS(l)
        }
    }

    // MARK: Times

    /// "hh:mm:ss,mmm" / "hh:mm:ss.mmm" / "mm:ss.mmm" / ASS "h:mm:ss.cc" → milliseconds.
    static func time(_ text: Substring, line: Int) throws -> Int {
        let t = text.trimmingCharacters()
        let parts = t.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { throw SubtitleError(line: line, message: "bad time '\(Sanitizer.display(String(t)))'") }
        // Digits only (no sign, no spaces inside), and few of them: no product below can overflow.
        func digits<S: StringProtocol>(_ p: S) -> Bool { !p.isEmpty && p.count <= 4 && p.allSatisfy { $0.isASCII && $0.isNumber } }
        let secPart = parts.last!.replacingComma()
        let secPieces = secPart.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.dropLast().allSatisfy({ digits($0) }), digits(secPieces[0]) else {
            throw SubtitleError(line: line, message: "bad time '\(Sanitizer.display(String(t)))'")
        }
        guard secPieces.count <= 2, let sec = Int(secPieces[0]), sec >= 0, sec < 60 else {
            throw SubtitleError(line: line, message: "bad time '\(Sanitizer.display(String(t)))'")
        }
        var frac = 0
        if secPieces.count == 2 {
            let digits = secPieces[1]
            guard !digits.isEmpty, digits.count <= 3, let f = Int(digits), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw SubtitleError(line: line, message: "bad time '\(Sanitizer.display(String(t)))'")
            }
            frac = f * [1, 100, 10, 1][digits.count]
        }
        guard let minutes = Int(parts[parts.count - 2]), minutes >= 0, minutes < 60 else {
            throw SubtitleError(line: line, message: "bad time '\(Sanitizer.display(String(t)))'")
        }
        let hours = parts.count == 3 ? Int(parts[0]) : 0
        guard let h = hours, h >= 0, h <= 48 else { throw SubtitleError(line: line, message: "bad time '\(Sanitizer.display(String(t)))' (0 to 48 hours)") }
        return ((h * 60 + minutes) * 60 + sec) * 1000 + frac
    }

    static func timing(_ line: String, at n: Int) throws -> (Int, Int, String) {
        guard let arrow = line.range(ofArrow: "-->") else { throw SubtitleError(line: n, message: "expected 'start --> end'") }
        let start = try time(line[..<arrow.lowerBound], line: n)
        let rest = line[arrow.upperBound...].trimmingLeadingSpaces()
        let endText = rest.prefix { !$0.isWhitespace }
        let settings = rest.dropFirst(endText.count).trimmingCharacters()
        let end = try time(endText, line: n)
        guard end >= start else { throw SubtitleError(line: n, message: "end is before start") }
        return (start, end, settings)
    }

    /// A cue's text lines: from `start` to the next blank line; `next` is set past them.
    static func cueText(_ lines: [String], from start: Int, next: inout Int) -> String {
        var text: [String] = []
        next = start
        while next < lines.count, !lines[next].trimmingCharacters().isEmpty {
            text.append(lines[next])
            next += 1
        }
        return text.joined(separator: "\n")
    }

    // MARK: SRT

    static func parseSRT(_ lines: [String]) throws -> [SubtitleCue] {
        var cues: [SubtitleCue] = []
        var i = 0
        while i < lines.count {
            if lines[i].trimmingCharacters().isEmpty { i += 1; continue }
            var timingLine = i
            if !lines[i].contains("-->") {
                // The cue number; the timing comes next.
                guard Int(lines[i].trimmingCharacters()) != nil else {
                    throw SubtitleError(line: i + 1, message: "expected a cue number or a timing line")
                }
                timingLine = i + 1
                guard timingLine < lines.count else { throw SubtitleError(line: i + 1, message: "cue number without a timing line") }
            }
            let (start, end, _) = try timing(lines[timingLine], at: timingLine + 1)
            // The text runs to a blank line, or to the next cue when the blank line is missing
            // (a timing line, with its number just before it).
            var text: [String] = []
            i = timingLine + 1
            while i < lines.count, !lines[i].trimmingCharacters().isEmpty {
                if lines[i].contains("-->"), (try? timing(lines[i], at: i + 1)) != nil {
                    if let last = text.last, Int(last.trimmingCharacters()) != nil {
                        text.removeLast()
                        i -= 1
                    }
                    break
                }
                text.append(lines[i])
                i += 1
            }
            let raw = text.joined(separator: "\n")
            // Aegisub writes ASS override blocks ({\an8}) into SRT too: they are not text.
            let shown = stripHTMLTags(stripOverrideBlocks(raw)).trimmingCharacters()
            cues.append(SubtitleCue(startMs: start, endMs: end, text: shown, raw: raw))
        }
        return cues
    }

    /// The text with every `open`…`close` block for which `drop` says yes removed (the one place
    /// tags are taken out: ASS override blocks, SRT/WebVTT markup).
    static func removingBlocks(_ s: String, open: Character, close: Character, drop: (Substring) -> Bool) -> String {
        guard s.contains(open) else { return s }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == open, let end = s[i...].firstIndex(of: close), drop(s[s.index(after: i)..<end]) {
                i = s.index(after: end)
                continue
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }

    /// ASS override blocks "{\…}" removed (other braces are text).
    static func stripOverrideBlocks(_ s: String) -> String {
        removingBlocks(s, open: "{", close: "}") { $0.first == "\\" }
    }

    static let markupTags: Swift.Set<String> = ["i", "b", "u", "s", "font", "c", "v", "lang", "ruby", "rt"]

    /// <i>, <b>, <u>, <font …>, </…> and WebVTT <c.x>, <v Name>, <00:01.000> timestamps removed.
    static func stripHTMLTags(_ s: String) -> String {
        removingBlocks(s, open: "<", close: ">") { inner in
            let name = inner.lowercased().drop { $0 == "/" }.prefix { $0.isLetter || $0.isNumber || $0 == ":" || $0 == "." }
            let base = String(name.split(separator: ".").first ?? "")
            return markupTags.contains(base) || (name.first?.isNumber ?? false)
        }
    }

    // MARK: WebVTT

    static func parseVTT(_ lines: [String]) throws -> [SubtitleCue] {
        guard let first = lines.first, first.hasPrefix("WEBVTT") else {
            throw SubtitleError(line: 1, message: "a WebVTT file starts with WEBVTT")
        }
        var cues: [SubtitleCue] = []
        var i = 1
        while i < lines.count {
            let line = lines[i]
            if line.trimmingCharacters().isEmpty { i += 1; continue }
            if line.hasPrefix("NOTE") || line.hasPrefix("STYLE") || line.hasPrefix("REGION") {
                while i < lines.count, !lines[i].trimmingCharacters().isEmpty { i += 1 }
                continue
            }
            var timingLine = i
            if !line.contains("-->") {
                timingLine = i + 1  // a cue identifier
                guard timingLine < lines.count, lines[timingLine].contains("-->") else {
                    throw SubtitleError(line: i + 1, message: "expected a cue timing ('start --> end')")
                }
            }
            let (start, end, settings) = try timing(lines[timingLine], at: timingLine + 1)
            let raw = cueText(lines, from: timingLine + 1, next: &i)
            var speaker = ""
            if let v = raw.range(ofArrow: "<v "), let close = raw[v.upperBound...].firstIndex(of: ">") {
                speaker = String(raw[v.upperBound..<close]).trimmingCharacters()
            }
            var cue = SubtitleCue(startMs: start, endMs: end, text: decodeEntities(stripHTMLTags(raw)), raw: raw, speaker: speaker)
            cue.vttSettings = settings
            cues.append(cue)
        }
        return cues
    }

    static func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = s
        for (e, c) in [("&lt;", "<"), ("&gt;", ">"), ("&nbsp;", "\u{00A0}"), ("&lrm;", "\u{200E}"), ("&rlm;", "\u{200F}"), ("&amp;", "&")] {
            out = out.replacingAll(e, with: c)
        }
        return out
    }

    // MARK: ASS / SSA

    static func parseASS(_ lines: [String]) throws -> SubtitleDocument {
        var doc = SubtitleDocument(format: .ass, cues: [])
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
                continue
            }
            switch section {
            case "[script info]":
                doc.scriptInfo.append(line)
            case "[v4+ styles]", "[v4 styles]", "[v4 styles+]":
                doc.styles.append(line)
            case "[events]":
                if t.isEmpty || t.hasPrefix(";") { continue }
                guard let colon = t.firstIndex(of: ":") else { throw SubtitleError(line: n, message: "expected 'Key: value' in [Events]") }
                let key = t[..<colon].trimmingCharacters().lowercased()
                let value = t[t.index(after: colon)...].trimmingLeadingSpaces()
                if key == "format" {
                    doc.eventFormat = value.split(separator: ",").map { String($0).trimmingCharacters() }
                    guard doc.eventFormat.contains(where: { $0.lowercased() == "text" }), doc.eventFormat.last?.lowercased() == "text" else {
                        throw SubtitleError(line: n, message: "the [Events] Format must end with Text")
                    }
                    continue
                }
                if key == "comment" { continue }
                guard key == "dialogue" else { continue }  // Picture, Sound, Movie, Command lines
                guard !doc.eventFormat.isEmpty else { throw SubtitleError(line: n, message: "Dialogue before the [Events] Format line") }
                let values = value.split(separator: ",", maxSplits: doc.eventFormat.count - 1, omittingEmptySubsequences: false).map(String.init)
                guard values.count == doc.eventFormat.count else {
                    throw SubtitleError(line: n, message: "Dialogue has \(values.count) fields, the Format has \(doc.eventFormat.count)")
                }
                var fields: [(String, String)] = []
                var start = 0, end = 0, raw = "", name = ""
                for (f, v) in zip(doc.eventFormat, values) {
                    switch f.lowercased() {
                    case "start": start = try time(Substring(v), line: n)
                    case "end": end = try time(Substring(v), line: n)
                    case "text": raw = v
                    case "name", "actor": name = v.trimmingCharacters(); fields.append((f, v))
                    default: fields.append((f, v))
                    }
                }
                guard end >= start else { throw SubtitleError(line: n, message: "end is before start") }
                doc.cues.append(SubtitleCue(startMs: start, endMs: end, text: assPlainText(raw), raw: raw, speaker: name, fields: fields))
            default:
                if !sawScriptInfo, !t.isEmpty, section.isEmpty, !t.hasPrefix(";") {
                    throw SubtitleError(line: n, message: "not an ASS/SSA file (expected [Script Info])")
                }
            }
        }
        guard sawScriptInfo || !doc.eventFormat.isEmpty else { throw SubtitleError(line: 1, message: "not an ASS/SSA file (no [Script Info] or [Events])") }
        return doc
    }

    /// Override blocks {…} removed; \N and \n are line breaks, \h a hard space.
    static func assPlainText(_ raw: String) -> String {
        let text = removingBlocks(raw, open: "{", close: "}") { _ in true }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "\\", text.index(after: i) < text.endIndex {
                let next = text[text.index(after: i)]
                if next == "N" || next == "n" { out.append("\n"); i = text.index(i, offsetBy: 2); continue }
                if next == "h" { out.append(" "); i = text.index(i, offsetBy: 2); continue }
            }
            out.append(c)
            i = text.index(after: i)
        }
        return out
    }
}

public enum SubtitleWriter {
    static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    static func three(_ v: Int) -> String { v < 10 ? "00\(v)" : v < 100 ? "0\(v)" : "\(v)" }

    public static func srtTime(_ ms: Int) -> String {
        "\(two(ms / 3_600_000)):\(two(ms / 60_000 % 60)):\(two(ms / 1000 % 60)),\(three(ms % 1000))"
    }

    public static func vttTime(_ ms: Int) -> String {
        "\(two(ms / 3_600_000)):\(two(ms / 60_000 % 60)):\(two(ms / 1000 % 60)).\(three(ms % 1000))"
    }

    public static func assTime(_ ms: Int) -> String {
        let cs = Int((Double(ms) / 10).rounded())
        return "\(cs / 360_000):\(two(cs / 6000 % 60)):\(two(cs / 100 % 60)).\(two(cs % 100))"
    }

    /// A cue's text for the file: the original (with its tags) when the text is unchanged;
    /// otherwise the new text, keeping a leading ASS override block.
    static func textForFile(_ cue: SubtitleCue, format: SubtitleFormat, original: SubtitleCue?) -> String {
        if let o = original, o.text == cue.text, !o.raw.isEmpty { return o.raw }
        switch format {
        case .ass:
            var prefix = ""
            if let raw = original?.raw, raw.hasPrefix("{"), let close = raw.firstIndex(of: "}") { prefix = String(raw[...close]) }
            return prefix + cue.text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\N")
        case .vtt:
            return cue.text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
        case .srt:
            return cue.text
        }
    }

    public static func write(_ cues: [SubtitleCue], format: SubtitleFormat, originals: [SubtitleCue?], assHeader: SubtitleDocument? = nil) -> String {
        var out = ""
        switch format {
        case .srt:
            for (k, c) in cues.enumerated() {
                out += "\(k + 1)\n\(srtTime(c.startMs)) --> \(srtTime(c.endMs))\n\(textForFile(c, format: .srt, original: originals[k]))\n\n"
            }
        case .vtt:
            out = "WEBVTT\n\n"
            for (k, c) in cues.enumerated() {
                let settings = c.vttSettings.isEmpty ? "" : " " + c.vttSettings
                var text = textForFile(c, format: .vtt, original: originals[k])
                if originals[k]?.text != c.text, !c.speaker.isEmpty { text = "<v \(c.speaker)>" + text }
                out += "\(vttTime(c.startMs)) --> \(vttTime(c.endMs))\(settings)\n\(text)\n\n"
            }
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
            let format = assHeader?.eventFormat.isEmpty == false ? assHeader!.eventFormat
                : ["Layer", "Start", "End", "Style", "Name", "MarginL", "MarginR", "MarginV", "Effect", "Text"]
            lines.append("[Events]")
            lines.append("Format: " + format.joined(separator: ", "))
            for (k, c) in cues.enumerated() {
                let values: [String] = format.map { f in
                    switch f.lowercased() {
                    case "start": return assTime(c.startMs)
                    case "end": return assTime(c.endMs)
                    case "text": return textForFile(c, format: .ass, original: originals[k])
                    case "name", "actor": return c.speaker
                    case "layer": return c.fields.first { $0.0.lowercased() == "layer" }?.1 ?? "0"
                    case "style": return c.fields.first { $0.0.lowercased() == "style" }?.1 ?? "Default"
                    case "marginl", "marginr", "marginv": return c.fields.first { $0.0.lowercased() == f.lowercased() }?.1 ?? "0"
                    default: return c.fields.first { $0.0.lowercased() == f.lowercased() }?.1 ?? ""
                    }
                }
                lines.append("Dialogue: " + values.joined(separator: ","))
            }
            out = lines.joined(separator: "\n") + "\n"
        }
        return out
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

    func replacingAll(_ a: String, with b: String) -> String {
        guard !a.isEmpty, range(ofArrow: a) != nil else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = String(rest).range(ofArrow: a) {
            let s = String(rest)
            out += s[..<r.lowerBound] + b
            rest = Substring(s[r.upperBound...])
        }
        return out + rest
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }

    func trimmingLeadingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        return s
    }

    func replacingComma() -> Substring { Substring(String(self.map { $0 == "," ? "." : $0 })) }
}

extension String {
    func trimmingCharacters() -> String { Substring(self).trimmingCharacters() }
}
