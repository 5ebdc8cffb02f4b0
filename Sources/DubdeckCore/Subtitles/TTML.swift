/// TTML and its streaming profile IMSC 1.1 Text (SPEC §11.10), the deliverable studios exchange:
/// read with libxml2 (XMLTree), written as IMSC 1.1 Text.
///
/// Read: every `<p>` is a cue; `begin`/`end`/`dur` in clock time (`01:02:03.500`, `01:02:03:12`
/// frames, `.sub-frames`) or offset time (`12.5s`, `300f`, `1500ms`, `2m`, `1h`, `125000000t`), with
/// `ttp:frameRate`, `ttp:frameRateMultiplier`, `ttp:subFrameRate` and `ttp:tickRate`, relative to
/// the enclosing `<body>`/`<div>` (`timeContainer="seq"` included); `<br/>` is a line break; italic,
/// bold, underline and colour from `<span>`, `<p>`, `<div>`, `<body>` and the region, inline or
/// through referenced `<style>`s (a colour a player shows as white is the default, not a colour);
/// a region shown at the top (`displayAlign="before"` in the upper half) is "top"; `ttm:agent`
/// names the speaker (its `ttm:name`, else its id); ruby annotations are not spoken; whitespace as
/// TTML collapses it (`xml:space="preserve"` keeps it).
/// Written: a fresh IMSC 1.1 Text document (the original's head is not kept: FORMATS.md says so).
public enum TTML {
    static let xmlNamespace = "http://www.w3.org/XML/1998/namespace"
    /// TTML's namespace and the 2006 DFXP drafts' still found in files.
    static let bases = ["http://www.w3.org/ns/ttml", "http://www.w3.org/2006/10/ttaf1", "http://www.w3.org/2006/04/ttaf1"]

    enum Space { case tt, parameter, styling, metadata, other }

    static func space(_ uri: String?) -> Space {
        guard let uri else { return .other }
        for b in bases {
            if uri == b { return .tt }
            if uri.hasPrefix(b + "#") {
                switch uri.dropFirst(b.count + 1) {
                case "parameter": return .parameter
                case "styling": return .styling
                case "metadata": return .metadata
                default: return .other
                }
            }
        }
        return .other
    }

    /// A speaker's name as an agent gives it: white space (line breaks included) one space, control
    /// characters left out, 200 characters at most — a name every format's speaker field can hold.
    static func speakerName(_ s: String) -> String {
        var out = ""
        var space = false
        for c in s.unicodeScalars {
            if c.properties.isWhitespace { space = !out.isEmpty; continue }
            if c.value < 0x20 || (0x7F...0x9F).contains(c.value) || c.value == 0x2028 || c.value == 0x2029 { continue }
            if space { out += " " }
            space = false
            out.unicodeScalars.append(c)
            if out.unicodeScalars.count >= 200 { break }
        }
        return out
    }

    /// Without XML's white space (space, tab, CR, LF) at either end; a no-break space is not XML's.
    static func trimmed(_ s: String) -> String {
        var u = s.unicodeScalars[...]
        func xmlSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" }
        while let f = u.first, xmlSpace(f) { u.removeFirst() }
        while let l = u.last, xmlSpace(l) { u.removeLast() }
        return String(String.UnicodeScalarView(u))
    }

    /// Whether the text looks like a TTML document (for SubtitleFormat.of(content:)).
    static func looksLike(_ text: String) -> Bool {
        let head = String(text.unicodeScalars.prefix(65536))
        guard head.unicodeScalars.first(where: { !$0.properties.isWhitespace && $0 != "\u{FEFF}" }) == "<" else { return false }
        return head.contains("<tt") && bases.contains { head.contains($0) } || head.contains("<tt:tt")
    }

    // MARK: Time

    /// The document's time parameters.
    struct Clock {
        /// Frames a second (the multiplier applied), sub-frames a frame, ticks a second.
        var frameRate = 30.0, subFrameRate = 1.0, tickRate = 1.0

        /// Seconds (nil: not a time expression, or past dubdeck's 48 hours).
        func seconds(_ expression: String) -> Double? {
            let t = TTML.trimmed(expression)
            func digits(_ s: Substring, max: Int) -> Bool { !s.isEmpty && s.count <= max && s.allSatisfy { $0.isASCII && $0.isNumber } }
            func number(_ s: Substring) -> Double? {
                let parts = s.split(separator: ".", omittingEmptySubsequences: false)
                guard parts.count <= 2, digits(parts[0], max: 15), parts.count == 1 || digits(parts[1], max: 9) else { return nil }
                return Double(s)
            }
            var value: Double
            if t.contains(":") {
                let parts = t.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 3 || parts.count == 4, digits(parts[0], max: 3), digits(parts[1], max: 2),
                      let h = Double(parts[0]), let m = Double(parts[1]), m < 60 else { return nil }
                if parts.count == 3 {
                    guard let s = number(parts[2]), parts[2].prefix(while: { $0 != "." }).count <= 2, s < 60 else { return nil }
                    value = h * 3600 + m * 60 + s
                } else {
                    guard digits(parts[2], max: 2), let s = Double(parts[2]), s < 60 else { return nil }
                    let frameParts = parts[3].split(separator: ".", omittingEmptySubsequences: false)
                    // A frame number is below the frame rate (frame 25 at 25 fps is the next second's 0).
                    guard frameParts.count <= 2, digits(frameParts[0], max: 3), let f = Double(frameParts[0]), f < frameRate.rounded(.up) else { return nil }
                    var frames = f
                    if frameParts.count == 2 {
                        guard digits(frameParts[1], max: 4), let sub = Double(frameParts[1]) else { return nil }
                        frames += sub / subFrameRate
                    }
                    value = h * 3600 + m * 60 + s + frames / frameRate
                }
            } else {
                let metrics: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1), ("f", 1 / frameRate), ("t", 1 / tickRate)]
                guard let (suffix, unit) = metrics.first(where: { t.hasSuffix($0.0) }), let n = number(Substring(t.dropLast(suffix.count))) else { return nil }
                value = n * unit
            }
            // To the millisecond, as every other format is read.
            value = (value * 1000).rounded() / 1000
            return Bounds.isTime(value) ? value : nil
        }

        /// The root's parameters; a value out of range is an error naming it.
        init(root: XMLNode) throws {
            func parameter(_ name: String) -> String? {
                root.attributes.first { $0.name == name && TTML.space($0.namespace) == .parameter }.map { TTML.trimmed($0.value) }
            }
            // Digits and at most one point (Double() alone would take 0x10, 1e9, inf).
            func decimal(_ v: String) -> Double? {
                guard !v.isEmpty, v.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." }), v.filter({ $0 == "." }).count <= 1, v.count <= 20 else { return nil }
                return Double(v)
            }
            func bad(_ name: String, _ value: String, _ range: String) -> SubtitleError {
                SubtitleError(line: root.line, message: "ttp:\(name) '\(Sanitizer.display(String(value.prefix(40))))' is not \(range)")
            }
            var nominal: Double?
            if let v = parameter("frameRate") {
                guard let r = decimal(v), r >= 1, r <= 240 else { throw bad("frameRate", v, "a frame rate (1 to 240)") }
                nominal = r
            }
            var multiplier = 1.0
            if let v = parameter("frameRateMultiplier") {
                let p = v.split { $0 == " " || $0 == "\t" }.compactMap { $0.allSatisfy { $0.isASCII && $0.isNumber } ? Int($0) : nil }
                guard p.count == 2, (1...1_000_000).contains(p[0]), (1...1_000_000).contains(p[1]) else {
                    throw bad("frameRateMultiplier", v, "two whole numbers ('1000 1001')")
                }
                multiplier = Double(p[0]) / Double(p[1])
            }
            frameRate = (nominal ?? 30) * multiplier
            if let v = parameter("subFrameRate") {
                guard let r = decimal(v).flatMap({ $0 == $0.rounded() ? Int($0) : nil }), (1...1000).contains(r) else { throw bad("subFrameRate", v, "a sub-frame rate (1 to 1000)") }
                subFrameRate = Double(r)
            }
            if let v = parameter("tickRate") {
                guard let r = decimal(v), r >= 1, r <= 1e12, r == r.rounded() else { throw bad("tickRate", v, "a tick rate (1 to 10^12)") }
                tickRate = r
            } else if nominal != nil {
                tickRate = frameRate * subFrameRate  // TTML's default when a frame rate is given
            }
        }

        init() {}
    }

    // MARK: Reading

    public static func read(_ text: String, strict: Bool) throws -> SubtitleDocument {
        let tree = try XMLTree(utf8: Array(text.utf8))
        var reader = try Reader(root: tree.root, strict: strict)
        return try reader.read()
    }

    struct Reader {
        let root: XMLNode
        let strict: Bool
        let clock: Clock
        /// `<style>`s and `<region>`s by xml:id: their own tts: properties and the styles they name.
        var styles: [String: (props: [String: String], refs: [String])] = [:]
        var regionDefinitions: [String: (props: [String: String], refs: [String])] = [:]
        var regions: [String: [String: String]] = [:]
        var agents: [String: String] = [:]
        var doc = SubtitleDocument(format: .ttml, cues: [])

        init(root: XMLNode, strict: Bool) throws {
            guard root.name == "tt", TTML.space(root.namespace) == .tt else {
                let ns = root.namespace.map { " in \(Sanitizer.display(String($0.prefix(80))))" } ?? " (no namespace)"
                throw SubtitleError(line: root.line, message: "not a TTML document: the root is <\(Sanitizer.display(String(root.name.prefix(40))))>\(ns), not <tt> in \(TTML.bases[0])")
            }
            self.root = root
            self.strict = strict
            clock = try Clock(root: root)
        }

        static func id(_ node: XMLNode) -> String? { node.attribute("id", in: TTML.xmlNamespace)?.trimmingCharacters() }

        static func styling(_ node: XMLNode) -> [String: String] {
            var out: [String: String] = [:]
            for a in node.attributes where TTML.space(a.namespace) == .styling { out[a.name] = a.value.trimmingCharacters() }
            return out
        }

        static func references(_ node: XMLNode, _ name: String = "style") -> [String] {
            (node.attribute(name) ?? "").split { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }.map(String.init)
        }

        /// Every `<style>` resolved once (its named styles under its own properties), memoised: a
        /// style naming another twice at each of 30 levels is 30 resolutions, not 2^30; a loop is cut.
        var resolvedStyles: [String: [String: String]] = [:]

        mutating func resolveStyles() {
            // Depth first with a stack of its own (a chain of 100,000 styles is no recursion), each
            // style finished once its named styles are; one met again on the way down is a loop, cut.
            var resolving: Set<String> = []
            let refs = styles.mapValues { Reader.distinct($0.refs) }
            for root in styles.keys.sorted() where resolvedStyles[root] == nil {
                var stack: [(id: String, next: Int)] = [(root, 0)]
                resolving.insert(root)
                while let top = stack.last {
                    let named = refs[top.id] ?? []
                    if top.next < named.count {
                        stack[stack.count - 1].next += 1
                        let r = named[top.next]
                        if resolvedStyles[r] == nil, styles[r] != nil, !resolving.contains(r) {
                            resolving.insert(r)
                            stack.append((r, 0))
                        }
                        continue
                    }
                    var out: [String: String] = [:]
                    for r in named { out.merge(resolvedStyles[r] ?? [:]) { $1 } }
                    out.merge(styles[top.id]?.props ?? [:]) { $1 }
                    resolvedStyles[top.id] = out
                    resolving.remove(top.id)
                    stack.removeLast()
                }
            }
        }

        func resolved(_ id: String) -> [String: String] { resolvedStyles[id] ?? [:] }

        /// Each reference once, the first 64 (no element needs more).
        static func distinct(_ refs: [String]) -> [String] {
            var seen: Set<String> = []
            return Array(refs.filter { seen.insert($0).inserted }.prefix(64))
        }

        /// An element's own style: the styles it names, then its inline properties.
        func own(_ node: XMLNode) -> [String: String] {
            var out: [String: String] = [:]
            for r in Reader.distinct(Reader.references(node)) { out.merge(resolved(r)) { $1 } }
            out.merge(Reader.styling(node)) { $1 }
            return out
        }

        mutating func readHead() {
            for head in root.elements where head.name == "head" && TTML.space(head.namespace) == .tt {
                for section in head.elements {
                    let sp = TTML.space(section.namespace)
                    if sp == .tt && section.name == "styling" {
                        for s in section.elements where s.name == "style" && TTML.space(s.namespace) == .tt {
                            if let id = Reader.id(s) { styles[id] = (Reader.styling(s), Reader.references(s)) }
                        }
                    } else if sp == .tt && section.name == "layout" {
                        for r in section.elements where r.name == "region" && TTML.space(r.namespace) == .tt {
                            if let id = Reader.id(r) { regionDefinitions[id] = (Reader.styling(r), Reader.references(r)) }
                        }
                    }
                }
                collectAgents(head)
            }
            resolveStyles()
            // A region's referenced styles under its inline properties.
            for (id, r) in regionDefinitions {
                var out: [String: String] = [:]
                for ref in Reader.distinct(r.refs) { out.merge(resolved(ref)) { $1 } }
                out.merge(r.props) { $1 }
                regions[id] = out
            }
        }

        /// `<ttm:agent xml:id="…">` and its `<ttm:name>`, wherever the metadata puts them.
        mutating func collectAgents(_ node: XMLNode) {
            for e in node.elements {
                if e.name == "agent", TTML.space(e.namespace) == .metadata, let id = Reader.id(e) {
                    let name = e.elements.first { $0.name == "name" && TTML.space($0.namespace) == .metadata }?.allText
                    agents[id] = Reader.collapsed(name ?? "").isEmpty ? id : Reader.collapsed(name ?? "")
                } else {
                    collectAgents(e)
                }
            }
        }

        static func collapsed(_ s: String) -> String {
            s.split { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }.joined(separator: " ")
        }

        /// What an element inherits and gives on.
        struct Context {
            var begin = 0.0
            var end: Double?
            var style: [String: String] = [:]
            var region: String?
            var agent: String?
            var preserve = false
        }

        /// The element's interval: begin and end relative to `reference` (the parent's begin, or in a
        /// `seq` container the previous sibling's end), `dur`, clipped to the parent's end.
        func interval(_ node: XMLNode, reference: Double, parent: Context) throws -> (Double, Double?, timed: Bool) {
            func time(_ name: String) throws -> Double? {
                guard let v = node.attribute(name) else { return nil }
                guard let s = clock.seconds(v) else {
                    throw SubtitleError(line: node.line, message: "bad \(name) '\(Sanitizer.display(String(v.prefix(40))))' (clock time 00:00:01.500 or 00:00:01:12, offset time 1.5s 36f 15000000t; 0 to 48 hours)")
                }
                return s
            }
            let b = try time("begin"), e = try time("end"), d = try time("dur")
            let begin = reference + (b ?? 0)
            var end: Double? = parent.end
            if let e { end = reference + e }
            if let d { end = min(end ?? .infinity, begin + d) }
            if let pe = parent.end, let x = end { end = min(x, pe) }
            return (begin, end, b != nil || e != nil || d != nil)
        }

        func context(_ node: XMLNode, parent: Context, begin: Double, end: Double?) -> Context {
            var c = parent
            c.begin = begin
            c.end = end
            c.style.merge(own(node)) { $1 }
            if let r = node.attribute("region")?.trimmingCharacters(), !r.isEmpty { c.region = r }
            if let a = node.attributes.first(where: { $0.name == "agent" && TTML.space($0.namespace) == .metadata })?.value,
               let first = a.split(separator: " ").first { c.agent = String(first) }
            if let s = node.attribute("space", in: TTML.xmlNamespace) { c.preserve = s == "preserve" }
            return c
        }

        mutating func read() throws -> SubtitleDocument {
            readHead()
            doc.language = root.attribute("lang", in: TTML.xmlNamespace)?.trimmingCharacters()
            var top = Context()
            top.style = [:]
            if let s = root.attribute("space", in: TTML.xmlNamespace) { top.preserve = s == "preserve" }
            for body in root.elements where body.name == "body" && TTML.space(body.namespace) == .tt {
                let (b, e, _) = try interval(body, reference: 0, parent: top)
                _ = try container(body, context(body, parent: top, begin: b, end: e))
            }
            if doc.cues.isEmpty, let first = firstSkip { throw first }
            return doc
        }

        var firstSkip: SubtitleError?

        /// `<body>` or `<div>`: its `<div>`s and `<p>`s in document order. Returns the latest end of
        /// what it showed (an untimed `<div>` in a `seq` ends there).
        mutating func container(_ node: XMLNode, _ ctx: Context) throws -> Double? {
            let seq = node.attribute("timeContainer") == "seq"
            var previousEnd = ctx.begin
            var latest: Double?
            for child in node.elements where TTML.space(child.namespace) == .tt {
                let reference = seq ? previousEnd : ctx.begin
                switch child.name {
                case "div":
                    let (b, e, _) = try interval(child, reference: reference, parent: ctx)
                    let inner = try container(child, context(child, parent: ctx, begin: b, end: e))
                    previousEnd = e ?? inner ?? b
                case "p":
                    previousEnd = try paragraph(child, reference: reference, parent: ctx) ?? previousEnd
                default:
                    continue  // metadata, set, animate: nothing shown
                }
                latest = max(latest ?? previousEnd, previousEnd)
            }
            return latest
        }

        /// One `<p>`: a cue (or a skipped one, said). Returns its end.
        mutating func paragraph(_ p: XMLNode, reference: Double, parent: Context) throws -> Double? {
            let times: (Double, Double?, timed: Bool)
            do {
                times = try interval(p, reference: reference, parent: parent)
            } catch let e as SubtitleError {
                try skip(e)
                return nil
            }
            var (begin, end) = (times.0, times.1)
            let ctx = context(p, parent: parent, begin: begin, end: end)
            var runs = Runs(preserve: ctx.preserve)
            var spanTimes: [(Double, Double?)] = []
            content(p, ctx, into: &runs, spanTimes: &spanTimes)
            // A paragraph timed only by its spans is shown from the first to the last.
            if !times.timed, !spanTimes.isEmpty {
                begin = spanTimes.map(\.0).min()!
                if spanTimes.allSatisfy({ $0.1 != nil }) { end = spanTimes.compactMap(\.1).max() }
                if let pe = parent.end, let e = end { end = min(e, pe) }  // still inside its container
            }
            if let pe = parent.end, begin >= pe, times.timed || !spanTimes.isEmpty {
                try skip(SubtitleError(line: p.line, message: "begins at \(JSONValue.formatNumber(begin)) s, after its container ends (\(JSONValue.formatNumber(pe)) s)"))
                return nil
            }
            guard let finish = end, finish.isFinite else {
                try skip(SubtitleError(line: p.line, message: "a paragraph with no end (no end or dur on it or around it)"))
                return nil
            }
            // Offsets add up: each time is within 48 hours, their sum may not be.
            guard Bounds.isTime(begin), Bounds.isTime(finish) else {
                try skip(SubtitleError(line: p.line, message: "ends at \(JSONValue.formatNumber(finish)) s once its containers' times are added: past 48 hours"))
                return nil
            }
            guard finish >= begin else {
                try skip(SubtitleError(line: p.line, message: "end is before begin"))
                return nil
            }
            let regionTop = ctx.region.flatMap { regions[$0] }.map(Reader.isTop) ?? false
            let styled = Markup.Styled(runs: runs.finish(), top: regionTop)
            let raw = Markup.render(styled, to: .ttml)
            var cue = SubtitleCue(startMs: Int((begin * 1000).rounded()), endMs: Int((finish * 1000).rounded()), text: Markup.plain(raw, format: .ttml), raw: raw)
            if let a = ctx.agent { cue.speaker = TTML.speakerName(agents[a] ?? a) }
            if regionTop { cue.region = "top" }
            cue.id = Reader.id(p) ?? ""
            cue.line = p.line
            doc.items.append(.cue(doc.cues.count))
            doc.cues.append(cue)
            return finish
        }

        mutating func skip(_ e: SubtitleError) throws {
            if strict { throw e }
            if firstSkip == nil { firstSkip = e }
            doc.warnings.append("line \(e.line): \(e.message) (cue skipped)")
        }

        /// A region shown at the top: text aligned to its top edge in the upper half, or a region
        /// that lies in the upper half.
        static func isTop(_ region: [String: String]) -> Bool {
            func percents(_ v: String?) -> [Double]? {
                guard let v else { return nil }
                let p = v.split(separator: " ").map { $0.hasSuffix("%") ? Double($0.dropLast()) : nil }
                return p.count == 2 && p.allSatisfy { $0 != nil } ? p.map { $0! } : nil
            }
            let origin = percents(region["origin"]), extent = percents(region["extent"])
            if let o = origin, let e = extent, o[1] + e[1] <= 50 { return true }
            if let o = origin, o[1] >= 50 { return false }
            return region["displayAlign"] == "before"
        }

        /// The visible text of `node` with its styling, line breaks, and the times of timed spans.
        func content(_ node: XMLNode, _ ctx: Context, into runs: inout Runs, spanTimes: inout [(Double, Double?)]) {
            for child in node.children {
                if child.isText {
                    runs.text(child.text, style: ctx.style)
                    continue
                }
                guard child.isElement, TTML.space(child.namespace) == .tt else { continue }  // metadata, foreign elements
                switch child.name {
                case "br":
                    runs.newline()
                case "span":
                    if let ruby = (own(child)["ruby"] ?? ctx.style["ruby"]), ["text", "textContainer", "delimiter"].contains(ruby) { continue }
                    var c = ctx
                    c.style.merge(own(child)) { $1 }
                    c.style["ruby"] = nil
                    if let s = child.attribute("space", in: TTML.xmlNamespace) { c.preserve = s == "preserve" }
                    if child.attribute("begin") != nil || child.attribute("end") != nil,
                       let t = try? interval(child, reference: ctx.begin, parent: Context(begin: ctx.begin, end: nil)) {
                        spanTimes.append((t.0, t.1))
                    }
                    content(child, c, into: &runs, spanTimes: &spanTimes)
                default:
                    continue  // set, metadata, animate: not text
                }
            }
        }
    }

    /// Runs built from text nodes, styled as the properties say, whitespace treated as TTML does.
    struct Runs {
        let preserve: Bool
        var out: [Markup.Run] = []
        var italic = false, bold = false, underline = false
        var color: String?

        init(preserve: Bool) { self.preserve = preserve }

        mutating func text(_ t: String, style: [String: String]) {
            let wantItalic = ["italic", "oblique"].contains(style["fontStyle"] ?? "")
            let wantBold = style["fontWeight"] == "bold"
            let decoration = style["textDecoration"] ?? ""
            let wantUnderline = decoration.split(separator: " ").contains("underline")
            let wantColor = style["color"].flatMap(TTML.color)
            if wantItalic != italic { out.append(.italic(wantItalic)); italic = wantItalic }
            if wantBold != bold { out.append(.bold(wantBold)); bold = wantBold }
            if wantUnderline != underline { out.append(.underline(wantUnderline)); underline = wantUnderline }
            if wantColor != color { out.append(.color(wantColor)); color = wantColor }
            if preserve {
                // Line feeds kept as line breaks.
                for (k, piece) in t.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    if k > 0 { out.append(.newline) }
                    let s = String(String.UnicodeScalarView(piece.filter { $0 != "\r" }))
                    if !s.isEmpty { out.append(.text(s)) }
                }
            } else {
                let s = String(String.UnicodeScalarView(t.unicodeScalars.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 }))
                if !s.isEmpty { out.append(.text(s)) }
            }
        }

        mutating func newline() { out.append(.newline) }

        /// The runs, switches closed; in default whitespace handling, spaces collapsed and none at
        /// the start or end of a line.
        mutating func finish() -> [Markup.Run] {
            if italic { out.append(.italic(false)) }
            if bold { out.append(.bold(false)) }
            if underline { out.append(.underline(false)) }
            if color != nil { out.append(.color(nil)) }
            guard !preserve else { return out }
            var r = out
            // Collapse: a space after a space (or at a line's start) goes.
            var lastSpace = true
            for i in r.indices {
                switch r[i] {
                case .newline: lastSpace = true
                case .text(let t):
                    var kept = String.UnicodeScalarView()
                    for c in t.unicodeScalars {
                        if c == " " { if lastSpace { continue }; lastSpace = true } else { lastSpace = false }
                        kept.append(c)
                    }
                    r[i] = .text(String(kept))
                default: break
                }
            }
            // A space at a line's end goes.
            var atEnd = true
            for i in r.indices.reversed() {
                switch r[i] {
                case .newline: atEnd = true
                case .text(let t):
                    guard atEnd else { continue }
                    var u = t.unicodeScalars[...]
                    while u.last == " " { u.removeLast() }
                    r[i] = .text(String(String.UnicodeScalarView(u)))
                    if !u.isEmpty { atEnd = false }
                default: break
                }
            }
            return r.filter { $0 != .text("") }
        }
    }

    /// A colour (`#RRGGBB`, `#RRGGBBAA`, `rgb(…)`, `rgba(…)`, a name) as `RRGGBB`; nil for none and
    /// for one a player shows as white (the default text colour: not carried as a colour).
    static func color(_ value: String) -> String? {
        var v = value.trimmingCharacters().lowercased()
        var hex: String?
        if v.hasPrefix("rgb") {
            let inner = v.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" }
            let parts = inner.split(separator: ",").compactMap { Int($0.trimmingCharacters()) }
            if parts.count >= 3, parts.prefix(3).allSatisfy({ (0...255).contains($0) }) {
                hex = parts.prefix(3).map { String($0, radix: 16, uppercase: true) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
            }
        } else {
            if v.hasPrefix("#"), v.count == 9 { v = String(v.prefix(7)) }
            hex = Markup.hexColor(Substring(v))
        }
        guard let h = hex, Markup.vttClass(h) != "white" else { return nil }
        return h
    }

    // MARK: Writing

    /// A language tag as xml:lang takes it (`en`, `pt-BR`, `zh-Hant`), else "" (unknown).
    static func language(_ tag: String?) -> String {
        guard let tag else { return "" }
        let parts = tag.split(separator: "-", omittingEmptySubsequences: false)
        let ok = !parts.isEmpty && parts.count <= 8 && parts.allSatisfy { p in (1...8).contains(p.count) && p.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
            && parts[0].allSatisfy(\.isLetter)
        return ok ? tag : ""
    }

    /// Text as XML character data or an attribute value: markup escaped, characters XML 1.0 cannot
    /// hold left out.
    static func escape(_ text: String) -> String {
        // A String (appending a sequence to a UnicodeScalarView copies it whole: quadratic).
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default:
                if c.value < 0x20, c != "\t", c != "\n" { continue }
                if c.value == 0xFFFE || c.value == 0xFFFF { continue }
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Whether TTML's default whitespace handling would change the text (on scalars: a space
    /// before a combining mark is still a space).
    static func collapses(_ plain: String) -> Bool {
        var previous: Unicode.Scalar = "\n"
        for c in plain.unicodeScalars {
            if c == "\t" || c == "\r" || (c == " " && (previous == " " || previous == "\n")) || (c == "\n" && previous == " ") { return true }
            previous = c
        }
        return previous == " "
    }

    static func write(_ entries: [SubtitleWriter.Entry], language tag: String?) -> String {
        var agents: [String: String] = [:]
        var order: [String] = []
        for e in entries where !e.speaker.isEmpty && agents[e.speaker] == nil {
            agents[e.speaker] = "a\(agents.count + 1)"
            order.append(e.speaker)
        }
        var lines = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<tt xmlns=\"http://www.w3.org/ns/ttml\" xmlns:ttp=\"http://www.w3.org/ns/ttml#parameter\" xmlns:tts=\"http://www.w3.org/ns/ttml#styling\""
                + " xmlns:ttm=\"http://www.w3.org/ns/ttml#metadata\" ttp:contentProfiles=\"http://www.w3.org/ns/ttml/profile/imsc1.1/text\""
                + " ttp:timeBase=\"media\" xml:lang=\"\(escape(language(tag)))\">",
            "  <head>",
        ]
        if !order.isEmpty {
            lines.append("    <metadata>")
            for name in order {
                lines.append("      <ttm:agent xml:id=\"\(agents[name]!)\" type=\"character\"><ttm:name type=\"full\">\(escape(name))</ttm:name></ttm:agent>")
            }
            lines.append("    </metadata>")
        }
        lines += [
            "    <layout>",
            "      <region xml:id=\"bottom\" tts:origin=\"10% 55%\" tts:extent=\"80% 35%\" tts:displayAlign=\"after\" tts:textAlign=\"center\"/>",
            "      <region xml:id=\"top\" tts:origin=\"10% 10%\" tts:extent=\"80% 35%\" tts:displayAlign=\"before\" tts:textAlign=\"center\"/>",
            "    </layout>",
            "  </head>",
            "  <body>",
            "    <div>",
        ]
        for (k, e) in entries.enumerated() {
            // Through the runs: whatever translated.json holds, only spans dubdeck writes and escaped text.
            let raw = Markup.render(Markup.styled(SubtitleWriter.cueText(e, format: .ttml), format: .ttml), to: .ttml)
            // Spaces TTML would collapse (doubled, at a line's edge, a tab) are kept by xml:space.
            let needsPreserve = collapses(Markup.plain(raw, format: .ttml))
            var p = "      <p xml:id=\"p\(k + 1)\" begin=\"\(SubtitleWriter.vttTime(e.startMs))\" end=\"\(SubtitleWriter.vttTime(e.endMs))\""
            p += " region=\"\(SubtitleWriter.isTop(e) ? "top" : "bottom")\""
            if let a = agents[e.speaker] { p += " ttm:agent=\"\(a)\"" }
            if needsPreserve { p += " xml:space=\"preserve\"" }
            p += ">" + raw.replacingAll("\n", with: "<br/>") + "</p>"
            lines.append(p)
        }
        lines += ["    </div>", "  </body>", "</tt>"]
        return lines.joined(separator: "\n") + "\n"
    }
}
