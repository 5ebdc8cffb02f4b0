import DubdeckCore

/// Re-translating one line from the desk (SPEC §11.11): `R` asks the engine in the background, the
/// proposal opens as a one-choice picker beside the line's current text; Enter takes it (one
/// `retranslate` record, the needs_retranslate flag cleared, undoable), Esc leaves it.
extension Desk {
    func askRetranslation() -> Redraw {
        guard let seg = selectedSegment else { return .nothing }
        if let reason = store.readOnlyReason { setMessage("read-only: \(reason)", .error); return .status }
        let n = seg.number
        if store.state(n).locked { setMessage("line \(n) is locked: unlock it first to re-translate it", .warning); return .status }
        guard !retranslation.busy else { setMessage("a line is being translated already", .warning); return .status }
        guard let src = retranslation.srcLang ?? job.info.srcLang else {
            setMessage("no source language: src_lang in job.json, or review --src-lang", .error)
            return .status
        }
        do {
            retranslation.ask(n, try Translation.request(store, n, srcLang: src))
        } catch {
            setMessage(Desk.text(of: error), .error)
            return .status
        }
        setMessage("translating line \(n) (\(retranslation.engineName ?? "apertium"))…")
        return .status
    }

    /// The engine's answer, when it came: the picker if the list still shows that line.
    func takeInRetranslation() -> Redraw {
        guard let (n, result) = retranslation.takeAnswer() else { return .nothing }
        switch result {
        case .failure(let e):
            setMessage(Desk.text(of: e), .error)
            return .status
        case .success(let proposed):
            guard case .list = mode, selectedSegment?.number == n else {
                setMessage("line \(n)'s translation came after you left it: R asks again")
                return .status
            }
            let now = store.state(n).text
            guard proposed != now else { setMessage("line \(n): the engine proposes the text it has"); return .status }
            setMessage("")
            mode = .picker(PickerScreen(purpose: .retranslation(n),
                                        title: "line \(n) re-translated (\(retranslation.engineName ?? "apertium")) · now: \(now)",
                                        choices: [.init(value: proposed, text: proposed)], selected: proposed))
            return .all
        }
    }

    func takeRetranslation(_ n: Int, _ text: String) -> Redraw {
        change(Translation.change(n, text))
    }
}
