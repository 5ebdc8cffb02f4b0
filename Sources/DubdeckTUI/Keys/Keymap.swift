#if !FUZZ
import DubdeckCore
#endif

/// Key notation: a printable character stands for itself (`j`, `G`, `/`); named keys are in
/// angle brackets (`<Enter>`, `<Esc>`, `<Tab>`, `<S-Tab>`, `<Space>`, `<BS>`, `<Del>`, `<Ins>`, `<Up>`,
/// `<Down>`, `<Left>`, `<Right>`, `<Home>`, `<End>`, `<PgUp>`, `<PgDn>`, `<F1>`…`<F12>`, `<lt>` for `<`);
/// `<C-x>` is Control, `<M-x>` is Meta/Alt (Esc then x). Every key has one canonical spelling.
public enum KeyNotation {
    static let named: [String: String] = {
        var m: [String: String] = [:]
        func add(_ canonical: String, _ aliases: [String]) {
            m[canonical.lowercased()] = canonical
            for a in aliases { m[a.lowercased()] = canonical }
        }
        add("Enter", ["CR", "Return", "C-m"])
        add("Esc", ["Escape", "C-["])
        add("Tab", ["C-i"])
        add("S-Tab", ["BackTab"])
        add("Space", [])
        add("BS", ["Backspace", "C-h"])
        add("Del", ["Delete"])
        add("Ins", ["Insert"])
        add("Up", [])
        add("Down", [])
        add("Left", [])
        add("Right", [])
        add("Home", [])
        add("End", [])
        add("PgUp", ["PageUp"])
        add("PgDn", ["PageDown"])
        add("lt", [])
        for i in 1...12 { add("F\(i)", []) }
        return m
    }()

    /// The canonical spelling of a key, or nil when it is not a key.
    public static func canonical(_ text: String) -> String? {
        if text.count == 1 {
            let ch = text.first!
            if ch == " " { return "<Space>" }
            if ch == "<" { return "<lt>" }
            if let v = ch.unicodeScalars.first?.value, v < 0x20 || v == 0x7F { return nil }
            return text
        }
        guard text.hasPrefix("<"), text.hasSuffix(">"), text.count >= 3 else { return nil }
        let inner = String(text.dropFirst().dropLast())
        if let n = named[inner.lowercased()] { return "<\(n)>" }
        let lower = inner.lowercased()
        if lower.hasPrefix("m-") || lower.hasPrefix("a-") {
            let rest = String(inner.dropFirst(2))
            guard let base = rest.count == 1 ? canonical(rest) : canonical("<\(rest)>") else { return nil }
            let bare = base.hasPrefix("<") && base.count > 1 ? String(base.dropFirst().dropLast()) : base
            return "<M-\(bare)>"
        }
        if lower.hasPrefix("c-"), inner.count == 3 {
            let ch = Character(String(inner.last!).lowercased())
            if let n = named["c-\(ch)"] { return "<\(n)>" }
            if ch.isASCII, ch.isLetter || "@\\]^_".contains(ch) { return "<C-\(ch)>" }
        }
        return nil
    }
}

public struct KeymapError: Error, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let message: String
    public var description: String { "\(Sanitizer.display(file)):\(line): \(message)" }
}

public struct Keymap: Sendable {
    /// context → canonical key → action name.
    public private(set) var bindings: [KeyContext: [String: Action]] = [:]

    public init() {}

    public static func builtIn() -> Keymap {
        var k = Keymap()
        try! k.load(DefaultKeymap.text, file: "<built-in>")
        return k
    }

    public mutating func bind(_ context: KeyContext, _ key: String, _ action: Action) {
        bindings[context, default: [:]][key] = action
    }

    /// Reads `bind <context> <key> <action>` lines; `#` starts a comment. A bad line is an error
    /// naming the file and line, and nothing of the file is applied.
    public mutating func load(_ text: String, file: String) throws {
        var staged = self
        var lineNo = 0
        // Split by scalars, not characters: a grapheme walk over the built-in keymap was a tenth of
        // opening the desk, and "\r\n" is one Character (a CRLF file would have been one line).
        for raw in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            var scalars = raw
            if scalars.last == "\r" { scalars = scalars.dropLast() }
            let words = scalars.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { Substring($0) }
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            func fail(_ m: String) -> KeymapError { KeymapError(file: file, line: lineNo, message: m) }
            guard first == "bind" else { throw fail("unknown command '\(Sanitizer.display(String(first)))' (expected 'bind')") }
            var rest = Array(words.dropFirst())
            if rest.count > 3, rest[3].hasPrefix("#") { rest = Array(rest[..<3]) }  // a trailing comment
            guard rest.count == 3 else { throw fail("expected 'bind <context> <key> <action>'") }
            guard let context = KeyContext(rawValue: String(rest[0])) else {
                throw fail("unknown context '\(Sanitizer.display(String(rest[0])))' (contexts: \(KeyContext.allCases.map { $0.rawValue }.joined(separator: ", ")))")
            }
            guard let key = KeyNotation.canonical(String(rest[1])) else {
                throw fail("bad key '\(Sanitizer.display(String(rest[1])))'")
            }
            guard let action = Action(rawValue: String(rest[2])) else {
                throw fail("unknown action '\(Sanitizer.display(String(rest[2])))'")
            }
            guard action.allowed(in: context) else {
                throw fail("action '\(action.name)' does not apply in context '\(context.rawValue)'")
            }
            staged.bind(context, key, action)
        }
        self = staged
    }

    /// The action for a key: the context's own binding, else the generic one.
    public func action(for key: String, in context: KeyContext) -> Action? {
        if let a = bindings[context]?[key] { return a }
        if context == .editor { return nil }  // in the editor, unbound keys type themselves
        return bindings[.generic]?[key]
    }

    /// Keys bound to an action in a context (sorted, for help and docs).
    public func keys(for action: Action, in context: KeyContext) -> [String] {
        (bindings[context] ?? [:]).filter { $0.value == action }.map { $0.key }.sorted { a, b in
            (a.count, a) < (b.count, b)
        }
    }
}
