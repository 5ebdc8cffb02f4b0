import DubdeckCore

/// The headless mode of `review --script FILE`: the real desk driven by a file of keys, with no
/// terminal. One key per line in keymap notation, plus `:size WxH`, `:dump PATH`, `:wait-idle`,
/// `:type TEXT` (types each character of TEXT) and `:quit`; a lone `:` is the key. `#` lines are
/// comments.
public struct ScriptRunner {
    public let desk: Desk
    /// The screen as drawn. The first draw waits until the screen is looked at, a key comes or
    /// the size is set — a script that begins with `:size` draws once, not at two sizes.
    public var grid: CellGrid {
        mutating get {
            drawIfPending()
            return screen
        }
        set { screen = newValue }
    }
    var screen: CellGrid
    var pendingDraw = true
    /// Where relative `:dump` paths go.
    public var baseDirectory: String

    public init(desk: Desk, width: Int = 100, height: Int = 30, baseDirectory: String = ".") {
        self.desk = desk
        desk.width = width
        desk.height = height
        screen = CellGrid(width: width, height: height)
        self.baseDirectory = baseDirectory
    }

    mutating func drawIfPending() {
        if pendingDraw { draw() }
    }

    mutating func draw() {
        DeskView.draw(desk, into: &screen)
        pendingDraw = false
    }

    public mutating func run(script text: String, file: String) throws {
        var lineNo = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            guard try perform(String(raw), file: file, line: lineNo) else { return }
        }
    }

    /// One line of a script: a key in keymap notation, a `:` command, or a `#` comment. The one
    /// reading of the language, for `review --script` and for the test harness (whose own `@` lines
    /// set up what a script cannot: the job, other writers, expectations). False: `:quit` or the
    /// desk quit.
    public mutating func perform(_ raw: String, file: String, line lineNo: Int) throws -> Bool {
        var line = raw
        if line.hasSuffix("\r") { line.removeLast() }
        if line.isEmpty || line.hasPrefix("#") { return true }
        func fail(_ m: String) -> DubdeckError {
            DubdeckError(.usage, "\(Sanitizer.display(file)):\(lineNo): \(m)")
        }
        // `:word` is a command; a lone `:` (or `:` before anything but a letter) is the key itself.
        if line.hasPrefix(":"), line.unicodeScalars.dropFirst().first.map({ ("a"..."z").contains($0) }) == true {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            let arg = parts.count > 1 ? parts[1] : ""
            switch parts[0] {
            case ":size":
                let wh = arg.split(separator: "x").compactMap { Int($0) }
                guard wh.count == 2, wh[0] > 0, wh[1] > 0, wh[0] <= 1000, wh[1] <= 1000 else { throw fail("expected :size WxH") }
                resize(width: wh[0], height: wh[1])
            case ":dump":
                guard !arg.isEmpty else { throw fail("expected :dump PATH") }
                let path = arg.hasPrefix("/") ? arg : baseDirectory + "/" + arg
                do {
                    try FileIO.writeAtomically(path, Array(grid.text().utf8))
                } catch let e as DubdeckError {
                    throw DubdeckError(.cannotCreate, e.message)
                }
            case ":wait-idle":
                waitIdle()
            case ":type":
                // As a paste reaches the desk: every key handled, then one frame (DeskApp's loop).
                drawIfPending()
                var redraw = Redraw.nothing
                for ch in arg { redraw = max(redraw, desk.handle(key: ch == " " ? "<Space>" : ch == "<" ? "<lt>" : String(ch))) }
                if redraw != .nothing { pendingDraw = true }
            case ":quit":
                return false
            default:
                throw fail("unknown command \(Sanitizer.display(parts[0])) (:size, :dump, :wait-idle, :type, :quit)")
            }
            return true
        }
        guard let key = KeyNotation.canonical(line) else { throw fail("bad key '\(Sanitizer.display(line))'") }
        self.key(key)
        return !desk.quitRequested
    }

    public mutating func key(_ key: String) {
        drawIfPending()  // a key is handled on the layout the screen shows
        let redraw = desk.handle(key: key)
        if redraw != .nothing { draw() }
    }

    public mutating func resize(width: Int, height: Int) {
        desk.width = width
        desk.height = height
        desk.keepCursorVisible()
        screen.resize(width: width, height: height)
        draw()
    }

    /// Runs background duties until none is left (pending changes are retried for up to 5 s).
    public mutating func waitIdle() {
        drawIfPending()
        let deadline = Clock.monotonic() + 5
        repeat {
            if desk.tick(now: Clock.monotonic() + 1) != .nothing { draw() }
            if desk.isIdle { break }
            usleepSeconds(0.02)
        } while Clock.monotonic() < deadline
        draw()
    }
}

#if canImport(Glibc)
import Glibc
#endif
func usleepSeconds(_ s: Double) { usleep(useconds_t(s * 1_000_000)) }
