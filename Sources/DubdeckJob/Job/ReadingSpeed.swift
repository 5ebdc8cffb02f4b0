/// Reading speed (SPEC §10.6): characters per second of slot, spaces and line breaks not counted,
/// against a limit per target language as the public timed-text style guides give them.
public enum ReadingSpeed {
    /// The bounds a `max_cps` (job.json) or `--max-cps` must keep.
    public static let limitRange = 1.0...100.0

    /// Characters (no whitespace) per second of a slot; 0 for an empty or zero-length slot.
    public static func cps(_ text: String, duration: Double) -> Double {
        guard duration > 0 else { return 0 }
        // Every line's count is made when a store opens: ASCII text is counted by its bytes (a
        // grapheme walk over 5,000 lines costs more than the rest of opening them).
        var utf8 = text
        let ascii: Int? = utf8.withUTF8 { b in
            // Without a branch per byte (every line's count is made as a job opens): white space is
            // space, or tab … carriage return (0x09–0x0D).
            var spaces = 0, high: UInt8 = 0
            for c in b {
                high |= c
                spaces &+= (c == 0x20 ? 1 : 0) | (c &- 0x09 <= 4 ? 1 : 0)
            }
            return high < 0x80 ? b.count - spaces : nil
        }
        if let ascii { return Double(ascii) / duration }
        return Double(text.reduce(0) { $1.isWhitespace ? $0 : $0 + 1 }) / duration
    }

    /// 17 for English and other Latin scripts, 4 for Japanese, 9 for Chinese, 12 for Korean.
    public static func defaultLimit(language: String) -> Double {
        let primary = language.lowercased().split(whereSeparator: { $0 == "-" || $0 == "_" }).first.map(String.init) ?? ""
        switch primary {
        case "ja", "jpn": return 4
        case "zh", "zho", "chi", "cmn", "yue": return 9
        case "ko", "kor": return 12
        default: return 17
        }
    }

    /// The limit in force: an override (command line), else job.json's `max_cps`, else the language's.
    public static func limit(_ job: Job, override: Double? = nil) -> Double {
        override ?? job.info.maxCPS ?? defaultLimit(language: job.info.tgtLang)
    }
}
