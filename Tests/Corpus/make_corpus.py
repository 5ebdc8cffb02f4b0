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

def case(name, files, args, exit, msg, env=None, base="sample"):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for path, content in files.items():
        p = os.path.join(d, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump({"args": args, "exit": exit, "stderr": msg, "env": env or {}, "base": base}, f, indent=1, ensure_ascii=False)
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
case("srt-no-number", {"x.srt": "some text\n00:00:01,000 --> 00:00:02,000\n"}, IMP("x.srt"), 65, "line 1: expected a cue number", base="none")
case("srt-invalid-utf8", {"x.srt": b"1\n00:00:01,000 --> 00:00:02,000\n\xff\xfe\n"}, IMP("x.srt"), 65, "not UTF-8", base="none")
case("srt-empty", {"x.srt": "\n\n"}, IMP("x.srt"), 65, "no subtitles", base="none")
case("vtt-no-header", {"x.vtt": "00:01.000 --> 00:02.000\nx\n"}, IMP("x.vtt"), 65, "line 1: a WebVTT file starts with WEBVTT", base="none")
case("vtt-bad-timing", {"x.vtt": "WEBVTT\n\n00:01.000 --> 00:0x.000\nx\n"}, IMP("x.vtt"), 65, "line 3: bad time", base="none")
case("ass-dialogue-before-format", {"x.ass": "[Script Info]\n[Events]\nDialogue: 0,0:00:01.00,0:00:02.00,x\n"}, IMP("x.ass"), 65, "line 3: Dialogue before", base="none")
case("ass-field-count", {"x.ass": "[Script Info]\n[Events]\nFormat: Start, End, Text\nDialogue: 0:00:01.00\n"}, IMP("x.ass"), 65, "line 4: Dialogue has 1 fields", base="none")
case("ass-format-without-text", {"x.ass": "[Script Info]\n[Events]\nFormat: Start, Text, End\n"}, IMP("x.ass"), 65, "line 3: the [Events] Format must end with Text", base="none")
case("ass-not-ass", {"x.ass": "hello world\n"}, IMP("x.ass"), 65, "not an ASS/SSA file", base="none")
case("subtitle-unknown-type", {"x.txt": "hello\n"}, IMP("x.txt"), 64, "unknown subtitle type", base="none")
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
print(len([d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d))]), "cases")
