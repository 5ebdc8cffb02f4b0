import Dispatch
import DubdeckCore
import Synchronization

/// How long the lines on screen, and the text being typed, will be spoken (SPEC §11.9): predicted
/// in the background (espeak-ng counting, a few milliseconds a line) and recorded in the store
/// between keys, where each line's state shows the prediction made for its text and voice. A
/// keypress never waits for one. A model the desk owns.
final class Forecast {
    /// nil when espeak-ng cannot be loaded: the desk shows no prediction.
    let predictor: (any SpeechLengthPredicting)?
    /// Predictions made, by line (the store is replaced when the map changes underneath: they are
    /// recorded again from here, not predicted again).
    var known: [Int: SpokenPrediction] = [:]
    /// The editor's text, predicted for the line being edited.
    var editor: (n: Int, prediction: SpokenPrediction)?
    /// Texts espeak-ng could not speak (language or voice it lacks), by text and voice: not asked again.
    var unpredictable = Swift.Set<String>()
    let work = ForecastWork()
    /// Where the background pass over the whole job is (every line is predicted, the screen's first).
    var backlogCursor = 0

    /// Up to `count` lines not predicted yet, from where the last call stopped (none while work runs:
    /// the screen's lines and the editor go first).
    func backlog(_ store: TranscriptStore, count: Int = 32) -> [Int] {
        guard predictor != nil, !work.busy else { return [] }
        var lines: [Int] = []
        let total = store.states.count
        var looked = 0
        while lines.count < count, looked < min(total, 512) {
            let n = backlogCursor % total + 1
            backlogCursor = (backlogCursor + 1) % total
            looked += 1
            let st = store.state(n)
            if st.predictedS == nil, !unpredictable.contains(Forecast.key(st.text, store.voice(n))) { lines.append(n) }
        }
        return lines
    }

    init(predictor: (any SpeechLengthPredicting)?) { self.predictor = predictor }

    var busy: Bool { work.busy }

    /// Asks for what `lines` and the editor's text need and has not got; records what is known.
    func want(_ lines: [Int], editing: (n: Int, text: String)?, store: TranscriptStore) {
        guard let predictor else { return }
        var inputs: [SpokenLength.Input] = []
        for n in lines where n >= 1 && n <= store.states.count {
            let st = store.state(n)
            if st.predictedS != nil { continue }
            let voice = store.voice(n)
            if let k = known[n], k.text == st.text, k.voice == voice {
                store.recordPrediction(n, k)
                continue
            }
            if unpredictable.contains(Forecast.key(st.text, voice)) { continue }
            inputs.append(SpokenLength.input(store, n))
        }
        if let (n, text) = editing, n >= 1, n <= store.states.count,
           editor.map({ $0.n != n || $0.prediction.text != text || $0.prediction.voice != store.voice(n) }) ?? true,
           !unpredictable.contains(Forecast.key(text, store.voice(n))) {
            var input = SpokenLength.input(store, n, text: text)
            input.n = -n  // the editor's: negative, apart from the line's own
            inputs.append(input)
        }
        work.ask(inputs, predictor)
    }

    /// The predictions that arrived, recorded; `.all` when one is shown now.
    func takeIn(store: TranscriptStore) -> Redraw {
        var redraw = Redraw.nothing
        for (input, prediction) in work.takeFinished() {
            let n = input.n
            guard let p = prediction else {
                unpredictable.insert(Forecast.key(input.text, input.voice))
                continue
            }
            if n < 0 {
                editor = (-n, p)
                redraw = .all
            } else if n <= store.states.count {
                known[n] = p
                if store.state(n).text == p.text, store.voice(n) == p.voice {
                    store.recordPrediction(n, p)
                    redraw = .all
                }
            }
        }
        return redraw
    }

    static func key(_ text: String, _ voice: Voice) -> String { "\(voice.variant)\u{1}\(voice.pitch)\u{1}\(voice.rate)\u{1}\(text)" }

    /// The editor's prediction when it was made for this text of line n.
    func editorPrediction(_ n: Int, _ text: String) -> SpokenPrediction? {
        guard let e = editor, e.n == n, e.prediction.text == text else { return nil }
        return e.prediction
    }
}

/// The queue predictions run on, the inputs asked for (each once at a time) and the results to take
/// in. Sendable: its state is in a Mutex.
final class ForecastWork: Sendable {
    struct State {
        /// Inputs waiting or running, by line (the editor's negative): a newer text replaces a waiting one.
        var wanted: [Int: SpokenLength.Input] = [:]
        var running = false
        var finished: [(SpokenLength.Input, SpokenPrediction?)] = []
    }
    let state = Mutex(State())
    private let queue = DispatchQueue(label: "dubdeck.forecast")

    var busy: Bool { state.withLock { $0.running || !$0.wanted.isEmpty || !$0.finished.isEmpty } }

    func ask(_ inputs: [SpokenLength.Input], _ predictor: any SpeechLengthPredicting) {
        guard !inputs.isEmpty else { return }
        let start = state.withLock { s -> Bool in
            for i in inputs { s.wanted[i.n] = i }
            if s.running { return false }
            s.running = true
            return true
        }
        if start { queue.async { [self] in drain(predictor) } }
    }

    /// Predicts what is wanted, the editor's text first, until nothing is.
    private func drain(_ predictor: any SpeechLengthPredicting) {
        while true {
            let next = state.withLock { s -> SpokenLength.Input? in
                guard let key = s.wanted.keys.min() else {
                    s.running = false
                    return nil
                }
                return s.wanted.removeValue(forKey: key)
            }
            guard let input = next else { return }
            let p = predictor.predict(input)
            state.withLock { $0.finished.append((input, p)) }
        }
    }

    func takeFinished() -> [(SpokenLength.Input, SpokenPrediction?)] {
        state.withLock { s in
            defer { s.finished = [] }
            return s.finished
        }
    }
}
