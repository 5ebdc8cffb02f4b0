import CUchardet
import CLazyLibs
#if canImport(Glibc)
import Glibc
#endif

/// Character sets of subtitle files (SPEC §10.7): decoding through iconv (glibc), guessing through
/// libuchardet. Order without `--encoding`: a byte-order mark (UTF-8, UTF-16/32 LE/BE), else strict
/// UTF-8, else the detector's guess, named in a warning; nothing decodable is an error naming the
/// best guess.
public enum TextEncoding {
    public struct Decoded: Equatable, Sendable {
        public var text: String
        /// The character set used (as iconv names it).
        public var encoding: String
        /// Said when the encoding was guessed.
        public var warning: String?
        public var hadBOM: Bool
    }

    public struct Failure: Error, Equatable {
        public var message: String
    }

    static let boms: [(bytes: [UInt8], name: String)] = [
        ([0x00, 0x00, 0xFE, 0xFF], "UTF-32BE"), ([0xFF, 0xFE, 0x00, 0x00], "UTF-32LE"),  // before UTF-16LE: same start
        ([0xEF, 0xBB, 0xBF], "UTF-8"), ([0xFE, 0xFF], "UTF-16BE"), ([0xFF, 0xFE], "UTF-16LE"),
    ]

    /// The character set an XML declaration names (`<?xml version="1.0" encoding="ISO-8859-2"?>`),
    /// read from the first 256 bytes when they begin with it in ASCII; nil otherwise.
    public static func declaredXMLEncoding(_ bytes: [UInt8]) -> String? {
        var head = bytes.prefix(256)
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { head = head.dropFirst(3) }
        guard head.starts(with: Array("<?xml".utf8)), let close = head.firstIndex(of: 0x3E) else { return nil }
        let decl = String(decoding: head[..<close], as: UTF8.self)
        guard let r = decl.range(ofArrow: "encoding") else { return nil }
        let rest = decl[r.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\t" }
        guard let quote = rest.first, quote == "\"" || quote == "'" else { return nil }
        let name = rest.dropFirst().prefix { $0 != quote }
        guard !name.isEmpty, name.count <= 40, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) else { return nil }
        return String(name)
    }

    /// The IANA name an XML declaration gives a character set dubdeck writes (nil: none it names):
    /// the Unicode forms but UTF-32 (many XML readers refuse it), ISO-8859, Windows code pages and the
    /// common East Asian and Cyrillic sets.
    public static func xmlName(_ encoding: String) -> String? {
        let n = normalized(encoding)
        if n == "UTF8" { return "UTF-8" }
        if n == "UTF16" || n == "UTF16LE" || n == "UTF16BE" { return "UTF-16" }
        if n.hasPrefix("ISO8859"), let k = Int(n.dropFirst(7)), (1...16).contains(k) { return "ISO-8859-\(k)" }
        for prefix in ["WINDOWS", "CP"] where n.hasPrefix(prefix) {
            if let k = Int(n.dropFirst(prefix.count)), (1250...1258).contains(k) { return "windows-\(k)" }
        }
        let named = ["KOI8R": "KOI8-R", "KOI8U": "KOI8-U", "SHIFTJIS": "Shift_JIS", "SJIS": "Shift_JIS", "EUCJP": "EUC-JP",
                     "EUCKR": "EUC-KR", "GB2312": "GB2312", "GBK": "GBK", "GB18030": "GB18030", "BIG5": "Big5"]
        return named[n]
    }

    public static func decode(_ bytes: [UInt8], encoding: String? = nil) throws -> Decoded {
        if let encoding {
            var body = bytes[...]
            var bom = false
            // A BOM of the named Unicode form is not text.
            for b in boms where normalized(encoding).hasPrefix(normalized(b.name)) && body.starts(with: b.bytes) {
                body = body.dropFirst(b.bytes.count)
                bom = true
                break
            }
            guard let text = try convert(Array(body), from: encoding) else {
                throw Failure(message: "not valid \(Sanitizer.display(encoding)) text")
            }
            return Decoded(text: text, encoding: encoding, warning: nil, hadBOM: bom)
        }
        for b in boms where bytes.starts(with: b.bytes) {
            let body = Array(bytes.dropFirst(b.bytes.count))
            if b.name == "UTF-8" {
                guard let text = String(validating: body, as: UTF8.self) else { throw Failure(message: "a UTF-8 byte-order mark, but not UTF-8 text") }
                return Decoded(text: text, encoding: "UTF-8", warning: nil, hadBOM: true)
            }
            guard let text = try convert(body, from: b.name) else { throw Failure(message: "a \(b.name) byte-order mark, but not \(b.name) text") }
            return Decoded(text: text, encoding: b.name, warning: nil, hadBOM: true)
        }
        // UTF-16/32 without a byte-order mark: its zero bytes say which (ASCII is valid UTF-8 with NULs in it).
        if let form = unmarkedUnicode(bytes), let text = try convert(bytes, from: form) {
            return Decoded(text: text, encoding: form, warning: "\(form) without a byte-order mark (found from its zero bytes)", hadBOM: false)
        }
        if let text = String(validating: bytes, as: UTF8.self) {
            return Decoded(text: text, encoding: "UTF-8", warning: nil, hadBOM: false)
        }
        if let repaired = try nearlyUTF8(bytes) { return repaired }
        var guess = try detect(bytes)
        // As browsers do: an ISO-8859 guess whose text has C1 control characters is the Windows code
        // page of the same script (0x80–0x9F are letters and quotes there: Š, ť, €, “).
        if let g = guess, let windows = windowsSibling[g.uppercased()],
           let text = try? convert(bytes, from: g), text.unicodeScalars.contains(where: { (0x80...0x9F).contains($0.value) }),
           (try? convert(bytes, from: windows)) != nil {
            guess = windows
        }
        if let guess, guess.uppercased() != "UTF-8", let text = try? convert(bytes, from: guess) {
            return Decoded(text: text, encoding: guess,
                           warning: "not UTF-8: decoded as \(guess) (a guess; --encoding NAME to be sure)", hadBOM: false)
        }
        throw Failure(message: "not UTF-8 text, and no character set decodes it (best guess: \(guess.map { Sanitizer.display($0) } ?? "none"); try --encoding NAME)")
    }

    /// UTF-16/32 LE/BE told apart by where the zero bytes of the (mostly Latin) text fall: at least
    /// 40% of the code units must show the pattern, and the text must decode.
    static func unmarkedUnicode(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 4, bytes.contains(0) else { return nil }
        func share(_ unit: Int, _ zeroAt: [Int], _ nonzeroAt: Int) -> Double {
            let units = bytes.count / unit
            guard units > 0 else { return 0 }
            var hits = 0
            for u in 0..<units {
                let b = u * unit
                if zeroAt.allSatisfy({ bytes[b + $0] == 0 }), bytes[b + nonzeroAt] != 0 { hits += 1 }
            }
            return Double(hits) / Double(units)
        }
        if bytes.count % 4 == 0 {
            if share(4, [1, 2, 3], 0) >= 0.4 { return "UTF-32LE" }
            if share(4, [0, 1, 2], 3) >= 0.4 { return "UTF-32BE" }
        }
        if bytes.count % 2 == 0 {
            if share(2, [1], 0) >= 0.4 { return "UTF-16LE" }
            if share(2, [0], 1) >= 0.4 { return "UTF-16BE" }
        }
        return nil
    }

    /// UTF-8 with a few lines in a legacy character set (smart quotes pasted from Windows), or cut
    /// inside its last character: each line that is not UTF-8 decoded in the character set
    /// libuchardet names for those lines (WINDOWS-1252 when it names none), said in a warning with
    /// the number of lines; a last character cut short is dropped, said too. nil: not such a file
    /// (no valid multi-byte UTF-8 in it, or most of its non-ASCII lines are not UTF-8).
    static func nearlyUTF8(_ bytes: [UInt8]) throws -> Decoded? {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            lines.append(bytes[start...i])
            start = i + 1
        }
        if start < bytes.count { lines.append(bytes[start...]) }
        var good = 0, bad: [Int] = []
        for (k, l) in lines.enumerated() where l.contains(where: { $0 >= 0x80 }) {
            if String(validating: Array(l), as: UTF8.self) != nil { good += 1 } else { bad.append(k) }
        }
        // A last character cut short: the file is UTF-8 but for its last bytes.
        var dropped = 0
        if bad == [lines.count - 1] {
            let last = Array(lines[lines.count - 1])
            for cut in 1...min(3, last.count) where String(validating: Array(last.dropLast(cut)), as: UTF8.self) != nil {
                // What is dropped is the start of a character: a lead byte and its continuations.
                if last[last.count - cut] >= 0xC0, last.suffix(cut - 1).allSatisfy({ $0 & 0xC0 == 0x80 }) {
                    dropped = cut
                    break
                }
            }
        }
        if dropped > 0 {
            let text = String(decoding: bytes.dropLast(dropped), as: UTF8.self)
            return Decoded(text: text, encoding: "UTF-8", warning: "the file ends inside a character: its last \(dropped) byte\(dropped == 1 ? "" : "s") dropped", hadBOM: false)
        }
        guard good > 0, !bad.isEmpty, bad.count <= good else { return nil }
        let badBytes = bad.flatMap { Array(lines[$0]) }
        // Only Windows punctuation (“ ” ‘ ’ – — … € in 0x80–0x9F) pasted in: WINDOWS-1252, which a
        // detector cannot tell from its siblings on a few bytes; else the detector's guess.
        let punctuationOnly = badBytes.allSatisfy { $0 < 0x80 || (0x80...0x9F).contains($0) }
        var legacy = punctuationOnly ? "WINDOWS-1252" : (try? detect(badBytes)).flatMap { $0 } ?? "WINDOWS-1252"
        if legacy.uppercased().hasPrefix("UTF") { legacy = "WINDOWS-1252" }
        legacy = windowsSibling[legacy.uppercased()] ?? legacy
        var text = ""
        let badSet = Swift.Set(bad)
        for (k, l) in lines.enumerated() {
            if badSet.contains(k) {
                guard let t = try convert(Array(l), from: legacy) else { return nil }
                text += t
            } else {
                text += String(decoding: l, as: UTF8.self)
            }
        }
        return Decoded(text: text, encoding: "UTF-8",
                       warning: "UTF-8 but for \(bad.count) line\(bad.count == 1 ? "" : "s") in \(legacy), repaired (line\(bad.count == 1 ? "" : "s") \(bad.prefix(5).map { String($0 + 1) }.joined(separator: ", "))\(bad.count > 5 ? ", …" : ""))",
                       hadBOM: false)
    }

    static let windowsSibling = ["ISO-8859-1": "WINDOWS-1252", "ISO-8859-15": "WINDOWS-1252", "ISO-8859-2": "WINDOWS-1250",
                                 "ISO-8859-5": "WINDOWS-1251", "ISO-8859-7": "WINDOWS-1253", "ISO-8859-9": "WINDOWS-1254",
                                 "ISO-8859-8": "WINDOWS-1255", "ISO-8859-13": "WINDOWS-1257"]

    /// libuchardet's guess, as an iconv name; nil when it has none.
    public static func detect(_ bytes: [UInt8]) throws -> String? {
        if let why = LazyLibrary.failure(dd_uchardet_load, Soname.uchardet) { throw Failure(message: why) }
        guard let d = dd_uchardet_new() else { return nil }
        defer { dd_uchardet_delete(d) }
        let rc = bytes.withUnsafeBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(1, p.count)) { dd_uchardet_handle_data(d, $0, p.count) }
        }
        guard rc == 0 else { return nil }
        dd_uchardet_data_end(d)
        guard let name = dd_uchardet_get_charset(d) else { return nil }
        let s = String(cString: name)
        return s.isEmpty || s == "ASCII" ? nil : s
    }

    static func normalized(_ name: String) -> String {
        String(name.uppercased().filter { $0.isLetter || $0.isNumber })
    }

    /// bytes in `encoding` → a Swift string (nil: not valid in that encoding); an unknown name throws.
    static func convert(_ bytes: [UInt8], from encoding: String) throws -> String? {
        guard let out = try iconv(bytes, from: encoding, to: "UTF-8") else { return nil }
        return String(validating: out, as: UTF8.self)
    }

    /// Text → bytes in `encoding`; throws naming what cannot be represented.
    /// `cr`: old Mac line ends (CR alone); `crlf`: Windows'.
    public static func encode(_ text: String, to encoding: String, bom: Bool, crlf: Bool = false, cr: Bool = false) throws -> [UInt8] {
        let text = crlf ? text.replacingAll("\n", with: "\r\n") : cr ? text.replacingAll("\n", with: "\r") : text
        let key = normalized(encoding)
        var out: [UInt8] = []
        if key == "UTF8" {
            out = Array(text.utf8)
            return (bom ? [0xEF, 0xBB, 0xBF] : []) + out
        }
        // iconv's plain UTF-16/32 write their own BOM; the LE/BE forms get ours when asked for.
        let explicit = ["UTF16": "UTF-16LE", "UTF32": "UTF-32LE"][key] ?? encoding
        guard let bytes = try iconv(Array(text.utf8), from: "UTF-8", to: explicit) else {
            throw Failure(message: "the text has characters \(Sanitizer.display(encoding)) cannot represent")
        }
        if bom, let mark = boms.first(where: { normalized($0.name) == normalized(explicit) }) { out = mark.bytes }
        return out + bytes
    }

    static func iconv(_ bytes: [UInt8], from: String, to: String) throws -> [UInt8]? {
        let cd = iconv_open(to, from)
        guard cd != iconv_t(bitPattern: -1) else {
            throw Failure(message: "unknown character set \(Sanitizer.display(from == "UTF-8" ? to : from)) (iconv --list names them)")
        }
        defer { iconv_close(cd) }
        var input = bytes
        var output = [UInt8](repeating: 0, count: max(16, bytes.count * 4 + 16))
        var inLeft = input.count
        var outLeft = output.count
        let ok: Bool = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                var inPtr: UnsafeMutablePointer<CChar>? = inBuf.baseAddress.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: CChar.self) }
                var outPtr: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuf.baseAddress!).assumingMemoryBound(to: CChar.self)
                if inLeft > 0, Glibc.iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft) == size_t.max { return false }
                // Flush a stateful encoding's shift sequence.
                return Glibc.iconv(cd, nil, nil, &outPtr, &outLeft) != size_t.max
            }
        }
        guard ok, inLeft == 0 else { return nil }
        return Array(output[0..<(output.count - outLeft)])
    }
}
