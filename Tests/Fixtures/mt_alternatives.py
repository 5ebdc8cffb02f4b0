#!/usr/bin/env python3
"""A machine translation server for the desk's tests (docs/ENGINES.md): three alternatives for every
line, of three lengths — one that runs past a 2 s slot, one that fills it, one short that says the
max_chars it was asked for — in that order, so the desk's ranking is what puts them right."""
import json
import sys

for line in sys.stdin:
    q = json.loads(line)
    print(json.dumps({"id": q["id"], "ok": True, "alternatives": [
        "Nadie sabe a dónde se fue el capitán aquella noche de tormenta.",
        "Nadie sabe dónde fue el capitán.",
        "¿Y el capitán? (max %s)" % q.get("max_chars"),
    ]}), flush=True)
