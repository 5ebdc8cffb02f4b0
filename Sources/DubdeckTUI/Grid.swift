import DubdeckCore

/// What a cell means; each backend decides how that looks (colours, attributes, or nothing).
public enum Style: UInt8, CaseIterable, Sendable {
    case normal, header, columns, selected, dim, approved, locked, flagged, warning, error, status, cursor, banner, title
    /// Words that differ from the text they are shown against (an edit beside the machine
    /// translation, a proposal beside the line's text); on the selected row, `selectedChanged`.
    case changed, selectedChanged
}

public struct Cell: Equatable, Sendable {
    public var ch: Character
    public var style: Style
    /// The right half of a double-width character drawn in the cell to the left.
    public var continuation: Bool

    public static let blank = Cell(ch: " ", style: .normal, continuation: false)
}

/// The screen as a grid of cells that dubdeck owns. Views draw here; a backend shows it
/// (curses) or keeps it (tests, `--script`). Every string drawn is sanitized on the way in.
public struct CellGrid: Equatable {
    public private(set) var width: Int
    public private(set) var height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    public mutating func resize(width: Int, height: Int) {
        self = CellGrid(width: width, height: height)
    }

    public mutating func clear() {
        for i in cells.indices { cells[i] = .blank }
    }

    public subscript(row: Int, col: Int) -> Cell { cells[row * width + col] }

    public mutating func fill(row: Int, from: Int = 0, to: Int? = nil, style: Style) {
        guard row >= 0, row < height else { return }
        let end = min(to ?? width, width)
        var c = max(0, from)
        while c < end {
            cells[row * width + c] = Cell(ch: " ", style: style, continuation: false)
            c += 1
        }
    }

    /// Draws text at (row, col), clipped at `limit` (default: the right edge); returns the column
    /// after the last cell drawn. Control and bidi characters become visible placeholders.
    @discardableResult
    public mutating func put(_ text: String, row: Int, col: Int, style: Style, limit: Int? = nil) -> Int {
        guard row >= 0, row < height, col < width else { return col }
        let end = min(limit ?? width, width)
        var c = max(0, col)
        // Printable ASCII (most of a list row): a character per byte, one column each, nothing to
        // sanitize — no grapheme walk.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            for b in text.utf8 {
                if c + 1 > end {
                    while c < end { cells[row * width + c] = Cell(ch: " ", style: style, continuation: false); c += 1 }
                    markCut(row: row, start: max(0, col), end: end, style: style)
                    return c
                }
                cells[row * width + c] = Cell(ch: Character(Unicode.Scalar(b)), style: style, continuation: false)
                c += 1
            }
            return c
        }
        for original in text {
            // An unsafe scalar becomes its placeholder, drawn as the characters it is made of (the
            // common case, a safe character, takes no allocation).
            if original.unicodeScalars.contains(where: { Sanitizer.placeholder(for: $0.value) != nil }) {
                for shown in Sanitizer.display(String(original)) {
                    if !putCell(shown, row: row, c: &c, end: end, style: style) { markCut(row: row, start: max(0, col), end: end, style: style); return c }
                }
            } else if !putCell(original, row: row, c: &c, end: end, style: style) {
                markCut(row: row, start: max(0, col), end: end, style: style)
                return c
            }
        }
        return c
    }

    /// Draws one character at column c (advancing it); false when it does not fit before `end`
    /// (the rest of the row up to `end` is then blank).
    @inline(__always)
    mutating func putCell(_ shown: Character, row: Int, c: inout Int, end: Int, style: Style) -> Bool {
        let w = TextWidth.width(of: shown)
        if w == 0 { return true }
        if c + w > end {
            while c < end { cells[row * width + c] = Cell(ch: " ", style: style, continuation: false); c += 1 }
            return false
        }
        cells[row * width + c] = Cell(ch: shown, style: style, continuation: false)
        if w == 2 { cells[row * width + c + 1] = Cell(ch: " ", style: style, continuation: true) }
        c += w
        return true
    }

    /// The last cell before `end` becomes "…" (the left half of a wide character there becomes a space).
    mutating func markCut(row: Int, start: Int, end: Int, style: Style) {
        let last = end - 1
        guard last >= start, last < width else { return }
        var at = last
        if cells[row * width + at].continuation, at - 1 >= start {
            cells[row * width + at] = Cell(ch: " ", style: style, continuation: false)
            at -= 1
        } else if at + 1 < width, cells[row * width + at + 1].continuation {
            cells[row * width + at + 1] = Cell(ch: " ", style: cells[row * width + at + 1].style, continuation: false)
        }
        cells[row * width + at] = Cell(ch: "…", style: style, continuation: false)
    }

    /// One row as text (continuation cells skipped), trailing spaces kept when `trim` is false.
    public func rowText(_ row: Int, trim: Bool = true) -> String {
        // As bytes, then one String (a Character appended per cell cost more than the rest of a dump).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(width * 2)
        for c in 0..<width {
            let cell = cells[row * width + c]
            if !cell.continuation { bytes.append(contentsOf: cell.ch.utf8) }
        }
        if trim { while bytes.last == 0x20 { bytes.removeLast() } }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The whole screen as text, one line per row: what `:dump` writes.
    public func text() -> String {
        (0..<height).map { rowText($0) }.joined(separator: "\n") + "\n"
    }

    /// The screen with what plain text cannot show: a `>` gutter on rows drawn as the selection,
    /// a line naming where the cursor cell is, and one a row for the words drawn as changed (tests
    /// compare these).
    public func annotatedText() -> String {
        var out = ""
        var cursor: (Int, Int)? = nil
        var changed: [String] = []
        for r in 0..<height {
            let selected = (0..<width).contains { cells[r * width + $0].style == .selected }
            if cursor == nil, let c = (0..<width).first(where: { cells[r * width + $0].style == .cursor }) { cursor = (r, c) }
            out += (selected ? ">" : " ") + rowText(r) + "\n"
            // Each run of changed cells, as it reads.
            var runs: [String] = [], run = ""
            for c in 0...width {
                let cell = c < width ? cells[r * width + c] : .blank
                if cell.style == .changed || cell.style == .selectedChanged {
                    if !cell.continuation { run.append(cell.ch) }
                } else if !run.isEmpty {
                    runs.append("«" + run + "»")
                    run = ""
                }
            }
            if !runs.isEmpty { changed.append("-- changed on row \(r + 1): " + runs.joined(separator: " ")) }
        }
        out += cursor.map { "-- cursor at row \($0.0 + 1), column \($0.1 + 1)\n" } ?? "-- no cursor\n"
        for line in changed { out += line + "\n" }
        return out
    }
}
