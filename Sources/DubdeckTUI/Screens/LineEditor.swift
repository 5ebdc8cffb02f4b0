/// The inline text editor's buffer: grapheme clusters and a cursor between them.
public struct LineEditor: Hashable {
    public private(set) var chars: [Character]
    public private(set) var cursor: Int

    public init(_ text: String) {
        chars = Array(text)
        cursor = chars.count
    }

    public var text: String { String(chars) }

    public mutating func insert(_ s: String) {
        let new = Array(s)
        chars.insert(contentsOf: new, at: cursor)
        cursor += new.count
    }

    public mutating func left() { if cursor > 0 { cursor -= 1 } }
    public mutating func right() { if cursor < chars.count { cursor += 1 } }

    static func isWord(_ c: Character) -> Bool { !(c.isWhitespace || c.isPunctuation || c.isNewline) }

    public mutating func wordLeft() {
        while cursor > 0, !LineEditor.isWord(chars[cursor - 1]) { cursor -= 1 }
        while cursor > 0, LineEditor.isWord(chars[cursor - 1]) { cursor -= 1 }
    }

    public mutating func wordRight() {
        while cursor < chars.count, !LineEditor.isWord(chars[cursor]) { cursor += 1 }
        while cursor < chars.count, LineEditor.isWord(chars[cursor]) { cursor += 1 }
    }

    var lineStart: Int {
        var i = cursor
        while i > 0, chars[i - 1] != "\n" { i -= 1 }
        return i
    }

    var lineEnd: Int {
        var i = cursor
        while i < chars.count, chars[i] != "\n" { i += 1 }
        return i
    }

    public mutating func home() { cursor = lineStart }
    public mutating func end() { cursor = lineEnd }

    public mutating func deleteBack() {
        guard cursor > 0 else { return }
        chars.remove(at: cursor - 1)
        cursor -= 1
    }

    public mutating func deleteForward() {
        guard cursor < chars.count else { return }
        chars.remove(at: cursor)
    }

    public mutating func deleteWordBack() {
        let end = cursor
        wordLeft()
        chars.removeSubrange(cursor..<end)
    }

    public mutating func killLine() {
        let end = lineEnd
        if end == cursor, cursor < chars.count { chars.remove(at: cursor); return }  // join lines
        chars.removeSubrange(cursor..<end)
    }

    public mutating func killToStart() {
        let start = lineStart
        chars.removeSubrange(start..<cursor)
        cursor = start
    }
}

extension LineEditor {
    /// Applies an editing action to the buffer; false when the action is not an edit (the screen
    /// holding the editor decides about those). `multiline`: a line break may be typed.
    mutating func apply(_ action: Action, multiline: Bool) -> Bool {
        switch action {
        case .cursorLeft: left()
        case .cursorRight: right()
        case .wordLeft: wordLeft()
        case .wordRight: wordRight()
        case .lineStart: home()
        case .lineEnd: end()
        case .deleteBack: deleteBack()
        case .deleteForward: deleteForward()
        case .deleteWordBack: deleteWordBack()
        case .killLine: killLine()
        case .killToStart: killToStart()
        case .insertNewline: if multiline { insert("\n") }
        default:
            return false  // not an edit of the buffer: the holder's (commit, cancel) or not an editor's at all
        }
        return true
    }
}
