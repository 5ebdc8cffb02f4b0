/// Names that become paths or library arguments (`stem`, `episode`, `series_id`, character IDs,
/// voice variants and engines, languages) come from files other programs and people write. Each
/// must match `[A-Za-z0-9][A-Za-z0-9._+-]{0,63}`: no `/`, no `..` at the start, no NUL, no control,
/// so no value from a file can point a write or a library outside its place (SPEC §10.1).
public enum SafeName {
    public static let maxLength = 64
    public static let rule = "[A-Za-z0-9][A-Za-z0-9._+-]{0,63}"

    public static func isValid(_ s: String) -> Bool {
        // Over the bytes in place: called for every line of a job as it opens.
        var count = 0
        for c in s.utf8 {
            let ok = count == 0 ? isAlnum(c)
                : isAlnum(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
            count += 1
            if !ok || count > maxLength { return false }
        }
        return count > 0
    }

    @inline(__always)
    static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    /// A safe name made from any text (a file name): other characters become `_`.
    public static func make(_ text: String) -> String {
        var out = String(text.unicodeScalars.prefix(maxLength).map { u -> Character in
            let c = u.isASCII ? UInt8(u.value) : 0
            return isAlnum(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
                ? Character(u) : "_"
        })
        if let first = out.utf8.first, !isAlnum(first) { out = "x" + out.dropFirst() }
        return out.isEmpty ? "subs" : out
    }

    /// The value, or exit 65 naming the file and the field.
    @discardableResult
    public static func check(_ value: String, file: String, field: String) throws -> String {
        guard isValid(value) else {
            throw DubdeckError.data(Sanitizer.display(file),
                                    "\(field) \"\(Sanitizer.display(String(value.prefix(80))))\" is not a safe name (\(rule))")
        }
        return value
    }

    /// A value given on the command line (exit 64).
    @discardableResult
    public static func checkArgument(_ value: String, option: String) throws -> String {
        guard isValid(value) else {
            throw DubdeckError(.usage, "\(option) \"\(Sanitizer.display(String(value.prefix(80))))\" is not a safe name (\(rule))")
        }
        return value
    }
}

/// Bounds on numbers read from files (SPEC §10.1): no input may crash dubdeck on a conversion or
/// make it allocate without limit.
public enum Bounds {
    /// Times are finite and within 0 … 48 h.
    public static let maxTime = 172_800.0
    /// A slot longer than this is not synthesized.
    public static let maxSynthSlot = 600.0
    public static let sampleRates = 8_000...384_000

    public static func isTime(_ t: Double) -> Bool { t.isFinite && t >= 0 && t <= maxTime }
}
