/// translated.json's one reader: the job's open, `import` (reading back what it would write) and
/// `merge-mt` all read segments here, so what one accepts the others accept (SPEC §11.1, §11.8).
/// It reads the document once, field by field, building no JSON tree; a document with several faults
/// reports the one a whole-tree reading would: the syntax first, then the first line at fault.
extension JobLoader {
    /// The fields a line may have, matched as bytes (an escaped or non-ASCII spelling by its String).
    static let segmentFields: [StaticString] = ["start", "end", "text", "tgt_text", "src_text", "source_text", "speaker", "speaker_id", "character_id"]

    /// One line's fields as written: a scalar as it is, an array or object by its type name only.
    struct SegmentFields {
        enum Value {
            case scalar(JSONScalar)
            case composite(String)

            var typeName: String {
                switch self {
                case .composite(let name): return name
                case .scalar(let s):
                    switch s {
                    case .null: return "null"
                    case .bool: return "boolean"
                    case .number: return "number"
                    case .string: return "string"
                    }
                }
            }
        }
        var values = InlineArray<9, Value?>(repeating: nil)
    }

    /// The segments of translated.json's bytes; errors name `shown` (and the line at fault).
    public static func segments(from bytes: [UInt8], file shown: String) throws -> [Segment] {
        var p = JSONParser(bytes: bytes)
        p.skipBOM()
        var list: [Segment] = []
        // A fault of meaning is kept until the whole document has been read: a syntax error anywhere wins.
        var problem: DubdeckError? = nil
        var sawSegments = false
        do {
            guard p.peek() == UInt8(ascii: "{") else {
                _ = try JSONParser.parse(bytes)
                throw DubdeckError.data(shown, "expected a JSON object with \"segments\"")
            }
            try p.parseObjectValueRaw(depth: 0) { key, q in
                guard q.key(key, is: "segments") || key.string == "segments" else { _ = try q.parseValue(depth: 1); return }
                sawSegments = true
                guard q.peek() == UInt8(ascii: "[") else {
                    let v = try q.parseValue(depth: 1)
                    problem = problem ?? .data(shown, "\"segments\" must be an array, not \(v.typeName)")
                    return
                }
                list.reserveCapacity(bytes.count / 160)
                var n = 0
                try q.parseArrayElements(depth: 1) { r in
                    n += 1
                    guard r.peek() == UInt8(ascii: "{") else {
                        let v = try r.parseValue(depth: 2)
                        problem = problem ?? .data(shown, "segment \(n): expected an object, not \(v.typeName)")
                        return
                    }
                    var fields = SegmentFields()
                    try r.parseObjectValueRaw(depth: 2, known: segmentFields) { field, f in
                        guard let k = f.knownIndex(field, in: segmentFields) else { _ = try f.parseValue(depth: 3); return }
                        if let v = try f.parseScalar(depth: 3) {
                            fields.values[k] = .scalar(v)
                        } else {
                            fields.values[k] = .composite(try f.parseValue(depth: 3).typeName)
                        }
                    }
                    guard problem == nil else { return }
                    do {
                        list.append(try segment(n, fields))
                    } catch let e as SegmentFault {
                        problem = .data(shown, "segment \(n): \(e.cause)")
                    }
                }
            }
            p.skipWhitespace()
            if p.offset != bytes.count { throw p.error("unexpected data after the JSON value") }
        } catch let e as JSONParseError {
            let line = e.index(under: "segments").map { "segment \($0 + 1): " } ?? ""
            throw DubdeckError.data(shown, "\(line)line \(e.line): \(e.message)")
        }
        if let problem { throw problem }
        if !sawSegments { throw DubdeckError.data(shown, "missing \"segments\"") }
        return list
    }

    struct SegmentFault: Error { let cause: String }

    /// Line n from its fields: times within 0–48 h and in order, a text, a safe character ID.
    static func segment(_ n: Int, _ fields: SegmentFields) throws -> Segment {
        func name(_ k: Int) -> StaticString { segmentFields[k] }
        func number(_ k: Int) throws -> Double {
            guard let v = fields.values[k] else { throw SegmentFault(cause: "missing \"\(name(k))\"") }
            guard case .scalar(.number(let d)) = v else { throw SegmentFault(cause: "\"\(name(k))\" must be a number, not \(v.typeName)") }
            return d
        }
        /// Field k when present and not null, which must be a string.
        func string(_ k: Int) throws -> String? {
            guard let v = fields.values[k] else { return nil }
            if case .scalar(.null) = v { return nil }
            guard case .scalar(.string(let s)) = v else { throw SegmentFault(cause: "\"\(name(k))\" must be a string, not \(v.typeName)") }
            return s
        }
        let start = try number(0)
        let end = try number(1)
        if start < 0 { throw SegmentFault(cause: "start \(JSONValue.formatNumber(start)) is negative") }
        if max(start, end) > Bounds.maxTime {
            let (key, t) = start > Bounds.maxTime ? ("start", start) : ("end", end)
            throw SegmentFault(cause: "\(key) \(JSONValue.formatNumber(t)) is past 48 hours (\(Int(Bounds.maxTime)) s)")
        }
        if end < start {
            throw SegmentFault(cause: "end \(JSONValue.formatNumber(end)) is before start \(JSONValue.formatNumber(start))")
        }
        // The first of two spellings present and not null counts.
        guard let text = try string(2) ?? string(3) else { throw SegmentFault(cause: "missing \"text\"") }
        let src = try string(4) ?? string(5) ?? ""
        let speaker = try string(6) ?? string(7) ?? ""
        let character = try string(8)
        if let c = character, !c.isEmpty, !SafeName.isValid(c) {
            throw SegmentFault(cause: "character_id \"\(Sanitizer.display(String(c.prefix(80))))\" is not a safe name (\(SafeName.rule))")
        }
        return Segment(number: n, start: start, end: end, speaker: speaker, srcText: src, text: text,
                       characterID: character?.isEmpty == true ? nil : character)
    }
}
