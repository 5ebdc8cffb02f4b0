import DubdeckCore

extension Desk {
    // MARK: Undo, redo, history

    func undoRedo(_ d: UndoRedo.Direction) -> Redraw {
        if let reason = store.readOnlyReason { setMessage("read-only: \(reason)", .error); return .status }
        let keep = selectedSegment.map { $0.number - 1 }
        do {
            _ = try store.reloadIfChanged()
            let result = try UndoRedo.runWithResult(d, store: store)
            castModel.lastAssign = nil
            let records = result.records
            if !result.warnings.isEmpty {
                try? readRecentHistory()
            } else {
                recentHistory.append(contentsOf: records)
            }
            invalidateSearch()
            let lines = Array(Swift.Set(records.map { $0.segment })).sorted()
            // Said as what changed: "undo: line 5 text "…" → "…"" (several lines: their numbers).
            let what = records.count == 1 ? records[0].whatChanged : ""
            setMessage("\(d.rawValue): line\(lines.count == 1 ? "" : "s") \(lines.map(String.init).joined(separator: ", "))\(what.isEmpty ? "" : " " + what)")
            if let first = lines.first { applyFilter(keepSegment: first - 1); return .all }
        } catch let e as DubdeckError {
            setMessage(e.message, e.status == .usage ? .warning : .error)
        } catch {
            setMessage("\(error)", .error)
        }
        applyFilter(keepSegment: keep)
        return .all
    }

    func openHistory() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        do {
            let records = try store.history.readAll().records.filter { $0.segment == seg.number }
            mode = .history(HistoryScreen(segment: seg.number, records: records.reversed(), machineText: seg.text))
            if records.isEmpty { setMessage("line \(seg.number) has no recorded change") }
            return .all
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
            return .status
        } catch { return .nothing }
    }

    /// Gives line n its machine translation back (the history's first version): a `reset-text`
    /// record, undoable, refused on a locked line.
    func resetText(_ n: Int) -> Redraw {
        let r = change(.resetText(n, to: job.segments[n - 1].text))
        if messageKind != .error { mode = .list(ListScreen()) }
        if messageKind == .info { setMessage(store.state(n).edited ? "line \(n): the machine translation could not be restored" : "line \(n): back to the machine translation") }
        return max(r, .all)
    }

    /// Gives line n the text of a history record (the history screen's restore): the segment is the
    /// record's own.
    func restoreVersion(_ record: HistoryRecord, line n: Int) -> Redraw {
        guard record.segment == n else { setMessage("record #\(record.seq) is not of line \(n)", .error); return .status }
        do {
            let done = try UndoRedo.restore(record: record, store: store)
            recentHistory.append(contentsOf: done)
            searchCache[n - 1] = nil
            searchMatches = nil
            setMessage(done.isEmpty ? "line \(n) already has that text" : "line \(n): restored the text of #\(record.seq)")
            mode = .list(ListScreen())
            applyFilter(keepSegment: n - 1)
        } catch let e as DubdeckError {
            setMessage(e.message, .error)
        } catch {}
        return .all
    }

    // MARK: Search

    func invalidateSearch() {
        for i in searchCache.indices { searchCache[i] = nil }
        searchMatches = nil
    }

    /// The positions in `visible` whose line holds `needle`, in order: found once per search, list
    /// and text (a key that goes to the next match then costs a binary search, not a pass over every
    /// line: flat in the job's size).
    func matches(_ needle: String) -> [Int] {
        if let m = searchMatches, m.needle == needle, m.visible == visible { return m.positions }
        searchPasses += 1
        let positions = visible.indices.filter { haystack(visible[$0]).contains(needle) }
        searchMatches = (needle, visible, positions)
        return positions
    }

    func haystack(_ i: Int) -> String {
        if let h = searchCache[i] { return h }
        let seg = job.segments[i]
        // The text, the source, the label, the character ID and the character's name as shown
        // (`/hana` finds Hana's lines, `/unnamed 07` an unnamed character's).
        let id = store.characterID(seg.number)
        let h = (store.states[i].text + "\u{1}" + seg.srcText + "\u{1}" + store.segment(i + 1).speaker + "\u{1}"
            + (id ?? "") + "\u{1}" + (id.map { characterShown($0) } ?? "")).lowercased()
        searchCache[i] = h
        return h
    }

    func runSearch(_ text: String) -> Redraw {
        guard !text.isEmpty else { setMessage(""); return .all }
        lastSearch = text
        return find(text.lowercased(), from: cursor, forward: true, includeCurrent: true)
    }

    func searchAgain(forward: Bool) -> Redraw {
        guard let s = lastSearch else {
            setMessage("no search yet (/)", .warning)
            return .status
        }
        return find(s.lowercased(), from: cursor, forward: forward, includeCurrent: false)
    }

    func find(_ needle: String, from: Int, forward: Bool, includeCurrent: Bool) -> Redraw {
        guard !visible.isEmpty else { return .nothing }
        let found = matches(needle)
        guard !found.isEmpty else {
            setMessage("not found: \(lastSearch ?? needle)", .warning)
            return .all
        }
        // The first match at or after (before) `from`, by binary search; past the end it wraps.
        var lo = 0, hi = found.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if forward ? (found[mid] < from + (includeCurrent ? 0 : 1)) : (found[mid] <= from - (includeCurrent ? 0 : 1)) { lo = mid + 1 } else { hi = mid }
        }
        let index = forward ? (lo < found.count ? lo : 0) : (lo > 0 ? lo - 1 : found.count - 1)
        let p = found[index]
        let wrapped = forward ? p < from : p > from
        _ = move(to: p)
        // match k/n among the lines the filter shows.
        setMessage("/\(lastSearch ?? needle)  match \(index + 1)/\(found.count)\(wrapped ? " (wrapped)" : "")")
        return .all
    }

    // MARK: History for the detail pane

    func lastChanges(of segment: Int, limit: Int) -> [HistoryRecord] {
        var out: [HistoryRecord] = []
        for r in recentHistory.reversed() where r.segment == segment {
            out.append(r)
            if out.count == limit { break }
        }
        return out
    }
}
