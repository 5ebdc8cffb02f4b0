/// Untrusted text (segment text, file names, JSON content) is shown through this, never raw:
/// a control or bidi character could move the cursor, set the window title, write the clipboard
/// (OSC 52) or reorder what the reviewer reads. Each becomes a visible placeholder.
public enum Sanitizer {
    /// Placeholder for a scalar that must not reach the terminal, or nil when it is safe.
    @inline(__always)
    public static func placeholder(for v: UInt32) -> Character? {
        if v < 0x20 { return Character(Unicode.Scalar(0x2400 + v)!) }  // ␀ … ␟ (␛ for ESC)
        if v < 0x7F { return nil }
        if v == 0x7F { return "\u{2421}" }  // ␡
        if v <= 0x9F { return "\u{FFFD}" }  // C1 controls (CSI 0x9B, OSC 0x9D, …)
        if isBidiControl(v) { return "\u{FFFD}" }
        return nil
    }

    @inline(__always)
    public static func isBidiControl(_ v: UInt32) -> Bool {
        (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) || v == 0x200E || v == 0x200F || v == 0x061C
    }

    public static func needsSanitizing(_ s: String) -> Bool {
        for u in s.unicodeScalars where placeholder(for: u.value) != nil { return true }
        return false
    }

    /// The text with every unsafe scalar replaced by its placeholder.
    public static func display(_ s: String) -> String {
        if !needsSanitizing(s) { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if let p = placeholder(for: u.value) { out.append(contentsOf: p.unicodeScalars) } else { out.append(u) }
        }
        return String(out)
    }
}
