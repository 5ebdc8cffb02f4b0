"""P5 baseline: the same steps as dubdeck on the same encrypted store, with Python's
`cryptography` (AES-GCM), `json` and `numpy` (and scipy's assignment for identify)."""
import base64
import json
import os
import statistics
import sys
import time

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HEADER = 64


def open_store(path, key):
    with open(path, "rb") as f:
        blob = f.read()
    header, body = blob[:HEADER], blob[HEADER:]
    plain = AESGCM(key).decrypt(header[52:64], body, header)
    doc = json.loads(plain)
    rows, owner, ids = [], [], []
    for i, (cid, c) in enumerate(doc["characters"].items()):
        ids.append(cid)
        if c.get("merged_into"):
            continue
        rows.append(np.frombuffer(base64.b64decode(c["embedding_avg"]), "<f4"))
        owner.append(i)
        for s in c["snapshots"]:
            rows.append(np.frombuffer(base64.b64decode(s["embedding"]), "<f4"))
            owner.append(i)
    m = np.vstack(rows)
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    return doc, header, m, np.array(owner), ids


def best_per_character(m, owner, n, q):
    sims = m @ (q / np.linalg.norm(q))
    best = np.full(n, -2.0, dtype=np.float32)
    np.maximum.at(best, owner, sims)
    return best


def match(doc, m, owner, ids, q, series, threshold=0.70):
    best = best_per_character(m, owner, len(ids), q)
    chars = doc["characters"]
    local = np.array([series in chars[c]["series"] for c in ids])
    need = np.where(local, threshold, threshold + 0.10)
    score = np.where(best >= need, best + 0.05 * local, -np.inf)
    i = int(np.argmax(score))
    return ids[i] if np.isfinite(score[i]) else None


def identify(doc, m, owner, ids, labels, series, threshold=0.70):
    from scipy.optimize import linear_sum_assignment
    chars = doc["characters"]
    local = np.array([series in chars[c]["series"] for c in ids])
    need = np.where(local, threshold, threshold + 0.10)
    sims = np.stack([best_per_character(m, owner, len(ids), q) for q in labels])
    eligible = sims >= need
    cols = np.nonzero(eligible.any(axis=0))[0]
    if len(cols) == 0:
        return []
    w = np.where(eligible[:, cols], sims[:, cols] + 0.05 * local[cols], -1e6)
    r, c = linear_sum_assignment(-w)
    return [(int(a), ids[cols[b]]) for a, b in zip(r, c) if w[a, b] > -1e5]


def save(path, doc, header, key):
    plain = json.dumps(doc).encode()
    nonce = os.urandom(12)
    new_header = header[:52] + nonce
    blob = new_header + AESGCM(key).encrypt(nonce, plain, new_header)
    tmp = path + ".tmp-py"
    with open(tmp, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def main():
    path, runs = sys.argv[1], int(sys.argv[2])
    key = base64.b64decode(os.environ["DUBDECK_STORE_KEY"])
    work = path + ".py"
    rng = np.random.default_rng(1)
    t_open, t_match, t_ident, t_save = [], [], [], []
    for i in range(runs):
        t0 = time.perf_counter()
        doc, header, m, owner, ids = open_store(path, key)
        t_open.append(time.perf_counter() - t0)
        q = m[(i * 37 % len(ids)) * 9] + rng.normal(0, 0.03, m.shape[1]).astype(np.float32)
        t0 = time.perf_counter()
        match(doc, m, owner, ids, q, "series_%d" % (i % 5))
        t_match.append(time.perf_counter() - t0)
        labels = [m[((i * 101 + k * 53) % len(ids)) * 9] + rng.normal(0, 0.03, m.shape[1]).astype(np.float32) for k in range(20)]
        t0 = time.perf_counter()
        identify(doc, m, owner, ids, labels, "series_1")
        t_ident.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        save(work, doc, header, key)
        t_save.append(time.perf_counter() - t0)
    os.unlink(work)
    print("P5py", *(statistics.median(x) * 1000 for x in (t_open, t_match, t_ident, t_save)))


if __name__ == "__main__":
    main()
