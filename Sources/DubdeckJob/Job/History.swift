#if canImport(Glibc)
import Glibc
#endif

/// One line of transcript_versions.jsonl.
public struct HistoryRecord: Equatable, Sendable {
    public var ts: String
    public var seq: Int
    public var batch: String?
    public var segment: Int
    public var action: String
    public var before: JSONValue
    public var after: JSONValue
    public var by: String
    /// Fields beyond the standard ones (undo/redo records carry `reverts`).
    public var extra: [String: JSONValue] = [:]

    public init(ts: String, seq: Int, batch: String?, segment: Int, action: String, before: JSONValue, after: JSONValue, by: String) {
        self.ts = ts
        self.seq = seq
        self.batch = batch
        self.segment = segment
        self.action = action
        self.before = before
        self.after = after
        self.by = by
    }

    /// The largest seq: what every JSON reader holds exactly (2^53). A writer never goes past it.
    public static let maxSeq = Int(JSONValue.maxExactInteger)

    /// The actions that set a line's text (what the history views show as text before → after).
    public static let textActions: Swift.Set<String> = ["edit", "restore", "merge-mt", "reset-text", "retranslate"]
    public var changesText: Bool { HistoryRecord.textActions.contains(action) }

    public var json: JSONValue {
        .object(JSONObject([
            ("ts", .string(ts)), ("seq", .number(seq)), ("batch", batch.map { .string($0) } ?? .null),
            ("segment", .number(segment)), ("action", .string(action)), ("before", before), ("after", after),
            ("by", .string(by)),
        ] + extra.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
    }

    public init(json: JSONValue) throws {
        guard case .object(let o) = json else { throw HistoryLog.LineError("expected an object") }
        guard let seq = o["seq"]?.intValue, seq >= 0 else { throw HistoryLog.LineError("missing or bad \"seq\"") }
        guard let segment = o["segment"]?.intValue else { throw HistoryLog.LineError("missing or bad \"segment\"") }
        guard let action = o["action"]?.stringValue else { throw HistoryLog.LineError("missing or bad \"action\"") }
        self.seq = seq
        self.segment = segment
        self.action = action
        ts = o["ts"]?.stringValue ?? ""
        batch = o["batch"]?.stringValue
        before = o["before"] ?? .null
        after = o["after"] ?? .null
        by = o["by"]?.stringValue ?? ""
        for m in o.members where !["ts", "seq", "batch", "segment", "action", "before", "after", "by"].contains(m.key) {
            extra[m.key] = m.value
        }
    }
}

/// The append-only history. Opening a job reads only its tail: the file can hold hundreds of
/// thousands of lines.
public struct HistoryLog: Sendable {
    /// Reached through the job's directory handle (a path only for a history named outside a job).
    public let place: FilePlace
    /// For messages only.
    public var path: String { place.path }

    public struct LineError: Error { let message: String; init(_ m: String) { message = m } }

    public struct Tail {
        /// Parsed records of the tail, oldest first.
        public var records: [HistoryRecord]
        /// Set when the last line was torn or unparsable (ignored).
        public var warning: String?
        /// Byte offset where the torn last line starts (nil when the file ends cleanly).
        public var tornOffset: Int?
        /// True when the tail does not reach the beginning of the file.
        public var partial: Bool
    }

    public init(path: String) { place = FilePlace(path: path) }
    public init(_ place: FilePlace) { self.place = place }

    static func parseLine(_ bytes: ArraySlice<UInt8>) throws -> HistoryRecord {
        do {
            return try HistoryRecord(json: try JSONParser.parse(Array(bytes)))
        } catch let e as JSONParseError {
            throw LineError(e.message)
        }
    }

    /// Reads at most the last `maxBytes` of the file.
    public func readTail(maxBytes: Int = 1 << 20) throws -> Tail {
        guard let fd = try openForReading() else { return Tail(records: [], warning: nil, tornOffset: nil, partial: false) }
        defer { close(fd) }
        let size = fileSize(fd)
        let start = max(0, size - maxBytes)
        return try parse(readRange(fd, start, size), fileOffset: start, fd: fd)
    }

    /// The history is ours: a link, FIFO or device in its place is refused, never followed.
    func openForReading() throws -> Int32? {
        let fd = place.open(O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            if errno == ELOOP { throw DubdeckError.data(Sanitizer.display(path), "is a symbolic link; refusing to follow it") }
            throw DubdeckError.io(Sanitizer.display(path), "cannot open: \(errnoText())")
        }
        do {
            try FileIO.requireRegular(fd: fd, path: path, owner: .own)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    func fileSize(_ fd: Int32) -> Int {
        var st = stat()
        fstat(fd, &st)
        return Int(st.st_size)
    }

    func readRange(_ fd: Int32, _ start: Int, _ end: Int) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: end - start)
        var got = 0
        while got < buf.count {
            let n = buf.withUnsafeMutableBufferPointer { pread(fd, $0.baseAddress! + got, $0.count - got, off_t(start + got)) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        buf.removeSubrange(got...)
        return buf
    }

    /// What a commit needs from the end of the history, read once: the torn tail (of any length),
    /// the last complete records back to where `sameGroup` stops (at least one, and the one
    /// before the group), and so the next seq whatever the length of the last record.
    public struct EndScan {
        /// Complete records at the end, oldest first.
        public var records: [HistoryRecord] = []
        /// Byte offset of each record's line.
        public var offsets: [Int] = []
        /// Where a torn or unparsable last line starts; nil when the file ends with a complete record.
        public var tornOffset: Int? = nil
        public var warning: String? = nil
        public var size = 0
        public var lastSeq: Int { records.last?.seq ?? 0 }

        func oldestFirst() -> EndScan {
            var s = self
            s.records.reverse()
            s.offsets.reverse()
            return s
        }
    }

    /// Reads backwards from the end in growing chunks until the records asked for are complete.
    public func scanEnd(sameGroup: (HistoryRecord, HistoryRecord) -> Bool = { _, _ in false }) throws -> EndScan {
        guard let fd = try openForReading() else { return EndScan() }
        defer { close(fd) }
        let size = fileSize(fd)
        var chunk = 1 << 16
        while true {
            let start = max(0, size - chunk)
            let buf = readRange(fd, start, size)
            if let scan = try scanBackwards(buf, fileOffset: start, fd: fd, sameGroup: sameGroup) {
                return scan
            }
            if start == 0 { return EndScan(size: size) }  // cannot happen: the whole file was there
            if chunk > FileIO.jsonLimit {
                throw DubdeckError.data(Sanitizer.display(path), "the last records are longer than \(FileIO.jsonLimit) bytes")
            }
            chunk *= 4
        }
    }

    /// nil when the buffer does not reach far enough back (the caller reads a larger chunk).
    /// Collects the newest record, the records `sameGroup` with it, and the one record before them.
    func scanBackwards(_ buf: [UInt8], fileOffset: Int, fd: Int32, sameGroup: (HistoryRecord, HistoryRecord) -> Bool) throws -> EndScan? {
        var scan = EndScan(size: fileOffset + buf.count)
        var pos = buf.count
        while pos > 0 {
            let terminated = buf[pos - 1] == 0x0A
            let lineEnd = terminated ? pos - 1 : pos
            var k = lineEnd
            while k > 0, buf[k - 1] != 0x0A { k -= 1 }
            if k == 0, fileOffset > 0 { return nil }  // the line may begin before this chunk
            let slice = buf[k..<lineEnd]
            pos = k
            let blank = slice.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }
            if !terminated {
                // An append cut short: its store save never happened (the append comes first).
                if !slice.isEmpty { scan.tornOffset = fileOffset + k }
                if !blank {
                    let lineNo = try lineNumber(at: fileOffset + k, buf: buf, bufOffset: fileOffset, fd: fd)
                    scan.warning = "\(Sanitizer.display(path)): line \(lineNo) is torn (no newline at its end); ignored"
                }
                continue
            }
            if blank { continue }
            let record: HistoryRecord
            do {
                record = try HistoryLog.parseLine(slice)
            } catch let e as LineError {
                // A line that ends with its newline was written whole: never cut as torn (only an
                // unterminated last line is), whatever it holds.
                let lineNo = try lineNumber(at: fileOffset + k, buf: buf, bufOffset: fileOffset, fd: fd)
                throw DubdeckError.data(Sanitizer.display(path), "line \(lineNo): corrupt record (\(e.message))")
            }
            // Collected newest first and turned round once at the end: inserting at the front made a
            // group of 200k records cost 200k² moves.
            scan.records.append(record)
            scan.offsets.append(fileOffset + k)
            if scan.records.count > 1, !sameGroup(record, scan.records[0]) { return scan.oldestFirst() }
        }
        return scan.oldestFirst()
    }

    /// Every record of the file (the `history` command).
    public func readAll() throws -> Tail {
        guard let bytes = try FileIO.readIfExists(place, owner: .own) else {
            return Tail(records: [], warning: nil, tornOffset: nil, partial: false)
        }
        return try parse(bytes, fileOffset: 0, fd: nil)
    }

    func parse(_ buf: [UInt8], fileOffset: Int, fd: Int32?) throws -> Tail {
        var lines: [(Range<Int>)] = []
        var i = 0
        // A tail that starts mid-file begins with a partial line: skip it.
        if fileOffset > 0 {
            while i < buf.count, buf[i] != 0x0A { i += 1 }
            i += 1
        }
        var lineStart = i
        while i < buf.count {
            if buf[i] == 0x0A {
                lines.append(lineStart..<i)
                lineStart = i + 1
            }
            i += 1
        }
        let endsCleanly = lineStart >= buf.count
        if !endsCleanly { lines.append(lineStart..<buf.count) }
        var records: [HistoryRecord] = []
        records.reserveCapacity(lines.count)
        var warning: String? = nil
        var torn: Int? = nil
        for (k, range) in lines.enumerated() {
            let slice = buf[range]
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
                if k == lines.count - 1 && !endsCleanly { torn = fileOffset + range.lowerBound }
                continue
            }
            do {
                let r = try HistoryLog.parseLine(slice)
                if k == lines.count - 1 && !endsCleanly { throw LineError("no newline at its end") }
                records.append(r)
            } catch let e as LineError {
                let lineNo = try lineNumber(at: fileOffset + range.lowerBound, buf: buf, bufOffset: fileOffset, fd: fd)
                if k == lines.count - 1 && !endsCleanly {
                    warning = "\(Sanitizer.display(path)): line \(lineNo) is torn or unreadable (\(e.message)); ignored"
                    torn = fileOffset + range.lowerBound
                } else {
                    throw DubdeckError.data(Sanitizer.display(path), "line \(lineNo): corrupt record (\(e.message))")
                }
            }
        }
        return Tail(records: records, warning: warning, tornOffset: torn, partial: fileOffset > 0)
    }

    /// 1-based line number of a byte offset; counts newlines before the tail only on this error path.
    func lineNumber(at offset: Int, buf: [UInt8], bufOffset: Int, fd: Int32?) throws -> Int {
        var count = 1
        if bufOffset > 0, let fd {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            var pos = 0
            while pos < bufOffset {
                let want = min(chunk.count, bufOffset - pos)
                let n = chunk.withUnsafeMutableBufferPointer { pread(fd, $0.baseAddress!, want, off_t(pos)) }
                if n <= 0 { break }
                for b in chunk[0..<n] where b == 0x0A { count += 1 }
                pos += n
            }
        }
        for b in buf[0..<(offset - bufOffset)] where b == 0x0A { count += 1 }
        return count
    }

    /// The record with this seq, read backwards from the end only as far as it lies (seqs grow
    /// along the file).
    public func record(seq: Int) throws -> HistoryRecord? {
        try scanEnd { older, _ in older.seq > seq }.records.first { $0.seq == seq }
    }

    /// The seq of the last complete record (0 when empty), however long that record is.
    public func lastSeq() throws -> Int {
        try scanEnd().lastSeq
    }

    /// Appends records in ONE write and fsyncs it. A torn last line (a crash mid-append: its store
    /// save never happened) is cut off first so it never ends up in the middle. Returns the length
    /// of the file before the append, to cut the records off again when the commit fails later.
    /// Call with the job lock held, after `scanEnd` (the commit reads the end once).
    @discardableResult
    public func append(_ records: [HistoryRecord], after scan: EndScan? = nil) throws -> Int {
        guard !records.isEmpty else { return scan?.size ?? 0 }
        let end = try scan ?? scanEnd()
        var bytes: [UInt8] = []
        if let torn = end.tornOffset {
            try FileIO.truncateDurably(place, to: torn)
        } else if end.size > 0 {
            // Ensure the file ends with a newline (a complete record written by a tool without one).
            let fd = place.open(O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            var last: UInt8 = 0x0A
            if fd >= 0 {
                _ = pread(fd, &last, 1, off_t(end.size - 1))
                close(fd)
            }
            if last != 0x0A { bytes.append(0x0A) }
        }
        for r in records {
            JSONWriter.write(r.json, into: &bytes, indent: nil, level: 0)
            bytes.append(0x0A)
        }
        return try FileIO.appendDurably(place, bytes)
    }
}
