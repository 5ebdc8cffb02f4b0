import CDubdeckShim
import CNcursesw
import DubdeckCore
#if canImport(Glibc)
import Glibc
#endif

/// The only place that talks to curses: shows a `CellGrid` (re-drawing only rows that changed)
/// and reads keys as canonical key notation.
public final class CursesTerminal {
    var shown: CellGrid?
    var colors = false
    var attrs: [UInt32] = []
    var pairs: [Int32] = []

    public init() {
        TextWidth.prepareLocale()
        initscr()
        raw()
        noecho()
        nonl()  // Enter arrives as CR, so <C-j> (LF) can be its own key
        dd_keypad(1)
        set_escdelay(25)  // Esc must be instant in the editor (no setenv: another thread may getenv)
        curs_set(0)
        setupStyles()
    }

    public func close() {
        endwin()
    }

    public var size: (width: Int, height: Int) {
        var rows: Int32 = 0, cols: Int32 = 0
        dd_screen_size(&rows, &cols)
        return (Int(cols), Int(rows))
    }

    func setupStyles() {
        let noColor = (Environment.get("NO_COLOR").map { !$0.isEmpty } ?? false)
        colors = !noColor && has_colors()
        if colors {
            start_color()
            use_default_colors()
        }
        let bold = dd_attr_bold(), rev = dd_attr_reverse(), und = dd_attr_underline(), dim = dd_attr_dim()
        attrs = Array(repeating: dd_attr_normal(), count: Style.allCases.count)
        pairs = Array(repeating: 0, count: Style.allCases.count)
        // (foreground, background, attributes with colour, attributes without colour)
        let table: [Style: (Int16, Int16, UInt32, UInt32)] = [
            .header: (Int16(COLOR_WHITE), Int16(COLOR_BLUE), bold, rev),
            .title: (Int16(COLOR_BLACK), Int16(COLOR_CYAN), bold, rev | bold),
            .columns: (Int16(COLOR_CYAN), -1, bold, und),
            .selected: (Int16(COLOR_BLACK), Int16(COLOR_YELLOW), 0, rev),
            .dim: (-1, -1, dim, dim),
            .approved: (Int16(COLOR_GREEN), -1, bold, bold),
            .locked: (Int16(COLOR_MAGENTA), -1, bold, bold),
            .flagged: (Int16(COLOR_YELLOW), -1, bold, bold),
            .warning: (Int16(COLOR_YELLOW), -1, bold, bold),
            .error: (Int16(COLOR_RED), -1, bold, bold | und),
            .status: (Int16(COLOR_WHITE), Int16(COLOR_BLUE), 0, rev),
            .cursor: (-1, -1, rev, rev),
            .banner: (Int16(COLOR_WHITE), Int16(COLOR_RED), bold, rev | bold),
            .changed: (Int16(COLOR_YELLOW), -1, bold | und, bold | und),
            .selectedChanged: (Int16(COLOR_BLACK), Int16(COLOR_YELLOW), bold | und, rev | und),
        ]
        for (style, spec) in table {
            let i = Int(style.rawValue)
            if colors {
                let pair = Int16(i + 1)
                init_pair(pair, spec.0, spec.1)
                pairs[i] = Int32(pair)
                attrs[i] = spec.2
            } else {
                attrs[i] = spec.3
            }
        }
    }

    /// Shows the grid; rows equal to what is on the terminal already are skipped.
    public func present(_ grid: CellGrid, force: Bool = false) {
        if force || shown?.width != grid.width || shown?.height != grid.height {
            clear()
            shown = nil
        }
        var buffer: [Int32] = []
        buffer.reserveCapacity(grid.width * 2)
        for row in 0..<grid.height {
            if let old = shown, rowEqual(old, grid, row) { continue }
            var col = 0
            while col < grid.width {
                let style = grid[row, col].style
                let runStart = col
                buffer.removeAll(keepingCapacity: true)
                while col < grid.width, grid[row, col].style == style {
                    let cell = grid[row, col]
                    if !cell.continuation {
                        for s in cell.ch.unicodeScalars { buffer.append(Int32(bitPattern: s.value)) }
                    }
                    col += 1
                }
                let i = Int(style.rawValue)
                buffer.withUnsafeBufferPointer { b in
                    _ = dd_put_wide(Int32(row), Int32(runStart), b.baseAddress, Int32(b.count), attrs[i], pairs[i])
                }
            }
        }
        shown = grid
        refresh()
    }

    func rowEqual(_ a: CellGrid, _ b: CellGrid, _ row: Int) -> Bool {
        for c in 0..<a.width where a[row, c] != b[row, c] { return false }
        return true
    }

    public enum Input: Equatable {
        case key(String)
        case resize
        case none
    }

    /// Waits up to `timeoutMs` for a key.
    public func read(timeoutMs: Int32) -> Input {
        timeout(timeoutMs)
        var ch: wint_t = 0
        let r = get_wch(&ch)
        if r == dd_err() { return .none }
        if r == dd_key_code_yes() {
            if Int32(ch) == dd_key_resize() { return .resize }
            return KeyDecoder.decode(.function(Int32(ch))) { nil }.map { .key($0) } ?? .none
        }
        return KeyDecoder.decode(.char(UInt32(ch))) {
            timeout(0)
            var next: wint_t = 0
            let r2 = get_wch(&next)
            if r2 == dd_err() { return nil }
            return r2 == dd_key_code_yes() ? .function(Int32(next)) : .char(UInt32(next))
        }.map { .key($0) } ?? .none
    }
}

/// Terminal input → canonical key notation, apart from curses so it can be tested: a character or
/// a function-key code, and for Esc the input that follows at once (Meta is Esc + key).
public enum KeyDecoder {
    public enum Raw: Equatable { case char(UInt32), function(Int32) }

    public static func decode(_ first: Raw, next: () -> Raw?) -> String? {
        switch first {
        case .function(let code): return functionKey(code)
        case .char(27):
            // Esc alone, or Meta: Esc followed at once by a key.
            switch next() {
            case nil: return "<Esc>"
            case .function(let code)?:
                guard let name = functionKey(code) else { return "<Esc>" }
                return "<M-\(name.dropFirst().dropLast())>"
            case .char(let v)?:
                guard let k = plainKey(v) else { return "<Esc>" }
                let bare = k.hasPrefix("<") && k.count > 1 ? String(k.dropFirst().dropLast()) : k
                return "<M-\(bare)>"
            }
        case .char(let v): return plainKey(v)
        }
    }

    /// A character code as key notation.
    static func plainKey(_ v: UInt32) -> String? {
        switch v {
        case 13: return "<Enter>"
        case 10: return "<C-j>"
        case 9: return "<Tab>"
        case 8, 127: return "<BS>"
        case 27: return "<Esc>"
        case 32: return "<Space>"
        case 60: return "<lt>"
        case 1...26: return "<C-\(Character(Unicode.Scalar(v + 96)!))>"
        // Control with @ \ ] ^ _ (0, 28–31): the keys KEYMAPS.md lets a keymap bind (emacs's <C-_> undo).
        case 0: return "<C-@>"
        case 28...31: return "<C-\(Character(Unicode.Scalar(v + 64)!))>"
        default:
            guard let s = Unicode.Scalar(v) else { return nil }
            return String(Character(s))
        }
    }

    static func functionKey(_ code: Int32) -> String? {
        switch code {
        case KEY_DOWN: return "<Down>"
        case KEY_UP: return "<Up>"
        case KEY_LEFT: return "<Left>"
        case KEY_RIGHT: return "<Right>"
        case KEY_HOME: return "<Home>"
        case KEY_END: return "<End>"
        case KEY_NPAGE: return "<PgDn>"
        case KEY_PPAGE: return "<PgUp>"
        case KEY_BACKSPACE: return "<BS>"
        case KEY_DC: return "<Del>"
        case KEY_IC: return "<Ins>"
        case KEY_BTAB: return "<S-Tab>"
        case KEY_ENTER: return "<Enter>"
        case (KEY_F0 + 1)...(KEY_F0 + 12): return "<F\(code - KEY_F0)>"
        default: return nil
        }
    }
}


/// Runs the desk on the terminal until the reviewer quits.
public enum DeskApp {
    public static func run(_ desk: Desk) {
        // What a library prints on stderr (espeak-ng, ALSA plugins, …) would scroll over the screen:
        // while the desk runs, stderr goes to a pipe whose lines become status messages.
        let capture = StderrCapture()
        defer { capture.restore() }
        let term = CursesTerminal()
        defer { term.close() }
        // SIGTERM/SIGHUP: the loop leaves at the next turn (at most 100 ms later) and restores the
        // terminal; every change is already on disk.
        Interrupt.installTermination()
        var grid = CellGrid(width: term.size.width, height: term.size.height)
        desk.width = grid.width
        desk.height = grid.height
        desk.keepCursorVisible()
        var redraw = Redraw.all
        var force = false
        // The terminal's new size: the grid and the desk follow it, everything redrawn.
        func resized() {
            let s = term.size
            grid.resize(width: s.width, height: s.height)
            desk.width = s.width
            desk.height = s.height
            desk.keepCursorVisible()
            redraw = .all
            force = true
        }
        while !desk.quitRequested && !Interrupt.terminationRequested {
            if redraw != .nothing {
                DeskView.draw(desk, into: &grid)
                term.present(grid, force: force)
                force = false
            }
            switch term.read(timeoutMs: 100) {
            case .key(let k):
                redraw = desk.handle(key: k)
                if k == "<C-l>" { force = true }
                // A paste arrives as many keys at once: they are all handled before the next frame
                // (one redraw, not one per key: a long text would cost the square of its length).
                let started = Clock.monotonic()
                pasting: while !desk.quitRequested, Clock.monotonic() - started < 0.05 {
                    switch term.read(timeoutMs: 0) {
                    case .key(let next):
                        redraw = max(redraw, desk.handle(key: next))
                        if next == "<C-l>" { force = true }
                    case .resize:
                        resized()
                    case .none:
                        break pasting
                    }
                }
            case .resize:
                resized()
            case .none:
                redraw = desk.tick()
                if let said = capture.take() {
                    desk.showOutsideOutput(said)
                    redraw = max(redraw, .status)
                }
            }
        }
    }
}

/// Standard error redirected into a non-blocking pipe while the desk owns the terminal; `restore`
/// puts the original back (what was captured and not shown is written there then).
final class StderrCapture {
    private var saved: Int32 = -1
    private var readEnd: Int32 = -1
    private var pending: [UInt8] = []

    init() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        saved = dup(2)
        guard saved >= 0, dup2(fds[1], 2) >= 0 else { close(fds[0]); close(fds[1]); saved = -1; return }
        close(fds[1])
        readEnd = fds[0]
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
    }

    /// The last complete line printed since the last call, or nil.
    func take() -> String? {
        guard readEnd >= 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBufferPointer { read(readEnd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            pending.append(contentsOf: buf[0..<n])
            if pending.count > 65536 { pending.removeFirst(pending.count - 65536) }
        }
        guard let nl = pending.lastIndex(of: 0x0A) else { return nil }
        let lines = pending[..<nl].split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
        pending.removeSubrange(...nl)
        return lines.last { !$0.trimmingCharacters().isEmpty }
    }

    func restore() {
        guard saved >= 0 else { return }
        _ = take()
        dup2(saved, 2)
        close(saved)
        if !pending.isEmpty { _ = Console.write(fd: 2, pending) }
        if readEnd >= 0 { close(readEnd) }
        saved = -1
    }
}
