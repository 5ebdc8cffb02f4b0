#!/usr/bin/env python3
"""dubdeck's reference TTS server: espeak-ng behind the JSON-lines protocol of `--engine server`.

dubdeck starts this once (`--engine server --engine-command python3 scripts/tts_server.py`) and
writes one request per line on its standard input:

    {"id": 1, "text": "…", "lang": "en", "voice": "en+m3", "ref_wav": null, "out": "/abs/path.wav"}

It writes the audio to "out" and answers on standard output, one line per request:

    {"id": 1, "ok": true}        or        {"id": 1, "ok": false, "error": "…"}

A line that must be spoken faster to fit its slot comes with "rate" (e.g. 1.18: 18 % faster than the
voice speaks; 0.25–4); here espeak-ng's words per minute are multiplied by it.

A `predict` request (no "out") asks how long the text would be spoken, for the desk's predicted fit:

    {"id": 2, "op": "predict", "text": "…", "lang": "en", "voice": "en+m3", "ref_wav": null}
    → {"id": 2, "ok": true, "seconds": 2.41}

(here: espeak-ng speaks it into a temporary file whose length is measured, silence at the ends
trimmed; a neural TTS would answer from its duration predictor). A server that cannot say answers
"ok": false and is not asked again.

The text never appears in an argument: it is handed to espeak-ng on its standard input. Anything
for a person goes to standard error (dubdeck shows its last lines when the server fails). To wrap
a neural TTS (Piper, Coqui XTTS), load the model once before the loop and replace speak(); see
docs/ENGINES.md. Standard library only.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import wave


def speak(request):
    """Writes request["out"]; raises on failure."""
    voice = request.get("voice") or request.get("lang") or "en"
    rate = request.get("rate", 1)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0.25 <= rate <= 4:
        raise ValueError("rate must be a number from 0.25 to 4")
    result = subprocess.run(
        ["espeak-ng", "-v", str(voice), "-s", str(round(175 * rate)), "-w", request["out"], "--stdin"],
        input=request["text"].encode("utf-8"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode("utf-8", "replace").strip() or f"espeak-ng exited {result.returncode}")


def predict(request):
    """Seconds of speech (16-bit mono WAV from espeak-ng, quieter than -50 dBFS at either end trimmed)."""
    with tempfile.TemporaryDirectory(prefix="tts_server.") as d:
        path = os.path.join(d, "p.wav")
        speak(dict(request, out=path))
        with wave.open(path, "rb") as w:
            frames, rate = w.readframes(w.getnframes()), w.getframerate()
        samples = struct.unpack("<%dh" % (len(frames) // 2), frames)
        loud = [i for i, v in enumerate(samples) if abs(v) > 103]
        return (loud[-1] - loud[0] + 1) / rate if loud else 0.0


def main():
    print("tts_server: ready (espeak-ng)", file=sys.stderr, flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            request = json.loads(line)
            rid = request["id"]
            if request.get("op") == "predict" and isinstance(request.get("text"), str):
                sys.stdout.write(json.dumps({"id": rid, "ok": True, "seconds": round(predict(request), 3)}) + "\n")
                sys.stdout.flush()
                continue
            if not isinstance(request.get("text"), str) or not isinstance(request.get("out"), str):
                raise ValueError("a request needs a text and an out path")
            speak(request)
            answer = {"id": rid, "ok": True}
        except Exception as e:  # every failure is an answer, never a crash
            answer = {"id": rid, "ok": False, "error": str(e)[:500]}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
