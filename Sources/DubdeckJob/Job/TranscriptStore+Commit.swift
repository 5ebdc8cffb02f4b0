import Dispatch
#if canImport(Glibc)
import Glibc
#endif

extension TranscriptStore {
    // MARK: Committing

    public struct CommitResult {
        public var records: [HistoryRecord]
        /// True when the store was re-read from disk first (another writer had changed it).
        public var reloaded: Bool
        /// Repairs made on the way (a torn history tail cut, records of an interrupted save cut).
        public var warnings: [String] = []
    }

    /// The history field naming the store file a record's change was applied to (hex SHA-256, or
    /// "none"): a trailing record whose base is still the store on disk never reached the store.
    public static let baseField = "base_sha256"
    /// On the newest record of a commit: the segments whose current take the commit re-points.
    public static let repointField = "repoint"

    /// One change = one transaction (SPEC §10.2), under the job lock: check for outside changes
    /// (merge or refuse) → repair the history's end → apply → `prepare` (synthesis installs its
    /// immutable take) → append the history records (fsync) → write the store (atomic) → re-point
    /// the current takes → release. A failure after the append cuts the records off again, so the
    /// history never holds a change the store does not show. Changes that change nothing are dropped.
    /// `prepare` gets the first seq and returns what undoes it.
    @discardableResult
    public func commit(_ changes: [SegmentChange], batch: String? = nil, extraFields: [String: JSONValue] = [:],
                       prepare: ((_ firstSeq: Int) throws -> (() -> Void))? = nil) throws -> CommitResult {
        if let reason = readOnlyReason {
            throw DubdeckError(.dataError, "\(Sanitizer.display(path)): read-only: \(reason)")
        }
        for c in changes where c.segment < 1 || c.segment > job.segments.count {
            throw DubdeckError(.usage, "no segment \(c.segment) (the job has \(job.segments.count))")
        }
        let lock = try JobLock.acquire(job.lockPlace, timeout: lockTimeout)
        defer { lock.release() }

        try job.requireTranslationUnchanged()
        let reloaded = try takeOutsideChanges(changes)
        for c in changes { try c.check?(self) }
        var warnings: [String] = []
        let base = snapshot.fingerprint.shaHex
        let historyEnd = try repairHistoryEnd(storeBase: base, warnings: &warnings)

        let firstSeq = historyEnd.lastSeq + 1
        let undoPrepare = try prepare?(firstSeq)

        // Apply to copies first: a refused change leaves nothing half-done.
        var updated: [Int: JSONObject] = [:]
        var original: [Int: JSONObject] = [:]
        var records: [HistoryRecord] = []
        let ts = Clock.isoNow()
        do {
            for c in changes {
                let before = updated[c.segment] ?? entry(c.segment)
                if original[c.segment] == nil { original[c.segment] = before }
                var after = before
                try c.apply(&after)
                let seg = job.segments[c.segment - 1]
                after["start"] = .number(seg.start)
                after["end"] = .number(seg.end)
                if after == before { continue }
                updated[c.segment] = after
                records.append(HistoryRecord(ts: ts, seq: 0, batch: nil, segment: c.segment, action: c.action,
                                             before: .object(before), after: .object(after), by: by))
            }
        } catch {
            undoPrepare?()
            throw error
        }
        if records.isEmpty {
            undoPrepare?()
            return CommitResult(records: [], reloaded: reloaded, warnings: warnings)
        }
        let batchID = batch ?? (records.count > 1 ? "b\(firstSeq)" : nil)
        // Seqs stop at 2^53 (what every reader holds); a change keeps room for the undo of itself,
        // so none is made that could never be undone (an undo or redo needs only its own).
        let room = records.allSatisfy { $0.action == "undo" } ? records.count : 2 * records.count
        guard firstSeq + room - 1 <= HistoryRecord.maxSeq else {
            undoPrepare?()
            throw DubdeckError.data(Sanitizer.display(history.path), "seq \(firstSeq + room - 1) would pass 2^53: no record past it could be read back")
        }
        for i in records.indices {
            records[i].seq = firstSeq + i
            records[i].batch = batchID
            records[i].extra = extraFields
            records[i].extra[TranscriptStore.baseField] = .string(base)
        }
        let repoints = updated.keys.sorted().filter { Takes.current(of: original[$0], $0) != Takes.current(of: updated[$0], $0) }
        records[records.count - 1].extra[TranscriptStore.repointField] = .array(repoints.map { .number($0) })

        let oldLength: Int
        do {
            oldLength = try history.append(records, after: historyEnd)
        } catch {
            undoPrepare?()
            throw error
        }
        /// Cuts the appended records off again; a failure to do so is reported with the cause.
        func rollBack(_ cause: Error) -> Error {
            undoPrepare?()
            do {
                if oldLength == 0, historyEnd.size == 0, historyEnd.records.isEmpty, historyEnd.tornOffset == nil {
                    history.place.unlink()  // this append created it
                    try job.handle.sync()
                } else {
                    try FileIO.truncateDurably(history.place, to: oldLength)
                }
            } catch let e as DubdeckError {
                return DubdeckError(.ioError, "\(Sanitizer.display(String(describing: cause))); and the history record could not be cut off again (\(e.message)): the next writer will cut it")
            } catch {}
            return cause
        }

        // The snapshot is changed in place (a copy of its 5,000 entries per commit was most of a
        // commit's time); what the changed entries were is kept to put back on a failure.
        let kept = (entries: updated.keys.map { ($0, snapshot.entries[$0 - 1]) }, version: snapshot.version, updatedAt: snapshot.updatedAt)
        func putBack() {
            for (n, e) in kept.entries { snapshot.entries[n - 1] = e }
            snapshot.version = kept.version
            snapshot.updatedAt = kept.updatedAt
        }
        for (n, obj) in updated { snapshot.entries[n - 1] = Entry(object: obj, raw: nil) }
        snapshot.version = TranscriptStore.currentVersion
        snapshot.updatedAt = ts
        let bytes = TranscriptStore.encode(&snapshot)
        // The file's hash (the next commit's base) is computed on the other core while this one
        // writes and waits for the disk: the same one hash per commit, off the commit's path.
        do {
            if FileIO.faults.failStoreWrite {
                throw DubdeckError.io(Sanitizer.display(path), "write failed: \(errnoText(ENOSPC))")
            }
            try FileIO.writeAtomically(place, bytes)
        } catch {
            putBack()
            throw rollBack(error)
        }

        // Re-point NNNN.wav wherever the current take changed (segments_preview opened once for all).
        var repointed: [Int] = []
        var takes: DirectoryHandle?
        do {
            for n in updated.keys.sorted() {
                let was = Takes.current(of: original[n], n), now = Takes.current(of: updated[n], n)
                if was != now {
                    if takes == nil { takes = try Takes.open(job: job.handle, create: now != nil) }
                    if let takes { try Takes.repoint(takes, n, to: now) }
                    repointed.append(n)
                }
            }
        } catch {
            // Put the store and the takes back as they were, then cut the records.
            putBack()
            if snapshot.fingerprint == .missing {
                place.unlink()
                try? job.handle.sync()
            } else {
                let oldBytes = TranscriptStore.encode(&snapshot)
                try? FileIO.writeAtomically(place, oldBytes)
                snapshot.fingerprint = FileIO.fingerprint(place, bytes: oldBytes)
                snapshot.bytes = oldBytes
            }
            if let takes { for n in repointed { try? Takes.repoint(takes, n, to: Takes.current(of: original[n], n)) } }
            throw rollBack(error)
        }

        snapshot.fingerprint = FileIO.fingerprint(place, bytes: bytes, sha256: [])  // hashed when next needed
        snapshot.bytes = bytes
        for n in updated.keys {
            states[n - 1] = TranscriptStore.storedState(of: updated[n], job.segments[n - 1])
            finish(&states[n - 1], job.segments[n - 1], n)
        }
        return CommitResult(records: records, reloaded: reloaded, warnings: warnings)
    }

    /// Repairs the history's end now (under the lock), for readers that act on the history
    /// (undo, redo, take choice): they must never act on a record the store never got.
    @discardableResult
    public func repairHistory() throws -> [String] {
        if readOnlyReason != nil { return [] }
        let lock = try JobLock.acquire(job.lockPlace, timeout: lockTimeout)
        defer { lock.release() }
        _ = try takeOutsideChanges([])
        var warnings: [String] = []
        _ = try repairHistoryEnd(storeBase: snapshot.fingerprint.shaHex, warnings: &warnings)
        return warnings
    }

    /// Under the lock: the store as it is on disk now. Unchanged since this store read or wrote it
    /// (same size, mtime and inode): nothing to read. Otherwise it is read and hashed once; another
    /// writer's change is taken and ours goes on top, or refused (75) when both changed the same thing.
    func takeOutsideChanges(_ changes: [SegmentChange]) throws -> Bool {
        let fp = snapshot.fingerprint
        // Always read: size, mtime and inode cannot prove a file unchanged (timestamps are coarse,
        // inodes are reused). The same bytes as last read or written need no hash.
        let diskBytes = try FileIO.readIfExists(place, owner: .own)
        if diskBytes == nil, fp == .missing { return false }
        if let diskBytes, let known = snapshot.bytes, FileIO.sameBytes(diskBytes, known) { return false }
        let diskFingerprint = FileIO.fingerprint(place, bytes: diskBytes)
        if diskFingerprint.sha256 == fp.sha256, diskFingerprint.size == fp.size {
            snapshot.fingerprint = diskFingerprint
            snapshot.bytes = diskBytes
            return false
        }
        // Another writer saved since we read: take its file and put our change on top.
        var fresh: Snapshot
        if let diskBytes {
            fresh = try TranscriptStore.parse(diskBytes, job: job)
        } else {
            fresh = TranscriptStore.emptySnapshot(job)
        }
        fresh.fingerprint = diskFingerprint
        fresh.bytes = diskBytes
        let old = snapshot
        let mismatch = fresh.mismatch
        adopt(fresh)
        if let reason = mismatch {
            throw DubdeckError(.dataError, "\(Sanitizer.display(path)): read-only: \(reason)")
        }
        for c in changes {
            let n = c.segment
            let mine = old.entries[n - 1]?.object ?? TranscriptStore.defaultEntry(job.segments[n - 1])
            let theirs = fresh.entries[n - 1]?.object ?? TranscriptStore.defaultEntry(job.segments[n - 1])
            // A change without declared fields conflicts with any change to its segment.
            let clash = c.fields.isEmpty
                ? !TranscriptStore.sameEntry(mine, theirs)
                : c.fields.contains { !TranscriptStore.semanticallyEqual(mine[$0] ?? .null, theirs[$0] ?? .null) }
            if clash {
                throw DubdeckError.conflict("segment \(n) was changed by another writer meanwhile; reloaded, change not applied")
            }
        }
        return true
    }

    /// Under the lock, the history's end read once: a torn tail is cut, and so are the records of
    /// a save that was interrupted between its append and its store write (their base is still the
    /// store on disk). The takes of the last commit are then made what the store names (a kill may
    /// have come between the store write and re-pointing NNNN.wav). Returns the end as it is
    /// afterwards (the next seq, where to append).
    /// Read per record, not per commit: the newest record says whether its commit reached the store
    /// (its base) and which takes that commit re-pointed (`repointField`); only an interrupted
    /// commit, which must be cut whole, is read back to its first record.
    func repairHistoryEnd(storeBase: String, warnings: inout [String]) throws -> HistoryLog.EndScan {
        let baseOf = { (r: HistoryRecord) in r.extra[TranscriptStore.baseField]?.stringValue }
        var end = try history.scanEnd()
        if let w = end.warning { warnings.append(w) }
        guard let newest = end.records.last, let newestBase = baseOf(newest) else { return end }
        if newestBase != storeBase, let listed = newest.extra[TranscriptStore.repointField]?.arrayValue {
            // Committed: the takes it re-pointed are made what the store names (a kill may have come
            // between the store write and re-pointing NNNN.wav).
            let numbers = listed.compactMap(\.intValue).filter { $0 >= 1 && $0 <= job.segments.count }
            if !numbers.isEmpty, let takes = try? Takes.open(job: job.handle) {
                for n in numbers { try? Takes.ensureCurrent(takes, n, Takes.current(of: entry(n), n)) }
            }
            return end
        }
        // Interrupted (to be cut whole), or a history written before records named their takes.
        end = try history.scanEnd { older, newest in
            baseOf(older) != nil && baseOf(older) == baseOf(newest)
        }
        guard let newest = end.records.last, let newestBase = baseOf(newest) else { return end }
        var first = end.records.count - 1
        while first > 0, baseOf(end.records[first - 1]) == newestBase { first -= 1 }
        let lastCommit = Array(end.records[first...])
        if newestBase == storeBase {
            // The whole trailing group (the records of one commit) never reached the store.
            let cutAt = end.offsets[first]
            try FileIO.truncateDurably(history.place, to: cutAt)
            let seqs = lastCommit.map { $0.seq }
            warnings.append("\(Sanitizer.display(history.path)): cut \(seqs.count) record\(seqs.count == 1 ? "" : "s") (seq \(seqs.first!)\(seqs.count > 1 ? "–\(seqs.last!)" : "")) that the store never got (an interrupted save)")
            end.records.removeSubrange(first...)
            end.offsets.removeSubrange(first...)
            end.tornOffset = nil
            end.size = cutAt
            if end.records.isEmpty, cutAt > 0 {
                // The record before the group lies further back: read the end again.
                end = try history.scanEnd()
            }
        }
        let takes = try? Takes.open(job: job.handle)
        for r in lastCommit where r.segment >= 1 && r.segment <= job.segments.count {
            let was = Takes.current(of: r.before.objectValue, r.segment), now = Takes.current(of: r.after.objectValue, r.segment)
            // Best effort: a take file removed by hand must not block every later change.
            if was != now, let takes = takes ?? nil { try? Takes.ensureCurrent(takes, r.segment, Takes.current(of: entry(r.segment), r.segment)) }
        }
        return end
    }

    static func sameEntry(_ a: JSONObject?, _ b: JSONObject?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (x?, y?): return semanticallyEqual(.object(x), .object(y))
        default: return false
        }
    }

    /// Equality that ignores member order and number spelling (another tool may re-encode).
    public static func semanticallyEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)):
            guard x.members.count == y.members.count else { return false }
            for m in x.members {
                guard let other = y[m.key], semanticallyEqual(m.value, other) else { return false }
            }
            return true
        case let (.array(x), .array(y)):
            return x.count == y.count && zip(x, y).allSatisfy { semanticallyEqual($0, $1) }
        case let (.number(x), .number(y)):
            return x == y || Double(x) == Double(y)
        default:
            return a == b
        }
    }

    /// The whole file; entries that did not change are copied as the bytes they were read as.
    /// Sized first and filled by memcpy: 5,000 entries are one allocation and a megabyte of copying
    /// (appending piece by piece cost four generic appends an entry, most of a commit's own time).
    static func encode(_ snap: inout Snapshot) -> [UInt8] {
        for i in snap.entries.indices where snap.entries[i] != nil && snap.entries[i]!.raw == nil {
            var encoded: [UInt8] = []
            JSONWriter.write(.object(snap.entries[i]!.parsed!), into: &encoded, indent: nil, level: 0)
            snap.entries[i]!.raw = encoded[...]
        }
        var head: [UInt8] = Array("{\n  \"version\": \(snap.version),\n  \"updated_at\": ".utf8)
        JSONWriter.writeString(snap.updatedAt ?? Clock.isoNow(), into: &head)
        for m in snap.extra {
            head.append(contentsOf: Array(",\n  ".utf8))
            JSONWriter.writeString(m.key, into: &head)
            head.append(contentsOf: [0x3A, 0x20])
            JSONWriter.write(m.value, into: &head, indent: nil, level: 0)
        }
        head.append(contentsOf: Array(",\n  \"segments\": {".utf8))
        // Each entry: [","] "\n    \"" N "\": " raw — read in place (no copy of each entry).
        let entries = snap.entries
        var size = head.count
        var written = 0
        entries.withUnsafeBufferPointer { all in
            for i in all.indices {
                guard let count = all[i]?.raw?.count else { continue }
                size += (written == 0 ? 6 : 7) + decimalDigits(i + 1) + 3 + count
                written += 1
            }
        }
        var tail: [UInt8] = []
        var first = written == 0
        for m in snap.foreign {
            tail.append(contentsOf: Array((first ? "\n    " : ",\n    ").utf8))
            first = false
            JSONWriter.writeString(m.key, into: &tail)
            tail.append(contentsOf: [0x3A, 0x20])
            JSONWriter.write(m.value, into: &tail, indent: nil, level: 0)
        }
        tail.append(contentsOf: Array((first ? "}\n}\n" : "\n  }\n}\n").utf8))
        size += tail.count
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var at = buffer.baseAddress!
            func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                if let base = bytes.baseAddress, bytes.count > 0 { at.update(from: base, count: bytes.count) }
                at += bytes.count
            }
            head.withUnsafeBufferPointer(put)
            var count = 0
            entries.withUnsafeBufferPointer { all in
            for i in all.indices {
                guard let raw = all[i]?.raw else { continue }
                if count > 0 { at.pointee = UInt8(ascii: ","); at += 1 }
                count += 1
                at[0] = 0x0A; at[1] = 0x20; at[2] = 0x20; at[3] = 0x20; at[4] = 0x20; at[5] = 0x22
                at += 6
                let digits = decimalDigits(i + 1)
                var k = i + 1
                for d in stride(from: digits - 1, through: 0, by: -1) {
                    at[d] = UInt8(ascii: "0") + UInt8(k % 10)
                    k /= 10
                }
                at += digits
                at[0] = 0x22; at[1] = 0x3A; at[2] = 0x20
                at += 3
                raw.withUnsafeBufferPointer(put)
            }
            }
            tail.withUnsafeBufferPointer(put)
            initialized = at - buffer.baseAddress!
            precondition(initialized == size, "the store's size was counted wrong")
        }
    }

    static func decimalDigits(_ n: Int) -> Int {
        var digits = 1, k = n
        while k >= 10 { k /= 10; digits += 1 }
        return digits
    }

}
