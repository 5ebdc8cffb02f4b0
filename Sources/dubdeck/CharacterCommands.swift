import ArgumentParser
import DubdeckCore
#if canImport(Glibc)
import Glibc
#endif

struct Characters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "characters",
        abstract: "The character voice memory: who is who across the episodes of a series.",
        subcommands: [CharList.self, CharShow.self, CharRename.self, CharVoice.self, CharMerge.self, CharUnmerge.self, CharIdentify.self, CharAssign.self, CharSuggest.self, CharReconcile.self, CharMigrate.self, CharEmbed.self, CharImportLegacy.self])
}

struct StoreOption: ParsableArguments {
    @Option(help: "Character store (else DUBDECK_STORE, else data/characters.json).") var store: String?
    var path: String { CharacterStore.defaultPath(store) }

    func validate() throws { try checkStore(store) }

    /// One change to an existing store (66 when there is none yet); returns the store as saved.
    func updateExisting(_ change: (CharacterStore) throws -> Void) throws -> CharacterStore {
        let s = try CharacterStore.open(path)
        guard s.exists else { throw DubdeckError(.noInput, "\(CharacterStore.shown(path)): no character store yet") }
        try s.update(change)
        return s
    }
}

/// A character as `characters list --json` shows it: never embeddings (biometric data).
func characterJSON(_ c: CharacterRecord, detail: Bool = false) -> JSONValue {
    var o = JSONObject([
        ("id", .string(c.id)), ("name", .string(c.name)),
        ("series", .object(JSONObject(c.series.map { s in
            (s.id, JSONValue.object(JSONObject([
                ("seen", .number(s.info.seen)), ("episodes", .array(s.info.episodes.map { .string($0) })),
                ("last_seen_at", s.info.lastSeenAt.map { .string($0) } ?? .null),
                ("last_episode", s.info.lastEpisode.map { .string($0) } ?? .null),
            ])))
        }))),
        ("speaker_wavs", .array(c.speakerWavs.map { .string($0) })), ("voice", c.voice?.json ?? .null),
        ("embedding_count", .number(c.embeddingCount)),
    ])
    if detail {
        o["merged_into"] = c.mergedInto.map { .string($0) } ?? .null
        o["notes"] = .string(c.notes)
        o["created_at"] = .string(c.createdAt)
        o["updated_at"] = .string(c.updatedAt)
        o["voice_estimate"] = c.voiceEstimate.map { e in
            .object(JSONObject([("f0_median_hz", .number((e.medianHz * 10).rounded() / 10)), ("f0_low_hz", .number((e.lowHz * 10).rounded() / 10)),
                                ("f0_high_hz", .number((e.highHz * 10).rounded() / 10)), ("voiced_s", .number((e.voicedSeconds * 100).rounded() / 100))]))
        } ?? .null
    }
    return .object(o)
}

struct CharList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Known characters (of one series, or all).")
    @Option(help: "Only characters seen in this series.") var series: String?
    @Flag(help: "One JSON document on stdout (no embeddings, ever).") var json = false
    @OptionGroup var store: StoreOption

    func run() throws {
        try guarded {
            let s = try CharacterStore.open(store.path, withEmbeddings: false)
            let shown = s.active.filter { series == nil || $0.seriesInfo(series!) != nil }
            if json { printJSON(.array(shown.map { characterJSON($0) })); return }
            var out = ""
            for c in shown {
                let seen = c.series.map { "\($0.id): \($0.info.seen) ep, last \($0.info.lastEpisode ?? "-")" }.joined(separator: "; ")
                let voice = c.voice.map { "\($0.variant) p\($0.pitch) r\($0.rate)" } ?? "-"
                out += "\(c.id)\t\(Sanitizer.display(c.displayName))\t\(Sanitizer.display(seen))\tvoice \(voice)\t\(c.speakerWavs.isEmpty ? "no reference" : "reference")\n"
            }
            if shown.isEmpty { out = s.exists ? "no characters\(series.map { " in \(Sanitizer.display($0))" } ?? "")\n" : "no character store yet (\(CharacterStore.shown(store.path)))\n" }
            printOut(out)
        }
    }
}

struct CharShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One character (an old, merged ID shows what it became).")
    @Argument var id: String
    @Flag(help: "One JSON document on stdout.") var json = false
    @OptionGroup var store: StoreOption

    func run() throws {
        try guarded {
            let s = try CharacterStore.open(store.path, withEmbeddings: false)
            guard let c = s.character(id) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(id))") }
            let target = s.resolve(id) ?? c
            // The matches that rest on poor audio (SPEC §11.13): heard under the quality identify trusts.
            let poor = s.poorlyHeard(target.id)
            if json {
                var doc = characterJSON(c.mergedInto == nil ? c : target, detail: true).merging(mergedFrom: c)
                if var o = doc.objectValue {
                    o["poor_audio"] = .array(poor.map { p in
                        .object(JSONObject([("series", .string(p.series)), ("episode", .string(p.observation.episode)), ("label", .string(p.observation.label)),
                                            ("quality", .number(((p.observation.quality ?? 0) * 100).rounded() / 100))]))
                    })
                    doc = .object(o)
                }
                printJSON(doc)
                return
            }
            var out = c.mergedInto != nil ? "\(c.id) was merged into \(target.id)\n" : ""
            out += "\(target.id)  \(Sanitizer.display(target.displayName))\n"
            for sr in target.series {
                out += "  \(Sanitizer.display(sr.id)): \(sr.info.seen) episodes (\(Sanitizer.display(sr.info.episodes.joined(separator: ", ")))), last \(Sanitizer.display(sr.info.lastEpisode ?? "-")) at \(sr.info.lastSeenAt ?? "-")\n"
            }
            if let v = target.voice {
                let register = Casting.register(of: v.variant).map { ", \($0) register" } ?? ""
                out += "  voice: \(v.engine) \(Sanitizer.display(v.variant)) pitch \(v.pitch) rate \(v.rate)\(register)\n"
            }
            out += "  original voice: \(target.voiceEstimate.map { "\($0.description) — the voice was cast in its register" } ?? "not measured (the voice comes from the ID)")\n"
            if let p = target.previousVoice { out += "  before the last re-cast: \(Sanitizer.display(p.voice.variant)) pitch \(p.voice.pitch) rate \(p.voice.rate) (characters voice \(target.id) --undo)\n" }
            out += "  references: \(target.speakerWavs.isEmpty ? "none" : Sanitizer.display(target.speakerWavs.joined(separator: ", ")))\n"
            out += "  embeddings averaged: \(target.embeddingCount)\n"
            if !poor.isEmpty {
                let listed = poor.suffix(5).map { p in
                    "\(Sanitizer.display(p.series)) \(Sanitizer.display(p.observation.episode)) \(Sanitizer.display(p.observation.label)) (quality \(JSONValue.formatNumber(((p.observation.quality ?? 0) * 100).rounded() / 100)))"
                }
                out += "  poor audio: \(poor.count) match\(poor.count == 1 ? " rests" : "es rest") on it, none moved the voice — \(listed.joined(separator: ", "))\(poor.count > 5 ? " (the last 5)" : "")\n"
            }
            printOut(out)
        }
    }
}

extension JSONValue {
    /// `show` of an old ID: the character it became, plus the ID that was asked for.
    func merging(mergedFrom c: CharacterRecord) -> JSONValue {
        guard var o = objectValue, c.mergedInto != nil else { return self }
        o["requested_id"] = .string(c.id)
        return .object(o)
    }
}

struct CharVoice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voice", abstract: "Re-cast a character: the espeak-ng voice it speaks with (undoable with --undo).",
        discussion: "VOICE is VARIANT[:PITCH[:RATE]] (e.g. f2:62): a variant espeak-ng has (\(Voice.variants.joined(separator: ", "))), pitch 0 … 100 (default: the present one), rate 80 … 450 words a minute. Its lines' takes go stale. --undo puts the voice before the last re-cast back, refused (75) when the character changed since.")
    @Argument var id: String
    @Argument var voice: String?
    @Flag(help: "Put the voice before the last re-cast back.") var undo = false
    @OptionGroup var store: StoreOption

    func validate() throws {
        try checkName(id, "ID")
        if undo == (voice != nil) { throw ValidationError("give VOICE or --undo (one of them)") }
        if let voice { _ = try CharVoice.parse(voice, current: nil) }
    }

    /// VARIANT[:PITCH[:RATE]], each part checked; missing parts from `current`.
    static func parse(_ text: String, current: Voice?) throws -> Voice {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), Voice.variants.contains(parts[0]) else {
            throw ValidationError("VOICE must be VARIANT[:PITCH[:RATE]] with a variant of: \(Voice.variants.joined(separator: ", "))")
        }
        var v = Voice(variant: parts[0], pitch: current?.pitch ?? 50, rate: current?.rate ?? 175)
        if parts.count > 1 {
            guard let p = Int(parts[1]), (0...100).contains(p) else { throw ValidationError("the pitch must be an integer from 0 to 100") }
            v.pitch = p
        }
        if parts.count > 2 {
            guard let r = Int(parts[2]), (80...450).contains(r) else { throw ValidationError("the rate must be an integer from 80 to 450") }
            v.rate = r
        }
        return v
    }

    func run() throws {
        try guarded {
            var said = ""
            let s = try store.updateExisting { s in
                guard let c = s.resolve(id) else { throw DubdeckError(.usage, "no character \(Sanitizer.display(id))") }
                if undo {
                    let v = try s.undoRecast(c.id)
                    said = "character \(CharacterRecord.number(of: c.id)) speaks with \(Sanitizer.display(v.variant)) pitch \(v.pitch) rate \(v.rate) again\n"
                } else {
                    let new = try CharVoice.parse(voice!, current: c.voice)
                    guard c.voice != new else {
                        said = "character \(CharacterRecord.number(of: c.id)) already speaks with \(new.variant) pitch \(new.pitch) rate \(new.rate): nothing changed\n"
                        return
                    }
                    let before = try s.recast(c.id, to: new)
                    said = "character \(CharacterRecord.number(of: c.id)) now speaks with \(new.variant) pitch \(new.pitch) rate \(new.rate)"
                        + (before.map { " (was \(Sanitizer.display($0.variant)) pitch \($0.pitch) rate \($0.rate); --undo puts it back)" } ?? "") + "\n"
                }
            }
            _ = s
            printOut(said)
        }
    }
}

struct CharRename: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Name a character.")
    @Argument var id: String
    @Argument var name: String
    @OptionGroup var store: StoreOption

    func run() throws {
        try guarded {
            let s = try store.updateExisting { try $0.rename(id, to: name) }
            printOut("character \(Sanitizer.display(CharacterRecord.number(of: s.resolve(id)?.id ?? id))) is now \(Sanitizer.display(name))\n")
        }
    }
}

struct CharMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Merge FROM into INTO (FROM stays as a tombstone, so old references resolve).")
    @Argument var from: String
    @Argument var into: String
    @OptionGroup var store: StoreOption

    func run() throws {
        try guarded {
            let s = try store.updateExisting { try $0.merge(from, into: into) }
            printOut("\(Sanitizer.display(from)) merged into \(Sanitizer.display(s.resolve(into)?.id ?? into))\n")
        }
    }
}

struct CharUnmerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmerge", abstract: "Undo a merge: FROM is a character again and INTO what it was (refused when INTO changed since).")
    @Argument var from: String
    @OptionGroup var store: StoreOption

    func run() throws {
        try guarded {
            _ = try store.updateExisting { try $0.unmerge(from) }
            printOut("\(Sanitizer.display(from)) is a character again\n")
        }
    }
}

struct CharIdentify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identify",
        abstract: "Assign the episode's diarization labels to characters; writes JOB/characters.map.json.",
        discussion: "Re-identifying an episode already recorded reuses its map, counts nothing twice and moves no average (unless --force).")
    @Argument var job: String
    @Option(help: "Series ID (else job.json's series_id).") var series: String?
    @Option(help: "Match threshold (cosine, default 0.70; updates need +0.10).") var threshold: Double = Matching.defaultThreshold
    @Flag(help: "Identify again even if the episode was identified before.") var force = false
    @Flag(name: .customLong("from-audio"), help: "Embed the labels' voices from the source audio even where diarization.json has embeddings (a store of audio embeddings: what suggest and the desk's I compare).") var fromAudio = false
    @OptionGroup var store: StoreOption

    func validate() throws {
        if !(threshold > 0 && threshold < 1) { throw ValidationError("--threshold must be between 0 and 1") }
    }

    func run() throws {
        try guarded {
            let j = try JobLoader.load(job, series: series)
            let s = try CharacterStore.open(store.path)
            let outcome = try CharacterIdentifier.identify(job: j, store: s, threshold: threshold, force: force, fromAudio: fromAudio)
            var out = outcome.reused ? "\(Sanitizer.display(outcome.episode)) was identified before: reusing characters.map.json (nothing counted)\n" : ""
            for a in outcome.assignments where !outcome.kept.contains(a.label) {
                // label → character: the two namespaces never look alike; a new character says its voice.
                var how = a.created ? "new" : "similarity \(a.similarity)"
                if a.created, let c = s.resolve(a.characterID), let v = c.voice {
                    how += c.voiceEstimate.map { ", voice \(Sanitizer.display(v.variant)) pitch \(v.pitch) cast from a \(Int($0.medianHz.rounded())) Hz median" }
                        ?? ", voice \(Sanitizer.display(v.variant)) pitch \(v.pitch) (no pitch measured)"
                }
                out += "label \(Sanitizer.display(a.label)) → \(characterWithNumber(s, a.characterID, how))\n"
            }
            for label in outcome.unheard where !outcome.reused {
                if let a = outcome.assignments.first(where: { $0.label == label }), outcome.kept.contains(label) {
                    let why = a.override ? "a reviewer's choice" : "heard in an earlier run"
                    out += "label \(Sanitizer.display(label)): no speech the voice detector finds in its spans — keeps \(characterWithNumber(s, a.characterID, why))\n"
                } else {
                    out += "label \(Sanitizer.display(label)): no speech the voice detector finds in its spans — no character\n"
                }
            }
            if let why = outcome.pitchProblem { printError("warning: \(Sanitizer.display(why))") }
            printOut(out + keyFileNote(s))
        }
    }
}

struct CharAssign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign",
        abstract: "Make this episode's diarization LABEL character ID (a reviewer's fix that re-identify keeps).",
        discussion: "Writes JOB/characters.map.json with \"override\": true for the label. The lines of that label are spoken with the character's voice from then on (their takes go stale). Assigning the previous character again undoes it.")
    @Argument(help: "The job directory.") var job: String
    @Argument(help: "A diarization label of the episode.") var label: String
    @Argument(help: "A character ID of the store.") var id: String
    @OptionGroup var store: StoreOption

    func validate() throws {
        try checkName(label, "LABEL")
        try checkName(id, "ID")
    }

    func run() throws {
        try guarded {
            let transcript = try openStore(job)
            let cast = try CharacterStore.open(store.path)
            guard cast.exists else { throw DubdeckError(.noInput, "\(CharacterStore.shown(store.path)): no character store yet") }
            let r = try CharacterIdentifier.assign(transcript, label: label, to: id, in: cast)
            let was = r.previous.map { "was \(characterAside(cast, $0.characterID))\($0.override ? ", assigned" : "")" } ?? "had no character"
            printOut("label \(Sanitizer.display(label)) → \(characterWithNumber(cast, r.characterID, was))\n")
        }
    }
}

struct CharReconcile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Look at a whole series at once: propose merges and splits of its characters (--apply carries them out).",
        discussion: """
            Clusters every (episode, label) identify recorded for the series, never two labels of one episode together, and \
            proposes where the clusters and the characters disagree, with the evidence. --apply makes the proposals not \
            rejected (or the numbered one, --only N) one undoable change of the store and re-writes the affected episodes' \
            characters.map.json; --undo puts the newest back. --reject N never proposes N again.
            """)
    @Option(help: "The series (required).") var series: String
    @Flag(help: "Carry the proposals out.") var apply = false
    @Option(help: "With --apply: only proposal N (as numbered in the listing).") var only: Int?
    @Option(help: "Reject proposal N (it is not proposed again).") var reject: Int?
    @Flag(help: "Undo the series' newest reconcile.") var undo = false
    @Flag(help: "One JSON document on stdout.") var json = false
    @OptionGroup var store: StoreOption

    func validate() throws {
        try checkName(series, "--series")
        if [apply, undo, reject != nil].filter({ $0 }).count > 1 { throw ValidationError("--apply, --undo and --reject exclude each other") }
        if only != nil && !apply { throw ValidationError("--only goes with --apply") }
        for n in [only, reject].compactMap({ $0 }) where n < 1 || n > 100_000 { throw ValidationError("a proposal number is 1 or more") }
    }

    func run() throws {
        try guarded {
            let cast = try CharacterStore.open(store.path)
            guard cast.exists else { throw DubdeckError(.noInput, "\(CharacterStore.shown(store.path)): no character store yet") }
            if undo {
                let (id, maps) = try Reconcile.undo(cast, series: series)
                printOut("undid reconcile \(Sanitizer.display(id)) (\(maps) map\(maps == 1 ? "" : "s") put back)\n")
                return
            }
            let analysis = Reconcile.propose(cast, series: series)
            func numbered(_ n: Int) throws -> ReconcileProposal {
                guard n <= analysis.proposals.count else {
                    throw DubdeckError(.usage, "no proposal \(n) (series \(Sanitizer.display(series)) has \(analysis.proposals.count))")
                }
                return analysis.proposals[n - 1]
            }
            if let n = reject {
                let p = try numbered(n)
                try Reconcile.reject(cast, series: series, key: p.key)
                printOut("rejected: \(p.summary)\n")
                return
            }
            if apply {
                let keys = try only.map { [try numbered($0).key] }
                guard let r = try Reconcile.apply(cast, series: series, keys: keys) else {
                    printOut("nothing to reconcile in series \(Sanitizer.display(series))\n")
                    return
                }
                if json {
                    printJSON(.object(JSONObject([
                        ("id", .string(r.id)), ("applied", .array(r.applied.map(\.json))), ("created", .array(r.created.map { .string($0) })),
                        ("maps", .array(r.maps.map { m in
                            .object(JSONObject([("job", .string(m.job)), ("episode", .string(m.episode)), ("written", .bool(m.written)),
                                                ("reason", m.reason.map { .string($0) } ?? .null)]))
                        })),
                    ])))
                    return
                }
                var out = "applied reconcile \(Sanitizer.display(r.id)) (undo: dubdeck characters reconcile --series \(Sanitizer.display(series)) --undo)\n"
                for p in r.applied { out += "  \(p.summary)\n" }
                for id in r.created { out += "  new character \(Sanitizer.display(id))\n" }
                for m in r.maps {
                    out += m.written ? "  re-wrote \(Sanitizer.display(m.job))/characters.map.json (\(Sanitizer.display(m.episode)))\n"
                        : "  left \(Sanitizer.display(m.episode))'s map as it is: \(Sanitizer.display(m.reason ?? ""))\n"
                }
                printOut(out)
                return
            }
            if json {
                printJSON(.object(JSONObject([
                    ("series", .string(series)), ("observations", .number(analysis.observations)), ("units", .number(analysis.units)),
                    ("proposals", .array(analysis.proposals.map(\.json))), ("rejected", .array(analysis.rejected.map(\.json))),
                ])))
                return
            }
            var out = "series \(Sanitizer.display(series)): \(analysis.observations) labels, \(analysis.units) clustered, \(analysis.proposals.count) proposal\(analysis.proposals.count == 1 ? "" : "s")\(analysis.rejected.isEmpty ? "" : " (\(analysis.rejected.count) rejected before)")\n"
            for (k, p) in analysis.proposals.enumerated() { out += "\(k + 1). \(p.summary)\n   \(p.evidence)\n" }
            if !analysis.proposals.isEmpty { out += "apply: --apply (all) or --apply --only N; refuse one: --reject N\n" }
            printOut(out)
        }
    }
}

struct CharMigrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy the whole character memory between this store and another (a file or postgresql:// URL).",
        discussion: """
            --to DEST copies this store (--store, DUBDECK_STORE, data/characters.json) into DEST; --from SRC copies SRC \
            into this store. One change of the destination, then read back and compared: counts and a digest on both \
            sides. Run again after an interruption, it finishes; a destination holding another store is refused (65).
            """)
    @Option(help: "The destination (this store is the source).") var to: String?
    @Option(help: "The source (this store is the destination).") var from: String?
    @Flag(help: "One JSON document on stdout.") var json = false
    @OptionGroup var store: StoreOption

    func validate() throws {
        if (to == nil) == (from == nil) { throw ValidationError("give one of --to and --from") }
        for v in [to, from].compactMap({ $0 }) where v.isEmpty || v.utf8.contains(0) { throw ValidationError("a store path or URL cannot be empty") }
    }

    func run() throws {
        try guarded {
            let (source, destination) = to.map { (store.path, $0) } ?? (from!, store.path)
            let r = try StoreMigration.copy(from: source, to: destination)
            if json {
                printJSON(.object(JSONObject([
                    ("from", .string(CharacterStore.shown(source))), ("to", .string(CharacterStore.shown(destination))),
                    ("characters", .number(r.characters)), ("series", .number(r.series)), ("observations", .number(r.observations)),
                    ("digest", .string(r.digest)), ("already_there", .bool(r.alreadyThere)),
                ])))
                return
            }
            let what = r.alreadyThere ? "already held" : "copied"
            printOut("\(what): \(r.characters) characters, \(r.observations) observations in \(r.series) series, \(CharacterStore.shown(source)) → \(CharacterStore.shown(destination))\nverified: the same counts and digest \(r.digest.prefix(16)) on both sides\n")
        }
    }
}

struct CharSuggest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggest",
        abstract: "The 3 characters of this episode whose voice is closest to line N's original audio (GE2E).",
        discussion: "Each comes with the episode's labels mapped to it: `dubdeck set JOB N --speaker LABEL` moves the line there. Needs a character store of GE2E embeddings (episodes identified from their audio) and the model from `make deps`.")
    @Argument(help: "The job directory.") var job: String
    @Argument(help: "The line number.") var n: Int
    @Flag(help: "One JSON document on stdout.") var json = false
    @OptionGroup var store: StoreOption

    func run() throws {
        try guarded {
            let transcript = try openStore(job)
            guard n >= 1, n <= transcript.job.segments.count else {
                throw DubdeckError(.usage, "no segment \(n) (the job has \(transcript.job.segments.count))")
            }
            let cast = try CharacterStore.open(store.path)
            guard cast.exists else { throw DubdeckError(.noInput, "\(CharacterStore.shown(store.path)): no character store yet") }
            let list = try CharacterIdentifier.suggest(transcript, n, cast: cast, encoder: try SpeakerEncoder())
            if json {
                printJSON(.array(list.map { s in
                    .object(JSONObject([("character_id", .string(s.characterID)), ("name", .string(s.name)), ("similarity", .number(s.similarity)),
                                        ("labels", .array(s.labels.map { .string($0) }))]))
                }))
                return
            }
            if list.isEmpty { printOut("no character of this episode to compare with\n") }
            for (k, s) in list.enumerated() {
                let name = s.name.isEmpty ? "" : " " + Sanitizer.display(s.name)
                printOut("\(k + 1). \(Sanitizer.display(s.characterID))\(name) \(s.similarity)\(s.labels.isEmpty ? "" : " (label " + s.labels.map { Sanitizer.display($0) }.joined(separator: ", ") + ")")\n")
            }
        }
    }
}

struct CharEmbed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "The GE2E speaker embedding of an audio file (or of a part of it).",
        discussion: "Prints {\"type\":\"ge2e\",\"dim\":256,\"model\":\"resemblyzer-0.1.4\",\"embedding\":[…]} with --json (for the pipeline, or to check the encoder against a reference). At most 30 minutes of audio. The model comes from `make deps` (scripts/ge2e_convert.py).")
    @Argument(help: "The audio file (any rate or channel count libsndfile reads).") var audio: String
    @Option(help: "Seconds from the start of the file.") var start: Double?
    @Option(help: "Seconds where the part ends.") var end: Double?
    @Flag(help: "Print the embedding as JSON.") var json = false

    static let maxSeconds = 30.0 * 60

    func validate() throws {
        if let start { try checkRange(start, 0...Bounds.maxTime, "--start") }
        if let end { try checkRange(end, 0...Bounds.maxTime, "--end") }
        if let start, let end, end <= start { throw ValidationError("--end must be after --start") }
    }

    func run() throws {
        try guarded {
            let info = try AudioFile.info(audio)
            let a = Int(((start ?? 0) * Double(info.rate)).rounded())
            let b = end.map { Int(($0 * Double(info.rate)).rounded()) } ?? info.frames
            guard a < min(b, info.frames) else { throw DubdeckError(.usage, "\(Sanitizer.display(audio)): nothing between --start and --end (the file has \(JSONValue.formatNumber(Double(info.frames) / Double(info.rate))) s)") }
            let seconds = Double(min(b, info.frames) - a) / Double(info.rate)
            if seconds > CharEmbed.maxSeconds { throw DubdeckError(.usage, "\(Sanitizer.display(audio)): \(Int(seconds)) s is more than the 30 minutes one embedding takes") }
            let encoder = try SpeakerEncoder()
            let buffer = try AudioFile.read(audio, frames: a..<min(b, info.frames), mono: true)
            let e = try encoder.embed(buffer)
            if json {
                printJSON(.object(JSONObject([
                    ("type", .string(SpeakerEncoder.type)), ("dim", .number(SpeakerEncoder.dim)), ("model", .string(SpeakerEncoder.model)),
                    ("embedding", .array(e.map { .number((Double($0) * 1e7).rounded() / 1e7) })),
                ])))
            } else {
                printOut("\(Sanitizer.display(audio)): a \(SpeakerEncoder.dim)-d \(SpeakerEncoder.type) embedding of \(JSONValue.formatNumber((seconds * 100).rounded() / 100)) s (--json prints it)\n")
            }
        }
    }
}

struct CharImportLegacy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-legacy",
        abstract: "Import the legacy plaintext registry (DIR/voices/registry.json + embeddings/*.npy), all or nothing.")
    @Argument var dir: String
    @OptionGroup var store: StoreOption

    func run() throws {
        try guarded {
            let s = try CharacterStore.open(store.path)
            let report = try LegacyImport.run(dir: dir, store: s)
            var out = ""
            for (label, id) in report.imported { out += "imported \(Sanitizer.display(label)) as \(id)\n" }
            for label in report.skipped { out += "skipped \(Sanitizer.display(label)) (imported before)\n" }
            for (label, why) in report.refused { out += "refused \(Sanitizer.display(label)): \(Sanitizer.display(why))\n" }
            for (label, path) in report.unusedWavs { out += "not used for \(Sanitizer.display(label)): \(Sanitizer.display(path)) (not a readable audio file, or a reference was already taken)\n" }
            out += "\(report.imported.count) imported, \(report.skipped.count) skipped, \(report.refused.count) refused\n"
            printOut(out + keyFileNote(s))
        }
    }
}

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "The character store's key file.", subcommands: [KeyInit.self, KeyRotate.self])
}

struct KeyInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create the key file (never over an existing one, never while a store exists).")
    @OptionGroup var store: StoreOption

    func run() throws {
        try guarded {
            if let source = try? KeySource.find(), source.fromEnvironment {
                throw DubdeckError(.usage, "the key comes from the environment (DUBDECK_STORE_KEY / DUBDECK_STORE_PASSPHRASE); no key file needed")
            }
            let path = KeySource.keyFilePath()
            if FileIO.exists(path) { throw DubdeckError(.cannotCreate, "\(Sanitizer.display(path)): a key file exists already") }
            if CharacterStore.mayExist(store.path), (try? CharacterStore.open(store.path, withEmbeddings: false))?.exists != false {
                throw DubdeckError(.cannotCreate, "\(CharacterStore.shown(store.path)) exists: a new key could not open it (restore its key file instead)")
            }
            try KeySource.writeKeyFile(path, key: try Crypto.randomBytes(32))
            printOut(keyFileNote(path))
        }
    }
}

struct KeyRotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Re-encrypt the store with a new key file (safe to interrupt).")
    @OptionGroup var store: StoreOption

    func run() throws {
        try guarded {
            guard let source = try KeySource.find() else {
                throw DubdeckError(.keyError, "no key file at \(Sanitizer.display(KeySource.keyFilePath()))")
            }
            guard case .keyFile(let keyPath) = source.kind else {
                throw DubdeckError(.usage, "the key comes from the environment: rotate it there (key rotate manages the key file)")
            }
            try KeyRotation.rotate(storePath: store.path, keyPath: keyPath)
            printOut("rotated: \(CharacterStore.shown(store.path)) is encrypted with the new key in \(Sanitizer.display(keyPath))\n")
        }
    }
}

/// `Hana (character 07)`, `unnamed 07 (character 07; new)`: a character as it is printed beside a label.
func characterWithNumber(_ cast: CharacterStore, _ id: String, _ detail: String = "") -> String {
    let c = cast.resolve(id)
    let shown = c?.displayName ?? CharacterRecord.shownName(id: id, name: "")
    return "\(Sanitizer.display(shown)) (character \(Sanitizer.display(CharacterRecord.number(of: c?.id ?? id)))\(detail.isEmpty ? "" : "; " + detail))"
}

/// `unnamed 07, character 07`: the same, inside another's parentheses.
func characterAside(_ cast: CharacterStore, _ id: String) -> String {
    let c = cast.resolve(id)
    return "\(Sanitizer.display(c?.displayName ?? CharacterRecord.shownName(id: id, name: ""))), character \(Sanitizer.display(CharacterRecord.number(of: c?.id ?? id)))"
}

/// What `key init` says, said by whichever command created the key file with a new store.
func keyFileNote(_ path: String) -> String { "created \(Sanitizer.display(path)) (mode 0600); keep a copy somewhere safe\n" }

func keyFileNote(_ store: CharacterStore) -> String {
    store.createdKeyFile.map { "the character store's key: " + keyFileNote($0) } ?? ""
}
