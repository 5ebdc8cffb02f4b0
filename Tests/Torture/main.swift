// dubdeck-torture: a child for the crash-consistency tests, killed with SIGKILL at random moments.
//   dubdeck-torture JOB START          edits and approvals as fast as it can, each a durable commit;
//                                      after each one "saved <i> <segment>" on stdout
//   dubdeck-torture JOB START mixed    edits, approvals, locks, syntheses, undo, redo, take choices
import DubdeckCore
#if canImport(Glibc)
import Glibc
#endif

let args = CommandLine.arguments
guard args.count >= 3, let start = Int(args[2]) else {
    Console.err("usage: dubdeck-torture JOB START [mixed]\n")
    exit(64)
}
let mixed = args.count > 3 && args[3] == "mixed"
do {
    let store = try TranscriptStore(job: try JobLoader.load(args[1]), by: "torture")
    let count = store.job.segments.count
    let synth = mixed ? SegmentSynthesizer(store: store, engine: try EspeakEngine()) : nil
    var i = start
    while true {
        let n = i % count + 1
        if let synth {
            do {
                switch i % 7 {
                case 0, 3: try store.commit([.edit(n, text: "v\(i)")])
                case 1: try synth.synthesize(n)
                case 2: try UndoRedo.run(.undo, store: store)
                case 4: try UndoRedo.run(.redo, store: store)
                case 5: try TakeChoice.choose(store, n, 2)
                default: try store.commit([.lock(n, !store.state(n).locked, by: "torture")])
                }
            } catch let e as DubdeckError where e.status == .usage || e.status == .conflict || e.status == .noInput {
                // nothing to undo, a locked line, no second take: refusals, not failures
            }
            try store.reloadIfChanged()
        } else {
            try store.commit(i % 5 == 4 ? [.approve(n, !store.state(n).approved)] : [.edit(n, text: "v\(i)")])
        }
        Console.out("saved \(i) \(n)\n")
        i += 1
    }
} catch {
    Console.err("torture: \(error)\n")
    exit(1)
}
