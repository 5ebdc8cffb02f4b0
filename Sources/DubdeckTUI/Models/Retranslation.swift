import Dispatch
import DubdeckCore
import Synchronization

/// Re-translation from the desk (SPEC §11.11): the engine is asked on a queue of its own — the desk
/// never waits for it — and its answer is handed over between keys. A model the desk owns.
final class Retranslation: Sendable {
    /// The engine's name (`--mt-engine`; nil: apertium) and the command engine's argv.
    let engineName: String?
    let command: [String]
    /// The source language when job.json has none.
    let srcLang: String?
    struct State {
        /// The line asked for (nil: nothing asked) and, once answered, its proposal or error.
        var asked: Int?
        var answer: (line: Int, result: Result<[Translation.Alternative], Error>)?
        /// The engine, made on first use and kept (a server runs for the desk's life).
        var engine: (any TranslationEngine)?
    }
    let state = Mutex(State())
    private let queue = DispatchQueue(label: "dubdeck.retranslation")

    init(engineName: String?, command: [String], srcLang: String?) {
        self.engineName = engineName
        self.command = command
        self.srcLang = srcLang
    }

    /// True while a line is being translated or its answer waits to be taken in.
    var busy: Bool { state.withLock { $0.asked != nil || $0.answer != nil } }

    /// Asks for line `n` of `request` (made here from the desk's store; the engine found on the
    /// queue); each answer's length predicted from `spoken` (the line's voice, its text replaced)
    /// and the answers ranked by their fit to `slot` seconds (Translation.ranked).
    func ask(_ n: Int, _ request: TranslationRequest, slot: Double, predictor: (any SpeechLengthPredicting)?, spoken: SpokenLength.Input) {
        state.withLock { $0.asked = n; $0.answer = nil }
        let (name, command) = (engineName, command)
        queue.async { [self] in
            let result = Result { () throws -> [Translation.Alternative] in
                let engine = try state.withLock { $0.engine } ?? Translation.engine(name, command: command, srcLang: request.srcLang, tgtLang: request.tgtLang)
                state.withLock { $0.engine = engine }
                return Translation.ranked(Translation.measured(try engine.translate(request), predictor: predictor, spoken: spoken), slot: slot)
            }
            state.withLock { s in
                s.answer = (n, result)
                s.asked = nil
            }
        }
    }

    /// The answer that came since the last tick, once.
    func takeAnswer() -> (line: Int, result: Result<[Translation.Alternative], Error>)? {
        state.withLock { s in
            defer { s.answer = nil }
            return s.answer
        }
    }
}
