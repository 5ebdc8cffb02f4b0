#!/usr/bin/env python3
"""Writes the hostile-input corpus: one folder per case with the files that replace parts of a good
sample job (job/...) or stand alone, and case.json: the command (placeholders {job} {case} {tmp}),
extra environment, the expected exit code and a part of the expected error line.
Run once; the generated files are committed (the test reads them, it does not run this)."""
import base64, hashlib, hmac, json, os, shutil, struct
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()

def case(name, files, args, exit, msg, env=None, base="sample", setup=None):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for path, content in files.items():
        p = os.path.join(d, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
    with open(os.path.join(d, "case.json"), "w") as f:
        doc = {"args": args, "exit": exit, "stderr": msg, "env": env or {}, "base": base}
        if setup:
            doc["setup"] = setup  # made by the test: links, FIFOs and sparse files git cannot hold
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")

def seg(*extra):
    return '{"segments": [{"start": 0, "end": 1, "text": "ok"}%s]}' % "".join(", " + e for e in extra)

ST = ["status", "{job}"]
T = "job/translated.json"
# translated.json
case("translated-empty", {T: ""}, ST, 65, "unexpected end of file")
case("translated-not-json", {T: "hello"}, ST, 65, "translated.json: line 1")
case("translated-array", {T: "[1, 2]"}, ST, 65, "expected a JSON object")
case("translated-segments-object", {T: '{"segments": {"a": 1}}'}, ST, 65, '"segments" must be an array')
case("translated-missing-start", {T: seg('{"end": 2, "text": "x"}')}, ST, 65, 'segment 2: missing "start"')
case("translated-start-string", {T: seg('{"start": "1", "end": 2, "text": "x"}')}, ST, 65, '"start" must be a number')
case("translated-end-before-start", {T: seg('{"start": 5, "end": 2, "text": "x"}')}, ST, 65, "segment 2: end 2 is before start 5")
case("translated-nan", {T: seg('{"start": NaN, "end": 2, "text": "x"}')}, ST, 65, "NaN")
case("translated-infinity", {T: seg('{"start": 1, "end": Infinity, "text": "x"}')}, ST, 65, "Infinity")
case("translated-minus-infinity", {T: seg('{"start": -Infinity, "end": 2, "text": "x"}')}, ST, 65, "-Infinity")
case("translated-invalid-utf8", {T: b'{"segments": [{"start": 0, "end": 1, "text": "ok"}, {"start": 1, "end": 2, "text": "\xc3\x28"}]}'}, ST, 65, "segment 2: line 1: invalid UTF-8")
case("translated-text-number", {T: seg('{"start": 1, "end": 2, "text": 7}')}, ST, 65, '"text" must be a string')
case("translated-speaker-array", {T: seg('{"start": 1, "end": 2, "text": "x", "speaker": []}')}, ST, 65, '"speaker" must be a string')
case("translated-segment-null", {T: seg("null")}, ST, 65, "segment 2: expected an object")
case("translated-deep-nesting", {T: '{"segments": ' + "[" * 2000 + "]" * 2000 + "}"}, ST, 65, "nesting deeper")
case("translated-trailing-garbage", {T: seg() + " x"}, ST, 65, "unexpected data after")
case("translated-unterminated-string", {T: '{"segments": [{"start": 0, "end": 1, "text": "abc'}, ST, 65, "unterminated string")
case("translated-raw-control", {T: '{"segments": [{"start": 0, "end": 1, "text": "a\x1b[2Jb"}]}'}, ST, 65, "control character")
case("translated-bad-escape", {T: '{"segments": [{"start": 0, "end": 1, "text": "a\\xb"}]}'}, ST, 65, "invalid escape")
case("translated-huge-number", {T: seg('{"start": 1e400, "end": 2, "text": "x"}')}, ST, 65, "out of range")
case("translated-leading-zero", {T: seg('{"start": 01, "end": 2, "text": "x"}')}, ST, 65, "leading zero")
case("translated-negative-start", {T: seg('{"start": -1, "end": 2, "text": "x"}')}, ST, 65, "negative")
case("translated-missing", {"job/job.json": "{}"}, ST, 66, "no such file", base="empty")
case("job-missing-directory", {}, ["status", "{case}/nope"], 66, "no such job directory", base="none")
# job.json, diarization.json
case("jobjson-invalid", {"job/job.json": "{series"}, ST, 65, "job.json: line 1")
case("jobjson-series-number", {"job/job.json": '{"series_id": 5}'}, ST, 65, "series_id must be a string")
case("diarization-invalid", {"job/diarization.json": "{,}"}, ST, 65, "diarization.json")
case("diarization-dims", {"job/diarization.json": '{"speaker_embeddings": {"A": [1, 2], "B": [1]}}'}, ST, 65, "1 values, the others have 2")
# transcript_store.json
S = "job/transcript_store.json"
case("store-newer-version", {S: '{"version": 4, "segments": {}}'}, ST, 65, "newer than this dubdeck knows")
case("store-invalid-json", {S: '{"version": 3, "segments": {"1": {'}, ST, 65, "transcript_store.json")
case("store-approved-string", {S: '{"version": 3, "segments": {"2": {"approved": "yes"}}}'}, ST, 65, 'segment 2: "approved" must be a boolean')
case("store-entry-not-object", {S: '{"version": 3, "segments": {"1": 5}}'}, ST, 65, "expected an object")
# A reviewer's speaker label becomes a key of voice_map.json and picks a voice: a safe name only.
case("store-speaker-path", {S: '{"version": 3, "segments": {"1": {"speaker": "../x"}}}'}, ST, 65, "segment 1 speaker")
case("store-speaker-escape", {S: '{"version": 3, "segments": {"1": {"speaker": "A\\u001b[2J"}}}'}, ST, 65, "is not a safe name")
case("store-speaker-number", {S: '{"version": 3, "segments": {"1": {"speaker": 7}}}'}, ST, 65, "\"speaker\" must be a string")
case("job-max-cps-huge", {"job/job.json": '{"max_cps": 1e308}'}, ST, 65, "max_cps must be a number from 1 to 100")
case("store-flags-numbers", {S: '{"version": 3, "segments": {"1": {"flags": [1]}}}'}, ST, 65, '"flags" must be an array of strings')
case("store-version-string", {S: '{"version": "3", "segments": {}}'}, ST, 65, '"version" must be a positive integer')
case("store-resegmented", {S: '{"version": 3, "segments": {"1": {"start": 9, "end": 10, "tgt_text": "x"}}}'},
     ["set", "{job}", "1", "--approve"], 65, "read-only: segment 1 is")
# history
H = "job/transcript_versions.jsonl"
REC = '{"ts":"t","seq":%d,"batch":null,"segment":1,"action":"edit","before":{},"after":{},"by":"x"}'
case("history-corrupt-middle", {H: REC % 1 + "\n{oops\n" + REC % 3 + "\n"}, ["history", "{job}"], 65, "line 2: corrupt record")
case("history-torn-tail", {H: REC % 1 + "\n" + '{"ts":"t","seq":2,"segm'}, ["history", "{job}"], 0, "torn or unreadable")
case("history-missing-seq", {H: '{"segment": 1, "action": "edit"}\n' + REC % 2 + "\n"}, ["history", "{job}"], 65, 'missing or bad "seq"')
# subtitles
IMP = lambda f: ["import", "{case}/" + f, "--out", "{tmp}/imported"]
case("srt-bad-arrow", {"x.srt": "1\n00:00:01,000 -> 00:00:02,000\nx\n"}, IMP("x.srt"), 65, "x.srt: line 2: expected 'start --> end'", base="none")
case("srt-bad-time", {"x.srt": "1\n00:00:01,000 --> 00:61:02,000\nx\n"}, IMP("x.srt"), 65, "line 2: bad time", base="none")
case("srt-backwards", {"x.srt": "1\n00:00:05,000 --> 00:00:02,000\nx\n"}, IMP("x.srt"), 65, "end is before start", base="none")
case("srt-no-number", {"x.srt": "some text\n\n1\n00:00:01,000 -> 00:00:02,000\n"}, IMP("x.srt"), 65, "line 1: expected a cue number", base="none")
case("srt-invalid-utf8", {"x.srt": b"1\n00:00:01,000 --> 00:00:02,000\n\xff\xfe\n"}, IMP("x.srt") + ["--encoding", "UTF-8"], 65, "not valid UTF-8 text", base="none")
case("srt-unknown-encoding", {"x.srt": "1\n00:00:01,000 --> 00:00:02,000\nx\n"}, IMP("x.srt") + ["--encoding", "NO-SUCH-CHARSET"], 64, "unknown character set NO-SUCH-CHARSET", base="none")
case("srt-strict-one-bad-cue", {"x.srt": "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04,000\nbad\n"}, IMP("x.srt") + ["--strict"], 65, "line 6: expected 'start --> end'", base="none")
case("srt-empty", {"x.srt": "\n\n"}, IMP("x.srt"), 65, "no subtitles", base="none")
case("vtt-no-header", {"x.vtt": "Kind: captions\n00:01.000 -> 00:02.000\nx\n"}, IMP("x.vtt"), 65, "line 1: a WebVTT file starts with WEBVTT", base="none")
case("vtt-bad-timing", {"x.vtt": "WEBVTT\n\n00:01.000 --> 00:0x.000\nx\n"}, IMP("x.vtt"), 65, "line 3: bad time", base="none")
case("ass-dialogue-before-format", {"x.ass": "[Script Info]\n[Events]\nDialogue: 0,0:00:01.00,0:00:02.00,x\n"}, IMP("x.ass"), 65, "line 3: Dialogue before", base="none")
case("ass-field-count", {"x.ass": "[Script Info]\n[Events]\nFormat: Start, End, Text\nDialogue: 0:00:01.00\n"}, IMP("x.ass"), 65, "line 4: Dialogue has 1 fields", base="none")
case("ass-format-without-text", {"x.ass": "[Script Info]\n[Events]\nFormat: Start, Text, End\n"}, IMP("x.ass"), 65, "line 3: the [Events] Format must end with Text", base="none")
case("ass-not-ass", {"x.ass": "hello world\n"}, IMP("x.ass"), 65, "not an ASS/SSA file", base="none")
case("subtitle-unknown-type", {"x.txt": "hello\n"}, IMP("x.txt"), 65, "not a subtitle file dubdeck reads", base="none")
# audio
PLAY = ["play", "{job}", "1", "--original", "--device", "null"]
case("wav-text", {"job/audio.wav": "this is not audio"}, PLAY, 65, "not a readable audio file")
case("wav-empty", {"job/audio.wav": b""}, PLAY, 65, "audio.wav")
hdr = b"RIFF" + struct.pack("<I", 36 + 4096) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 48000, 96000, 2, 16) + b"data" + struct.pack("<I", 4096) + b"\x01\x02\x03"
case("wav-truncated", {"job/audio.wav": hdr}, PLAY, 65, "truncated audio file")
# character store envelopes
def envelope(plain, key=KEY, version=1, kdf=0, log2n=0, r=0, p=0, salt=b"\0" * 16):
    check = hmac.new(key, b"dubdeck-key-check", hashlib.sha256).digest()[:16]
    nonce = bytes(range(12))
    header = b"DDCHARS\0" + bytes([version, kdf, log2n, 0]) + struct.pack("<II", r, p) + salt + check + nonce
    return header + AESGCM(key).encrypt(nonce, plain, header)
PLAIN = json.dumps({"version": 2, "next_n": 2, "embedding": None, "characters": {"SPEAKER_01": {"name": "Luffy"}}}).encode()
CL = ["characters", "list", "--store", "{case}/characters.json"]
ENV = {"DUBDECK_STORE_KEY": KEY_B64}
good = envelope(PLAIN)
case("store-envelope-bad-magic", {"characters.json": b"XXCHARS\0" + good[8:]}, CL, 65, "bad magic", ENV, base="none")
case("store-envelope-truncated", {"characters.json": good[:70]}, CL, 65, "truncated character store", ENV, base="none")
case("store-envelope-version", {"characters.json": good[:8] + b"\x07" + good[9:]}, CL, 65, "unknown character store format version 7", ENV, base="none")
case("store-envelope-plaintext", {"characters.json": PLAIN + b" " * 100}, CL, 65, "plaintext", ENV, base="none")
tampered = bytearray(good); tampered[70] ^= 0x10
case("store-envelope-tampered", {"characters.json": bytes(tampered)}, CL, 65, "authentication failed", ENV, base="none")
case("store-envelope-wrong-key", {"characters.json": envelope(PLAIN, key=bytes(32))}, CL, 77, "wrong key", ENV, base="none")
case("store-envelope-scrypt-huge", {"characters.json": envelope(PLAIN, kdf=1, log2n=24, r=8, p=1, salt=b"s" * 16)}, CL, 65, "scrypt parameters out of bounds", ENV, base="none")
case("store-envelope-schema-newer", {"characters.json": envelope(json.dumps({"version": 9, "characters": {}}).encode())}, CL, 65, "schema version 9 is newer", ENV, base="none")
case("store-envelope-no-key", {"characters.json": good}, CL, 77, "no key", {}, base="none")
# keymaps and scripts
KM = lambda: ["review", "{job}", "--keymap", "{case}/my.keys", "--script", "{case}/quit.keys"]
QUIT = {"quit.keys": ":quit\n"}
case("keymap-unknown-action", dict(QUIT, **{"my.keys": "bind list x explode\n"}), KM(), 65, "my.keys:1: unknown action 'explode'")
case("keymap-unknown-context", dict(QUIT, **{"my.keys": "# ok\nbind lst x approve\n"}), KM(), 65, "my.keys:2: unknown context")
case("keymap-bad-key", dict(QUIT, **{"my.keys": "bind list <Hyper-x> approve\n"}), KM(), 65, "my.keys:1: bad key")
case("keymap-missing-action", dict(QUIT, **{"my.keys": "bind list x\n"}), KM(), 65, "expected 'bind <context> <key> <action>'")
case("keymap-wrong-context", dict(QUIT, **{"my.keys": "bind editor x approve\n"}), KM(), 65, "does not apply in context 'editor'")
case("keymap-escape-in-name", dict(QUIT, **{"my.keys": "bind list x \x1b]0;pwned\x07\n"}), KM(), 65, "unknown action '\u241b]0;pwned\u2407'")
case("script-bad-key", {"s.keys": "j\n<Nope>\n"}, ["review", "{job}", "--script", "{case}/s.keys"], 64, "s.keys:2: bad key")
case("script-bad-size", {"s.keys": ":size 0x0\n"}, ["review", "{job}", "--script", "{case}/s.keys"], 64, "s.keys:1: expected :size WxH")

# ---- Second edition (SPEC §10.1): every class of hostile input ----
# Names that become paths or library arguments.
J = "job/job.json"
BAD_NAMES = {"dotdot": "../../x", "slash": "a/b", "nul": "a\\u0000b", "escape": "a\\u001b]0;t\\u0007", "long": "x" * 65,
             "dot-first": ".hidden", "empty": "", "space": "a b"}
for field, cmd in [("stem", ["apply", "{job}"]), ("episode", ST), ("series_id", ST), ("src_lang", ST), ("tgt_lang", ST)]:
    for tag, value in BAD_NAMES.items():
        if field in ("src_lang", "episode") and tag in ("long", "empty", "space", "dot-first"):
            continue
        case("name-%s-%s" % (field.replace("_", ""), tag), {J: '{"%s": "%s"}' % (field, value)}, cmd, 65,
             "job.json: %s " % field)
case("name-series-option", {}, ["characters", "identify", "{job}", "--series", "../up"], 64, "--series")
case("name-character-id-path", {T: seg('{"start": 1, "end": 2, "text": "x", "character_id": "../../dir/evil"}')}, ST, 65,
     "segment 2: character_id")
case("name-character-id-slash", {T: seg('{"start": 1, "end": 2, "text": "x", "character_id": "a/b"}')}, ST, 65, "character_id")
case("name-map-character-id", {"job/characters.map.json": '{"labels": {"SPEAKER_00": {"character_id": "../../evil"}}}'}, ST, 65,
     "characters.map.json: labels.SPEAKER_00.character_id")
case("name-tgt-lang-unlisted", {J: '{"tgt_lang": "zz9"}'}, ["synth", "{job}", "1"], 65, "not a language espeak-ng lists")
case("name-tgt-lang-path-synth", {J: '{"tgt_lang": "/etc/passwd"}'}, ["synth", "{job}", "1"], 65, "tgt_lang")
case("store-take-path", {S: '{"version": 3, "segments": {"1": {"last_preview": {"take": "../../../etc/passwd"}}}}'}, ST, 65,
     "last_preview.take is not a take file")
case("store-take-other-segment", {S: '{"version": 3, "segments": {"1": {"last_preview": {"take": "segments_preview/0002.take-1.wav"}}}}'},
     ST, 65, "segment 1: last_preview.take")
case("store-preview-not-object", {S: '{"version": 3, "segments": {"1": {"last_preview": 5}}}'}, ST, 65, '"last_preview" must be an object')
# Duplicate keys: readers disagree on which one counts.
case("dup-translated-text", {T: '{"segments": [{"start": 0, "end": 1, "text": "A", "text": "B"}]}'}, ST, 65, 'duplicate key "text"')
case("dup-translated-segments", {T: '{"segments": [], "segments": [{"start": 0, "end": 1, "text": "A"}]}'}, ST, 65, 'duplicate key "segments"')
case("dup-store-approved", {S: '{"version": 3, "segments": {"1": {"approved": false, "approved": true}}}'}, ST, 65, 'duplicate key "approved"')
case("dup-store-segment", {S: '{"version": 3, "segments": {"1": {"approved": false}, "1": {"approved": true}}}'}, ST, 65, 'duplicate key "1"')
case("dup-jobjson-stem", {J: '{"stem": "a", "stem": "b"}'}, ST, 65, 'duplicate key "stem"')
case("dup-diarization", {"job/diarization.json": '{"speaker_embeddings": {"A": [1], "A": [2]}}'}, ST, 65, 'duplicate key "A"')
case("dup-map-labels", {"job/characters.map.json": '{"labels": {}, "labels": {}}'}, ST, 65, 'duplicate key "labels"')
case("dup-history-middle", {H: REC % 1 + "\n" + REC.replace('"by":"x"', '"by":"x","by":"y"') % 2 + "\n" + REC % 3 + "\n"},
     ["history", "{job}"], 65, "line 2: corrupt record")
case("dup-merge-mt", {"new.json": '{"segments": [{"start": 0, "end": 1, "text": "A", "text": "B"}]}'},
     ["merge-mt", "{job}", "{case}/new.json"], 65, 'duplicate key "text"')
many = ", ".join('"k%d": %d' % (i, i) for i in range(40))
case("dup-large-object", {T: '{"segments": [{"start": 0, "end": 1, "text": "A", %s, "k7": 0}]}' % many}, ST, 65, 'duplicate key "k7"')
# Numbers: bounds, overflow.
BIG = seg('{"start": 1e17, "end": 1e17, "text": "x"}')
for cmd in [ST, ["segments", "{job}"], ["export", "{job}", "--format", "srt"], ["apply", "{job}"], ["play", "{job}", "1", "--device", "null"],
            ["review", "{job}", "--script", "{case}/q.keys"]]:
    case("number-time-1e17-" + cmd[0], {T: BIG, "q.keys": ":quit\n"}, cmd, 65, "past 48 hours")
case("number-time-48h-plus", {T: seg('{"start": 172800, "end": 172800.5, "text": "x"}')}, ST, 65, "end 172800.5 is past 48 hours")
case("number-slot-long", {T: seg('{"start": 1, "end": 1000001, "text": "x"}')}, ST, 65, "past 48 hours")
case("number-slot-over-600", {T: '{"segments": [{"start": 0, "end": 700, "text": "a long line"}]}'}, ["synth", "{job}", "1"], 65,
     "longer than 600 s; not synthesized")
case("number-diarization-time", {"job/diarization.json": '{"segments": [{"start": 0, "end": 1e300, "speaker": "A"}]}'}, ST, 65,
     "segment 1: expected an object with numeric start and end")
case("number-history-seq-huge", {H: REC % 1 + "\n" + REC % 9223372036854775807 + "\n" + REC % 3 + "\n"}, ["history", "{job}"], 65,
     'line 2: corrupt record (missing or bad "seq")')
case("number-history-segment-huge", {H: REC.replace('"segment":1', '"segment":1e300') % 1 + "\n" + REC % 2 + "\n"}, ["history", "{job}"], 65,
     'missing or bad "segment"')
case("number-srt-huge-hours", {"x.srt": "1\n9999999999999999:00:01,000 --> 9999999999999999:00:02,000\nx\n"}, IMP("x.srt"), 65,
     "line 2: bad time", base="none")
case("number-srt-negative-seconds", {"x.srt": "1\n00:01:-80000000008000000,300 --> 00:01:02,000\nx\n"}, IMP("x.srt"), 65,
     "line 2: bad time", base="none")  # found by make fuzz: (m·60 + s)·1000 overflowed
case("number-srt-49-hours", {"x.srt": "1\n49:00:01,000 --> 49:00:02,000\nx\n"}, IMP("x.srt"), 65, "0 to 48 hours", base="none")
case("number-vtt-huge-hours", {"x.vtt": "WEBVTT\n\n99999999999999999999:00:01.000 --> 99999999999999999999:00:02.000\nx\n"}, IMP("x.vtt"), 65,
     "bad time", base="none")
def wav(rate, frames=16, channels=1, bits=16):
    data = b"\0" * (frames * channels * bits // 8)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * bits // 8 % (1 << 32), channels * bits // 8, bits) +
            b"data" + struct.pack("<I", len(data)) + data)
case("number-wav-rate-2e9", {"job/audio.wav": wav(2000000000)}, PLAY, 65, "2000000000 Hz")
case("number-wav-rate-1", {"job/audio.wav": wav(1)}, PLAY, 65, "claims 1 Hz")
ENGINE_1HZ = ("import struct,sys\nd=b'\\0'*64\nopen(sys.argv[1],'wb').write(b'RIFF'+struct.pack('<I',36+len(d))+b'WAVEfmt '"
              "+struct.pack('<IHHIIHH',16,1,1,1,2,2,16)+b'data'+struct.pack('<I',len(d))+d)\n")
case("number-engine-wav-1hz", {"engine.py": ENGINE_1HZ}, ["synth", "{job}", "1", "--engine-command", "python3", "{case}/engine.py", "{out}"], 65,
     "claims 1 Hz")
ENGINE_LONG = ("import struct,sys\nn=48000*60\nd=b'\\0\\x40'*n\nopen(sys.argv[1],'wb').write(b'RIFF'+struct.pack('<I',36+len(d))+b'WAVEfmt '"
               "+struct.pack('<IHHIIHH',16,1,1,48000,96000,2,16)+b'data'+struct.pack('<I',len(d))+d)\n")
case("number-engine-wav-too-long", {"engine.py": ENGINE_LONG}, ["synth", "{job}", "1", "--engine-command", "python3", "{case}/engine.py", "{out}"],
     65, "more than 4 × slot + 30 s")
def npy(shape, dtype="<f4", payload=b""):
    header = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, shape)).encode()
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload
REG = '{"speakers": {"A": {"name": "A"}}}'
LEG = ["characters", "import-legacy", "{case}/legacy", "--store", "{tmp}/store/characters.json"]
for tag, shape in [("2e62", "(4611686018427387904, 192)"), ("cols-huge", "(1, 9223372036854775807)"), ("product", "(4294967296, 4294967296)")]:
    case("number-npy-shape-" + tag, {"legacy/voices/registry.json": REG, "legacy/voices/embeddings/A.npy": npy(shape, payload=b"\0" * 64)},
         LEG, 0, "refused A", ENV, base="none")
case("number-store-nested-embedding",
     {"characters.json": envelope(('{"version": 2, "next_n": 2, "embedding": null, "characters": {"SPEAKER_01": {"name": "x", "snapshots": [{"embedding": '
                                   + "[" * 100000 + "]" * 100000 + '}]}}}').encode())},
     CL, 65, "nesting deeper", ENV, base="none")
case("number-store-nested-skipped",
     {"characters.json": envelope(('{"version": 2, "next_n": 2, "embedding": null, "characters": {"SPEAKER_01": {"name": "x", "embedding_avg": '
                                   + "[" * 100000 + "]" * 100000 + '}}}').encode())},
     CL, 65, "nesting deeper", ENV, base="none")
case("depth-store", {S: '{"version": 3, "segments": {"1": {"x": ' + "[" * 5000 + "]" * 5000 + '}}}'}, ST, 65, "nesting deeper")
case("depth-history", {H: REC % 1 + "\n" + '{"seq": 2, "x": ' + "[" * 5000 + "]" * 5000 + "}\n" + REC % 3 + "\n"}, ["history", "{job}"], 65,
     "nesting deeper")
case("depth-diarization", {"job/diarization.json": '{"x": ' + "{\"a\": " * 5000 + "1" + "}" * 5000 + "}"}, ST, 65, "nesting deeper")
case("depth-map", {"job/characters.map.json": '{"labels": ' + "[" * 5000 + "]" * 5000 + "}"}, ST, 65, "nesting deeper")
# Character store names: IDs become paths, variants library arguments.
def store_with(characters):
    return envelope(json.dumps({"version": 2, "next_n": 2, "embedding": None, "characters": characters}).encode())
case("name-store-id-path", {"characters.json": store_with({"../../dir/evil": {"name": "x"}})}, CL, 65, "character ID", ENV, base="none")
case("name-store-variant-path", {"characters.json": store_with({"SPEAKER_01": {"name": "x", "voice": {"engine": "espeak", "variant": "/etc/passwd", "pitch": 50, "rate": 170}}})},
     CL, 65, "voice.variant", ENV, base="none")
case("name-store-engine-escape", {"characters.json": store_with({"SPEAKER_01": {"name": "x", "voice": {"engine": "e\x1b]0;x", "variant": "Alex", "pitch": 50, "rate": 170}}})},
     CL, 65, "voice.engine", ENV, base="none")
case("name-store-merged-into-path", {"characters.json": store_with({"SPEAKER_01": {"name": "x", "merged_into": "../x"}})}, CL, 65,
     "merged_into", ENV, base="none")
case("name-store-series-path", {"characters.json": store_with({"SPEAKER_01": {"name": "x", "series": {"../s": {"episodes": []}}}})}, CL, 65,
     "series", ENV, base="none")
case("name-store-speaker-wav-dotdot", {"characters.json": store_with({"SPEAKER_01": {"name": "x", "speaker_wavs": ["../../../etc/shadow"]}})},
     CL, 65, "speaker_wavs holds an unsafe path", ENV, base="none")
# Links, FIFOs and devices (made by the test): never followed, truncated or replaced; no hang.
SET1 = ["set", "{job}", "1", "--approve"]
case("link-history", {}, SET1, 65, "transcript_versions.jsonl: is a symbolic link", setup=[["symlink", "job/transcript_versions.jsonl", "{tmp}/victim"]])
case("link-store", {}, SET1, 65, "transcript_store.json: is a symbolic link", setup=[["symlink", "job/transcript_store.json", "{tmp}/victim"]])
case("link-lock", {}, SET1, 65, ".dubdeck.lock: is a symbolic link", setup=[["symlink", "job/.dubdeck.lock", "{tmp}/victim"]])
case("link-map", {}, ST, 65, "characters.map.json: is a symbolic link", setup=[["symlink", "job/characters.map.json", "{tmp}/victim"]])
case("link-preview-dir", {}, ["synth", "{job}", "1"], 65, "segments_preview: is a symbolic link", setup=[["mkdir", "outside"], ["symlink", "job/segments_preview", "{tmp}/outside"]])
case("link-current-take", {}, ["synth", "{job}", "1"], 65, "0001.wav: is a symbolic link", setup=[["mkdir", "job/segments_preview"], ["symlink", "job/segments_preview/0001.wav", "{tmp}/victim"]])
case("link-history-dangling", {}, SET1, 65, "is a symbolic link", setup=[["symlink", "job/transcript_versions.jsonl", "{tmp}/nowhere/x"]])
case("fifo-translated", {}, ST, 66, "translated.json: not a regular file (a FIFO)", setup=[["fifo", "job/translated.json"]])
case("fifo-jobjson", {}, ST, 66, "job.json: not a regular file (a FIFO)", setup=[["fifo", "job/job.json"]])
case("fifo-diarization", {}, ST, 66, "diarization.json: not a regular file", setup=[["fifo", "job/diarization.json"]])
case("fifo-store", {}, ST, 65, "transcript_store.json: not a regular file (a FIFO)", setup=[["fifo", "job/transcript_store.json"]])
case("fifo-history", {}, ["history", "{job}"], 65, "transcript_versions.jsonl: not a regular file", setup=[["fifo", "job/transcript_versions.jsonl"]])
case("fifo-history-set", {}, SET1, 65, "transcript_versions.jsonl: not a regular file", setup=[["fifo", "job/transcript_versions.jsonl"]])
case("fifo-map", {}, ST, 65, "characters.map.json: not a regular file", setup=[["fifo", "job/characters.map.json"]])
case("fifo-subtitle", {}, IMP("x.srt"), 66, "x.srt: not a regular file", base="none", setup=[["fifo", "case/x.srt"]])
case("fifo-audio", {}, PLAY, 66, "audio.wav: not a regular file", setup=[["fifo", "job/audio.wav"]])
case("fifo-merge-mt", {}, ["merge-mt", "{job}", "{case}/new.json"], 66, "not a regular file", setup=[["fifo", "case/new.json"]])
case("fifo-keymap", {"q.keys": ":quit\n"}, ["review", "{job}", "--keymap", "{case}/k.keys", "--script", "{case}/q.keys"], 66, "not a regular file",
     setup=[["fifo", "case/k.keys"]])
case("fifo-character-store", {}, CL, 65, "characters.json: not a regular file", ENV, base="none", setup=[["fifo", "case/characters.json"]])
case("device-translated", {}, ST, 66, "not a regular file (a character device)", setup=[["symlink", "job/translated.json", "/dev/zero"]])
case("device-audio", {}, PLAY, 66, "not a regular file (a character device)", setup=[["symlink", "job/audio.wav", "/dev/zero"]])
case("device-subtitle", {}, IMP("x.srt"), 66, "character device", base="none", setup=[["symlink", "case/x.srt", "/dev/urandom"]])
# Size caps (sparse files: no disk used).
case("size-translated", {}, ST, 65, "too large", setup=[["sparse", "job/translated.json", 600000000]])
case("size-subtitle", {}, IMP("x.srt"), 65, "too large", base="none", setup=[["sparse", "case/x.srt", 70000000]])
case("size-store", {}, ST, 65, "too large", setup=[["sparse", "job/transcript_store.json", 600000000]])
# Output places and exit codes.
case("out-dev-full", {}, ["export", "{job}", "--format", "srt", "--out", "/dev/full"], 74, "No space left on device")
case("out-apply-not-directory", {"file": "x"}, ["apply", "{job}", "--out", "{case}/file"], 73, "cannot create")
for opt, value in [("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "-1"), ("--max-speedup", "nan"), ("--max-speedup", "0.5")]:
    case("option-%s-%s" % (opt.strip("-"), value.replace("-", "minus").replace(".", "")), {}, ["synth", "{job}", "1", opt + "=" + value], 64, opt)
case("option-threshold-nan", {}, ["characters", "identify", "{job}", "--threshold", "nan"], 64, "--threshold")
case("option-echo-escape", {}, ["status", "{job}", "--x\u001b]0;pwn\u0007"], 64, "Unknown option '--x\u241b]0;pwn\u2407'")

print(len([d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d))]), "cases")
