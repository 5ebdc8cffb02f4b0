import XCTest
import TestSupport
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

    override func tearDown() {
        if let saved { setenv("DUBDECK_STORE_KEY", saved, 1) } else { unsetenv("DUBDECK_STORE_KEY") }
    }

    func testNamesCharactersScreenRenameAndReference() throws {
        try DemoJob.write(to: dir.file("ep01"))
        let storePath = dir.file("data/characters.json")
        _ = try CharacterIdentifier.identify(job: try JobLoader.load(dir.file("ep01")), store: try CharacterStore.open(storePath),
                                             threshold: 0.7, force: false)
        let s = try CharacterStore.open(storePath)
        try s.update { try $0.rename("SPEAKER_01", to: "Hana") }
        let store = try TranscriptStore(job: try JobLoader.load(dir.file("ep01")), by: "t")
        var r = ScriptRunner(desk: Desk(store: store, keymap: .builtIn(), characterStorePath: storePath), width: 100, height: 30)
        r.waitIdle()  // the names load in the background
        XCTAssertTrue(r.grid.rowText(2).contains("Hana"), r.grid.rowText(2))
        XCTAssertTrue(r.grid.text().contains("Hana (SPEAKER_01) [SPEAKER_00]"))
        XCTAssertNil(r.desk.cast?.characters.first { !$0.embeddingAvg.isEmpty }, "the desk holds no embeddings")
        r.key("j")
        r.key("C")
        XCTAssertEqual(r.desk.mode, .characters)
        XCTAssertTrue(r.grid.text().contains("series: dubdeck_demo_s01"))
        r.key("j")
        r.key("R")
        for ch in "Kenta" { r.key(String(ch)) }
        r.key("<Enter>")
        XCTAssertEqual(try CharacterStore.open(storePath).character("SPEAKER_02")?.name, "Kenta")
        XCTAssertTrue(r.grid.text().contains("Kenta"))
        r.key("u")  // line 2's original audio becomes Kenta's reference
        let ref = try CharacterStore.open(storePath).character("SPEAKER_02")!.speakerWavs.first!
        XCTAssertTrue(ref.hasSuffix("voices/SPEAKER_02/ref.wav"))
        XCTAssertEqual(try AudioFile.read(ref).duration, store.job.segments[1].duration, accuracy: 0.01)
        r.key("<Tab>")
        XCTAssertTrue(r.grid.text().contains("series: all"))
        r.key("q")
        XCTAssertEqual(r.desk.mode, .list)
        XCTAssertTrue(r.grid.text().contains("Kenta"), "names in the list follow the rename")
    }

    func testChangedVoiceMakesTheTakeStale() throws {
        try DemoJob.write(to: dir.file("ep01"))
        let storePath = dir.file("data/characters.json")
        _ = try CharacterIdentifier.identify(job: try JobLoader.load(dir.file("ep01")), store: try CharacterStore.open(storePath),
                                             threshold: 0.7, force: false)
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
        desk.loadCast()
        XCTAssertEqual(desk.store.state(1).audioStatus, "stale", "a take made with another voice is stale")
    }
}
