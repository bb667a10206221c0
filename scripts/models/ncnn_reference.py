#!/usr/bin/env python3
"""Run an ncnn model (.param + .bin) directly in numpy, float64, the way ncnn defines its layers.

The reference against which scripts/models/ncnn_to_onnx.py's ONNX output is checked: written
separately from the converter (its own reading of the files, its own layers), so a mistake in the
converter's weight layout, padding, activations, coefficients or upsampling shows as a difference.
It covers the layers Real-ESRGAN x4plus uses: Input, Convolution (stride 1, fused LeakyReLU/ReLU),
Split, Concat, Eltwise sum with coefficients, BinaryOp add, Interp nearest. Slow (pure numpy): meant
for a tile of a few dozen pixels.

Usage: ncnn_reference.py MODEL.param MODEL.bin ONNX_FILE [SIZE]
  runs both on a SIZE x SIZE (default 32) crop of end2end/fixtures/astronaut.png and prints the
  largest difference in 0..255 units.
"""
import sys

import numpy as np


def _params(tokens):
    out = {}
    for tok in tokens:
        k, v = tok.split("=")
        k = int(k)
        if k <= -23300:
            out[-23300 - k] = [float(x) for x in v.split(",")[1:]]
        else:
            out[k] = float(v) if ("." in v or "e" in v) else int(v)
    return out


def _conv3(x, w, b, pad):
    """x [C,H,W], w [O,C,kh,kw], zero padding (top, left, bottom, right), stride 1."""
    t, l, bo, r = pad
    xp = np.pad(x, ((0, 0), (t, bo), (l, r)))
    o, c, kh, kw = w.shape
    h, wd = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    y = np.zeros((o, h, wd))
    for i in range(kh):
        for j in range(kw):
            y += np.tensordot(w[:, :, i, j], xp[:, i:i + h, j:j + wd], axes=([1], [0]))
    if b is not None:
        y += b[:, None, None]
    return y


def run(param_path, bin_path, rgb01):
    """rgb01: [3,H,W] float RGB in 0..1 (ncnn's input after the 1/255 normalisation).
    Returns the model's raw output [C,sH,sW] (not clamped)."""
    lines = [ln.split() for ln in open(param_path) if ln.strip()][2:]
    data = open(bin_path, "rb").read()
    pos = 0
    blobs = {}
    last_use = {}
    for n, parts in enumerate(lines):
        for b in parts[4:4 + int(parts[2])]:
            last_use[b] = n
    for n, parts in enumerate(lines):
        kind, n_in, n_out = parts[0], int(parts[2]), int(parts[3])
        ins, outs = parts[4:4 + n_in], parts[4 + n_in:4 + n_in + n_out]
        p = _params(parts[4 + n_in + n_out:])
        if kind == "Input":
            blobs[outs[0]] = np.asarray(rgb01, np.float64)
        elif kind == "Convolution":
            x = blobs[ins[0]]
            o, k = p[0], p[1]
            count = p[6]
            tag = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
            if tag == 0x01306B47:
                w = np.frombuffer(data, "<f2", count, pos).astype(np.float64)
                pos += (2 * count + 3) // 4 * 4
            else:
                assert tag == 0, f"weight tag {tag:#x}"
                w = np.frombuffer(data, "<f4", count, pos).astype(np.float64)
                pos += 4 * count
            w = w.reshape(o, x.shape[0], k, k)
            b = None
            if p.get(5):
                b = np.frombuffer(data, "<f4", o, pos).astype(np.float64)
                pos += 4 * o
            pad = p.get(4, 0)
            y = _conv3(x, w, b, (pad, pad, pad, pad))
            if p.get(9) == 2:
                y = np.where(y > 0, y, y * p[10][0])
            elif p.get(9) == 1:
                y = np.maximum(y, 0)
            else:
                assert not p.get(9), f"activation {p.get(9)}"
            blobs[outs[0]] = y
        elif kind == "Split":
            for o in outs:
                blobs[o] = blobs[ins[0]]
        elif kind == "Concat":
            blobs[outs[0]] = np.concatenate([blobs[i] for i in ins], axis=0)
        elif kind == "Eltwise":
            assert p.get(0) == 1, "Eltwise other than sum"
            coeffs = p.get(1, [1.0] * len(ins))
            blobs[outs[0]] = sum(c * blobs[i] for c, i in zip(coeffs, ins))
        elif kind == "BinaryOp":
            assert p.get(0, 0) == 0, "BinaryOp other than add"
            blobs[outs[0]] = blobs[ins[0]] + blobs[ins[1]]
        elif kind == "Interp":
            assert p.get(0) == 1, "Interp other than nearest"
            sh, sw = int(p[1]), int(p[2])
            blobs[outs[0]] = blobs[ins[0]].repeat(sh, axis=1).repeat(sw, axis=2)
        else:
            raise ValueError(f"layer {kind} not in the reference")
        for i in ins:  # free what no later layer reads
            if last_use[i] == n:
                blobs.pop(i, None)
    assert pos == len(data), f"{len(data) - pos} bytes of weights unused"
    return blobs["output"]


def upscale_u8_range(param_path, bin_path, rgb_hwc_255):
    """The whole ncnn pipeline as realesrgan-ncnn-vulkan runs it: /255, the model, clamp 0..1, x255.
    rgb_hwc_255 [H,W,3] in 0..255 -> [sH,sW,3] float in 0..255 (not rounded)."""
    x = np.asarray(rgb_hwc_255, np.float64).transpose(2, 0, 1) / 255
    y = run(param_path, bin_path, x)
    return np.clip(y, 0, 1).transpose(1, 2, 0) * 255


def main(argv):
    from pathlib import Path

    import onnxruntime as ort
    from PIL import Image

    param, binf, onnx_path = argv[:3]
    size = int(argv[3]) if len(argv) > 3 else 32
    img = Image.open(Path(__file__).resolve().parents[2] / "end2end/fixtures/astronaut.png").convert("RGB")
    tile = np.asarray(img, np.float32)[100:100 + size, 180:180 + size]
    ref = upscale_u8_range(param, binf, tile)
    got = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(["output"], {"input": tile[None]})[0][0]
    print(f"shape {got.shape}, max |onnx - reference| = {np.abs(got - ref).max():.5f} (0..255)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
