#if canImport(Glibc)
import Glibc
#endif

/// The canonical reference recording of a character: a normalized copy under
/// `<store dir>/voices/<ID>/ref.wav`, first in `speaker_wavs`.
public enum ReferenceVoice {
    public static func path(store: CharacterStore, id: String) -> String {
        store.directory + "/voices/" + id + "/ref.wav"
    }

    /// Mono, peak-normalized to −1 dBFS, 16-bit WAV at the audio's own rate.
    public static func normalized(_ audio: AudioBuffer) -> AudioBuffer {
        var mono = audio.mono()
        let peak = mono.peak
        if peak > 0 {
            let gain = Float(pow(10, -1.0 / 20)) / peak
            mono.samples = mono.samples.map { $0 * gain }
        }
        return mono
    }

    /// Stores `audio` as the character's reference (call inside `CharacterStore.update`).
    public static func set(_ audio: AudioBuffer, for id: String, in store: CharacterStore) throws {
        guard let c = store.resolve(id) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(id))") }
        try SafeName.check(c.id, file: store.path, field: "character ID")  // it becomes a directory name
        let target = path(store: store, id: c.id)
        try FileIO.ensureDirectory(store.directory + "/voices")
        try FileIO.ensureDirectory(FileIO.directory(of: target))
        try AudioFile.writeWAV16Atomically(normalized(audio), to: target)
        store.modify(c.id) { r in
            r.speakerWavs.removeAll { $0 == target }
            r.speakerWavs.insert(target, at: 0)
        }
    }
}
