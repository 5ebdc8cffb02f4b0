#!/usr/bin/env python3
"""A TTS server for the protocol tests: speaks a sine of 20 ms per character (standard library),
and misbehaves as argv[1] says:

  good          answers every request
  hang          never answers
  die-once      exits on its first request (the marker file argv[2] remembers it), then is good
  die-always    exits on every request
  out-of-order  answers each request first with an id that is not the request's, then rightly
  garbage       answers with a line that is not JSON
  refuse        answers ok:false with a reason
  no-audio      answers ok:true without writing the file
  echo-args     writes its argv to stderr and dies (the text must not be there)
  slow-pid      appends its pid to argv[2], then answers each request after 0.3 s (ignores EOF)
  huge-ids      answers first with ids no integer holds (1e300, -1e300, 2^64, 1.5, "1"), then rightly
  long-claim    writes a sparse WAV of an hour of silence (115 MB that take no disk), then ok
  poison        like concurrent, but exits when a text holds POISON (the lines in flight with it are lost)
  dup           answers each request twice: ok, then ok:false (the first answer counts)
  long-tail     answers an unknown id, then 2 MB without a newline
  no-read       never reads its input
  chatty        writes 2 MB on stderr before each answer, then a line of last words, and is good
  concurrent    takes 3 requests at once (says "concurrent": 3 in its answers), answers each after
                0.2 s from a thread of its own, in the order they finish; writes to argv[2] the
                most requests it ever had at once

A `predict` request ({"op": "predict"}, no "out"): `good` answers 20 ms per character (the length it
would speak), `bad-seconds` a negative number, every other mode ok:false; each one is counted as a
line "predict" in the marker file argv[2] when there is one.
"""
import json
import math
import os
import struct
import sys
import wave

mode = sys.argv[1]
marker = sys.argv[2] if len(sys.argv) > 2 else None
if mode == "slow-pid":  # writes its pid to the marker, then answers each request after 0.3 s
    with open(marker, "a") as f:
        f.write(f"{os.getpid()}\n")
print(f"test server: {mode} ready", file=sys.stderr, flush=True)


def write_wav(path, text):
    rate = 16000
    frames = max(1, len(text)) * rate // 50
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate))) for i in range(frames)))


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


if mode == "no-read":
    import time
    time.sleep(60)
    sys.exit(0)
if mode == "long-tail":
    sys.stdin.readline()
    sys.stdout.write('{"id": 0}\n' + "x" * (2 << 20))
    sys.stdout.flush()
    import time
    time.sleep(60)
    sys.exit(0)
if mode == "dup":
    for line in sys.stdin:
        req = json.loads(line)
        write_wav(req["out"], req["text"])
        answer({"id": req["id"], "ok": True})
        answer({"id": req["id"], "ok": False, "error": "a second answer"})
    sys.exit(0)
if mode in ("concurrent", "poison"):
    import threading
    import time
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def work(req):
        if mode == "poison" and "POISON" in req["text"]:
            time.sleep(0.1)
            print("test server: poisoned", file=sys.stderr, flush=True)
            os._exit(3)
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
            if marker:
                with open(marker, "w") as f:
                    f.write(f"{state['most']}\n")
        time.sleep(0.2)
        write_wav(req["out"], req["text"])
        with lock:
            state["now"] -= 1
            answer({"id": req["id"], "ok": True, "concurrent": 3})

    for line in sys.stdin:
        threading.Thread(target=work, args=(json.loads(line),)).start()
    sys.exit(0)

for line in sys.stdin:
    req = json.loads(line)
    if req.get("op") == "predict":
        if marker:
            with open(marker, "a") as f:
                f.write("predict\n")
        if mode == "good":
            answer({"id": req["id"], "ok": True, "seconds": 0.02 * max(1, len(req["text"]))})
        elif mode == "bad-seconds":
            answer({"id": req["id"], "ok": True, "seconds": -1})
        else:
            answer({"id": req["id"], "ok": False, "error": "no predict here"})
        continue
    if mode == "slow-pid":
        import time
        time.sleep(0.3)
    if mode == "hang":
        continue
    if mode == "chatty":
        sys.stderr.write(("noise " * 100 + "\n") * 3500)
        sys.stderr.write("chatty: request %d done\n" % req["id"])
        sys.stderr.flush()
    if mode == "die-always" or (mode == "die-once" and not os.path.exists(marker)):
        if marker:
            open(marker, "w").close()
        print("test server: dying now", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "echo-args":
        print("args:", sys.argv, file=sys.stderr, flush=True)
        sys.exit(4)
    if mode == "garbage":
        sys.stdout.write("this is not json\n")
        sys.stdout.flush()
        continue
    if mode == "refuse":
        answer({"id": req["id"], "ok": False, "error": "no voice for \x1b[31mthat\x1b[0m"})
        continue
    if mode == "no-audio":
        answer({"id": req["id"], "ok": True})
        continue
    if mode == "huge-ids":
        for bad in ["1e300", "-1e300", "18446744073709551616", "1.5", "\"1\"", "9007199254740993"]:
            sys.stdout.write('{"id": ' + bad + ', "ok": true}\n')
        sys.stdout.flush()
    if mode == "long-claim":
        write_wav(req["out"], "x")
        with open(req["out"], "r+b") as f:  # data chunk size: 3600 s at 16 kHz, 16-bit
            f.seek(40)
            f.write(struct.pack("<I", 3600 * 16000 * 2))
            f.seek(4)
            f.write(struct.pack("<I", 36 + 3600 * 16000 * 2))
            f.truncate(44 + 3600 * 16000 * 2)
        answer({"id": req["id"], "ok": True})
        continue
    if mode == "out-of-order":
        answer({"id": req["id"] + 1000, "ok": True})
    write_wav(req["out"], req["text"])
    answer({"id": req["id"], "ok": True})
if mode == "slow-pid":  # a model server that outlives its client unless its group is killed
    import time
    time.sleep(60)
