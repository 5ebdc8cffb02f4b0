#!/usr/bin/env python3
"""Converts the GE2E speaker encoder of Resemblyzer 0.1.4 (Apache-2.0) into dubdeck's model file.

`make deps` runs it when the model is missing: it downloads the wheel from PyPI (pip download),
checks its SHA-256, reads `resemblyzer/pretrained.pt` (a torch *legacy* pickle file) with a
restricted unpickler — no torch, no code execution: only OrderedDict, the tensor rebuild call and
the FloatStorage type are let through, everything else is refused — checks every tensor's shape,
and writes $XDG_DATA_HOME/dubdeck/models/ge2e-resemblyzer-0.1.4.f32 atomically:

    "DDGE2E01" | u32 count | count × (u16 name length, name, u8 ndim, ndim × u32, float32 LE data)
    | SHA-256 of everything before it (32 bytes)

Standard library only. Usage: ge2e_convert.py [--wheel FILE] [--out FILE]
"""
import collections
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile

WHEEL_SHA256 = "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f"
PT_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
TENSORS = [("lstm.weight_ih_l0", (1024, 40)), ("lstm.weight_hh_l0", (1024, 256)), ("lstm.bias_ih_l0", (1024,)), ("lstm.bias_hh_l0", (1024,)),
           ("lstm.weight_ih_l1", (1024, 256)), ("lstm.weight_hh_l1", (1024, 256)), ("lstm.bias_ih_l1", (1024,)), ("lstm.bias_hh_l1", (1024,)),
           ("lstm.weight_ih_l2", (1024, 256)), ("lstm.weight_hh_l2", (1024, 256)), ("lstm.bias_ih_l2", (1024,)), ("lstm.bias_hh_l2", (1024,)),
           ("linear.weight", (256, 256)), ("linear.bias", (256,))]


def default_out():
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "dubdeck", "models", "ge2e-resemblyzer-0.1.4.f32")


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def rebuild_tensor(storage, offset, size, stride, *_ignored):
    return Tensor(storage, offset, size, stride)


class Restricted(pickle.Unpickler):
    """Lets through only what a state dict of float tensors needs."""
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild_tensor
        if (module, name) == ("torch", "FloatStorage"):
            return "FloatStorage"
        raise pickle.UnpicklingError("refused: %s.%s" % (module, name))

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, number of elements, view metadata)
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage" and pid[1] == "FloatStorage"):
            raise pickle.UnpicklingError("refused persistent id %r" % (pid,))
        return ("storage", str(pid[2]), int(pid[4]))


def read_legacy(data):
    f = io.BytesIO(data)
    magic = Restricted(f).load()
    if magic != 0x1950A86A20F9469CFC6C:
        raise ValueError("not a torch legacy file (magic %r)" % (magic,))
    if Restricted(f).load() != 1001:
        raise ValueError("unknown torch legacy protocol version")
    info = Restricted(f).load()
    if not info.get("little_endian"):
        raise ValueError("not little-endian")
    checkpoint = Restricted(f).load()
    keys = Restricted(f).load()
    storages = {}
    for key in keys:
        (count,) = struct.unpack("<q", f.read(8))
        raw = f.read(4 * count)
        if count < 0 or len(raw) != 4 * count:
            raise ValueError("storage %s truncated" % key)
        storages[key] = raw
    return checkpoint, storages


def tensor_bytes(t, storages):
    _, key, count = t.storage
    raw = storages[key]
    n = 1
    for d in t.size:
        n *= d
    expected_stride = tuple(int(x) for x in [1] * len(t.size))
    if len(t.size) == 2:
        expected_stride = (t.size[1], 1)
    if t.stride != expected_stride:
        raise ValueError("non-contiguous tensor")
    if t.offset < 0 or t.offset + n > count:
        raise ValueError("tensor out of its storage")
    return raw[4 * t.offset: 4 * (t.offset + n)]


def convert(wheel, out):
    with open(wheel, "rb") as w:
        wdata = w.read()
    if hashlib.sha256(wdata).hexdigest() != WHEEL_SHA256:
        sys.exit("ge2e: %s is not resemblyzer 0.1.4's wheel (SHA-256 differs)" % wheel)
    with zipfile.ZipFile(io.BytesIO(wdata)) as z:
        pt = z.read("resemblyzer/pretrained.pt")
    if hashlib.sha256(pt).hexdigest() != PT_SHA256:
        sys.exit("ge2e: pretrained.pt's SHA-256 differs")
    checkpoint, storages = read_legacy(pt)
    state = checkpoint["model_state"]
    body = bytearray(b"DDGE2E01" + struct.pack("<I", len(TENSORS)))
    for name, shape in TENSORS:
        t = state.get(name)
        if not isinstance(t, Tensor) or t.size != shape:
            sys.exit("ge2e: %s should be %s, is %s" % (name, shape, getattr(t, "size", None)))
        enc = name.encode()
        body += struct.pack("<H", len(enc)) + enc + struct.pack("<B", len(shape)) + b"".join(struct.pack("<I", d) for d in shape)
        body += tensor_bytes(t, storages)
    body += hashlib.sha256(body).digest()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(out), prefix=".ge2e.")
    with os.fdopen(fd, "wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    print("ge2e: wrote %s (%d bytes)" % (out, len(body)))


def main():
    args = sys.argv[1:]
    wheel = args[args.index("--wheel") + 1] if "--wheel" in args else None
    out = args[args.index("--out") + 1] if "--out" in args else default_out()
    if wheel:
        convert(wheel, out)
        return
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "resemblyzer==0.1.4", "-d", d], check=True)
        names = [n for n in os.listdir(d) if n.endswith(".whl")]
        if len(names) != 1:
            sys.exit("ge2e: pip download gave no wheel")
        convert(os.path.join(d, names[0]), out)


if __name__ == "__main__":
    main()
