// Foundation's JSONSerialization as a second, independent reading of dubdeck's job files: the
// tests and the fuzz target (`make fuzz`, compiled into one module there) hold dubdeck's one reader
// of each format against it. Only the rules of the format are written here, never a JSON parser.
#if !FUZZ
import DubdeckCore
#endif
import Foundation

public enum JSONOracle {
    public enum Kind {
        case null, bool(Bool), number(Double), string(String), array([Any]), object([String: Any])

        var isNull: Bool { if case .null = self { return true } else { return false } }
    }

    /// The document as Foundation reads it (nil: Foundation refuses it).
    public static func tree(_ bytes: [UInt8]) -> Any? {
        var body = bytes
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body.removeFirst(3) }
        return try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
    }

    public static func kind(_ v: Any) -> Kind {
        if v is NSNull { return .null }
        if let s = v as? String { return .string(s) }
        if let a = v as? [Any] { return .array(a) }
        if let o = v as? [String: Any] { return .object(o) }
        if let n = v as? NSNumber {
            if String(describing: type(of: v)).contains("Boolean") { return .bool(n.boolValue) }
            return .number(n.doubleValue)
        }
        return .null
    }

    static func present(_ o: [String: Any], _ key: String) -> Kind? {
        guard let v = o[key] else { return nil }
        let k = kind(v)
        return k.isNull ? nil : k
    }

    /// translated.json's lines by the rules of SPEC §2 ("n|start|end|speaker|src|text|character"),
    /// nil for a document the rules refuse.
    public static func segments(_ bytes: [UInt8]) -> [String]? {
        guard let root = tree(bytes), case .object(let top) = kind(root), let list = top["segments"], case .array(let items) = kind(list) else { return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .object(let seg) = kind(item) else { return nil }
            guard let s = seg["start"], case .number(let start) = kind(s), let e = seg["end"], case .number(let end) = kind(e) else { return nil }
            guard start >= 0, start <= Bounds.maxTime, end <= Bounds.maxTime, end >= start else { return nil }
            func string(_ keys: [String]) -> String?? {
                for key in keys {
                    guard let v = present(seg, key) else { continue }
                    guard case .string(let text) = v else { return .some(nil) }
                    return text
                }
                return nil
            }
            guard case .some(.some(let text)) = string(["text", "tgt_text"]) else { return nil }
            let src = string(["src_text", "source_text"]), speaker = string(["speaker", "speaker_id"]), character = string(["character_id"])
            if case .some(nil) = src { return nil }
            if case .some(nil) = speaker { return nil }
            if case .some(nil) = character { return nil }
            let c = (character ?? nil) ?? ""
            if !c.isEmpty, !SafeName.isValid(c) { return nil }
            out.append("\(i + 1)|\(start)|\(end)|\((speaker ?? nil) ?? "")|\((src ?? nil) ?? "")|\(text)|\(c.isEmpty ? "-" : c)")
        }
        return out
    }

    /// transcript_store.json's lines by the rules of SPEC §2 for a job of `lines` (start, end, text):
    /// "text|approved|locked|flags|audio|speaker" per line, nil for a store the rules refuse.
    public static func storeStates(_ bytes: [UInt8], lines: [(start: Double, end: Double, text: String)]) -> [String]? {
        guard let root = tree(bytes), case .object(let top) = kind(root) else { return nil }
        if let v = top["version"] {
            guard case .number(let version) = kind(v), version == version.rounded(), version >= 1, version <= 3 else { return nil }
        }
        var states = lines.map { "\($0.text)|false|false||none|-" }
        guard let segs = top["segments"] else { return states }
        guard case .object(let table) = kind(segs) else { return nil }
        for (key, value) in table {
            guard case .object(let entry) = kind(value) else { return nil }
            guard let n = Int(key), n >= 1, String(n) == key else { return nil }
            guard n <= lines.count else { continue }  // a line the job lacks: kept, the job read-only
            func typed(_ field: String, _ ok: (Kind) -> Bool) -> Bool { present(entry, field).map(ok) ?? true }
            let isString: (Kind) -> Bool = { if case .string = $0 { return true } else { return false } }
            let isBool: (Kind) -> Bool = { if case .bool = $0 { return true } else { return false } }
            let isNumber: (Kind) -> Bool = { if case .number = $0 { return true } else { return false } }
            guard typed("tgt_text", isString), typed("audio_status", isString), typed("approved", isBool), typed("locked", isBool),
                  typed("start", isNumber), typed("end", isNumber), typed("speaker", isString) else { return nil }
            var flags: [String] = []
            if let f = present(entry, "flags") {
                guard case .array(let items) = f else { return nil }
                for item in items {
                    guard case .string(let s) = kind(item) else { return nil }
                    flags.append(s)
                }
            }
            if let p = present(entry, "last_preview") {
                guard case .object(let preview) = p else { return nil }
                if let take = preview["take"] {
                    guard case .string(let t) = kind(take), Takes.isTakePath(t, n) else { return nil }
                }
            }
            var speaker = "-"
            if case .string(let label)? = present(entry, "speaker") {
                guard SafeName.isValid(label) else { return nil }
                speaker = label
            }
            func string(_ field: String) -> String? { if case .string(let s)? = present(entry, field) { return s } else { return nil } }
            func bool(_ field: String) -> Bool { if case .bool(let b)? = present(entry, field) { return b } else { return false } }
            states[n - 1] = "\(string("tgt_text") ?? lines[n - 1].text)|\(bool("approved"))|\(bool("locked"))|\(flags.joined(separator: ","))|\(string("audio_status") ?? "none")|\(speaker)"
        }
        return states
    }
}
