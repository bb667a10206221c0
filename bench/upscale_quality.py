#!/usr/bin/env python3
"""How close each upscaler gets to a photo's original: photos are downscaled x4 and x2 here, then
brought back by bicubic, the three ESRGAN modes (slim, medium, thick) and the photo mode
(Real-ESRGAN x4plus; x2 is its x4 taken down by half with Lanczos3, as Atelier does), each through
Python ONNX Runtime on the installed models, tiled as ai/src/upscale.rs tiles them.

Two inputs per photo and factor: "clean" (downscaled with Pillow's bicubic, antialiased) and
"JPEG 75" (the same saved as a quality-75 JPEG, as small photos off the web or a chat are).

Scores against the original, averaged over the photos (a 16-pixel frame left out):
  PSNR   dB over RGB, higher is closer pixel for pixel
  SSIM   Wang et al. 2004 on luma (11x11 Gaussian, sigma 1.5), higher is better, 1 = same
  GMSD   gradient magnitude similarity deviation (Xue et al. 2014) on luma, lower is better: a
         perceptual score (it tracks human ratings on LIVE/TID2013 about as well as SSIM variants)
         that rewards edges in the right places and punishes blur; LPIPS needs network weights
         that are not available offline
  s/MP   seconds per megapixel of output on this machine (ONNX Runtime, all cores)

Photos: end2end/fixtures/{astronaut,chelsea,coffee}.png and skimage/data/rocket.jpg from the
scikit-image 0.25.2 wheel (public domain / CC0; fetched with pip into models/.cache when missing),
or the files given with --photos.

Usage: target/models-venv/bin/python bench/upscale_quality.py [--photos A.png B.jpg ..] [--per-photo]
(with another python3 it re-runs itself in target/models-venv; models from scripts/install-models).
"""
import argparse
import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / "target" / "models-venv" / "bin" / "python"
CACHE = Path(os.environ.get("ATELIER_MODELS_CACHE") or ROOT / "models" / ".cache")
MODELS = Path(os.environ.get("ATELIER_MODELS_DIR") or ROOT / "models")

try:
    import numpy as np
    import onnxruntime as ort
    from numpy.lib.stride_tricks import sliding_window_view
    from PIL import Image
except ImportError:
    if VENV_PY.exists() and Path(sys.prefix).resolve() != VENV_PY.parent.parent.resolve():
        os.execv(str(VENV_PY), [str(VENV_PY), *sys.argv])
    sys.exit("bench/upscale_quality.py: needs target/models-venv (run scripts/install-models)")

SKIMAGE = ("scikit-image", "0.25.2")


def default_photos():
    photos = [ROOT / "end2end" / "fixtures" / n for n in ("astronaut.png", "chelsea.png", "coffee.png")]
    wheels = sorted(CACHE.glob("scikit_image-0.25.2-*.whl"))
    if not wheels:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "-d", str(CACHE),
                        f"{SKIMAGE[0]}=={SKIMAGE[1]}"], check=True)
        wheels = sorted(CACHE.glob("scikit_image-0.25.2-*.whl"))
    rocket = CACHE / "skimage-rocket.jpg"
    if not rocket.exists():
        with zipfile.ZipFile(wheels[0]) as z:
            rocket.write_bytes(z.read("skimage/data/rocket.jpg"))
    return photos + [rocket]


# ---------------------------------------------------------------- upscalers

def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = os.cpu_count() or 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def tiled(sess, lr, scale, tile, margin):
    """ai/src/upscale.rs's tiling: tiles of `tile` input pixels, each run with `margin` pixels of
    context (clipped at the edges), only the tile's own area kept. lr: uint8 [H,W,3]."""
    h, w = lr.shape[:2]
    out = np.zeros((h * scale, w * scale, 3), np.uint8)
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            th, tw = min(tile, h - y), min(tile, w - x)
            y0, x0 = max(0, y - margin), max(0, x - margin)
            y1, x1 = min(h, y + th + margin), min(w, x + tw + margin)
            patch = lr[y0:y1, x0:x1].astype(np.float32)[None]
            up = np.clip(np.round(sess.run(["output"], {"input": patch})[0][0]), 0, 255).astype(np.uint8)
            oy, ox = (y - y0) * scale, (x - x0) * scale
            out[y * scale:(y + th) * scale, x * scale:(x + tw) * scale] = up[oy:oy + th * scale, ox:ox + tw * scale]
    return out


def photo_mode(sess, lr, factor):
    if factor == 4:
        return tiled(sess, lr, 4, 128, 10)
    # x2: x4, then Lanczos3 by half. Atelier halves each tile's patch; one resize of the whole
    # image gives the same pixels away from the photo's edges.
    x4 = tiled(sess, lr, 4, 128, 10)
    return np.asarray(Image.fromarray(x4).resize((lr.shape[1] * factor, lr.shape[0] * factor), Image.LANCZOS))


# ---------------------------------------------------------------- scores

def luma(a):
    a = np.asarray(a, np.float64)
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def filt(x, k):
    kh, kw = k.shape
    p = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="reflect")
    return np.einsum("ijkl,kl->ij", sliding_window_view(p, (kh, kw)), k)


def psnr(a, b):
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / mse)


def ssim(a, b):
    x, y = luma(a), luma(b)
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    k = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = filt(x, k), filt(y, k)
    sxx, syy, sxy = filt(x * x, k) - mx * mx, filt(y * y, k) - my * my, filt(x * y, k) - mx * my
    return float((((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))).mean())


def gmsd(a, b):
    def prep(z):  # 2x2 average and downsample by 2, as the paper does
        z = luma(z)
        z = (z[:-1, :-1] + z[1:, :-1] + z[:-1, 1:] + z[1:, 1:]) / 4
        return z[::2, ::2]

    x, y = prep(a), prep(b)
    hx = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]]) / 3.0
    gx, gy = np.hypot(filt(x, hx), filt(x, hx.T)), np.hypot(filt(y, hx), filt(y, hx.T))
    c = 170.0
    return float(((2 * gx * gy + c) / (gx * gx + gy * gy + c)).std())


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", nargs="*")
    ap.add_argument("--per-photo", action="store_true")
    args = ap.parse_args()
    photos = [Path(p) for p in args.photos] if args.photos else default_photos()
    missing = [m for m in ("realesrgan-x4plus", "esrgan-slim-x4") if not (MODELS / f"{m}.onnx").exists()]
    if missing:
        sys.exit(f"models missing: {missing}; run scripts/install-models")
    sessions = {}

    def model(mid):
        if mid not in sessions:
            sessions[mid] = session(MODELS / f"{mid}.onnx")
        return sessions[mid]

    methods = [("bicubic", None), ("fast (esrgan-slim)", "slim"), ("balanced (esrgan-medium)", "medium"),
               ("best (esrgan-thick)", "thick"), ("photo (Real-ESRGAN x4plus)", "photo")]
    rows = {}
    frame = 16
    for factor in (4, 2):
        for cond in ("clean", "JPEG 75"):
            for path in photos:
                hr = Image.open(path).convert("RGB")
                w, h = hr.width // 4 * 4, hr.height // 4 * 4
                hr = hr.crop((0, 0, w, h))
                lr_img = hr.resize((w // factor, h // factor), Image.BICUBIC)
                if cond != "clean":
                    buf = io.BytesIO()
                    lr_img.save(buf, "JPEG", quality=75)
                    lr_img = Image.open(buf).convert("RGB")
                lr = np.asarray(lr_img)
                ref = np.asarray(hr)[frame:-frame, frame:-frame]
                for label, kind in methods:
                    t0 = time.perf_counter()
                    if kind is None:
                        out = np.asarray(lr_img.resize((w, h), Image.BICUBIC))
                    elif kind == "photo":
                        out = photo_mode(model("realesrgan-x4plus"), lr, factor)
                    else:
                        out = tiled(model(f"esrgan-{kind}-x{factor}"), lr, factor, 256, 8)
                    secs = time.perf_counter() - t0
                    o = out[frame:-frame, frame:-frame]
                    score = (psnr(o, ref), ssim(o, ref), gmsd(o, ref), secs / (w * h / 1e6))
                    rows.setdefault((factor, cond, label), []).append(score)
                    if args.per_photo:
                        print(f"  x{factor} {cond:8s} {path.name:18s} {label:28s} PSNR {score[0]:.2f} SSIM {score[1]:.3f} "
                              f"GMSD {score[2]:.4f} {score[3]:.1f} s/MP", file=sys.stderr, flush=True)
    names = ", ".join(p.name for p in photos)
    print(f"Photos: {names}; {os.cpu_count()} cores, ONNX Runtime {ort.__version__}\n")
    print("| factor | input | method | PSNR dB ↑ | SSIM ↑ | GMSD ↓ | s per output MP |")
    print("|---|---|---|---|---|---|---|")
    for (factor, cond, label), scores in rows.items():
        m = np.mean(scores, axis=0)
        print(f"| x{factor} | {cond} | {label} | {m[0]:.2f} | {m[1]:.3f} | {m[2]:.4f} | {m[3]:.1f} |")


if __name__ == "__main__":
    main()
