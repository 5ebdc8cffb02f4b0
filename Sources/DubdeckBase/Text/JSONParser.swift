#if canImport(Glibc)
import Glibc
#endif


public struct JSONParser {
    let bytes: [UInt8]
    package var pos: Int = 0
    let maxDepth = 512
    /// Values a document may build: each costs tens of bytes in memory, so a 512 MB file of `[0,0,…`
    /// would cost gigabytes. Ten million is far above any job (5,000 segments ≈ 50,000 values) and
    /// keeps the tree within a few hundred MB. The skipping reader builds nothing and counts nothing.
    public static let maxValues = 10_000_000
    var valuesLeft = JSONParser.maxValues

    /// Parsing stops at `end` (the plaintext inside a decrypted envelope).
    var end: Int

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        end = bytes.count
    }

    public init(bytes: [UInt8], start: Int, end: Int) {
        self.bytes = bytes
        pos = start
        self.end = end
    }

    /// Parses a whole document: one value and nothing but white space after it.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var p = JSONParser(bytes: bytes)
        p.skipBOM()
        let v = try p.parseValue(depth: 0)
        p.skipWhitespace()
        if p.pos != p.end { throw p.error("unexpected data after the JSON value") }
        return v
    }

    package mutating func skipBOM() {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { pos = 3 }
    }

    func lineNumber(at offset: Int) -> Int {
        var line = 1
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            if bytes[i] == 0x0A { line += 1 }
            i += 1
        }
        return line
    }

    package func error(_ message: String, at offset: Int? = nil) -> JSONParseError {
        let o = offset ?? pos
        return JSONParseError(message: message, offset: o, line: lineNumber(at: o))
    }

    package mutating func skipWhitespace() {
        // Through a pointer: the parser's hottest loops without a bounds check per byte.
        pos = bytes.withUnsafeBufferPointer { b in
            var i = pos
            while i < end {
                let c = b[i]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
            }
            return i
        }
    }

    /// From `from`, the offset of the first byte that ends a plain run of string content — `"`,
    /// `\\` or a control character — or `end`; and whether a byte >= 0x80 came before it. Eight
    /// bytes at a time: the strings are most of a job's bytes.
    func scanStringContent(from: Int) -> (stop: Int, high: Bool) {
        bytes.withUnsafeBufferPointer { b in
            let base = UnsafeRawPointer(b.baseAddress!)
            var i = from
            var seen: UInt64 = 0
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            while i + 8 <= end {
                let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let quote = w ^ (0x22 &* ones), backslash = w ^ (0x5C &* ones)
                // A byte of zero in `quote`/`backslash`, or a byte below 0x20 in `w` (exact as "any").
                let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((w &- 0x20 &* ones) & ~w)
                if special & highs != 0 { break }
                seen |= w
                i += 8
            }
            while i < end {
                let c = b[i]
                if c == 0x22 || c == 0x5C || c < 0x20 { break }
                seen |= UInt64(c)
                i += 1
            }
            return (i, seen & highs != 0)
        }
    }

    public mutating func parseValue(depth: Int) throws -> JSONValue {
        skipWhitespace()
        guard pos < end else { throw error("unexpected end of file") }
        if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
        valuesLeft -= 1
        if valuesLeft < 0 { throw error("more than \(JSONParser.maxValues) values") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return .object(try parseObject(depth: depth))
        case UInt8(ascii: "["): return .array(try parseArray(depth: depth))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: return try parseLiteral()
        }
    }

    /// One value read as what it is when it is a scalar (a number as its Double), counted and
    /// depth-checked as `parseValue` counts it; nil, with nothing consumed, for an object or an
    /// array. For readers that know their fields: no JSONValue, no number text made.
    public mutating func parseScalar(depth: Int) throws -> JSONScalar? {
        skipWhitespace()
        guard pos < end else { throw error("unexpected end of file") }
        if bytes[pos] == UInt8(ascii: "{") || bytes[pos] == UInt8(ascii: "[") { return nil }
        if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
        valuesLeft -= 1
        if valuesLeft < 0 { throw error("more than \(JSONParser.maxValues) values") }
        switch bytes[pos] {
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumberAsDouble())
        case UInt8(ascii: "\""): return .string(try parseString())
        default:
            switch try parseLiteral() {
            case .bool(let b): return .bool(b)
            default: return .null
            }
        }
    }

    /// A string, true, false or null at `pos` (or the error for what stands there instead).
    mutating func parseLiteral() throws -> JSONValue {
        switch bytes[pos] {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "N"): throw error("NaN is not valid JSON")
        case UInt8(ascii: "I"): throw error("Infinity is not valid JSON")
        default: throw error("unexpected character '\(Sanitizer.display(bytes: [bytes[pos]]))'")
        }
    }

    mutating func expectWord(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard pos + n <= end else { throw error("unexpected end of file") }
        let p = word.utf8Start
        for i in 0..<n where bytes[pos + i] != p[i] { throw error("invalid literal") }
        pos += n
    }

    /// Moves past one number, checked as JSON; where it starts and whether it has an exponent.
    mutating func scanNumber() throws -> (start: Int, exponent: Bool) {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") {
            pos += 1
            if pos < end, bytes[pos] == UInt8(ascii: "I") { throw error("-Infinity is not valid JSON", at: start) }
        }
        func digits() -> Int {
            let s = pos
            while pos < end, bytes[pos] >= 0x30, bytes[pos] <= 0x39 { pos += 1 }
            return pos - s
        }
        let intDigits = digits()
        if intDigits == 0 { throw error("invalid number", at: start) }
        if intDigits > 1, bytes[start + (bytes[start] == UInt8(ascii: "-") ? 1 : 0)] == 0x30 {
            throw error("leading zero in number", at: start)
        }
        if pos < end, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            if digits() == 0 { throw error("invalid number", at: start) }
        }
        var hasExponent = false
        if pos < end, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            hasExponent = true
            pos += 1
            if pos < end, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            if digits() == 0 { throw error("invalid number", at: start) }
        }
        return (start, hasExponent)
    }

    mutating func parseNumber() throws -> String {
        let (start, hasExponent) = try scanNumber()
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        // Without an exponent a number of fewer than 300 digits is always finite: only the others
        // need the (costly) conversion to check.
        if hasExponent || pos - start >= 300, let d = Double(text), !d.isFinite {
            throw error("number out of range: \(text)", at: start)
        }
        return text
    }

    /// A number as its Double (the value `parseNumber`'s text converts to), refused when it is not finite.
    mutating func parseNumberAsDouble() throws -> Double {
        let at = pos, limit = end
        if let (d, next) = bytes.withUnsafeBufferPointer({ JSONValue.fastDecimal(UnsafeBufferPointer(rebasing: $0[..<limit]), from: at) }) {
            pos = next
            return d
        }
        let (start, _) = try scanNumber()
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        guard let d = Double(text), d.isFinite else { throw error("number out of range: \(text)", at: start) }
        return d
    }

    public mutating func parseString() throws -> String {
        // Assumes bytes[pos] == '"'.
        let span = try scanString()
        return try makeString(span)
    }

    /// Where a string's content stands in the source, and what making it needs.
    package struct StringSpan {
        package var start: Int, end: Int
        var escaped: Bool, high: Bool
    }

    /// Moves past one string (bytes[pos] == '"'), checking what can be checked without making it:
    /// termination and raw control characters. Escapes and UTF-8 are checked by `makeString`.
    mutating func scanString() throws -> StringSpan {
        pos += 1
        let start = pos
        var hasEscape = false
        var hasHigh: Bool
        (pos, hasHigh) = scanStringContent(from: pos)
        while true {
            guard pos < end else { throw error("unterminated string", at: start - 1) }
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") { hasEscape = true; pos += 2; continue }
            if c < 0x20 { throw error("control character in string (must be escaped)") }
            if c >= 0x80 { hasHigh = true }
            pos += 1
        }
        let stop = pos
        pos += 1
        return StringSpan(start: start, end: stop, escaped: hasEscape, high: hasHigh)
    }

    package func makeString(_ span: StringSpan) throws -> String {
        if !span.escaped {
            if !span.high { return String(decoding: bytes[span.start..<span.end], as: UTF8.self) }
            guard let s = String(validating: bytes[span.start..<span.end], as: UTF8.self) else {
                throw error("invalid UTF-8 in string", at: span.start)
            }
            return s
        }
        return try unescape(span.start, span.end)
    }

    func unescape(_ start: Int, _ end: Int) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var i = start
        func hex4(_ at: Int) throws -> UInt32 {
            guard at + 4 <= end else { throw error("invalid \\u escape", at: at) }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = bytes[at + k]
                v <<= 4
                switch c {
                case 0x30...0x39: v |= UInt32(c - 0x30)
                case 0x41...0x46: v |= UInt32(c - 0x41 + 10)
                case 0x61...0x66: v |= UInt32(c - 0x61 + 10)
                default: throw error("invalid \\u escape", at: at)
                }
            }
            return v
        }
        func appendScalar(_ v: UInt32) {
            let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
        while i < end {
            let c = bytes[i]
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            guard i + 1 < end else { throw error("invalid escape", at: i) }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let at = i - 2
                var v = try hex4(i)
                i += 4
                if v >= 0xD800, v < 0xDC00, i + 6 <= end, bytes[i] == 0x5C, bytes[i + 1] == UInt8(ascii: "u") {
                    let low = try hex4(i + 2)
                    if low >= 0xDC00, low < 0xE000 {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                // Half of a pair is no character: text that is not text, refused as invalid UTF-8 is
                // (never stored as U+FFFD).
                if (0xD800..<0xE000).contains(v) {
                    throw error("a lone surrogate \\u\(String(v, radix: 16, uppercase: true)) is not a character", at: at)
                }
                appendScalar(v)
            default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: i - 2)
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in string", at: start) }
        return s
    }

    mutating func parseArray(depth: Int) throws -> [JSONValue] {
        pos += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if pos < end, bytes[pos] == UInt8(ascii: "]") { pos += 1; return items }
        while true {
            do {
                items.append(try parseValue(depth: depth + 1))
            } catch var e as JSONParseError {
                e.path.insert(.index(items.count), at: 0)
                throw e
            }
            skipWhitespace()
            guard pos < end else { throw error("unexpected end of file in array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return items }
            throw error("expected ',' or ']' in array")
        }
    }

    /// An array value read element by element: `body` reads exactly one value at `depth + 1`.
    /// The same checks as `parseValue` (depth, the value count) and the same errors as `parseArray`.
    public mutating func parseArrayElements(depth: Int, _ body: (inout JSONParser) throws -> Void) throws {
        skipWhitespace()
        guard pos < end else { throw error("unexpected end of file") }
        if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
        valuesLeft -= 1
        if valuesLeft < 0 { throw error("more than \(JSONParser.maxValues) values") }
        guard bytes[pos] == UInt8(ascii: "[") else { throw error("expected an array") }
        pos += 1
        skipWhitespace()
        if pos < end, bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
        var index = 0
        while true {
            do {
                try body(&self)
            } catch var e as JSONParseError {
                e.path.insert(.index(index), at: 0)
                throw e
            }
            index += 1
            skipWhitespace()
            guard pos < end else { throw error("unexpected end of file in array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
            throw error("expected ',' or ']' in array")
        }
    }

    /// An object value read member by member (as `parseValue` would read it: depth and value count checked).
    public mutating func parseObjectValue(depth: Int, _ body: (String, inout JSONParser) throws -> Void) throws {
        try parseObjectValueRaw(depth: depth) { key, p in try body(key.string ?? p.makeString(key.span), &p) }
    }

    /// Calls `body` for each member with the key and the byte range of its value in the source.
    /// A key that appears twice in one object is refused: readers disagree on which one counts
    /// (this one kept the first, Python keeps the last), so a duplicate could smuggle an approval.
    public mutating func parseObjectMembers(depth: Int, _ body: (String, inout JSONParser) throws -> Void) throws {
        try members(depth: depth) { key, p in
            try body(key.string ?? p.makeString(key.span), &p)
        }
    }

    /// A member's name as it stands in the source: readers that know their keys match it byte for
    /// byte (`is`) and make no String. `string` is set when the name had to be made (an escape or
    /// non-ASCII bytes, validated).
    public struct RawKey {
        package let span: StringSpan
        public let string: String?
        /// Its index among the names the reader gave (`known`), nil for any other name.
        public var index: Int? = nil
        /// False when the name has an escape or a byte >= 0x80: `is` never matches it, though the
        /// generic reading might (Swift compares names canonically): read such an object the generic way.
        public var plain: Bool { !span.escaped && !span.high }
    }

    /// True when the key is written exactly as `name` (no escapes).
    public func key(_ key: RawKey, is name: StaticString) -> Bool {
        let n = name.utf8CodeUnitCount
        guard key.plain, key.span.end - key.span.start == n else { return false }
        return bytes.withUnsafeBufferPointer { b in memcmp(b.baseAddress! + key.span.start, name.utf8Start, n) == 0 }
    }

    /// The index of a member's name among the reader's `names`: a plain name's (matched as bytes),
    /// or a made one's, compared as Swift compares Strings — what a lookup in a built object finds.
    public func knownIndex(_ key: RawKey, in names: [StaticString]) -> Int? {
        if let i = key.index { return i }
        guard let s = key.string else { return nil }
        return names.firstIndex { $0.description == s }
    }

    /// The index of a plain name among `names` (matched as bytes), nil for any other.
    func keyIndex(_ span: StringSpan, in names: [StaticString]) -> Int? {
        let count = span.end - span.start
        return bytes.withUnsafeBufferPointer { b in
            let key = b.baseAddress! + span.start
            for (i, name) in names.enumerated() where name.utf8CodeUnitCount == count {
                let p = name.utf8Start
                var k = 0
                while k < count, key[k] == p[k] { k += 1 }
                if k == count { return i }
            }
            return nil
        }
    }

    /// A name written as a positive decimal number without leading zeros or sign (a store's segment
    /// number), at most 9 digits; nil for any other name.
    public func decimalKey(_ key: RawKey) -> Int? {
        let count = key.span.end - key.span.start
        guard key.plain, count >= 1, count <= 9, bytes[key.span.start] != 0x30 else { return nil }
        var n = 0
        for i in key.span.start..<key.span.end {
            let c = bytes[i]
            guard c >= 0x30, c <= 0x39 else { return nil }
            n = n * 10 + Int(c - 0x30)
        }
        return n
    }

    /// `parseObjectValue` with the names as they stand in the source (`parseObjectMembersRaw`).
    public mutating func parseObjectValueRaw(depth: Int, known: [StaticString]? = nil, _ body: (RawKey, inout JSONParser) throws -> Void) throws {
        skipWhitespace()
        guard pos < end else { throw error("unexpected end of file") }
        if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
        valuesLeft -= 1
        if valuesLeft < 0 { throw error("more than \(JSONParser.maxValues) values") }
        try members(depth: depth, known: known, body)
    }

    /// `parseObjectMembers` with the names handed over as they stand in the source: the same
    /// checks (depth, duplicates, the names' UTF-8), no String made for a plain ASCII name; a name
    /// among `known` comes with its index there.
    public mutating func parseObjectMembersRaw(depth: Int, known: [StaticString]? = nil, _ body: (RawKey, inout JSONParser) throws -> Void) throws {
        try members(depth: depth, known: known, body)
    }

    private mutating func members(depth: Int, known: [StaticString]? = nil, _ body: (RawKey, inout JSONParser) throws -> Void) throws {
        skipWhitespace()
        if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
        guard pos < end, bytes[pos] == UInt8(ascii: "{") else { throw error("expected an object") }
        pos += 1
        skipWhitespace()
        if pos < end, bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
        var seen = DuplicateKeyCheck(known: known)
        while true {
            skipWhitespace()
            guard pos < end, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let keyStart = pos
            let span = try scanString()
            // A name that is not plain ASCII is made (and so validated) at once.
            let made = span.escaped || span.high ? try makeString(span) : nil
            // A reader's own field names are told apart by their index (one bit each), the rest by their bytes.
            let index = known.flatMap { made == nil ? keyIndex(span, in: $0) : nil }
            if !(index.map { seen.insertKnown($0) } ?? seen.insert(span, made, in: bytes)) {
                let shown = try made ?? makeString(span)
                throw error("duplicate key \"\(Sanitizer.display(shown))\"", at: keyStart)
            }
            let key = RawKey(span: span, string: made, index: index)
            skipWhitespace()
            guard pos < end, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':' after member name") }
            pos += 1
            skipWhitespace()
            do {
                try body(key, &self)
            } catch var e as JSONParseError {
                e.path.insert(.key(try key.string ?? makeString(span)), at: 0)
                throw e
            }
            skipWhitespace()
            guard pos < end else { throw error("unexpected end of file in object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
            throw error("expected ',' or '}' in object")
        }
    }

    mutating func parseObject(depth: Int) throws -> JSONObject {
        var obj = JSONObject()
        // No capacity reserved ahead: memory follows the members read (9.9 M empty objects would
        // otherwise hold room for 79 M members).
        try parseObjectMembers(depth: depth) { key, p in
            obj.members.append((key, try p.parseValue(depth: depth + 1)))
        }
        return obj
    }

    public var offset: Int { pos }

    /// The next non-space byte, without consuming it.
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        return pos < end ? bytes[pos] : nil
    }

    /// Skips one value without building it (validates its syntax, not its strings' UTF-8).
    public mutating func skipValue(depth: Int) throws {
        skipWhitespace()
        guard pos < end else { throw error("unexpected end of file") }
        switch bytes[pos] {
        case UInt8(ascii: "\""):
            _ = try rawString()
        case UInt8(ascii: "{"):
            try parseObjectMembers(depth: depth) { _, p in try p.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
            pos += 1
            skipWhitespace()
            if pos < end, bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard pos < end else { throw error("unexpected end of file in array") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
                throw error("expected ',' or ']' in array")
            }
        default:
            _ = try parseValue(depth: depth)
        }
    }

    /// The UTF-8 bytes of a string value, without building a String (a slice of the source when the
    /// string has no escapes, as base64 never has).
    public mutating func rawString() throws -> ArraySlice<UInt8> {
        skipWhitespace()
        guard pos < end, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string") }
        // Long strings (base64 embeddings): find the closing quote with memchr, then make sure no
        // escape or control character is inside; otherwise take the byte-by-byte path.
        if let q = bytes.withUnsafeBufferPointer({ b -> Int? in
            guard let p = memchr(b.baseAddress! + pos + 1, 0x22, end - pos - 1) else { return nil }
            return b.baseAddress!.distance(to: p.assumingMemoryBound(to: UInt8.self))
        }) {
            let clean = bytes.withUnsafeBufferPointer { b -> Bool in
                var k = pos + 1
                while k < q {
                    let c = b[k]
                    if c == 0x5C || c < 0x20 { return false }
                    k += 1
                }
                return true
            }
            if clean {
                let slice = bytes[(pos + 1)..<q]
                pos = q + 1
                return slice
            }
        }
        var i = pos + 1
        while i < end {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                let slice = bytes[(pos + 1)..<i]
                pos = i + 1
                return slice
            }
            if c == UInt8(ascii: "\\") {
                return ArraySlice(Array(try parseString().utf8))  // escapes: the slow way
            }
            if c < 0x20 { throw error("control character in string (must be escaped)", at: i) }
            i += 1
        }
        throw error("unterminated string")
    }
}


/// The keys of one object seen so far, compared as the bytes they are written with while every
/// key is plain ASCII without escapes: a linear scan while the object is small (most are), a hash
/// table of the spans beyond that (the store's segment table). Once a key has an escape or a
/// non-ASCII byte, two spellings can be one name (an escape; canonically equivalent scalars, as
/// Swift compares): from then on every key is compared as the String it decodes to.
struct DuplicateKeyCheck {
    /// The reader's own names, seen as bits of `knownSeen` (at most 64).
    let known: [StaticString]?
    var knownSeen: UInt64 = 0
    /// The first 16 keys' spans, in place (most objects never allocate for their keys).
    var few = InlineArray<16, (start: Int, count: Int)>(repeating: (0, 0))
    var fewCount = 0
    /// Past 16 keys: every span, and their indices by hash (open addressing, -1 empty).
    var spans: [(start: Int, count: Int)] = []
    var table: [Int32] = []
    var strings: Set<String>? = nil

    init(known: [StaticString]? = nil) {
        precondition((known?.count ?? 0) <= 64)
        self.known = known
    }

    /// False when the reader's name number `index` was already there.
    mutating func insertKnown(_ index: Int) -> Bool {
        if strings != nil { return strings!.insert(known![index].description).inserted }
        let bit: UInt64 = 1 << UInt64(index)
        if knownSeen & bit != 0 { return false }
        knownSeen |= bit
        return true
    }

    /// False when the key was already there. `made`: the key's String when it was made.
    mutating func insert(_ span: JSONParser.StringSpan, _ made: String?, in bytes: [UInt8]) -> Bool {
        if span.escaped || span.high || strings != nil {
            if strings == nil {
                var all = Set<String>()
                for k in 0..<fewCount { all.insert(String(decoding: bytes[few[k].start..<(few[k].start + few[k].count)], as: UTF8.self)) }
                for s in spans.dropFirst(fewCount) { all.insert(String(decoding: bytes[s.start..<(s.start + s.count)], as: UTF8.self)) }
                for (i, name) in (known ?? []).enumerated() where knownSeen & (1 << UInt64(i)) != 0 { all.insert(name.description) }
                strings = all
            }
            let key = made ?? String(decoding: bytes[span.start..<span.end], as: UTF8.self)
            return strings!.insert(key).inserted
        }
        return bytes.withUnsafeBufferPointer { b in
            let base = b.baseAddress!
            let start = span.start, count = span.end - span.start
            if table.isEmpty {
                for k in 0..<fewCount where few[k].count == count && memcmp(base + few[k].start, base + start, count) == 0 { return false }
                if fewCount < 16 {
                    few[fewCount] = (start, count)
                    fewCount += 1
                    return true
                }
                spans = (0..<16).map { few[$0] }
                rehash(base, capacity: 64)
            }
            let mask = table.count - 1
            var i = Int(truncatingIfNeeded: hash(base + start, count)) & mask
            while table[i] >= 0 {
                let k = Int(table[i])
                if spans[k].count == count && memcmp(base + spans[k].start, base + start, count) == 0 { return false }
                i = (i + 1) & mask
            }
            table[i] = Int32(spans.count)
            spans.append((start, count))
            if spans.count * 2 > table.count { rehash(base, capacity: table.count * 2) }
            return true
        }
    }

    private mutating func rehash(_ base: UnsafePointer<UInt8>, capacity: Int) {
        table = Array(repeating: -1, count: capacity)
        let mask = capacity - 1
        for (k, s) in spans.enumerated() {
            var i = Int(truncatingIfNeeded: hash(base + s.start, s.count)) & mask
            while table[i] >= 0 { i = (i + 1) & mask }
            table[i] = Int32(k)
        }
    }

    /// FNV-1a, 64 bits.
    private func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for k in 0..<n { h = (h ^ UInt64(p[k])) &* 0x100_0000_01b3 }
        return h
    }
}
