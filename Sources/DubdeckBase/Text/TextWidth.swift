#if canImport(Glibc)
import Glibc
#endif

// glibc declares wcwidth only under _XOPEN_SOURCE, which Swift's Glibc module does not set.
@_silgen_name("wcwidth") func c_wcwidth(_ c: wchar_t) -> Int32

/// Terminal column widths (Japanese and emoji take two columns), from the C library's wcwidth.
/// wcwidth needs a UTF-8 LC_CTYPE; `prepareLocale()` sets one when the environment has none.
public enum TextWidth {
    /// A lazy static runs once, thread-safely (setlocale is not safe to race).
    private static let prepared: Bool = {
        if let current = setlocale(LC_CTYPE, ""), String(cString: current).uppercased().contains("UTF") { return true }
        if setlocale(LC_CTYPE, "C.UTF-8") == nil { _ = setlocale(LC_CTYPE, "C.utf8") }
        return true
    }()

    public static func prepareLocale() { _ = prepared }

    @inline(__always)
    public static func width(of scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v >= 0x20 && v < 0x7F { return 1 }
        prepareLocale()
        let w = c_wcwidth(wchar_t(bitPattern: v))
        return w < 0 ? 1 : Int(w)
    }

    /// Columns of one grapheme cluster: its first scalar; combining marks, ZWJ and variation
    /// selectors ride along at width 0. Emoji presentation (VS16) widens a narrow base.
    public static func width(of ch: Character) -> Int {
        let scalars = ch.unicodeScalars
        guard let first = scalars.first else { return 0 }
        var w = width(of: first)
        if w == 1, scalars.count > 1, scalars.contains(where: { $0.value == 0xFE0F }) { w = 2 }
        return w
    }

    public static func width(of s: String) -> Int {
        var total = 0
        for ch in s { total += width(of: ch) }
        return total
    }

    /// The longest prefix that fits in `columns`, and its width.
    public static func prefix(_ s: String, fitting columns: Int) -> (String, Int) {
        var used = 0
        var end = s.startIndex
        for i in s.indices {
            let w = width(of: s[i])
            if used + w > columns { return (String(s[..<i]), used) }
            used += w
            end = s.index(after: i)
        }
        return (String(s[..<end]), used)
    }

    /// Word-wraps text to lines of at most `columns`, honouring explicit line breaks.
    public static func wrap(_ s: String, columns: Int) -> [String] {
        guard columns > 0 else { return [] }
        var lines: [String] = []
        for paragraph in s.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            var lineWidth = 0
            for word in paragraph.split(separator: " ", omittingEmptySubsequences: false) {
                var w = String(word)
                var ww = width(of: w)
                let sep = line.isEmpty ? 0 : 1
                if lineWidth + sep + ww <= columns {
                    if sep == 1 { line += " " }
                    line += w
                    lineWidth += sep + ww
                    continue
                }
                if !line.isEmpty { lines.append(line) }
                line = ""
                lineWidth = 0
                // A word longer than the line is cut (CJK text has no spaces).
                while ww > columns {
                    let (head, hw) = prefix(w, fitting: columns)
                    if head.isEmpty { break }
                    lines.append(head)
                    w = String(w.dropFirst(head.count))
                    ww -= hw
                }
                line = w
                lineWidth = ww
            }
            lines.append(line)
        }
        return lines
    }
}
