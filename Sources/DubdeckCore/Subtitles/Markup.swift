/// Formatting inside cue texts, read and written on Unicode scalars (never grapheme clusters: a
/// combining mark right after `}` or `>` is text, not part of the tag's end).
///
/// - ASS: `{…}` blocks are overrides (all removed from the shown text); `\N` `\n` line breaks, `\h` a
///   space; `\{` `\}` literal braces (dubdeck writes them; libass reads them).
/// - SRT: `<` (maybe `/`) and an ASCII letter up to `>` is a tag (`<i> <font …> </b>`, as pysubs2 reads
///   them), as are ASS `{\…}` blocks Aegisub writes; `<` followed by anything else (a digit, a
///   space) is text; `&lt; &gt; &amp;` are `< > &`; `--⁠>` (a word joiner inside) is `-->`, how a
///   text line that would read as a timing line is written.
/// - WebVTT: any `<name …>` and `</name>` (`<c.x> <i> <v …>`, and `<font>`, `<span>` that browsers
///   ignore), a tag left open to the cue's end, and `<00:01.000>` timestamps are tags;
///   `&lt; &gt; &amp; &nbsp; &lrm; &rlm;` entities.
/// - SBV: no markup. MicroDVD: `{y:i}`-style control codes; `|` between lines.
/// - TTML: the cue's text as the TTML reader renders it (never the file's XML, which libxml2
///   reads): flat `<span tts:fontStyle="italic" tts:color="#FF0000">` runs, `\n` for `<br/>`, text
///   escaped (`&amp; &lt; &gt; &quot;`), so `<` always starts a tag.
public enum Markup {
    typealias Scalars = [Unicode.Scalar]

    /// Where the next `>` or `}` is, for positions asked in increasing order: a search that found
    /// the closer at c answers every later position up to c, and one that found none answers every
    /// later position. Each scalar is looked at once per closer: `<a` × N is linear, not N².
    struct Closers {
        let s: Scalars
        var from = [Int.max, Int.max], found = [Int?.none, nil]
        /// Scalars looked at by the searches (the tests check the work is linear).
        var looked = 0

        init(_ s: Scalars) { self.s = s }

        mutating func next(_ closer: Unicode.Scalar, after i: Int) -> Int? {
            let k = closer == ">" ? 0 : 1
            if from[k] <= i + 1 {
                guard let f = found[k] else { return nil }  // none after from[k], so none after i
                if f > i { return f }
            }
            from[k] = i + 1
            found[k] = i + 1 < s.count ? s[(i + 1)...].firstIndex(of: closer) : nil
            looked += (found[k] ?? s.count) - i
            return found[k]
        }
    }

    /// The length (in scalars) of the tag starting at `s[i]`, or nil when it is text there.
    static func tagLength(_ s: Scalars, _ i: Int, format: SubtitleFormat, _ closers: inout Closers) -> Int? {
        let c = s[i]
        switch format {
        case .sbv:
            return nil  // SBV has no markup
        case .ttml:
            guard c == "<", let close = closers.next(">", after: i) else { return nil }
            return close - i + 1
        case .microdvd:
            // Control codes {y:i}, {C:$0000FF}, {f:Arial}: a letter, a colon, a value.
            guard c == "{", i + 2 < s.count, s[i + 1].properties.isAlphabetic, s[i + 2] == ":",
                  let close = closers.next("}", after: i) else { return nil }
            return close - i + 1
        case .ass:
            guard c == "{" else { return nil }
            if i > 0, s[i - 1] == "\\", !(i > 1 && s[i - 2] == "\\") { return nil }  // `\{` is a brace
            guard let close = closers.next("}", after: i) else { return nil }
            return close - i + 1
        case .srt, .vtt:
            if c == "{", format == .srt {
                // Aegisub's override blocks in SRT ({\an8}); other braces are text.
                guard i + 1 < s.count, s[i + 1] == "\\", let close = closers.next("}", after: i) else { return nil }
                return close - i + 1
            }
            guard c == "<" else { return nil }
            guard let close = closers.next(">", after: i) else {
                // WebVTT as browsers read it: a tag left open (`<a` with no `>`) runs to the end of the cue.
                guard format == .vtt, i + 1 < s.count, s[i + 1].properties.isAlphabetic || (s[i + 1] == "/" && i + 2 < s.count && s[i + 2].properties.isAlphabetic) else { return nil }
                return s.count - i
            }
            var j = i + 1
            if j < close, s[j] == "/" { j += 1 }
            let nameEnd = s[j..<close].firstIndex { !($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == ":" || $0 == "." || $0 == "_" || $0 == "-") } ?? close
            let name = String(String.UnicodeScalarView(s[j..<nameEnd])).lowercased()
            if format == .vtt, let first = name.unicodeScalars.first, ("0"..."9").contains(first) {
                // A karaoke timestamp <00:01.000>: a tag only when it is one.
                return (try? SubtitleParser.time(Substring(name), line: 0)) != nil && nameEnd == close ? close - i + 1 : nil
            }
            if format == .srt {
                // As players and pysubs2 read SRT: `<`, maybe `/`, a letter … `>` is a tag; `<3`, `< x` are text.
                guard j < close, s[j].properties.isAlphabetic, s[j].isASCII else { return nil }
                return close - i + 1
            }
            // Any tag a browser would read (`<font color="…">`, `<span>`, the known `<c.x>`, `<v Joe>`):
            // not spoken, kept as written for a WebVTT export. `<3` and `< x` are text.
            guard j < close, s[j].properties.isAlphabetic,
                  nameEnd == close || s[nameEnd] == " " || s[nameEnd] == "\t" || s[nameEnd] == "." || s[nameEnd] == "/" || s[nameEnd] == "=" else { return nil }
            return close - i + 1
        }
    }

    /// The text as shown.
    public static func plain(_ raw: String, format: SubtitleFormat) -> String {
        // A String, not a UnicodeScalarView: appending a sequence to the view copies it whole each time.
        var text = ""
        for piece in pieces(raw, format: format) {
            switch piece {
            case .tag: break
            case .text(let t): text += t
            case .newline: text += "\n"
            }
        }
        return format == .srt ? text.trimmingCharacters() : text
    }

    enum Piece: Equatable {
        case text(String)
        case newline
        case tag(String)
    }

    /// The raw text as tags, text and line breaks (entities and escapes decoded in the text).
    static func pieces(_ raw: String, format: SubtitleFormat) -> [Piece] {
        var looked = 0
        return pieces(raw, format: format, looked: &looked)
    }

    /// `looked`: how many scalars the searches for closers looked at.
    static func pieces(_ raw: String, format: SubtitleFormat, looked: inout Int) -> [Piece] {
        let s = Scalars(raw.unicodeScalars)
        var closers = Closers(s)
        defer { looked = closers.looked }
        var out: [Piece] = []
        var text = String.UnicodeScalarView()
        func flush() {
            if !text.isEmpty { out.append(.text(String(text))) }
            text = .init()
        }
        // ASS: between `\p1` (… `\p9`) and `\p0` the text is a shape's drawing commands, not words:
        // kept with the tags (an edit keeps it), never spoken.
        var drawing = false
        var shape = String.UnicodeScalarView()
        func flushShape() {
            if !shape.isEmpty { out.append(.tag(String(shape))) }
            shape = .init()
        }
        var i = 0
        while i < s.count {
            let c = s[i]
            if let n = tagLength(s, i, format: format, &closers) {
                flush()
                flushShape()
                let tag = String(String.UnicodeScalarView(s[i..<(i + n)]))
                out.append(.tag(tag))
                if format == .ass, let level = Markup.drawingLevel(tag) { drawing = level > 0 }
                i += n
                continue
            }
            if drawing {
                shape.append(c)
                i += 1
                continue
            }
            if c == "\n" { flush(); out.append(.newline); i += 1; continue }
            if format == .ass, c == "\\", i + 1 < s.count {
                let next = s[i + 1]
                if next == "N" || next == "n" { flush(); out.append(.newline); i += 2; continue }
                if next == "h" { text.append(" "); i += 2; continue }
                if next == "{" || next == "}" { text.append(next); i += 2; continue }
            }
            if format == .srt || format == .vtt || format == .ttml, c == "&" {
                let entities: [(String, Unicode.Scalar)] = format == .srt
                    ? [("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"), ("&nbsp;", "\u{00A0}")]
                    : format == .ttml ? [("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"), ("&quot;", "\""), ("&apos;", "'")]
                    : [("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"), ("&nbsp;", "\u{00A0}"), ("&lrm;", "\u{200E}"), ("&rlm;", "\u{200F}")]
                if let (e, r) = entities.first(where: { e in
                    let es = Scalars(e.0.unicodeScalars)
                    return i + es.count <= s.count && Array(s[i..<(i + es.count)]) == es
                }) {
                    text.append(r)
                    i += e.unicodeScalars.count
                    continue
                }
            }
            // The writer's escape of an arrow in a line that would read as a timing line (`srtTextLine`).
            if format == .srt, c == "\u{2060}", i >= 2, s[i - 1] == "-", s[i - 2] == "-", i + 1 < s.count, s[i + 1] == ">" {
                i += 1
                continue
            }
            text.append(c)
            i += 1
        }
        flush()
        flushShape()
        return out
    }

    /// The last `\pN` in an ASS override block (nil: none): N > 0 starts drawing, 0 ends it.
    static func drawingLevel(_ tag: String) -> Int? {
        let s = Scalars(tag.unicodeScalars)
        var level: Int?
        var i = 0
        while i + 2 < s.count {
            if s[i] == "\\", s[i + 1] == "p", ("0"..."9").contains(s[i + 2]) {
                var j = i + 2
                while j < s.count, ("0"..."9").contains(s[j]) { j += 1 }
                level = Int(String(String.UnicodeScalarView(s[(i + 2)..<j])))
                i = j
                continue
            }
            i += 1
        }
        return level
    }

    /// A WebVTT cue's opening voice tag as written and the speaker it names (`<v.loud Joe>` → Joe).
    static func voice(_ raw: String) -> (String, String) {
        for case .tag(let t) in pieces(raw, format: .vtt) {
            let inner = t.dropFirst().dropLast()
            guard inner.hasPrefix("v"), inner.count > 1, inner.dropFirst().first == " " || inner.dropFirst().first == "." || inner.dropFirst().first == "\t" else { continue }
            let afterClasses = inner.drop { !($0 == " " || $0 == "\t") }
            return (t, afterClasses.trimmingCharacters())
        }
        return ("", "")
    }

    /// An ASS drawing and nothing else: an override block switches drawing mode on (`\p1`…) and no
    /// word is left outside the shape (a line mixing text and an inline drawing is its text).
    static func isDrawing(_ raw: String) -> Bool {
        let parts = pieces(raw, format: .ass)
        let drawn = parts.contains { if case .tag(let t) = $0 { return (drawingLevel(t) ?? 0) > 0 } else { return false } }
        let words = parts.contains { if case .text(let t) = $0 { return !t.allSatisfy(\.isWhitespace) } else { return false } }
        return drawn && !words
    }

    // MARK: Styling across formats

    /// Italic, bold and underline switches, text and line breaks: what carries across formats.
    enum Run: Equatable {
        case text(String)
        case newline
        case italic(Bool), bold(Bool), underline(Bool)
        /// A text colour from here (`RRGGBB`), nil: back to the default.
        case color(String?)
    }

    /// Colour names SRT's `<font color>` uses, and the classes WebVTT's default style sheet colours.
    static let namedColors: [(name: String, hex: String)] = [
        ("white", "FFFFFF"), ("lime", "00FF00"), ("cyan", "00FFFF"), ("red", "FF0000"), ("yellow", "FFFF00"),
        ("magenta", "FF00FF"), ("blue", "0000FF"), ("black", "000000"), ("green", "008000"), ("aqua", "00FFFF"),
        ("fuchsia", "FF00FF"), ("gray", "808080"), ("grey", "808080"), ("orange", "FFA500"), ("purple", "800080"),
    ]
    static let vttColorClasses = ["white", "lime", "cyan", "red", "yellow", "magenta", "blue", "black"]

    /// `#FF0000`, `ff0000`, `red` → `FF0000` (nil: not a colour).
    static func hexColor(_ value: Substring) -> String? {
        var v = value.trimmingCharacters().lowercased()
        if let named = namedColors.first(where: { $0.name == v }) { return named.hex }
        if v.hasPrefix("#") { v.removeFirst() }
        guard v.count == 6, v.allSatisfy({ $0.isHexDigit }) else { return nil }
        return v.uppercased()
    }

    /// The WebVTT class of the default palette nearest a colour.
    static func vttClass(_ hex: String) -> String {
        func rgb(_ h: String) -> [Int] { stride(from: 0, to: 6, by: 2).map { Int(h.dropFirst($0).prefix(2), radix: 16) ?? 0 } }
        let c = rgb(hex)
        return vttColorClasses.min { a, b in
            let (x, y) = (rgb(hexColor(Substring(a))!), rgb(hexColor(Substring(b))!))
            return zip(c, x).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) < zip(c, y).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        }!
    }

    struct Styled: Equatable {
        var runs: [Run]
        /// At the top of the picture (ASS \an7–9, SRT {\an8}, WebVTT line:0).
        var top: Bool

        /// Without whitespace or line breaks before the first visible character and after the last.
        func trimmed() -> Styled {
            var r = runs
            // On scalars: a combining mark after a space is visible (one Character with the space).
            func visible(_ run: Run) -> Bool {
                if case .text(let t) = run { return t.unicodeScalars.contains { !$0.properties.isWhitespace } }
                return false
            }
            guard let first = r.firstIndex(where: visible), let last = r.lastIndex(where: visible) else {
                return Styled(runs: r.filter { if case .text = $0 { return false }; return $0 != .newline }, top: top)
            }
            for i in r.indices where i < first || i > last {
                if case .text = r[i] { r[i] = .text("") } else if r[i] == .newline { r[i] = .text("") }
            }
            // On scalars: a combining mark after a space stays (they are one Character).
            func trim(_ t: String, atStart: Bool) -> String {
                var u = t.unicodeScalars[...]
                if atStart { while let f = u.first, f.properties.isWhitespace { u.removeFirst() } }
                else { while let l = u.last, l.properties.isWhitespace { u.removeLast() } }
                return String(String.UnicodeScalarView(u))
            }
            if case .text(let t) = r[first] { r[first] = .text(trim(t, atStart: true)) }
            if case .text(let t) = r[last] { r[last] = .text(trim(t, atStart: false)) }
            return Styled(runs: r.filter { $0 != .text("") }, top: top)
        }
    }

    /// A cue's raw text as runs (tags of no other format dropped).
    static func styled(_ raw: String, format: SubtitleFormat, vttSettings: String = "", region: String = "") -> Styled {
        var runs: [Run] = []
        var top = format == .vtt && vttSettings.split(separator: " ").contains { $0 == "line:0" || $0 == "line:0%" }
        if format == .ttml { top = region == "top" }
        // TTML: what each open <span> switched on, switched off at its </span>.
        var spans: [[Run]] = []
        for piece in pieces(raw, format: format) {
            switch piece {
            case .text(let t): runs.append(.text(t))
            case .newline: runs.append(.newline)
            case .tag(let t):
                if format == .ttml {
                    if t.hasPrefix("</") {
                        for r in (spans.popLast() ?? []).reversed() {
                            switch r {
                            case .italic: runs.append(.italic(false))
                            case .bold: runs.append(.bold(false))
                            case .underline: runs.append(.underline(false))
                            default: runs.append(.color(nil))
                            }
                        }
                        continue
                    }
                    guard t.hasPrefix("<span"), !t.hasSuffix("/>") else { continue }
                    var opened: [Run] = []
                    func value(_ name: String) -> Substring? {
                        guard let r = t.range(ofArrow: name + "=\"") else { return nil }
                        return t[r.upperBound...].prefix { $0 != "\"" }
                    }
                    if value("tts:fontStyle") == "italic" { opened.append(.italic(true)) }
                    if value("tts:fontWeight") == "bold" { opened.append(.bold(true)) }
                    if value("tts:textDecoration") == "underline" { opened.append(.underline(true)) }
                    if let c = value("tts:color").flatMap({ hexColor($0) }) { opened.append(.color(c)) }
                    runs += opened
                    spans.append(opened)
                    continue
                }
                if format == .microdvd {
                    // {y:i} {Y:b} {y:u}: the style of the line (y) or of the whole cue (Y).
                    let value = t.dropFirst(3).dropLast().lowercased()
                    if value.contains("i") { runs.append(.italic(true)) }
                    if value.contains("b") { runs.append(.bold(true)) }
                    if value.contains("u") { runs.append(.underline(true)) }
                } else if t.hasPrefix("{") {
                    // ASS override tags: \i1 \i0 \b1 \b0 \u1 \u0 \an7-9.
                    let s = Scalars(t.unicodeScalars)
                    var i = 0
                    while i < s.count {
                        guard s[i] == "\\" else { i += 1; continue }
                        var j = i + 1
                        while j < s.count, s[j].properties.isAlphabetic { j += 1 }
                        var k = j
                        while k < s.count, ("0"..."9").contains(s[k]) { k += 1 }
                        let name = String(String.UnicodeScalarView(s[(i + 1)..<j]))
                        let value = Int(String(String.UnicodeScalarView(s[j..<k])))
                        // \c&HBBGGRR& and \1c&HBBGGRR&: the primary colour (\c alone: the style's).
                        let colour = name == "c" ? j : (name.isEmpty && k == i + 2 && s[i + 1] == "1" && k < s.count && s[k] == "c") ? k + 1 : nil
                        if let at = colour {
                            var e = at
                            while e < s.count, s[e] != "\\", s[e] != "}" { e += 1 }
                            let spec = String(String.UnicodeScalarView(s[at..<e])).uppercased().filter { $0.isHexDigit }
                            let digits = spec.hasPrefix("H") ? String(spec.dropFirst()) : spec
                            if digits.isEmpty {
                                runs.append(.color(nil))
                            } else if digits.count <= 8 {
                                let bgr = String(String(repeating: "0", count: max(0, 6 - digits.count)) + digits.suffix(6))
                                runs.append(.color(String(bgr.suffix(2)) + String(bgr.dropFirst(2).prefix(2)) + String(bgr.prefix(2))))
                            }
                            i = max(e, i + 1)
                            continue
                        }
                        switch name {
                        case "i": runs.append(.italic(value.map { $0 != 0 } ?? false))
                        case "b": runs.append(.bold(value.map { $0 != 0 } ?? false))
                        case "u": runs.append(.underline(value.map { $0 != 0 } ?? false))
                        case "an": if let v = value { top = (7...9).contains(v) }
                        default: break
                        }
                        i = max(k, i + 1)
                    }
                } else {
                    let closing = t.hasPrefix("</")
                    let name = t.dropFirst(closing ? 2 : 1).prefix { $0.isLetter }.lowercased()
                    switch name {
                    case "i": runs.append(.italic(!closing))
                    case "b": runs.append(.bold(!closing))
                    case "u": runs.append(.underline(!closing))
                    case "font":
                        // <font color="#FF0000">, <font color=red>
                        if closing { runs.append(.color(nil)); break }
                        if let r = t.range(ofArrow: "color=") ?? t.range(ofArrow: "COLOR=") ?? t.range(ofArrow: "Color=") {
                            let value = t[r.upperBound...].drop { $0 == "\"" || $0 == "'" }.prefix { $0 != "\"" && $0 != "'" && $0 != " " && $0 != ">" }
                            if let hex = hexColor(value) { runs.append(.color(hex)) }
                        }
                    case "c":
                        // <c.yellow.bg_black>: the first class that is a colour.
                        if closing { runs.append(.color(nil)); break }
                        let classes = t.dropFirst(2).prefix { $0 != ">" && $0 != " " }.split(separator: ".")
                        if let c = classes.first(where: { vttColorClasses.contains(String($0).lowercased()) }) { runs.append(.color(hexColor(c))) }
                    default: break
                    }
                }
            }
        }
        let styled = Styled(runs: runs, top: top)
        return format == .srt ? styled.trimmed() : styled  // SRT readers trim the text
    }

    /// Plain text (a reviewer's) as runs, with the style the original cue had throughout.
    static func styled(plain: String, like original: Styled?) -> Styled {
        var open: [Run] = []
        if let o = original {
            // A switch before any text applies to the whole line.
            for r in o.runs {
                if case .text(let t) = r, !t.isEmpty { break }
                if case .newline = r { break }
                if [.italic(true), .bold(true), .underline(true)].contains(r) { open.append(r) }
                if case .color(let hex) = r, hex != nil { open.append(r) }
            }
        }
        var runs = open
        for (k, line) in plainLines(plain).enumerated() {
            if k > 0 { runs.append(.newline) }
            if !line.isEmpty { runs.append(.text(String(line))) }
        }
        for r in open.reversed() {
            switch r {
            case .italic: runs.append(.italic(false))
            case .bold: runs.append(.bold(false))
            case .underline: runs.append(.underline(false))
            case .color: runs.append(.color(nil))
            default: break
            }
        }
        return Styled(runs: runs, top: original?.top ?? false)
    }

    /// Runs written as a cue text of `format` that its own reader gives back as the same text: blank
    /// lines collapsed in SRT/WebVTT (a blank line ends a cue there), characters that would read as
    /// markup escaped.
    static func render(_ styled: Styled, to format: SubtitleFormat) -> String {
        if format == .ttml { return renderTTML(styled) }
        var lines: [String] = [""]
        func tag(_ r: Run) -> String {
            switch (format, r) {
            case (.sbv, _), (.microdvd, _): return ""  // styles are not written in these
            case (.ass, .italic(let on)): return "{\\i\(on ? 1 : 0)}"
            case (.ass, .bold(let on)): return "{\\b\(on ? 1 : 0)}"
            case (.ass, .underline(let on)): return "{\\u\(on ? 1 : 0)}"
            case (_, .italic(let on)): return on ? "<i>" : "</i>"
            case (_, .bold(let on)): return on ? "<b>" : "</b>"
            case (_, .underline(let on)): return on ? "<u>" : "</u>"
            case (.ass, .color(let hex)):
                guard let hex else { return "{\\c}" }
                return "{\\c&H\(hex.suffix(2))\(hex.dropFirst(2).prefix(2))\(hex.prefix(2))&}"
            case (.vtt, .color(let hex)): return hex.map { "<c.\(vttClass($0))>" } ?? "</c>"
            case (.srt, .color(let hex)): return hex.map { "<font color=\"#\($0)\">" } ?? "</font>"
            default: return ""
            }
        }
        for r in styled.runs {
            switch r {
            case .text(let t): lines[lines.count - 1] += escape(t, for: format)
            case .newline: lines.append("")
            default: lines[lines.count - 1] += tag(r)
            }
        }
        switch format {
        case .ass:
            return (styled.top ? "{\\an8}" : "") + lines.joined(separator: "\\N")
        case .microdvd:
            // One line in the file: `|` between the cue's lines; an empty line is no line.
            return lines.filter { !$0.isEmpty }.joined(separator: "\n")
        case .srt, .vtt, .sbv, .ttml:
            // A line with no visible text would end the cue: its tags move to a neighbour.
            var kept: [String] = []
            var carried = ""
            for line in lines {
                let visible = plain(line, format: format)
                if visible.allSatisfy({ $0 == " " || $0 == "\t" }) {
                    carried += stripVisible(line, format: format)
                    continue
                }
                kept.append(carried + line)
                carried = ""
            }
            if !carried.isEmpty {
                if kept.isEmpty { kept.append(carried) } else { kept[kept.count - 1] += carried }
            }
            if format == .srt { kept = kept.map(srtTextLine) }
            var text = kept.joined(separator: "\n")
            if format == .srt, styled.top { text = "{\\an8}" + text }
            return text
        }
    }

    /// TTML's cue text: each text run in one flat `<span>` with the styles on at that point (never
    /// nested, so always balanced), `\n` between lines; the region carries "top".
    static func renderTTML(_ styled: Styled) -> String {
        var italic = false, bold = false, underline = false
        var color: String?
        var out = ""
        for r in styled.runs {
            switch r {
            case .italic(let on): italic = on
            case .bold(let on): bold = on
            case .underline(let on): underline = on
            case .color(let c): color = c
            case .newline: out += "\n"
            case .text(let t):
                let text = escape(t, for: .ttml)
                guard !text.isEmpty else { continue }
                var attributes = ""
                if italic { attributes += " tts:fontStyle=\"italic\"" }
                if bold { attributes += " tts:fontWeight=\"bold\"" }
                if underline { attributes += " tts:textDecoration=\"underline\"" }
                if let c = color { attributes += " tts:color=\"#\(c)\"" }
                out += attributes.isEmpty ? text : "<span\(attributes)>" + text + "</span>"
            }
        }
        return out
    }

    /// Only the tags of a line (its text was blank).
    static func stripVisible(_ line: String, format: SubtitleFormat) -> String {
        pieces(line, format: format).compactMap { if case .tag(let t) = $0 { return t } else { return nil } }.joined()
    }

    /// Text written so that the format's reader gives it back.
    static func escape(_ text: String, for format: SubtitleFormat) -> String {
        switch format {
        case .sbv:
            return text
        case .ttml:
            // A line break is a run of its own; what XML 1.0 cannot hold is left out.
            return TTML.escape(text.unicodeScalars.contains("\n") ? text.replacingAll("\n", with: " ") : text)
        case .microdvd:
            // `|` is the format's line break and `{x:…}` a control code: neither can be text there.
            let s = text.unicodeScalars.map { $0 == "|" ? "¦" : $0 }
            var out = String.UnicodeScalarView()
            for (i, c) in s.enumerated() {
                let code = c == "{" && i + 2 < s.count && s[i + 1].properties.isAlphabetic && s[i + 2] == ":"
                out.append(code ? "(" : c)
            }
            return String(out)
        case .ass:
            return text.replacingAll("{", with: "\\{").replacingAll("}", with: "\\}")
        case .vtt:
            return text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
        case .srt:
            // Only what SRT would read as markup: an entity, a tag, an override block.
            let s = Scalars(text.unicodeScalars)
            var out = ""
            var closers = Closers(s)
            for (i, c) in s.enumerated() {
                if c == "&", ["lt;", "gt;", "amp;"].contains(where: { e in
                    let es = Scalars(e.unicodeScalars)
                    return i + 1 + es.count <= s.count && Array(s[(i + 1)..<(i + 1 + es.count)]) == es
                }) {
                    out += "&amp;"
                } else if c == "<", tagLength(s, i, format: .srt, &closers) != nil {
                    out += "&lt;"
                } else {
                    out.unicodeScalars.append(c)
                }
            }
            return out
        }
    }

    // MARK: An edited line keeps its tags

    /// The new plain text written in `format` with the original's tags kept where the words they
    /// precede still exist (karaoke timing, colours, positions): tags before any text stay first,
    /// tags after all text stay last, the others go before their word if it is still there.
    static func merge(original raw: String, edited plain: String, format: SubtitleFormat) -> String {
        // Each tag between words is glued to the word before it (no space between: `king{\i0} of`)
        // or to the word after it (`{\k20}ka`); it goes back next to that word.
        enum Anchor { case before(String), after(String) }
        var leading = "", pending = ""
        var anchors: [(tags: String, at: Anchor)] = []
        var lastWord: String?
        var previousEndsWord = false
        func words(_ t: String) -> [String] {
            t.unicodeScalars.split { $0 == " " || $0 == "\t" }.map { String(String.UnicodeScalarView($0)) }
        }
        for p in pieces(raw, format: format) {
            switch p {
            case .tag(let t): pending += t
            case .newline:
                if !pending.isEmpty {
                    if let w = lastWord { anchors.append((pending, .after(w))) } else { leading += pending }
                }
                pending = ""
                previousEndsWord = false
            case .text(let t):
                let ws = words(t)
                if !pending.isEmpty {
                    let gluedAfter = t.unicodeScalars.first.map { $0 != " " && $0 != "\t" } ?? false
                    if lastWord == nil, anchors.isEmpty {
                        leading += pending
                    } else if previousEndsWord, !gluedAfter || ws.isEmpty, let w = lastWord {
                        anchors.append((pending, .after(w)))
                    } else if let first = ws.first {
                        anchors.append((pending, .before(first)))
                    } else if let w = lastWord {
                        anchors.append((pending, .after(w)))
                    }
                    pending = ""
                }
                if let last = ws.last { lastWord = last }
                previousEndsWord = t.unicodeScalars.last.map { $0 != " " && $0 != "\t" } ?? previousEndsWord
            }
        }
        let trailing = pending
        // The new text, written as the format writes text; the tags go back beside their words.
        let body = Scalars(escapedBody(plain, format: format).unicodeScalars)
        func find(_ word: String, from: Int) -> Int? {
            let w = Scalars(escapedBody(word, format: format).unicodeScalars)
            guard !w.isEmpty else { return nil }
            var at = from
            while at + w.count <= body.count {
                if Array(body[at..<(at + w.count)]) == w { return at }
                at += 1
            }
            return nil
        }
        var cursor = 0
        var insertions: [(Int, String)] = []
        for a in anchors {
            switch a.at {
            case .before(let w):
                if let at = find(w, from: cursor) { insertions.append((at, a.tags)); cursor = at }
            case .after(let w):
                if let at = find(w, from: cursor) {
                    let end = at + Scalars(escapedBody(w, format: format).unicodeScalars).count
                    insertions.append((end, a.tags))
                    cursor = end
                }
            }
        }
        var out = ""
        var k = 0
        for (i, c) in body.enumerated() {
            while k < insertions.count, insertions[k].0 == i { out += insertions[k].1; k += 1 }
            out.unicodeScalars.append(c)
        }
        while k < insertions.count { out += insertions[k].1; k += 1 }
        return leading + out + trailing
    }

    static func escapedBody(_ plain: String, format: SubtitleFormat) -> String {
        let lines = plainLines(plain).map { escape(String($0), for: format) }
        switch format {
        case .ass: return lines.joined(separator: "\\N")
        case .srt: return lines.filter { !$0.allSatisfy { $0 == " " || $0 == "\t" } }.map(srtTextLine).joined(separator: "\n")
        case .vtt, .sbv: return lines.filter { !$0.allSatisfy { $0 == " " || $0 == "\t" } }.joined(separator: "\n")
        case .microdvd: return lines.filter { !$0.isEmpty }.joined(separator: "\n")
        case .ttml: return lines.joined(separator: "\n")
        }
    }

    /// A plain text's lines: every newline a reviewer can type or paste (LF, CRLF, a lone CR,
    /// U+2028 …) ends one — a CR written raw into a Dialogue line or a cue would split it.
    static func plainLines(_ plain: String) -> [Substring] {
        plain.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }

    /// SRT has no escape for a text line that reads as a timing line (its reader starts a new cue
    /// there): its arrows are written with a word joiner (U+2060, invisible) inside, so the line
    /// reads back as text.
    static func srtTextLine(_ line: String) -> String {
        guard SubtitleParser.isTiming(line, at: 0) else { return line }
        return line.replacingAll("-->", with: "--\u{2060}>")
    }
}
