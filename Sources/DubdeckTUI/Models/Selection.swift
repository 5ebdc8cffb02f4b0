import DubdeckCore

/// Which lines the list shows (the filter) and where the reviewer is among them: the cursor and the
/// first row on screen. A model the desk owns: it knows the lines' states it is given, nothing of
/// the store, the screen or the keys.
public struct Selection: Equatable {
    public internal(set) var filter: SegmentFilter = .all
    /// Indices (0-based) of the segments the filter shows, in order.
    public internal(set) var visible: [Int] = []
    /// Position in `visible` of the selected line.
    public internal(set) var cursor = 0
    /// Position in `visible` of the first row on screen.
    public internal(set) var top = 0

    /// The selected segment's index (0-based), nil when the filter shows nothing.
    public var selected: Int? { cursor >= 0 && cursor < visible.count ? visible[cursor] : nil }

    /// The filter applied to `states` again; the cursor stays on line `keep` (an index), or on the next
    /// line the filter shows.
    mutating func apply(_ states: [ReviewState], keep: Int?, rows: Int) {
        visible = filter == .all ? Array(states.indices) : states.indices.filter { filter.includes(states[$0]) }
        if let keep { cursor = visible.firstIndex(where: { $0 >= keep }) ?? max(0, visible.count - 1) }
        cursor = max(0, min(cursor, visible.count - 1))
        keepCursorVisible(rows: rows)
    }

    mutating func setFilter(_ f: SegmentFilter, _ states: [ReviewState], rows: Int) {
        let keep = selected
        filter = f
        apply(states, keep: keep, rows: rows)
    }

    mutating func keepCursorVisible(rows: Int) {
        if cursor < top { top = cursor }
        if cursor >= top + rows { top = cursor - rows + 1 }
        top = max(0, min(top, max(0, visible.count - rows)))
    }

    /// The cursor at `position` (clamped); false when it did not move.
    mutating func move(to position: Int, rows: Int) -> Bool {
        guard !visible.isEmpty else { return false }
        let p = max(0, min(position, visible.count - 1))
        if p == cursor { return false }
        cursor = p
        keepCursorVisible(rows: rows)
        return true
    }

    /// A page down or up: the view scrolls a page and the cursor with it.
    mutating func page(forward: Bool, rows: Int) -> Bool {
        top = forward ? min(top + rows, max(0, visible.count - rows)) : max(0, top - rows)
        return move(to: cursor + (forward ? rows : -rows), rows: rows)
    }

    /// Line `index` selected, the filter cleared when it hid the line; true when it was cleared.
    mutating func show(_ index: Int, _ states: [ReviewState], rows: Int) -> Bool {
        var cleared = false
        if !visible.contains(index) {
            filter = .all
            apply(states, keep: index, rows: rows)
            cleared = true
        }
        cursor = visible.firstIndex(of: index) ?? cursor
        keepCursorVisible(rows: rows)
        return cleared
    }

    /// The position of the next unapproved line below (or above) the cursor, without wrapping.
    func nextUnapproved(_ states: [ReviewState], forward: Bool) -> Int? {
        var p = cursor
        for _ in 0..<visible.count {
            p = forward ? p + 1 : p - 1
            if p < 0 || p >= visible.count { return nil }
            if !states[visible[p]].approved { return p }
        }
        return nil
    }

    /// The position of the next line that needs attention, wrapping, and whether it wrapped.
    func nextProblem(_ states: [ReviewState], forward: Bool) -> (position: Int, wrapped: Bool)? {
        let n = visible.count
        guard n > 0 else { return nil }
        for step in 1...n {
            let p = ((forward ? cursor + step : cursor - step) % n + n) % n
            guard states[visible[p]].isProblem else { continue }
            return (p, forward ? p <= cursor : p >= cursor)
        }
        return nil
    }
}
