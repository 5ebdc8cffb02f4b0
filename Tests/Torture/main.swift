// dubdeck-torture: a child for the crash-consistency test. It edits lines of a job as fast as it
// can, each edit a durable commit, and after each one writes "saved <i> <segment>" to stdout. The
// test kills it with SIGKILL at random moments and checks the job on disk.
import DubdeckCore
#if canImport(Glibc)
import Glibc
#endif

setvbuf(stdout, nil, _IONBF, 0)
let args = CommandLine.arguments
guard args.count >= 3, let start = Int(args[2]) else {
    fputs("usage: dubdeck-torture JOB START\n", stderr)
    exit(64)
}
do {
    let store = try TranscriptStore(job: try JobLoader.load(args[1]), by: "torture")
    let count = store.job.segments.count
    var i = start
    while true {
        let n = i % count + 1
        try store.commit(i % 5 == 4 ? [.approve(n, !store.state(n).approved)] : [.edit(n, text: "v\(i)")])
        print("saved \(i) \(n)")
        i += 1
    }
} catch {
    fputs("torture: \(error)\n", stderr)
    exit(1)
}
