#if canImport(Glibc)
import Glibc
#endif

/// NumPy .npy files (format versions 1–3), dtypes <f4 <f8 >f4 >f8, shapes (D,), (1,D), (N,D) → mean.
public enum NPY {
    public static func readMean(_ path: String) throws -> [Float] {
        let shown = Sanitizer.display(path)
        guard let b = try FileIO.readIfExists(path) else { throw DubdeckError(.noInput, "\(shown): no such file") }
        guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else { throw DubdeckError.data(shown, "not a .npy file") }
        let major = b[6]
        var headerLen = 0, start = 0
        switch major {
        case 1: headerLen = Int(b[8]) | Int(b[9]) << 8; start = 10
        case 2, 3:
            guard b.count >= 12 else { throw DubdeckError.data(shown, "truncated .npy header") }
            headerLen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12
        default: throw DubdeckError.data(shown, "unsupported .npy version \(major)")
        }
        guard start + headerLen <= b.count else { throw DubdeckError.data(shown, "truncated .npy header") }
        let header = String(decoding: b[start..<(start + headerLen)], as: UTF8.self)
        func field(_ key: String) -> String? {
            let needle = Array("'\(key)':".utf8)
            let h = Array(header.utf8)
            guard h.count >= needle.count else { return nil }
            for i in 0...(h.count - needle.count) where Array(h[i..<(i + needle.count)]) == needle {
                return String(decoding: h[(i + needle.count)...], as: UTF8.self).trimmingWhitespace()
            }
            return nil
        }
        guard let descr = field("descr"), let q1 = descr.dropFirst().firstIndex(of: "'") else { throw DubdeckError.data(shown, "no dtype in .npy header") }
        let dtype = String(descr[descr.index(after: descr.startIndex)..<q1])
        guard ["<f4", "<f8", ">f4", ">f8"].contains(dtype) else { throw DubdeckError.data(shown, "unsupported dtype \(Sanitizer.display(dtype))") }
        if let fo = field("fortran_order"), fo.hasPrefix("True") { throw DubdeckError.data(shown, "Fortran-ordered arrays are not supported") }
        guard let shapeText = field("shape"), let open = shapeText.firstIndex(of: "("),
              let close = shapeText[open...].firstIndex(of: ")") else {  // the ")" after the "(" (found by make fuzz)
            throw DubdeckError.data(shown, "no shape in .npy header")
        }
        let dims = shapeText[shapeText.index(after: open)..<close].split(separator: ",").compactMap { Int(String($0).trimmingWhitespace()) }
        let (rows, cols): (Int, Int)
        switch dims.count {
        case 1: (rows, cols) = (1, dims[0])
        case 2: (rows, cols) = (dims[0], dims[1])
        default: throw DubdeckError.data(shown, "shape \(dims) is not (D,), (1,D) or (N,D)")
        }
        guard rows >= 1, cols >= 1 else { throw DubdeckError.data(shown, "empty array") }
        let size = dtype.hasSuffix("8") ? 8 : 4
        let big = dtype.hasPrefix(">")
        let data = start + headerLen
        // Every product used for a size is overflow-checked: a header may claim 2^62 rows.
        let (cells, o1) = rows.multipliedReportingOverflow(by: cols)
        let (bytes, o2) = cells.multipliedReportingOverflow(by: size)
        let (end, o3) = data.addingReportingOverflow(bytes)
        guard !o1, !o2, !o3, end <= b.count else { throw DubdeckError.data(shown, "truncated .npy data (shape \(rows)×\(cols))") }
        var mean = [Double](repeating: 0, count: cols)
        for r in 0..<rows {
            for c in 0..<cols {
                let at = data + (r * cols + c) * size
                var bits: UInt64 = 0
                for k in 0..<size { bits |= UInt64(b[at + (big ? size - 1 - k : k)]) << (8 * UInt64(k)) }
                let v = size == 8 ? Double(bitPattern: bits) : Double(Float(bitPattern: UInt32(bits)))
                guard v.isFinite else { throw DubdeckError.data(shown, "NaN or infinite value") }
                mean[c] += v / Double(rows)
            }
        }
        let vector = mean.map { Float($0) }
        if let why = Matching.embeddingProblem(vector) { throw DubdeckError.data(shown, "the mean embedding: \(why)") }
        return vector
    }
}
