extension String {
    /// Every `a` replaced by `b`, in one pass (the rest was copied again at each match: N²).
    package func replacingAll(_ a: String, with b: String) -> String {
        guard !a.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: a) {
            out += rest[..<r.lowerBound]
            out += b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }

    /// Without the white space at either end.
    package func trimmingCharacters() -> String { Substring(self).trimmingCharacters() }
}

extension Substring {
    /// Without the white space at either end.
    /// Scalar by scalar, as Python's strip() and every other reader: a combining mark after a space is
    /// kept though the two make one Character.
    package func trimmingCharacters() -> String {
        var s = unicodeScalars[...]
        while let f = s.first, f.properties.isWhitespace { s.removeFirst() }
        while let l = s.last, l.properties.isWhitespace { s.removeLast() }
        return String(String.UnicodeScalarView(s))
    }
}
