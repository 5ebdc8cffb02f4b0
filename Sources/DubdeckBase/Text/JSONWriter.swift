#if canImport(Glibc)
import Glibc
#endif


public enum JSONWriter {
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out, indent: nil, level: 0)
        return out
    }

    /// Two-space indented, for files people read.
    public static func encodePretty(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        write(value, into: &out, indent: 2, level: 0)
        out.append(0x0A)
        return out
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8], indent: Int?, level: Int) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case .number(let n): out.append(contentsOf: Array(n.utf8))
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            if items.isEmpty { out.append(contentsOf: [0x5B, 0x5D]); return }
            out.append(0x5B)
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(0x2C) }
                newline(&out, indent, level + 1)
                write(item, into: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append(0x5D)
        case .object(let obj):
            if obj.members.isEmpty { out.append(contentsOf: [0x7B, 0x7D]); return }
            out.append(0x7B)
            for (i, m) in obj.members.enumerated() {
                if i > 0 { out.append(0x2C) }
                newline(&out, indent, level + 1)
                writeString(m.key, into: &out)
                out.append(0x3A)
                if indent != nil { out.append(0x20) }
                write(m.value, into: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append(0x7D)
        }
    }

    static func newline(_ out: inout [UInt8], _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: indent * level))
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    public static func writeString(_ s: String, into out: inout [UInt8]) {
        let opening = out.count
        out.append(0x22)
        var utf8 = s.utf8.makeIterator()
        var hasHigh = false
        while let b = utf8.next() {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0..<0x20, 0x7F:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default:
                if b >= 0x80 { hasHigh = true }
                out.append(b)
            }
        }
        out.append(0x22)
        // C1 controls and bidi controls are written as \u escapes: the same value, but a terminal
        // showing the JSON (dubdeck … --json, cat) never meets them raw.
        if hasHigh, s.unicodeScalars.contains(where: { ($0.value >= 0x80 && $0.value <= 0x9F) || Sanitizer.isBidiControl($0.value) }) {
            out.removeSubrange((opening + 1)...)
            for u in s.unicodeScalars {
                let v = u.value
                if (v >= 0x80 && v <= 0x9F) || Sanitizer.isBidiControl(v) {
                    out.append(contentsOf: [0x5C, UInt8(ascii: "u")])
                    for shift in [12, 8, 4, 0] { out.append(hex[Int((v >> UInt32(shift)) & 0xF)]) }
                } else {
                    var tmp: [UInt8] = []
                    writeScalar(u, into: &tmp)
                    out.append(contentsOf: tmp)
                }
            }
            out.append(0x22)
        }
    }

    /// One scalar with the escapes of `writeString`.
    static func writeScalar(_ u: Unicode.Scalar, into out: inout [UInt8]) {
        switch u.value {
        case 0x22: out += [0x5C, 0x22]
        case 0x5C: out += [0x5C, 0x5C]
        case 0x0A: out += [0x5C, UInt8(ascii: "n")]
        case 0x0D: out += [0x5C, UInt8(ascii: "r")]
        case 0x09: out += [0x5C, UInt8(ascii: "t")]
        case 0..<0x20, 0x7F:
            out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(u.value >> 4)], hex[Int(u.value & 0xF)]]
        default:
            out += Array(String(Character(u)).utf8)
        }
    }
}
