#!/usr/bin/env python3
"""An independent reference of dubdeck's GE2E speaker encoder, in numpy: reads the converted model
file itself, a 16-bit mono 16 kHz WAV, and prints the utterance embedding as JSON. Written from
Resemblyzer's published algorithm (not from dubdeck's Swift): numpy's FFT for the spectrum, the
Slaney mel filters computed here, the LSTM in float64. Usage: ge2e_reference.py MODEL WAV"""
import hashlib
import json
import struct
import sys
import wave

import numpy as np

SR, N_FFT, HOP, N_MELS, PARTIAL, RATE, MIN_COVER = 16000, 400, 160, 40, 160, 1.3, 0.75


def load_model(path):
    data = open(path, "rb").read()
    body, digest = data[:-32], data[-32:]
    assert body[:8] == b"DDGE2E01" and hashlib.sha256(body).digest() == digest
    (count,) = struct.unpack_from("<I", body, 8)
    at, out = 12, {}
    for _ in range(count):
        (n,) = struct.unpack_from("<H", body, at); at += 2
        name = body[at:at + n].decode(); at += n
        ndim = body[at]; at += 1
        shape = struct.unpack_from("<%dI" % ndim, body, at); at += 4 * ndim
        size = int(np.prod(shape))
        out[name] = np.frombuffer(body, dtype="<f4", count=size, offset=at).reshape(shape).astype(np.float64)
        at += 4 * size
    return out


def mel_filters():
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    hz_to_mel = lambda f: f / f_sp if f < min_log_hz else min_log_mel + np.log(f / min_log_hz) / logstep
    mel_to_hz = lambda m: m * f_sp if m < min_log_mel else min_log_hz * np.exp(logstep * (m - min_log_mel))
    mels = np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2.0), N_MELS + 2)
    hz = np.array([mel_to_hz(m) for m in mels])
    freqs = np.linspace(0, SR / 2.0, N_FFT // 2 + 1)
    w = np.zeros((N_MELS, len(freqs)))
    for i in range(N_MELS):
        lower = (freqs - hz[i]) / (hz[i + 1] - hz[i])
        upper = (hz[i + 2] - freqs) / (hz[i + 2] - hz[i + 1])
        w[i] = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (hz[i + 2] - hz[i]))
    return w


def mel_spectrogram(wav):
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    y = np.concatenate([np.zeros(N_FFT // 2), wav, np.zeros(N_FFT // 2)])
    n_frames = 1 + len(wav) // HOP
    frames = np.stack([y[i * HOP:i * HOP + N_FFT] * window for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return power @ mel_filters().T


def lstm_embed(m, mel):
    x = mel
    for l in range(3):
        wih, whh = m["lstm.weight_ih_l%d" % l], m["lstm.weight_hh_l%d" % l]
        b = m["lstm.bias_ih_l%d" % l] + m["lstm.bias_hh_l%d" % l]
        h, c, out = np.zeros(256), np.zeros(256), []
        for t in range(x.shape[0]):
            z = wih @ x[t] + whh @ h + b
            i, f, g, o = 1 / (1 + np.exp(-z[:256])), 1 / (1 + np.exp(-z[256:512])), np.tanh(z[512:768]), 1 / (1 + np.exp(-z[768:]))
            c = f * c + i * g
            h = o * np.tanh(c)
            out.append(h)
        x = np.array(out)
    e = np.maximum(0, m["linear.weight"] @ x[-1] + m["linear.bias"])
    return e / np.linalg.norm(e)


def embed(m, wav):
    rms = np.sqrt(np.mean((wav * 32767) ** 2))
    change = -30 - 20 * np.log10(rms / 32767)
    if change > 0:
        wav = wav * 10 ** (change / 20)
    n_frames = int(np.ceil((len(wav) + 1) / HOP))
    step = int(round((SR / RATE) / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL + step + 1), step))
    if len(starts) > 1 and (len(wav) - starts[-1] * HOP) / (PARTIAL * HOP) < MIN_COVER:
        starts = starts[:-1]
    need = (starts[-1] + PARTIAL) * HOP
    if need >= len(wav):
        wav = np.pad(wav, (0, need - len(wav)))
    mel = mel_spectrogram(wav)
    partials = np.array([lstm_embed(m, mel[s:s + PARTIAL]) for s in starts])
    mean = partials.mean(axis=0)
    return mean / np.linalg.norm(mean)


if __name__ == "__main__":
    model = load_model(sys.argv[1])
    with wave.open(sys.argv[2]) as w:
        assert w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2
        wav = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
    print(json.dumps([float(v) for v in embed(model, wav)]))
