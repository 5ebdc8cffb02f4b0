#if canImport(Glibc)
import Glibc
#endif


// A small JSON reader/writer that keeps what dubdeck needs and Foundation does not give:
// object member order, numbers as written (lossless round trip of unknown fields), the byte
// range of each value (so unchanged store entries are written back without re-encoding),
// strict rejection of NaN/Infinity and invalid UTF-8, and the path to the offending value.

public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number exactly as written in the source (or produced by `JSONValue.number(_:)`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public static func number(_ value: Double) -> JSONValue { .number(formatNumber(value)) }
    public static func number(_ value: Int) -> JSONValue { .number(String(value)) }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var doubleValue: Double? {
        guard case .number(let n) = self else { return nil }
        var text = n
        return text.withUTF8 { JSONValue.fastDouble($0) } ?? Double(n)
    }

    /// A decimal without an exponent, of at most 19 digits, whose digits make an integer m <= 2^53
    /// with at most 22 after the point, is m / 10^k in one correctly rounded division — the value
    /// strtod gives (both operands exact: Clinger's fast path). nil for anything else (strtod decides).
    package static func fastDouble(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        guard let (d, next) = fastDecimal(b, from: 0), next == b.count else { return nil }
        return d
    }

    /// The JSON number at `from` read and converted in one pass when it is such a decimal (JSON's
    /// grammar: no leading zero, digits after a point, no exponent): its value and where it ends.
    /// nil for any other spelling, valid or not: the careful reading decides (and names the error).
    static func fastDecimal(_ b: UnsafeBufferPointer<UInt8>, from: Int) -> (Double, Int)? {
        var i = from, negative = false
        if i < b.count, b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var m: UInt64 = 0, significant = 0
        @inline(__always) func digits(_ i: inout Int) {
            while i < b.count {
                let d = b[i] &- 0x30
                guard d < 10 else { break }
                if m != 0 || d != 0 { significant += 1 }
                m = m &* 10 &+ UInt64(d)
                i += 1
            }
        }
        let intStart = i
        digits(&i)
        guard i > intStart, i == intStart + 1 || b[intStart] != 0x30 else { return nil }
        var fraction = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            digits(&i)
            fraction = i - fractionStart
            guard fraction > 0 else { return nil }
        }
        if i < b.count, b[i] | 0x20 == UInt8(ascii: "e") { return nil }
        guard significant <= 19, m <= 1 << 53, fraction <= 22 else { return nil }
        let d = Double(m) / JSONValue.powersOfTen[fraction]
        return (negative ? -d : d, i)
    }

    static let powersOfTen: [Double] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]
    public var intValue: Int? {
        guard case .number(let n) = self else { return nil }
        // Integers must fit in 2^53 (what every JSON reader holds exactly): a seq or a count past it
        // is bad data, not a number to overflow on.
        if let i = Int(n) { return i.magnitude <= JSONValue.maxExactInteger ? i : nil }
        if let d = Double(n), d.rounded() == d, d.magnitude <= Double(JSONValue.maxExactInteger) { return Int(d) }
        return nil
    }
    public static let maxExactInteger: UInt = 1 << 53
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Shortest representation that reads back as the same Double ("1.2", not "1.2000000000000002").
    public static func formatNumber(_ value: Double) -> String {
        if value.isFinite, value.rounded() == value, abs(value) < 1e15 {
            return String(Int64(value))
        }
        return "\(value)"
    }
}

/// A scalar as a reader that knows its fields takes it (`JSONParser.parseScalar`).
public enum JSONScalar: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var isNull: Bool { self == .null }

    /// The same value as a JSONValue (a number as the shortest text that reads back as it).
    public var value: JSONValue {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let d): return .number(d)
        case .string(let s): return .string(s)
        }
    }
}

/// An ordered JSON object. Lookups are linear: dubdeck's objects are small, except the store's
/// segment table, which has its own index.
public struct JSONObject: Equatable, Sendable {
    public var members: [(key: String, value: JSONValue)]

    public init(_ members: [(key: String, value: JSONValue)] = []) { self.members = members }

    public subscript(key: String) -> JSONValue? {
        get {
            for m in members where m.key == key { return m.value }
            return nil
        }
        set {
            if let i = members.firstIndex(where: { $0.key == key }) {
                if let v = newValue { members[i].value = v } else { members.remove(at: i) }
            } else if let v = newValue {
                members.append((key, v))
            }
        }
    }

    public var keys: [String] { members.map { $0.key } }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.members.count == b.members.count else { return false }
        for (x, y) in zip(a.members, b.members) where x.key != y.key || x.value != y.value { return false }
        return true
    }
}

public struct JSONParseError: Error, CustomStringConvertible {
    public enum PathComponent: Sendable { case key(String), index(Int) }
    public var message: String
    public var offset: Int
    public var line: Int
    /// From the document root to the value where the error is.
    public var path: [PathComponent] = []

    public var description: String { "line \(line): \(message)" }

    /// The array index directly under the given top-level key, e.g. 2 for `segments[2].text`.
    public func index(under key: String) -> Int? {
        guard path.count >= 2, case .key(let k) = path[0], k == key, case .index(let i) = path[1] else { return nil }
        return i
    }
    /// The object key directly under the given top-level key, e.g. "12" for `segments."12".approved`.
    public func key(under key: String) -> String? {
        guard path.count >= 2, case .key(let k) = path[0], k == key, case .key(let sub) = path[1] else { return nil }
        return sub
    }
}
