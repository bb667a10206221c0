#!/usr/bin/env python3
"""Python reference for the AI benchmark: the same models through Python ONNX Runtime, Pillow for
decoding, resizing and encoding. Each timed run covers the whole job, PNG bytes in -> PNG bytes out:

  background_1024_ms  decode a 1024x1024 PNG, resize to 1024x1024 (no-op here), (p-128)/256 NCHW,
                      isnet, mask resized to the image size, RGBA PNG with the mask as alpha
  upscale_x4_256_ms   decode a 256x256 PNG, esrgan-slim-x4 (NHWC 0..255), clip, round, PNG 1024x1024

Prints {"background_1024_ms": ..., "upscale_x4_256_ms": ...} (medians over RUNS runs, after one
untimed warm-up run each; sessions are created once, outside the timing). ONNX Runtime uses
intra_op_num_threads = all cores (os.cpu_count()), the Rust side's setting. Per-stage medians go
to stderr.

Usage: target/models-venv/bin/python bench/reference.py [RUNS=5] [--image PNG] [--models DIR]
(with another python3 it re-runs itself in target/models-venv). The models come from
scripts/install-models; the default photo is end2end/fixtures/astronaut.png.
"""
import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / "target" / "models-venv" / "bin" / "python"

try:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image
except ImportError:
    if VENV_PY.exists() and Path(sys.prefix).resolve() != VENV_PY.parent.parent.resolve():
        os.execv(str(VENV_PY), [str(VENV_PY), *sys.argv])
    sys.exit("bench/reference.py: needs target/models-venv (run scripts/install-models)")


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = os.cpu_count() or 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class Stages:
    def __init__(self):
        self.t = {}
        self.last = time.perf_counter()

    def mark(self, name):
        now = time.perf_counter()
        self.t[name] = (now - self.last) * 1000
        self.last = now


def remove_background(sess, png: bytes, st: Stages) -> bytes:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    st.mark("decode")
    w, h = img.size
    x = np.asarray(img.resize((1024, 1024), Image.BILINEAR) if (w, h) != (1024, 1024) else img, np.float32)
    x = ((x - 128.0) / 256.0).transpose(2, 0, 1)[None]
    x = np.ascontiguousarray(x)
    st.mark("preprocess")
    mask = sess.run(["output"], {"input": x})[0][0, 0]
    st.mark("inference")
    alpha = Image.fromarray(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if alpha.size != (w, h):
        alpha = alpha.resize((w, h), Image.BILINEAR)
    out = img.copy()
    out.putalpha(alpha)
    st.mark("postprocess")
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    st.mark("encode")
    return buf.getvalue()


def upscale(sess, png: bytes, st: Stages) -> bytes:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    st.mark("decode")
    x = np.asarray(img, np.float32)[None]
    st.mark("preprocess")
    y = sess.run(["output"], {"input": x})[0][0]
    st.mark("inference")
    out = Image.fromarray(np.clip(y + 0.5, 0, 255).astype(np.uint8), "RGB")  # clip + round
    st.mark("postprocess")
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    st.mark("encode")
    return buf.getvalue()


def bench(fn, sess, png, runs):
    fn(sess, png, Stages())  # warm-up
    totals, stages = [], []
    for _ in range(runs):
        st = Stages()
        t0 = time.perf_counter()
        fn(sess, png, st)
        totals.append((time.perf_counter() - t0) * 1000)
        stages.append(st.t)
    per_stage = {k: round(statistics.median(s[k] for s in stages), 1) for k in stages[0]}
    return round(statistics.median(totals), 1), per_stage


def png_bytes(img):
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="?", type=int, default=5)
    ap.add_argument("--image", default=str(ROOT / "end2end" / "fixtures" / "astronaut.png"))
    ap.add_argument("--models", default=os.environ.get("ATELIER_MODELS_DIR") or str(ROOT / "models"))
    a = ap.parse_args()
    models = Path(a.models)
    src = Image.open(a.image).convert("RGB")
    with tempfile.TemporaryDirectory() as tmp:
        # The inputs are real PNG files, decoded in every run.
        p1024 = Path(tmp) / "in1024.png"
        p1024.write_bytes(png_bytes(src.resize((1024, 1024), Image.BICUBIC)))
        w, h = src.size
        side = min(w, h, 256)
        crop = src.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
        p256 = Path(tmp) / "in256.png"
        p256.write_bytes(png_bytes(crop.resize((256, 256), Image.BICUBIC)))
        png1024, png256 = p1024.read_bytes(), p256.read_bytes()

    bg_ms, bg_stages = bench(remove_background, session(models / "isnet.onnx"), png1024, a.runs)
    up_ms, up_stages = bench(upscale, session(models / "esrgan-slim-x4.onnx"), png256, a.runs)
    print(json.dumps({"background_1024_ms": bg_ms, "upscale_x4_256_ms": up_ms}))
    print(json.dumps({"threads": os.cpu_count(), "onnxruntime": ort.__version__, "runs": a.runs,
                      "background_1024_stages_ms": bg_stages, "upscale_x4_256_stages_ms": up_stages}), file=sys.stderr)


if __name__ == "__main__":
    main()
