#if !FUZZ
import DubdeckCore
#endif

/// Where a key binding applies. `generic` bindings work in every context unless overridden.
public enum KeyContext: String, CaseIterable, Sendable {
    case generic, list, editor, characters, history, help
    /// A list to pick one from (a line's speaker label, a label's character).
    case picker
}

/// One thing a reviewer can ask for: the one table that the keymap parser (valid names), the help
/// screen and docs/KEYMAPS.md read (tig's request.h). Screens switch over it exhaustively, so an
/// action a screen ignores is a decision written down, never a silent drop.
public enum Action: String, CaseIterable, Sendable {
    case quit
    case help
    case redraw
    case back
    case characters
    case moveDown = "move-down"
    case moveUp = "move-up"
    case pageDown = "page-down"
    case pageUp = "page-up"
    case top
    case bottom
    case nextUnapproved = "next-unapproved"
    case prevUnapproved = "prev-unapproved"
    case nextProblem = "next-problem"
    case prevProblem = "prev-problem"
    case gotoLine = "goto-line"
    case setSpeaker = "set-speaker"
    case assignCharacter = "assign-character"
    case suggestCharacter = "suggest-character"
    case pick
    case edit
    case approve
    case approveNext = "approve-next"
    case lock
    case flagRetranslate = "flag-retranslate"
    case retranslate = "retranslate"
    case synthesize
    case synthesizeApproved = "synthesize-approved"
    case cancelBatch = "cancel-batch"
    case playTake = "play-take"
    case playOriginal = "play-original"
    case playPreviousTake = "play-previous-take"
    case stopPlayback = "stop-playback"
    case playContext = "play-context"
    case playAB = "play-ab"
    case keepTake = "keep-take"
    case nudgeStartEarlier = "nudge-start-earlier"
    case nudgeStartLater = "nudge-start-later"
    case nudgeEndEarlier = "nudge-end-earlier"
    case nudgeEndLater = "nudge-end-later"
    case nudgeStartEarlierFine = "nudge-start-earlier-fine"
    case nudgeStartLaterFine = "nudge-start-later-fine"
    case nudgeEndEarlierFine = "nudge-end-earlier-fine"
    case nudgeEndLaterFine = "nudge-end-later-fine"
    case undo
    case redo
    case history
    case restoreVersion = "restore-version"
    case seriesNext = "series-next"
    case playReference = "play-reference"
    case renameCharacter = "rename-character"
    case mergeCharacter = "merge-character"
    case useLineAudio = "use-line-audio"
    case undoMerge = "undo-merge"
    case reconcile
    case acceptProposal = "accept-proposal"
    case rejectProposal = "reject-proposal"
    case search
    case searchNext = "search-next"
    case searchPrev = "search-prev"
    case filterNext = "filter-next"
    case filterPrev = "filter-prev"
    case filterAll = "filter-all"
    case commit
    case cancel
    case cursorLeft = "cursor-left"
    case cursorRight = "cursor-right"
    case wordLeft = "word-left"
    case wordRight = "word-right"
    case lineStart = "line-start"
    case lineEnd = "line-end"
    case deleteBack = "delete-back"
    case deleteForward = "delete-forward"
    case deleteWordBack = "delete-word-back"
    case killLine = "kill-line"
    case killToStart = "kill-to-start"
    case insertNewline = "insert-newline"

    /// The name in keymaps and docs.
    public var name: String { rawValue }

    public var description: String {
        switch self {
        case .quit: return "Leave the desk (every change is already saved)"
        case .help: return "Show the keys of every context"
        case .redraw: return "Repaint the whole terminal"
        case .back: return "Close this screen and return to the list"
        case .characters: return "The characters of this series: names, voices, references"
        case .moveDown: return "Next line"
        case .moveUp: return "Previous line"
        case .pageDown: return "One screen down"
        case .pageUp: return "One screen up"
        case .top: return "First line"
        case .bottom: return "Last line"
        case .nextUnapproved: return "Next line that is not approved"
        case .prevUnapproved: return "Previous line that is not approved"
        case .nextProblem: return "Next line that needs attention: unapproved, flagged, stale, overflow, too fast (wraps)"
        case .prevProblem: return "Previous line that needs attention (wraps)"
        case .gotoLine: return "Go to line N (:N)"
        case .setSpeaker: return "Fix this line's diarization label (pick one of the episode's; undoable)"
        case .assignCharacter: return "Make this line's label another character of the series (u undoes it)"
        case .suggestCharacter: return "The episode's 3 characters whose voice is closest to this line's audio; Enter moves the line to one"
        case .pick: return "Take the selected entry"
        case .edit: return "Edit the target text of this line"
        case .approve: return "Approve / unapprove this line"
        case .lock: return "Lock / unlock this line (a locked text is final)"
        case .flagRetranslate: return "Flag / unflag this line for re-translation"
        case .retranslate: return "Ask the machine translation engine for this line again (in the background); Enter takes its proposal, Esc leaves it"
        case .synthesize: return "Regenerate this line's speech, fitted to its slot, and play it"
        case .synthesizeApproved: return "Synthesize every approved line in the background"
        case .cancelBatch: return "Cancel the running batch after the current line"
        case .playTake: return "Play this line's current take"
        case .playOriginal: return "Play the original line from the source audio"
        case .playPreviousTake: return "Play the takes newest → oldest (again: the next older; then the newest)"
        case .playContext: return "Play the previous, this and the next line at their real times over the ducked source"
        case .playAB: return "A/B: alternate the original and the take of this line"
        case .keepTake: return "Make the take being heard the current one (a take record; undoable)"
        case .stopPlayback: return "Stop playing"
        case .undo: return "Undo the last change (a batch as one), also one made elsewhere"
        case .redo: return "Redo the last undone change"
        case .history: return "The change history of this line, with restore"
        case .restoreVersion: return "Give the line the text of the selected version"
        case .seriesNext: return "Show the next series' characters (then all)"
        case .playReference: return "Play the character's reference recording"
        case .renameCharacter: return "Name the character"
        case .mergeCharacter: return "Merge the character into another (by ID)"
        case .useLineAudio: return "Make the current line's original audio the character's reference"
        case .undoMerge: return "Undo the last merge made here (while its target is unchanged); in the proposals, the last reconcile"
        case .reconcile: return "The series' reconcile proposals: merges and splits seen across all its episodes, with their evidence"
        case .acceptProposal: return "Carry out the selected proposal (one undoable change; the episodes' maps follow)"
        case .rejectProposal: return "Reject the selected proposal (never proposed again)"
        case .search: return "Search the texts and speakers (/)"
        case .searchNext: return "Next match of the last search"
        case .searchPrev: return "Previous match of the last search"
        case .filterNext: return "Next filter: all, unapproved, unlocked, locked, flagged, stale, overflow"
        case .filterPrev: return "Previous filter"
        case .filterAll: return "Show every line"
        case .commit: return "Save the text (one history record)"
        case .cancel: return "Leave the editor without saving"
        case .cursorLeft: return "Cursor one character left"
        case .cursorRight: return "Cursor one character right"
        case .wordLeft: return "Cursor to the previous word"
        case .wordRight: return "Cursor to the next word"
        case .lineStart: return "Cursor to the start of the line"
        case .lineEnd: return "Cursor to the end of the line"
        case .deleteBack: return "Delete the character before the cursor"
        case .deleteForward: return "Delete the character under the cursor"
        case .deleteWordBack: return "Delete the word before the cursor"
        case .killLine: return "Delete from the cursor to the end of the line"
        case .killToStart: return "Delete from the start of the line to the cursor"
        case .insertNewline: return "Insert a line break (two-line subtitles)"
        case .approveNext: return "Approve the line and go to the next one"
        case .nudgeStartEarlier: return "Start the dub line 50 ms earlier (undoable; the gaps to the neighbours are shown)"
        case .nudgeStartLater: return "Start the dub line 50 ms later"
        case .nudgeEndEarlier: return "End the dub line 50 ms earlier"
        case .nudgeEndLater: return "End the dub line 50 ms later (the usual fix for a line that does not fit)"
        case .nudgeStartEarlierFine: return "Start the dub line 10 ms earlier"
        case .nudgeStartLaterFine: return "Start the dub line 10 ms later"
        case .nudgeEndEarlierFine: return "End the dub line 10 ms earlier"
        case .nudgeEndLaterFine: return "End the dub line 10 ms later"
        }
    }

    /// The contexts the action may be bound in (generic: anywhere).
    public var contexts: [KeyContext] {
        switch self {
        case .quit: return [.generic]
        case .help: return [.generic]
        case .redraw: return [.generic]
        case .back: return [.help, .characters, .history, .picker]
        case .characters: return [.list]
        case .moveDown: return [.list, .help, .characters, .history, .picker]
        case .moveUp: return [.list, .help, .characters, .history, .picker]
        case .pageDown: return [.list, .help]
        case .pageUp: return [.list, .help]
        case .top: return [.list, .help, .characters, .history, .picker]
        case .bottom: return [.list, .help, .characters, .history, .picker]
        case .nextUnapproved: return [.list]
        case .prevUnapproved: return [.list]
        case .nextProblem: return [.list]
        case .prevProblem: return [.list]
        case .gotoLine: return [.list]
        case .setSpeaker: return [.list]
        case .assignCharacter: return [.list]
        case .suggestCharacter: return [.list]
        case .pick: return [.picker]
        case .edit: return [.list]
        case .approve: return [.list]
        case .approveNext: return [.list]
        case .lock: return [.list]
        case .flagRetranslate: return [.list]
        case .retranslate: return [.list]
        case .nudgeStartEarlier, .nudgeStartLater, .nudgeEndEarlier, .nudgeEndLater,
             .nudgeStartEarlierFine, .nudgeStartLaterFine, .nudgeEndEarlierFine, .nudgeEndLaterFine: return [.list]
        case .synthesize: return [.list]
        case .synthesizeApproved: return [.list]
        case .cancelBatch: return [.list]
        case .playTake: return [.list]
        case .playOriginal: return [.list]
        case .playPreviousTake: return [.list]
        case .stopPlayback: return [.list]
        case .playContext: return [.list]
        case .playAB: return [.list]
        case .keepTake: return [.list]
        case .undo: return [.list]
        case .redo: return [.list]
        case .history: return [.list]
        case .restoreVersion: return [.history]
        case .seriesNext: return [.characters]
        case .playReference: return [.characters]
        case .renameCharacter: return [.characters]
        case .mergeCharacter: return [.characters]
        case .useLineAudio: return [.characters]
        case .undoMerge: return [.characters]
        case .reconcile: return [.characters]
        case .acceptProposal: return [.characters]
        case .rejectProposal: return [.characters]
        case .search: return [.list]
        case .searchNext: return [.list]
        case .searchPrev: return [.list]
        case .filterNext: return [.list]
        case .filterPrev: return [.list]
        case .filterAll: return [.list]
        case .commit: return [.editor]
        case .cancel: return [.editor]
        case .cursorLeft: return [.editor]
        case .cursorRight: return [.editor]
        case .wordLeft: return [.editor]
        case .wordRight: return [.editor]
        case .lineStart: return [.editor]
        case .lineEnd: return [.editor]
        case .deleteBack: return [.editor]
        case .deleteForward: return [.editor]
        case .deleteWordBack: return [.editor]
        case .killLine: return [.editor]
        case .killToStart: return [.editor]
        case .insertNewline: return [.editor]
        }
    }

    /// True when the action may be bound in `context`: generic actions anywhere but the editor (where
    /// a key types itself: `bind editor q quit` would leave the desk on a typed q).
    public func allowed(in context: KeyContext) -> Bool {
        if contexts.contains(.generic) { return context != .editor }
        if context == .generic { return false }
        return contexts.contains(context)
    }

    /// The action table as docs/KEYMAPS.md shows it (a test keeps the two the same).
    public static func markdown(keymap: Keymap) -> String {
        var out = "| action | contexts | default keys | what it does |\n|---|---|---|---|\n"
        for a in allCases {
            var keys: [String] = []
            for ctx in a.contexts { keys += keymap.keys(for: a, in: ctx) }
            var seen = Set<String>()
            keys = keys.filter { seen.insert($0).inserted }
            let shown = keys.map { "`\($0 == "|" ? "\\|" : $0)`" }.joined(separator: " ")
            out += "| `\(a.name)` | \(a.contexts.map { $0.rawValue }.joined(separator: ", ")) | \(shown) | \(a.description) |\n"
        }
        return out
    }
}
