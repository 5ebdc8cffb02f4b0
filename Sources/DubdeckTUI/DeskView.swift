import DubdeckCore

/// Draws the desk into a grid. Only the rows on screen are drawn, so a keypress costs the
/// same on a 5,000-line job as on a 20-line one.
public enum DeskView {
    public static func draw(_ desk: Desk, into grid: inout CellGrid) {
        grid.clear()
        let layout = desk.layout
        if layout.tooSmall {
            drawTooSmall(layout, into: &grid)
            return
        }
        switch desk.mode {
        case .list(let screen): screen.draw(desk, into: &grid)
        case .editor(let screen): screen.draw(desk, into: &grid)
        case .help(let screen): screen.draw(desk, into: &grid)
        case .characters(let screen): screen.draw(desk, into: &grid)
        case .history(let screen): screen.draw(desk, into: &grid)
        case .picker(let screen): screen.draw(desk, into: &grid)
        }
    }

    static func drawTooSmall(_ layout: DeskLayout, into grid: inout CellGrid) {
        let lines = ["Terminal too small", "\(layout.width)x\(layout.height), need \(DeskLayout.minWidth)x\(DeskLayout.minHeight)",
                     "enlarge it, or q to quit"]
        let top = max(0, grid.height / 2 - 1)
        for (i, line) in lines.enumerated() {
            let (shown, w) = TextWidth.prefix(line, fitting: grid.width)
            grid.put(shown, row: top + i, col: max(0, (grid.width - w) / 2), style: i == 0 ? .error : .normal)
        }
    }

    // MARK: Header

    static func drawHeader(_ desk: Desk, into grid: inout CellGrid) {
        let job = desk.job
        let c = desk.store.counts()
        grid.fill(row: 0, style: .header)
        var name = " \(job.info.episode)"
        if let series = job.info.seriesID { name += " · \(series)" }
        // "won't fit…": lines are still being predicted (in the background, the screen's first).
        let fit = "\(c.willNotFit) won't fit\(c.predicted < c.segments ? "…" : "")"
        var counts = "  \(c.segments) lines · \(c.approved) approved · \(c.locked) locked · \(c.flagged) flagged · \(c.stale) stale · \(c.overflow) overflow · \(fit)"
        if TextWidth.width(of: name + counts) > grid.width {
            counts = "  \(c.segments) lines · \(c.approved) appr · \(c.locked) lock · \(c.flagged) flag · \(c.stale) stale · \(c.overflow) over · \(fit)"
        }
        var col = 0
        if TextWidth.width(of: name + counts) + 9 <= grid.width {
            col = grid.put(" dubdeck ", row: 0, col: 0, style: .title)
        }
        col = grid.put(name, row: 0, col: col, style: .header)
        grid.put(counts, row: 0, col: col, style: .header)
        if let banner = desk.banner {
            grid.fill(row: 1, style: .banner)
            grid.put(" " + banner, row: 1, col: 0, style: .banner)
        } else {
            grid.fill(row: 1, style: .columns)
            grid.put(columnTitles, row: 1, col: 0, style: .columns)
        }
    }

    // MARK: List

    /// Column widths of a list row.
    static let numberWidth = 5, timeWidth = 8, speakerWidth = 13, stateWidth = 6, fitWidth = 5
    static let columnTitles = pad("    #", numberWidth + 1) + " " + pad("start", timeWidth) + " " + pad("speaker", speakerWidth)
        + " " + pad("state", stateWidth) + " " + pad("  fit", fitWidth) + "  text"

    static func drawList(_ desk: Desk, into grid: inout CellGrid) {
        let layout = desk.layout
        if desk.visible.isEmpty {
            grid.put("  (no line matches the filter '\(desk.filter.rawValue)'; 0 shows all)", row: layout.listTop, col: 0, style: .dim)
            return
        }
        for r in 0..<layout.listRows {
            let p = desk.top + r
            guard p < desk.visible.count else { break }
            drawRow(desk, index: desk.visible[p], selected: p == desk.cursor, row: layout.listTop + r, into: &grid)
        }
    }

    static func drawRow(_ desk: Desk, index i: Int, selected: Bool, row: Int, into grid: inout CellGrid) {
        let seg = desk.job.segments[i]
        let st = desk.store.states[i]
        let base: Style = selected ? .selected : .normal
        if selected { grid.fill(row: row, style: .selected) }
        var col = 0
        let mark = desk.job.duplicated.contains(seg.number) ? "=" : desk.job.overlapping.contains(seg.number) ? "^" : " "
        let num = String(seg.number)
        col = grid.put(String(repeating: " ", count: max(0, numberWidth - num.count)) + num + mark, row: row, col: col, style: base)
        col = grid.put(" " + pad(Clock.formatTime(st.slot?.start ?? seg.start), timeWidth), row: row, col: col, style: base)  // the dub's start
        col = grid.put(" " + pad(speakerLabel(desk, seg), speakerWidth) + " ", row: row, col: col, style: base)
        // State glyphs: approved, locked, flagged, take.
        col = grid.put(st.approved ? "A" : "·", row: row, col: col, style: selected ? base : (st.approved ? .approved : .dim))
        col = grid.put(st.locked ? "L" : "·", row: row, col: col, style: selected ? base : (st.locked ? .locked : .dim))
        col = grid.put(st.flags.isEmpty ? "·" : "R", row: row, col: col, style: selected ? base : (st.flags.isEmpty ? .dim : .flagged))
        let take = takeGlyph(st.takeStatus)
        col = grid.put(take, row: row, col: col, style: selected ? base : (take == "~" || take == ">" || take == "x" ? .warning : .dim))
        col = grid.put(st.edited ? "*" : " ", row: row, col: col, style: base)
        col = grid.put(st.willNotFit ? "!" : " ", row: row, col: col, style: selected ? base : .warning)
        col = grid.put(" " + padLeft(fitText(desk, i), fitWidth) + "  ", row: row, col: col, style: base)
        let text = st.text.utf8.contains(0x0A) ? st.text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ⏎ ") : st.text
        grid.put(text, row: row, col: col, style: base)
    }

    /// `s` in exactly `w` columns: padded, or cut with "…" at the end.
    static func pad(_ s: String, _ w: Int) -> String {
        let shown = Sanitizer.display(s)
        let (cut, used) = TextWidth.prefix(shown, fitting: w)
        if cut.utf8.count == shown.utf8.count { return cut + String(repeating: " ", count: max(0, w - used)) }
        let (shorter, usedShorter) = TextWidth.prefix(shown, fitting: max(0, w - 1))
        return shorter + "…" + String(repeating: " ", count: max(0, w - 1 - usedShorter))
    }

    static func padLeft(_ s: String, _ w: Int) -> String {
        String(repeating: " ", count: max(0, w - TextWidth.width(of: s))) + s
    }

    static func speakerLabel(_ desk: Desk, _ seg: Segment) -> String { desk.speakerName(seg) }

    static func takeGlyph(_ status: TakeStatus) -> String {
        switch status {
        case .fresh: return "+"
        case .stale: return "~"
        case .overflow: return ">"
        case .failed: return "x"
        case .none, .unknown: return "·"
        }
    }

    /// The take's speech against the dub's slot: "92%", or "+0.4s" past it; without a fresh take,
    /// the predicted speech against the slot: "~115%"; "-" when neither is known.
    static func fitText(_ desk: Desk, _ i: Int) -> String {
        let st = desk.store.states[i]
        let slot = st.slot?.duration ?? desk.job.segments[i].duration
        if st.takeStatus == .fresh || st.takeStatus == .overflow, let preview = st.preview, let speech = preview.speechS ?? preview.durationS {
            if preview.overflowS > 0 { return "+" + String(format1(preview.overflowS)) + "s" }
            guard slot > 0 else { return "-" }
            return "\(Int((speech / slot * 100).rounded()))%"
        }
        guard let predicted = st.predictedS, slot > 0 else { return "-" }
        return "~\(min(999, Int((predicted / slot * 100).rounded())))%"
    }

    /// A prediction against its slot: "~2.4 s / 2.1 s slot, ×1.14", and when the cap is not enough
    /// "… — will not fit at ×1.30".
    static func predictionText(_ seconds: Double, slot: Double, maxSpeedup: Double) -> String {
        var s = SpokenPrediction.format(seconds) + " / " + format1(slot) + " s slot"
        guard slot > 0 else { return s }
        let ratio = seconds / slot
        if ratio > 1.005 { s += ", ×" + format2(ratio) }
        if seconds > slot * maxSpeedup + 0.001 { s += " — will not fit at ×" + format2(maxSpeedup) }
        return s
    }

    static func format1(_ v: Double) -> String {
        let t = Int((v * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }

    // MARK: Detail pane

    /// The detail pane of line `number` (the selected one, or the one being edited), with the
    /// editor in place of the text while editing.
    static func drawDetail(_ desk: Desk, segment number: Int?, editor: LineEditor?, into grid: inout CellGrid) {
        let layout = desk.layout
        let row0 = layout.separatorRow
        grid.fill(row: row0, style: .columns)
        guard let number, number >= 1, number <= desk.job.segments.count else { return }
        let seg = desk.store.segment(number)  // with the reviewer's speaker label
        let st = desk.store.state(seg.number)
        var title = " #\(seg.number)  \(Clock.formatTime(seg.start))–\(Clock.formatTime(seg.end))  slot \(format2(seg.duration)) s"
        let fixed = st.speakerOverride != nil ? " (fixed; pipeline: \(desk.job.segments[number - 1].speaker))" : ""
        if let id = desk.job.characterID(of: seg) {
            // label → character: the two namespaces never look alike.
            title += "  label \(seg.speaker.isEmpty ? "?" : seg.speaker)\(fixed) → \(desk.characterWithNumber(id))"
            if let series = desk.job.info.seriesID, let q = desk.cast?.poorAudio(series: series, episode: desk.job.info.episode, label: seg.speaker) {
                title += "  poor audio (quality \(format2(q)))"
            }
        } else {
            title += "  \(speakerLabel(desk, seg))\(fixed)"
        }
        if desk.job.overlapping.contains(seg.number) { title += "  overlaps another line" }
        if desk.job.duplicated.contains(seg.number) { title += "  duplicate times" }
        if st.locked { title += "  LOCKED\(st.lockedBy.map { " by \($0)" } ?? "")" }
        if st.approved { title += "  approved" }
        if !st.flags.isEmpty { title += "  flags: \(st.flags.joined(separator: ","))" }
        grid.put(title, row: row0, col: 0, style: .columns)

        var row = layout.detailTop
        let last = layout.statusRow - 1
        let w = grid.width - 6
        // Source text.
        for line in TextWidth.wrap(seg.srcText.isEmpty ? "(no source text)" : seg.srcText, columns: w).prefix(2) where row <= last {
            grid.put(row == layout.detailTop ? " src " : "     ", row: row, col: 0, style: .dim)
            grid.put(line, row: row, col: 5, style: .dim)
            row += 1
        }
        // The machine translation beside an edited line, the words the edit dropped or changed marked.
        if st.edited, row <= last {
            grid.put(" mt  ", row: row, col: 0, style: .dim)
            var col = 5
            for (k, part) in wordChanges(seg.text, st.text).enumerated() {
                guard col + (k == 0 ? 0 : 1) + TextWidth.width(of: part.word) < grid.width - 1 else { grid.put(" …", row: row, col: col, style: .dim); break }
                if k > 0 { col = grid.put(" ", row: row, col: col, style: .dim) }
                col = grid.put(part.word, row: row, col: col, style: part.changed ? .changed : .dim)
            }
            row += 1
        }
        // Target text, or the editor.
        let infoRows = 2
        let textRows = max(1, last - row + 1 - infoRows)
        if let ed = editor {
            row = drawEditor(ed, row: row, maxRows: textRows, width: w, into: &grid)
        } else {
            var lines = TextWidth.wrap(st.text, columns: w)
            if lines.count > textRows { lines = Array(lines.prefix(textRows)); lines[textRows - 1] += " …" }
            for (k, line) in lines.enumerated() {
                grid.put(k == 0 ? " dub " : "     ", row: row, col: 0, style: .dim)
                grid.put(line, row: row, col: 5, style: st.locked ? .locked : .normal)
                row += 1
            }
        }
        guard row <= last else { return }
        // Predicted fit (of the editor's text while editing), timing and voice.
        var info = "     "
        let slot = seg.duration  // the dub's slot
        if let ed = editor {
            info += desk.forecast.editorPrediction(seg.number, ed.text).map { predictionText($0.seconds, slot: slot, maxSpeedup: desk.store.maxSpeedup) }
                ?? (desk.forecast.predictor == nil ? "no prediction" : "~… s / \(format1(slot)) s slot")
        } else {
            info += st.predictedS.map { predictionText($0, slot: slot, maxSpeedup: desk.store.maxSpeedup) }
                ?? (desk.forecast.predictor == nil ? "no prediction" : "~… s / \(format1(slot)) s slot")
        }
        // The take (its length is the slot's: only its speech is said), the gaps, then the voice
        // and the reading speed: what a narrow pane cuts last matters least.
        if let p = st.preview {
            info += desk.takePosition(seg.number).map { " · take \($0.k) of \($0.of)" } ?? " · take"
            if let s = p.speechS { info += ", speech \(format2(s)) s" }
            info += ", audio \(st.audioStatus)"
            if p.clippedSamples > 0 { info += ", clipped by the engine" }
        } else {
            info += " · no take, audio \(st.audioStatus)"
        }
        info += " · " + gaps(desk.store, seg.number)
        if let p = st.preview {
            let desc = [p.voiceEngine, p.voiceVariant].compactMap { $0 }.joined(separator: " ")
            if !desc.isEmpty { info += " · voice \(desc)" }
        }
        if let match = VoiceMatch.score(desk.store, seg.number, cast: desk.cast, encoder: { nil }, compute: false) {
            info += " · voice match \(format2(match))"
        }
        info += " · \(format1(st.cps)) chars/s\(st.tooFast ? " (over \(format1(desk.store.cpsLimit)))" : "")"
        if st.edited { info += " · edited (MT: \(seg.text.count) chars)" }
        grid.put(info, row: row, col: 0, style: .dim)
        row += 1
        // The timing strip: the original's and the take's loudness across the slot and its margins.
        if let strip = desk.timingStrip(seg.number, columns: w), row + 1 < last {
            // The ruler (slot edges, seconds) when there is room for it too.
            if row + 2 < last {
                grid.put("time ", row: row, col: 0, style: .dim)
                grid.put(strip.ruler(), row: row, col: 5, style: .dim)
                row += 1
            }
            grid.put("orig ", row: row, col: 0, style: .dim)
            if let levels = strip.original { drawStrip(strip.cells(levels), row: row, into: &grid) } else {
                grid.put("(no source audio)", row: row, col: 5, style: .dim)
            }
            grid.put("take ", row: row + 1, col: 0, style: .dim)
            if let levels = strip.take { drawStrip(strip.cells(levels, take: true), row: row + 1, into: &grid) } else {
                grid.put("(no take)", row: row + 1, col: 5, style: .dim)
            }
            row += 2
        }
        guard row <= last else { return }
        let changes = desk.lastChanges(of: seg.number, limit: 3)
        let none = desk.recentHistoryComplete ? "     no recorded change" : "     no change among the recent ones (h shows them all)"
        let text = changes.isEmpty ? none
            : "     last: " + changes.map { "\($0.action) by \($0.by) (#\($0.seq))" }.joined(separator: " · ")
        grid.put(text, row: row, col: 0, style: .dim)
    }

    /// A strip row from column 5: the take past the slot in the warning style (a colour where colours
    /// are on, bold without), the rest as it is.
    static func drawStrip(_ cells: [(glyph: Character, cell: TimingStrip.Cell)], row: Int, into grid: inout CellGrid) {
        var col = 5
        for (glyph, cell) in cells { col = grid.put(String(glyph), row: row, col: col, style: cell == .overflow ? .warning : .normal) }
    }

    /// The words of the machine translation `mt`, each marked when `edited` dropped or changed it
    /// (what is left of the longest common run of words is unchanged). Texts past 400 words are
    /// shown without marks (the comparison grows with the product of their lengths).
    static func wordChanges(_ mt: String, _ edited: String) -> [(word: String, changed: Bool)] {
        let words = mt.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        // Words compared without the punctuation around them: "sabe" is kept in "sabe." (a moved
        // full stop does not mark the word before it).
        func key(_ w: Substring) -> Substring {
            let trimmed = w.drop { $0.isPunctuation }.reversed().drop { $0.isPunctuation }
            return trimmed.isEmpty ? w : Substring(String(trimmed.reversed()))
        }
        let a = words.map { key(Substring($0)) }
        let b = edited.split(whereSeparator: { $0.isWhitespace }).map(key)
        guard a.count <= 400, b.count <= 400 else { return words.map { ($0, false) } }
        // lcs[i][j]: the longest common run of a[i...] and b[j...].
        var lcs = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [(word: String, changed: Bool)] = []
        var i = 0, j = 0
        while i < a.count {
            if j < b.count, a[i] == b[j] { out.append((words[i], false)); i += 1; j += 1 }
            else if j < b.count, lcs[i][j + 1] >= lcs[i + 1][j] { j += 1 }
            else { out.append((words[i], true)); i += 1 }
        }
        return out
    }

    /// The gaps to the neighbours, as the dub lines stand (the reviewer's times): "gaps ◂0.50 0.30▸"
    /// (negative: an overlap).
    static func gaps(_ store: TranscriptStore, _ n: Int) -> String {
        let seg = store.segment(n), count = store.job.segments.count
        func shown(_ g: Double) -> String { g < 0 ? "-" + format2(-g) : format2(g) }
        let before = n > 1 ? shown(seg.start - store.segment(n - 1).end) : "-"
        let after = n < count ? shown(store.segment(n + 1).start - seg.end) : "-"
        return "gaps ◂\(before) \(after)▸"
    }

    static func format2(_ v: Double) -> String {
        let t = Int((v * 100).rounded())
        let frac = t % 100
        return "\(t / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    /// The editor's rows: explicit line breaks kept, wrapped at word boundaries (a word longer than
    /// the row is cut); each cell with its index in the buffer.
    /// `upTo`: stop once there are more rows than this (the pane's height needs no more).
    static func editorRows(_ ed: LineEditor, width: Int, upTo limit: Int = Int.max) -> [[(Character, Int)]] {
        var rows: [[(Character, Int)]] = [[]]
        var used = 0
        for (i, ch) in ed.chars.enumerated() {
            if rows.count > limit { break }
            if ch == "\n" {
                rows[rows.count - 1].append(("⏎", i))
                rows.append([])
                used = 0
                continue
            }
            let w = max(1, TextWidth.width(of: ch))
            if used + w > width - 1 {
                let current = rows[rows.count - 1]
                if ch != " ", let space = current.lastIndex(where: { $0.0 == " " }), space < current.count - 1 {
                    rows[rows.count - 1] = Array(current[...space])
                    let moved = Array(current[(space + 1)...])
                    rows.append(moved)
                    used = moved.reduce(0) { $0 + max(1, TextWidth.width(of: $1.0)) }
                } else {
                    rows.append([])
                    used = 0
                }
            }
            rows[rows.count - 1].append((ch, i))
            used += w
        }
        return rows
    }

    /// The editor, the cursor cell reversed.
    static func drawEditor(_ ed: LineEditor, row: Int, maxRows: Int, width: Int, into grid: inout CellGrid) -> Int {
        let rows = editorRows(ed, width: width)
        var cursorRow = rows.count - 1
        if ed.cursor < ed.chars.count, let r = rows.firstIndex(where: { $0.contains { $0.1 == ed.cursor } }) { cursorRow = r }
        let first = max(0, cursorRow - maxRows + 1)
        var r = row
        for (k, cells) in rows.enumerated() where k >= first && k < first + maxRows {
            grid.put(k == 0 ? " ed> " : "     ", row: r, col: 0, style: .warning)
            var col = 5
            for (ch, i) in cells {
                col = grid.put(String(ch), row: r, col: col, style: i == ed.cursor ? .cursor : (ch == "⏎" && i != ed.cursor ? .dim : .normal))
            }
            if ed.cursor == ed.chars.count && k == rows.count - 1 {
                grid.put(" ", row: r, col: col, style: .cursor)
            }
            r += 1
        }
        return r
    }

    // MARK: Status line

    static func drawStatus(_ desk: Desk, into grid: inout CellGrid) {
        let row = desk.layout.statusRow
        grid.fill(row: row, style: .status)
        let position = desk.visible.isEmpty ? "0/0" : "\(desk.cursor + 1)/\(desk.visible.count)"
        var right = (desk.filter == .all ? "" : " [\(desk.filter.rawValue)]") + " \(position) "
        if let p = desk.worker?.progress { right = " synth \(p.done)/\(p.total)" + right }
        if let p = desk.audio?.sink.progress {
            let width = 10
            let filled = p.total > 0 ? min(width, Int(Double(width) * p.elapsed / p.total)) : 0
            right = " ▶ \(p.label) \(format1(p.elapsed))/\(format1(p.total)) s [" + String(repeating: "=", count: filled)
                + String(repeating: " ", count: width - filled) + "]" + right
        }
        let rightCol = max(0, grid.width - TextWidth.width(of: right))
        if let (label, ed) = desk.statusPrompt {
            var col = grid.put(label, row: row, col: 0, style: .status)
            for (i, ch) in ed.chars.enumerated() {
                col = grid.put(String(ch), row: row, col: col, style: i == ed.cursor ? .cursor : .status, limit: rightCol - 1)
            }
            if ed.cursor == ed.chars.count { grid.put(" ", row: row, col: col, style: .cursor, limit: rightCol - 1) }
        } else {
            let style: Style = desk.messageKind == .error ? .error : desk.messageKind == .warning ? .warning : .status
            grid.put(" " + desk.message, row: row, col: 0, style: style, limit: rightCol - 1)
        }
        grid.put(right, row: row, col: rightCol, style: desk.filter == .all ? .status : .warning)
    }

    // MARK: Full-screen tables

    /// A full-screen table (history, characters): a title bar, column titles, then the rows around
    /// the selection, the selected one highlighted; `empty` when there is none.
    static func drawTable(title: String, info: String, columns: String, count: Int, selection: Int, empty: String,
                          into grid: inout CellGrid, row text: (Int) -> String) {
        drawMarkedTable(title: title, info: info, columns: columns, count: count, selection: selection, empty: empty,
                        into: &grid) { [TextRun(text: text($0), changed: false)] }
    }

    /// A row's text in runs, the changed ones marked (a proposal's words beside the line's text).
    struct TextRun: Equatable, Sendable {
        var text: String
        var changed: Bool
    }

    /// The words of `proposal` as runs, those not in `current` marked changed (wordChanges).
    static func changedRuns(_ proposal: String, against current: String) -> [TextRun] {
        var runs: [TextRun] = []
        for (k, part) in wordChanges(proposal, current).enumerated() {
            let sep = k == 0 ? "" : " "
            if let last = runs.last, last.changed == part.changed {
                runs[runs.count - 1].text += sep + part.word
            } else if part.changed {
                // The space before a changed word stays unmarked.
                if !sep.isEmpty { runs.append(TextRun(text: sep, changed: false)) }
                runs.append(TextRun(text: part.word, changed: true))
            } else {
                runs.append(TextRun(text: sep + part.word, changed: false))
            }
        }
        return runs
    }

    /// drawTable with rows in runs, the changed ones marked.
    static func drawMarkedTable(title: String, info: String, columns: String, count: Int, selection: Int, empty: String,
                                into grid: inout CellGrid, runs: (Int) -> [TextRun]) {
        grid.fill(row: 0, style: .header)
        let col = grid.put(title, row: 0, col: 0, style: .title)
        grid.put(info, row: 0, col: col, style: .header)
        grid.fill(row: 1, style: .columns)
        grid.put(columns, row: 1, col: 0, style: .columns)
        let visible = max(1, grid.height - 3)
        let top = max(0, selection - visible + 1)
        for k in top..<min(count, top + visible) {
            let row = 2 + k - top
            let selected = k == selection
            if selected { grid.fill(row: row, style: .selected) }
            var col = 0
            for run in runs(k) {
                col = grid.put(run.text, row: row, col: col,
                               style: run.changed ? (selected ? .selectedChanged : .changed) : (selected ? .selected : .normal))
            }
        }
        if count == 0 { grid.put(empty, row: 2, col: 0, style: .dim) }
    }

    // MARK: Help

    /// The help text, generated from the action table and the keymap in force.
    public static func helpLines(keymap: Keymap) -> [String] {
        var lines: [String] = []
        lines.append("dubdeck keys — the action table and the keymap in force (q or Esc returns)")
        lines.append("")
        lines.append("List glyphs: A approved · L locked · R flagged for re-translation · take: + fresh ~ stale > overflow x failed · * edited")
        lines.append("             ! will not fit: the predicted speech needs more than the speed-up cap (--max-speedup, 1.30)")
        lines.append("Number marks: ^ overlaps another line · = same times as another line")
        lines.append("fit: the take's speech as a share of the slot (92%), or how far it runs past it (+0.4s);")
        lines.append("     without a fresh take the predicted speech (~115%); - not known yet")
        lines.append("Reading speed (chars/s, the detail pane; segments --filter too-fast) is a subtitle measure, not the speech's")
        lines.append("speaker: the character's name, unnamed 07 for one without a name, else the diarization label")
        lines.append("Timing strip, on a fixed scale (0.1 s a column while the line fits): time ╵ whole seconds, [ ] the slot's edges;")
        lines.append("             orig and take loudness: inside the slot · silence ▁…█ louder, outside it ░ ▒ ▓;")
        lines.append("             take sounding past the slot's end █ (overflow, in the warning colour)")
        for context in KeyContext.allCases {
            let rows = Action.allCases.filter { $0.allowed(in: context) && (context == .generic) == $0.contexts.contains(.generic) }
            var entries: [(String, Action)] = []
            for a in rows {
                // Every action of the screen is listed; one without a key says so (never dropped).
                let keys = keymap.keys(for: a, in: context)
                entries.append((keys.isEmpty ? "(no key)" : keys.joined(separator: " "), a))
            }
            guard !entries.isEmpty else { continue }
            lines.append("")
            lines.append("[\(context.rawValue)]")
            for (keys, a) in entries {
                lines.append("  " + pad(keys, 22) + " " + pad(a.name, 24) + " " + a.description)
            }
        }
        return lines
    }

}
