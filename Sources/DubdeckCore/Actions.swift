/// Where a key binding applies. `generic` bindings work in every context unless overridden.
public enum KeyContext: String, CaseIterable, Sendable {
    case generic, list, editor, characters, history, help
}

/// One thing a reviewer can ask for. This table drives the keymap parser (valid names), the help
/// screen and docs/KEYMAPS.md; the desk maps each name to what it does.
public struct ActionInfo: Sendable {
    public let name: String
    public let description: String
    public let contexts: [KeyContext]
}

public enum ActionTable {
    public static let all: [ActionInfo] = [
        // generic
        .init(name: "quit", description: "Leave the desk (every change is already saved)", contexts: [.generic]),
        .init(name: "help", description: "Show the keys of every context", contexts: [.generic]),
        .init(name: "redraw", description: "Repaint the whole terminal", contexts: [.generic]),
        .init(name: "back", description: "Close this screen and return to the list", contexts: [.help, .characters, .history]),
        .init(name: "characters", description: "The characters of this series: names, voices, references", contexts: [.list]),
        // moving
        .init(name: "move-down", description: "Next line", contexts: [.list, .help, .characters, .history]),
        .init(name: "move-up", description: "Previous line", contexts: [.list, .help, .characters, .history]),
        .init(name: "page-down", description: "One screen down", contexts: [.list, .help]),
        .init(name: "page-up", description: "One screen up", contexts: [.list, .help]),
        .init(name: "top", description: "First line", contexts: [.list, .help, .characters, .history]),
        .init(name: "bottom", description: "Last line", contexts: [.list, .help, .characters, .history]),
        .init(name: "next-unapproved", description: "Next line that is not approved", contexts: [.list]),
        .init(name: "prev-unapproved", description: "Previous line that is not approved", contexts: [.list]),
        // review
        .init(name: "edit", description: "Edit the target text of this line", contexts: [.list]),
        .init(name: "approve", description: "Approve / unapprove this line", contexts: [.list]),
        .init(name: "lock", description: "Lock / unlock this line (a locked text is final)", contexts: [.list]),
        .init(name: "flag-retranslate", description: "Flag / unflag this line for re-translation", contexts: [.list]),
        // sound
        .init(name: "synthesize", description: "Regenerate this line's speech, fitted to its slot, and play it", contexts: [.list]),
        .init(name: "synthesize-approved", description: "Synthesize every approved line in the background", contexts: [.list]),
        .init(name: "cancel-batch", description: "Cancel the running batch after the current line", contexts: [.list]),
        .init(name: "play-take", description: "Play this line's current take", contexts: [.list]),
        .init(name: "play-original", description: "Play the original line from the source audio", contexts: [.list]),
        .init(name: "play-previous-take", description: "Play an earlier take (again: one further back)", contexts: [.list]),
        .init(name: "stop-playback", description: "Stop playing", contexts: [.list]),
        // undo and history
        .init(name: "undo", description: "Undo the last change (a batch as one), also one made elsewhere", contexts: [.list]),
        .init(name: "redo", description: "Redo the last undone change", contexts: [.list]),
        .init(name: "history", description: "The change history of this line, with restore", contexts: [.list]),
        .init(name: "restore-version", description: "Give the line the text of the selected version", contexts: [.history]),
        // characters
        .init(name: "series-next", description: "Show the next series' characters (then all)", contexts: [.characters]),
        .init(name: "play-reference", description: "Play the character's reference recording", contexts: [.characters]),
        .init(name: "rename-character", description: "Name the character", contexts: [.characters]),
        .init(name: "merge-character", description: "Merge the character into another (by ID)", contexts: [.characters]),
        .init(name: "use-line-audio", description: "Make the current line's original audio the character's reference", contexts: [.characters]),
        // finding
        .init(name: "search", description: "Search the texts and speakers (/)", contexts: [.list]),
        .init(name: "search-next", description: "Next match of the last search", contexts: [.list]),
        .init(name: "search-prev", description: "Previous match of the last search", contexts: [.list]),
        .init(name: "filter-next", description: "Next filter: all, unapproved, unlocked, locked, flagged, stale, overflow", contexts: [.list]),
        .init(name: "filter-prev", description: "Previous filter", contexts: [.list]),
        .init(name: "filter-all", description: "Show every line", contexts: [.list]),
        // editor
        .init(name: "commit", description: "Save the text (one history record)", contexts: [.editor]),
        .init(name: "cancel", description: "Leave the editor without saving", contexts: [.editor]),
        .init(name: "cursor-left", description: "Cursor one character left", contexts: [.editor]),
        .init(name: "cursor-right", description: "Cursor one character right", contexts: [.editor]),
        .init(name: "word-left", description: "Cursor to the previous word", contexts: [.editor]),
        .init(name: "word-right", description: "Cursor to the next word", contexts: [.editor]),
        .init(name: "line-start", description: "Cursor to the start of the line", contexts: [.editor]),
        .init(name: "line-end", description: "Cursor to the end of the line", contexts: [.editor]),
        .init(name: "delete-back", description: "Delete the character before the cursor", contexts: [.editor]),
        .init(name: "delete-forward", description: "Delete the character under the cursor", contexts: [.editor]),
        .init(name: "delete-word-back", description: "Delete the word before the cursor", contexts: [.editor]),
        .init(name: "kill-line", description: "Delete from the cursor to the end of the line", contexts: [.editor]),
        .init(name: "kill-to-start", description: "Delete from the start of the line to the cursor", contexts: [.editor]),
        .init(name: "insert-newline", description: "Insert a line break (two-line subtitles)", contexts: [.editor]),
    ]

    static let byName: [String: ActionInfo] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    public static func info(_ name: String) -> ActionInfo? { byName[name] }

    /// True when `name` may be bound in `context` (generic actions may be bound anywhere).
    public static func allowed(_ name: String, in context: KeyContext) -> Bool {
        guard let info = byName[name] else { return false }
        if info.contexts.contains(.generic) { return true }
        if context == .generic { return false }
        return info.contexts.contains(context)
    }

    /// The action table as docs/KEYMAPS.md shows it (a test keeps the two the same).
    public static func markdown(keymap: Keymap) -> String {
        var out = "| action | contexts | default keys | what it does |\n|---|---|---|---|\n"
        for a in all {
            var keys: [String] = []
            for ctx in a.contexts { keys += keymap.keys(for: a.name, in: ctx) }
            var seen = Set<String>()
            keys = keys.filter { seen.insert($0).inserted }
            let shown = keys.map { "`\($0 == "|" ? "\\|" : $0)`" }.joined(separator: " ")
            out += "| `\(a.name)` | \(a.contexts.map { $0.rawValue }.joined(separator: ", ")) | \(shown) | \(a.description) |\n"
        }
        return out
    }
}
