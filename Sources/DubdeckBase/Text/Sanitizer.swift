/// Untrusted text (segment text, file names, JSON content) is shown through this, never raw:
/// a control or bidi character could move the cursor, set the window title, write the clipboard
/// (OSC 52) or reorder what the reviewer reads. Each becomes a visible placeholder.
public enum Sanitizer {
    /// Placeholder for a scalar that must not reach the terminal, or nil when it is safe. Each is
    /// visible and distinct (never U+FFFD, which looks like broken encoding): ␀ … ␟ for C0 (␛ for
    /// ESC, ␇ for BEL), ␡ for DEL, `⟨U+009B⟩` for C1, bidi controls and U+2028/U+2029.
    @inline(__always)
    public static func placeholder(for v: UInt32) -> String? {
        if v < 0x20 { return String(Character(Unicode.Scalar(0x2400 + v)!)) }
        if v < 0x7F { return nil }
        if v == 0x7F { return "\u{2421}" }
        if v <= 0x9F || isBidiControl(v) { return codePoint(v) }  // C1 (CSI 0x9B, OSC 0x9D, …), bidi
        if v == 0x2028 || v == 0x2029 { return codePoint(v) }  // line and paragraph separators: a line break to some terminals
        return nil
    }

    static func codePoint(_ v: UInt32) -> String {
        let hex = String(v, radix: 16, uppercase: true)
        return "\u{27E8}U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + "\u{27E9}"
    }

    @inline(__always)
    public static func isBidiControl(_ v: UInt32) -> Bool {
        (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) || v == 0x200E || v == 0x200F || v == 0x061C
    }

    public static func needsSanitizing(_ s: String) -> Bool {
        for u in s.unicodeScalars where placeholder(for: u.value) != nil { return true }
        return false
    }

    /// Bytes that should be UTF-8 text (what a program printed, an argument) shown as `display`
    /// shows text, each byte that is not part of valid UTF-8 as `⟨0xFF⟩` — never U+FFFD.
    public static func display(bytes: some Collection<UInt8>, keepingLayout: Bool = false) -> String {
        let b = Array(bytes)
        if let text = String(validating: b, as: UTF8.self) { return display(text, keepingLayout: keepingLayout) }
        var out = ""
        var i = 0
        while i < b.count {
            // The longest valid sequence from here (1–4 bytes), else the byte alone.
            var taken = 0
            for n in stride(from: min(4, b.count - i), through: 1, by: -1) {
                if let s = String(validating: b[i..<(i + n)], as: UTF8.self), s.unicodeScalars.count == 1 {
                    out += display(s, keepingLayout: keepingLayout)
                    taken = n
                    break
                }
            }
            if taken == 0 {
                out += "\u{27E8}0x" + (b[i] < 0x10 ? "0" : "") + String(b[i], radix: 16, uppercase: true) + "\u{27E9}"
                taken = 1
            }
            i += taken
        }
        return out
    }

    /// Human-readable command output: like `display`, but line breaks and tabs stay (the layout).
    public static func displayKeepingLayout(_ s: String) -> String { display(s, keepingLayout: true) }

    /// The text with every unsafe scalar replaced by its placeholder (with `keepingLayout`, line
    /// breaks and tabs stay).
    public static func display(_ s: String, keepingLayout: Bool = false) -> String {
        @inline(__always) func unsafe(_ v: UInt32) -> String? {
            keepingLayout && (v == 0x0A || v == 0x09) ? nil : placeholder(for: v)
        }
        guard s.unicodeScalars.contains(where: { unsafe($0.value) != nil }) else { return s }
        // A String: appending a sequence to a UnicodeScalarView copies it whole each time (quadratic).
        var out = ""
        for u in s.unicodeScalars {
            if let p = unsafe(u.value) { out += p } else { out.unicodeScalars.append(u) }
        }
        return out
    }
}
