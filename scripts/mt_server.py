#!/usr/bin/env python3
"""dubdeck's reference machine translation server: Apertium behind the JSON-lines protocol of
`--mt-engine server`.

dubdeck starts this once (`dubdeck translate JOB N --mt-engine server --mt-command python3
scripts/mt_server.py`, or the desk's R with `DUBDECK_MT_COMMAND`) and writes one request per line:

    {"id": 1, "text": "…", "src_lang": "en", "tgt_lang": "es", "context": ["previous", "next"], "max_chars": 40}

and reads one answer per request:

    {"id": 1, "ok": true, "text": "…"}   or   {"id": 1, "ok": true, "alternatives": ["…", "…"]}
    or   {"id": 1, "ok": false, "error": "…"}

Apertium gives one answer and takes no context; a neural engine would use both and answer
alternatives within max_chars. The text never appears in an argument: it is handed to `apertium -u
MODE` on its standard input. Anything for a person goes to standard error. Standard library only.
"""
import json
import os
import subprocess
import sys

THREE = {"en": "eng", "es": "spa", "ca": "cat", "fr": "fra", "pt": "por", "it": "ita", "de": "deu", "gl": "glg", "eu": "eus"}
MODES = "/usr/share/apertium/modes"


def mode(src, tgt):
    for name in (f"{THREE.get(src, src)}-{THREE.get(tgt, tgt)}", f"{src}-{tgt}"):
        if os.path.isfile(os.path.join(MODES, name + ".mode")):
            return name
    raise ValueError(f"no Apertium pair {src}-{tgt} installed")


def translate(request):
    text = " ".join(str(request["text"]).splitlines())
    done = subprocess.run(["apertium", "-u", mode(request["src_lang"], request["tgt_lang"])],
                          input=(text + "\n").encode(), capture_output=True, timeout=30, check=False)
    if done.returncode != 0:
        raise ValueError(done.stderr.decode(errors="replace").strip()[-200:] or f"apertium exit {done.returncode}")
    return done.stdout.decode().strip()


def main():
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError:
            print("mt_server: a request that is not JSON", file=sys.stderr)
            continue
        answer = {"id": request.get("id")}
        try:
            answer.update(ok=True, text=translate(request))
        except (ValueError, KeyError, subprocess.TimeoutExpired) as e:
            answer.update(ok=False, error=str(e))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
