import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore
@testable import DubdeckTUI

final class DeskCharactersTests: XCTestCase {
    var dir: TempDir!
    var saved: String?

    override func setUp() {
        dir = TempDir()
        saved = Environment.get("DUBDECK_STORE_KEY")
        setenv("DUBDECK_STORE_KEY", Base64.encode([UInt8](repeating: 4, count: 32)), 1)
    }

    /// The demo job, identified into a fresh character store; returns the store's path.
    func identifiedDemo() throws -> String {
        try DemoJob.write(to: dir.file("ep01"))
        let storePath = dir.file("data/characters.json")
        _ = try CharacterIdentifier.identify(job: try JobLoader.load(dir.file("ep01")), store: try CharacterStore.open(storePath),
                                             threshold: 0.7, force: false)
        return storePath
    }

    override func tearDown() {
        if let saved { setenv("DUBDECK_STORE_KEY", saved, 1) } else { unsetenv("DUBDECK_STORE_KEY") }
    }

    func testNamesCharactersScreenRenameAndReference() throws {
        let storePath = try identifiedDemo()
        let s = try CharacterStore.open(storePath)
        try s.update { try $0.rename("SPEAKER_01", to: "Hana") }
        let store = try TranscriptStore(job: try JobLoader.load(dir.file("ep01")), by: "t")
        var r = ScriptRunner(desk: Desk(store: store, keymap: .builtIn(), characterStorePath: storePath), width: 100, height: 30)
        r.waitIdle()  // the names load in the background
        XCTAssertTrue(r.grid.rowText(2).contains("Hana"), r.grid.rowText(2))
        XCTAssertTrue(r.grid.text().contains("label SPEAKER_00 → Hana (character 01)"), r.grid.text())
        XCTAssertNil(r.desk.cast?.characters.first { !$0.embeddingAvg.isEmpty }, "the desk holds no embeddings")
        r.key("j")
        r.key("C")
        XCTAssertEqual(r.desk.mode.kind, .characters)
        XCTAssertTrue(r.grid.text().contains("series: dubdeck_demo_s01"))
        r.key("j")
        r.key("R")
        for ch in "Kenta" { r.key(String(ch)) }
        r.key("<Enter>")
        XCTAssertTrue(r.desk.message.contains("saving"), "the store is written off this thread: \(r.desk.message)")
        r.waitIdle()
        XCTAssertEqual(try CharacterStore.open(storePath).character("SPEAKER_02")?.name, "Kenta")
        XCTAssertTrue(r.grid.text().contains("Kenta"))
        r.key("u")  // line 2's original audio becomes Kenta's reference
        r.waitIdle()
        let ref = try CharacterStore.open(storePath).character("SPEAKER_02")!.speakerWavs.first!
        XCTAssertTrue(ref.hasSuffix("voices/SPEAKER_02/ref.wav"))
        XCTAssertEqual(try AudioFile.read(ref).duration, store.job.segments[1].duration, accuracy: 0.01)
        r.key("<Tab>")
        XCTAssertTrue(r.grid.text().contains("series: all"))
        r.key("q")
        XCTAssertEqual(r.desk.mode.kind, .list)
        XCTAssertTrue(r.grid.text().contains("Kenta"), "names in the list follow the rename")
    }

    /// The same desk on a PostgreSQL store: names read from the database, a rename written to it, and
    /// a rename made elsewhere shown after the background poll notices the rows' versions moved.
    func testTheDeskOnAPostgreSQLStore() throws {
        let pg = try PostgresCluster()
        defer { pg.remove() }
        let url = pg.database("desk")
        try DemoJob.write(to: dir.file("ep01"))
        _ = try CharacterIdentifier.identify(job: try JobLoader.load(dir.file("ep01")), store: try CharacterStore.open(url), threshold: 0.7, force: false)
        try CharacterStore.open(url).update { try $0.rename("SPEAKER_01", to: "Hana") }
        let store = try TranscriptStore(job: try JobLoader.load(dir.file("ep01")), by: "t")
        var r = ScriptRunner(desk: Desk(store: store, keymap: .builtIn(), characterStorePath: url), width: 100, height: 30)
        r.waitIdle()
        XCTAssertTrue(r.grid.rowText(2).contains("Hana"), r.grid.rowText(2))
        r.key("j")
        r.key("C")
        r.key("j")
        r.key("R")
        for ch in "Kenta" { r.key(String(ch)) }
        r.key("<Enter>")
        r.waitIdle()
        XCTAssertEqual(try CharacterStore.open(url).character("SPEAKER_02")?.name, "Kenta")
        r.key("q")
        try CharacterStore.open(url).update { try $0.rename("SPEAKER_01", to: "Mio") }
        let deadline = Clock.monotonic() + 10
        while !r.grid.text().contains("Mio") && Clock.monotonic() < deadline {
            r.waitIdle()
            usleep(200_000)
        }
        XCTAssertTrue(r.grid.rowText(2).contains("Mio"), "a rename made elsewhere shows: \(r.grid.rowText(2))")
    }

    func testChangedVoiceMakesTheTakeStale() throws {
        let storePath = try identifiedDemo()
        let store = try TranscriptStore(job: try JobLoader.load(dir.file("ep01")), by: "t")
        let cast = try CharacterStore.open(storePath, withEmbeddings: false)
        let synth = SegmentSynthesizer(store: store, engine: try EspeakEngine())
        synth.characterVoices = cast.voices()
        try synth.synthesize(1)
        XCTAssertEqual(store.entry(1)["last_preview"]?.objectValue?["voice"], cast.character("SPEAKER_01")?.voice?.json, "the character's persisted voice")
        let desk = Desk(store: store, keymap: .builtIn(), characterStorePath: storePath)
        var r = ScriptRunner(desk: desk)
        r.waitIdle()
        XCTAssertEqual(desk.store.state(1).audioStatus, "fresh")
        let full = try CharacterStore.open(storePath)
        try full.update { $0.modify("SPEAKER_01") { $0.voice = Voice(variant: "Annie", pitch: 40, rate: 160) } }
        desk.startLoadingCast()  // what the poll does when the file changed
        r.waitIdle()
        XCTAssertEqual(desk.store.state(1).audioStatus, "stale", "a take made with another voice is stale")
    }

    /// "use line audio" takes the LINE's character whatever row is selected; an empty name is
    /// refused; a merge asks first.
    func testLineAudioNamesAndMergeConfirmation() throws {
        let storePath = try identifiedDemo()
        let store = try TranscriptStore(job: try JobLoader.load(dir.file("ep01")), by: "t")
        var r = ScriptRunner(desk: Desk(store: store, keymap: .builtIn(), characterStorePath: storePath), width: 100, height: 30)
        r.waitIdle()
        let lineCharacter = store.job.characterID(of: store.job.segments[0])!
        r.key("C")
        // Select a character that is not line 1's.
        while r.desk.selectedCharacter?.id == lineCharacter { r.key("j") }
        let other = r.desk.selectedCharacter!.id
        r.key("u")
        r.waitIdle()
        let cast = try CharacterStore.open(storePath)
        XCTAssertEqual(cast.character(lineCharacter)?.speakerWavs.first?.hasSuffix("voices/\(lineCharacter)/ref.wav"), true)
        XCTAssertTrue(cast.character(other)?.speakerWavs.isEmpty ?? false, "the selected row's character was left alone")
        XCTAssertTrue(r.desk.message.contains(lineCharacter) || r.desk.message.contains(cast.character(lineCharacter)!.displayName), r.desk.message)
        // An empty name is refused and the prompt stays.
        r.key("R")
        r.key("<C-u>")
        r.key("<Enter>")
        XCTAssertTrue(r.desk.message.contains("cannot be empty"), r.desk.message)
        XCTAssertNotNil(r.desk.statusPrompt, "the prompt stays open")
        r.key("<Esc>")
        // A merge names its target, then asks; anything but y keeps both.
        r.key("m")
        for ch in lineCharacter { r.key(String(ch)) }
        r.key("<Enter>")
        XCTAssertTrue(r.desk.message.contains("merge \(other) into \(lineCharacter)"), r.desk.message)
        r.key("n")
        r.key("<Enter>")
        XCTAssertNil(try CharacterStore.open(storePath).character(other)?.mergedInto, "not merged")
        r.key("m")
        for ch in lineCharacter { r.key(String(ch)) }
        r.key("<Enter>")
        r.key("y")
        r.key("<Enter>")
        r.waitIdle()
        XCTAssertEqual(try CharacterStore.open(storePath).character(other)?.mergedInto, lineCharacter)
        let merged = try CharacterStore.open(storePath).character(lineCharacter)!
        // The merge is undoable: both characters as they were before.
        r.key("U")
        r.waitIdle()
        XCTAssertTrue(r.desk.message.contains("is a character again"), r.desk.message)
        let after = try CharacterStore.open(storePath)
        XCTAssertNil(after.character(other)?.mergedInto)
        XCTAssertNotEqual(after.character(lineCharacter)!.embeddingCount, merged.embeddingCount, "the target's merged data is gone")
        XCTAssertEqual(Set(after.active.map { $0.id }).contains(other), true)
        r.key("U")
        XCTAssertTrue(r.desk.message.contains("no merge to undo"), r.desk.message)
    }
}

/// The desk's `I`: the closest voices for the selected line, and Enter moves the line there.
final class DeskSuggestTests: XCTestCase {
    func testSuggestionsPickerMovesTheLineToTheLabelPicked() throws {
        let dir = TempDir()
        let saved = Environment.get("DUBDECK_STORE_KEY")
        setenv("DUBDECK_STORE_KEY", Base64.encode([UInt8](repeating: 3, count: 32)), 1)
        defer { if let saved { setenv("DUBDECK_STORE_KEY", saved, 1) } else { unsetenv("DUBDECK_STORE_KEY") } }
        let job = Fixtures.twoVoiceJob(in: dir)
        let castPath = dir.file("data/characters.json")
        _ = try CharacterIdentifier.identify(job: try JobLoader.load(job), store: try CharacterStore.open(castPath), threshold: 0.7, force: false)
        let store = try TranscriptStore(job: try JobLoader.load(job), by: "t")
        var r = ScriptRunner(desk: Desk(store: store, keymap: .builtIn(), characterStorePath: castPath), width: 100, height: 30)
        r.waitIdle()
        r.key("I")
        r.waitIdle()  // the voices are compared off this thread
        guard case .picker(let picker) = r.desk.mode else { return XCTFail("no picker: \(r.desk.message)") }
        XCTAssertEqual(picker.choices.first?.value, "SPEAKER_00", "line 1's own voice first")
        XCTAssertEqual(picker.choices.count, 2)
        r.key("j")
        r.key("<Enter>")
        XCTAssertEqual(r.desk.mode.kind, .list)
        XCTAssertEqual(try TranscriptStore(job: try JobLoader.load(job), by: "t").segment(1).speaker, "SPEAKER_01", "moved, on disk")
        r.key("u")
        XCTAssertEqual(try TranscriptStore(job: try JobLoader.load(job), by: "t").segment(1).speaker, "SPEAKER_00", "undone")
    }
}
