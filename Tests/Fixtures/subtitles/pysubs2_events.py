#!/usr/bin/env python3
"""Prints how pysubs2 reads a subtitle file: [[start_ms, end_ms, plaintext], ...] for its dialogue
events (comments and drawings left out), as JSON. Used by the tests to compare dubdeck's reading."""
import json
import sys

import pysubs2

path = sys.argv[1]
encoding = sys.argv[2] if len(sys.argv) > 2 else "utf-8"
subs = pysubs2.load(path, encoding=encoding)
events = [e for e in subs if not e.is_comment and not getattr(e, "is_drawing", False)]
json.dump([[e.start, e.end, e.plaintext] for e in events], sys.stdout, ensure_ascii=False)
