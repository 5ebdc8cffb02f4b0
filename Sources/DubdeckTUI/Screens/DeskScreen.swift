import DubdeckCore

/// A screen of the desk behind one protocol: it answers the actions it knows and returns nil for the
/// rest (the desk's common handling then: quit, help, redraw; anything else does nothing), as tig's
/// view drivers fall back to the generic request handler. A new action is its entry in the action
/// table and a case in the screen that handles it.
///
/// A screen changes itself; it leaves by setting `desk.mode` to another kind of screen (never to
/// its own kind: the desk writes the changed screen back when the kind stayed).
protocol DeskScreen: Equatable {
    /// The keymap context its keys are read in now (a screen with a prompt open reads editor keys).
    var keyContext: KeyContext { get }
    /// Changes this screen, or the desk (leaving the screen); returns what to redraw.
    mutating func handle(_ action: Action, desk: Desk) -> Redraw?
    /// A printable key: nil when this screen types nothing (the key is then reported unbound).
    mutating func type(_ text: String, desk: Desk) -> Redraw?
    func draw(_ desk: Desk, into grid: inout CellGrid)
    /// The one-line prompt drawn in the status line, if one is open.
    var prompt: (label: String, editor: LineEditor)? { get }
}

extension DeskScreen {
    mutating func type(_ text: String, desk: Desk) -> Redraw? { nil }
    var prompt: (label: String, editor: LineEditor)? { nil }
}
