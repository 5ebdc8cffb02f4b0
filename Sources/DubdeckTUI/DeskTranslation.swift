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
            // A line predicted to run past its slot asks for shorter ones (max_chars, Translation.request).
            let request = try Translation.request(store, n, srcLang: src)
            retranslation.ask(n, request, slot: store.segment(n).duration, predictor: forecast.predictor, spoken: SpokenLength.input(store, n))
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
        case .success(let proposals):
            guard case .list = mode, selectedSegment?.number == n else {
                setMessage("line \(n)'s translation came after you left it: R asks again")
                return .status
            }
            let now = store.state(n).text, slot = store.segment(n).duration
            let fresh = proposals.filter { $0.text != now }
            guard let first = fresh.first else { setMessage("line \(n): the engine proposes the text it has"); return .status }
            setMessage("")
            // Each with its predicted fit, the best fit first (Translation.ranked), the words
            // it changes in the present text marked.
            let choices = fresh.map { p in
                let fit = DeskView.pad(p.seconds.map { "~\(DeskView.format1($0)) s / \(DeskView.format1(slot)) s" } ?? "~… s", 16)
                return PickerScreen.Choice(value: p.text, runs: [DeskView.TextRun(text: fit, changed: false)] + DeskView.changedRuns(p.text, against: now))
            }
            mode = .picker(PickerScreen(purpose: .retranslation(n, against: now),
                                        title: "line \(n) re-translated (\(retranslation.engineName ?? "apertium")) · now: \(now)",
                                        choices: choices, selected: first.text))
            return .all
        }
    }
}
