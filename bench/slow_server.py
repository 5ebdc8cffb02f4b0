#!/usr/bin/env python3
"""make bench's stand-in for a neural TTS behind `--engine server`: every request costs a fixed
latency (the model's time, `--latency S`, default 0.1) and yields a tone of 70 ms a character
(standard library; a request's "rate" divides it), written ready-made, so what is measured is dubdeck around the engine. It takes
`--concurrent K` requests at once (default 1), says so in every answer ("concurrent": K), and
answers each from a thread of its own as it finishes. Counts the requests it got in `--count FILE`."""
import argparse
import json
import math
import struct
import sys
import threading
import time
import wave

ap = argparse.ArgumentParser()
ap.add_argument("--latency", type=float, default=0.1)
ap.add_argument("--concurrent", type=int, default=1)
ap.add_argument("--count")
a = ap.parse_args()
out_lock = threading.Lock()
slots = threading.Semaphore(a.concurrent)
RATE = 22050
CYCLE = [struct.pack("<h", int(6000 * math.sin(2 * math.pi * 200 * i / RATE))) for i in range(RATE // 200 * 4)]
requests = 0


def tone(path, seconds):
    frames = int(seconds * RATE)
    one = b"".join(CYCLE)
    data = (one * (frames // len(CYCLE) + 1))[: frames * 2]
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(data)


def work(req):
    with slots:
        time.sleep(a.latency)
        if req.get("op") == "predict":
            answer = {"id": req["id"], "ok": True, "seconds": round(0.07 * max(1, len(req["text"])), 3)}
        else:
            tone(req["out"], 0.07 * max(1, len(req["text"])) / float(req.get("rate", 1)))
            answer = {"id": req["id"], "ok": True}
    answer["concurrent"] = a.concurrent
    with out_lock:
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


for line in sys.stdin:
    if not line.strip():
        continue
    requests += 1
    if a.count:
        with open(a.count, "w") as f:
            f.write(f"{requests}\n")
    threading.Thread(target=work, args=(json.loads(line),), daemon=True).start()
