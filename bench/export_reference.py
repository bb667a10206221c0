#!/usr/bin/env python3
"""Anchors and report for the export benchmark (bench/export).

  make-input PATH            the 24 MP test JPEG: the four fixture photos tiled 2x2, each scaled
                             to 3000x2000, with mild sensor-like noise (seeded), JPEG q92 4:2:0
  run LIB INPUT OUT WORKERS SECS
                             LIB is vips (pyvips + pyvips-binary's libvips) or pillow: the same
                             tasks as server/benches/export.rs, WORKERS processes for SECS seconds
                             each; prints {"task": {"ops_per_s", "bytes"}} and leaves each task's
                             output in OUT as LIB-TASK.EXT, and each lossy task's output at every
                             quality of QUALITIES as LIB-TASK-qQ.EXT (for sizes at equal quality)
  report INPUT OUT RESULTS.json
                             scores every output with one metric (SSIM on luma, 8x8 windows,
                             against the input decoded whole and scaled to the output's size
                             with Pillow's Lanczos) and prints the tables: speed, the q80 outputs,
                             and the bytes each library needs for the SSIM of libvips's q80
                             (interpolated along its quality sweep)

Tasks: ingest (validating full decode, the bytes stored, a 360 px JPEG thumbnail, both written
to disk); jpeg, webp, avif (1200 px longest side, q80; AVIF at aom speed 6 = libvips effort 3).
"""
import io
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = [("ingest", "jpg"), ("jpeg", "jpg"), ("webp", "webp"), ("avif", "avif")]
# Atelier's JPEG has two encoders: mozjpeg (the default, "jpeg") and the fast one ("jpeg-fast");
# the anchors' JPEG is compared with both.
ATELIER_ONLY = [("jpeg-fast", "jpg")]
QUALITIES = [50, 60, 70, 75, 80, 85, 90, 95]


def make_input(path):
    import numpy as np
    from PIL import Image

    fixtures = ROOT / "end2end" / "fixtures"
    names = ["astronaut.png", "coffee.png", "chelsea.png", "astronaut.png"]
    canvas = Image.new("RGB", (6000, 4000))
    for i, name in enumerate(names):
        tile = Image.open(fixtures / name).convert("RGB").resize((3000, 2000), Image.LANCZOS)
        canvas.paste(tile, ((i % 2) * 3000, (i // 2) * 2000))
    noise = np.random.default_rng(7).normal(0, 3, (4000, 6000, 3))
    pixels = np.clip(np.asarray(canvas, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=92, subsampling="4:2:0")


def vips_task(task, data, out, worker, quality=80):
    import pyvips

    if task == "ingest":
        image = pyvips.Image.new_from_buffer(data, "").copy_memory()  # the validating decode
        (out / f"vips-ingest-{worker}.original").write_bytes(data)
        thumbnail = image.thumbnail_image(360).jpegsave_buffer(Q=80)
        (out / f"vips-ingest-{worker}.thumbnail.jpg").write_bytes(thumbnail)
        return thumbnail
    small = pyvips.Image.thumbnail_buffer(data, 1200, height=1200)  # shrink-on-load + Lanczos3
    if task == "jpeg":
        return small.jpegsave_buffer(Q=quality)
    if task == "webp":
        return small.webpsave_buffer(Q=quality)
    return small.heifsave_buffer(Q=quality, compression="av1", effort=3)


def pillow_task(task, data, out, worker, quality=80):
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if task == "ingest":
        image.load()  # the validating decode
        (out / f"pillow-ingest-{worker}.original").write_bytes(data)
        thumbnail = image.copy()
        thumbnail.thumbnail((360, 360))
        buffer = io.BytesIO()
        thumbnail.save(buffer, "JPEG", quality=80)
        (out / f"pillow-ingest-{worker}.thumbnail.jpg").write_bytes(buffer.getvalue())
        return buffer.getvalue()
    width, height = image.size
    scale = 1200 / max(width, height)
    size = (round(width * scale), round(height * scale))
    image.draft("RGB", size)  # shrink-on-load (DCT scaling), as libvips and Atelier do
    small = image.convert("RGB").resize(size, Image.LANCZOS)
    buffer = io.BytesIO()
    if task == "jpeg":
        small.save(buffer, "JPEG", quality=quality)
    elif task == "webp":
        small.save(buffer, "WEBP", quality=quality)
    else:
        small.save(buffer, "AVIF", quality=quality, speed=6)
    return buffer.getvalue()


def loop(args):
    lib, task, data, out, worker, deadline = args
    work = vips_task if lib == "vips" else pillow_task
    done = 0
    while done < 2 or time.monotonic() < deadline:
        work(task, data, out, worker)
        done += 1
    return done


def run(lib, input_path, out, workers, secs):
    if lib == "vips":
        import pyvips  # noqa: F401  (fail early when the venv lacks it)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(input_path).read_bytes()
    work = vips_task if lib == "vips" else pillow_task
    results = {}
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for task, extension in TASKS:
            sample = work(task, data, out, 0)  # warm-up, and the file the score reads
            (out / f"{lib}-{task}.{extension}").write_bytes(sample)
            start = time.monotonic()
            deadline = start + secs
            done = sum(pool.map(loop, [(lib, task, data, out, w, deadline) for w in range(workers)]))
            ops = done / (time.monotonic() - start)
            results[task] = {"ops_per_s": ops, "bytes": len(sample)}
            print(f"{lib} {task}: {ops:.2f} ops/s with {workers} worker(s), {len(sample)} bytes", file=sys.stderr)
    if workers == 1:
        for task, extension in TASKS[1:]:
            for quality in QUALITIES:
                (out / f"{lib}-{task}-q{quality}.{extension}").write_bytes(work(task, data, out, 0, quality))
    print(json.dumps(results))


def ssim(a, b):
    """Mean SSIM of two equally sized 8-bit RGB images, on luma, 8x8 windows (integral images)."""
    import numpy as np

    def luma(image):
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
        return rgb @ np.array([0.299, 0.587, 0.114])

    x, y = luma(a), luma(b)

    def window_mean(v, k=8):
        s = np.pad(v.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k)

    mx, my = window_mean(x), window_mean(y)
    vx = window_mean(x * x) - mx * mx
    vy = window_mean(y * y) - my * my
    cxy = window_mean(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    score = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(score.mean())


def report(input_path, out, results_path):
    from PIL import Image

    out = Path(out)
    results = json.loads(Path(results_path).read_text())
    whole = Image.open(input_path).convert("RGB")
    references = {}

    def score(lib, task, extension):
        path = out / f"{lib}-{task}.{extension}"
        if not path.exists():
            return None
        image = Image.open(path).convert("RGB")
        if image.size not in references:
            references[image.size] = whole.resize(image.size, Image.LANCZOS)
        return ssim(image, references[image.size])

    libs = [("atelier", "Atelier"), ("vips", "libvips"), ("pillow", "Pillow")]
    # The anchors' task an Atelier task is compared with ("jpeg-fast" with their "jpeg").
    anchor = lambda lib, task: task if lib == "atelier" else task.split("-")[0]
    tasks = TASKS + ATELIER_ONLY
    print(f"{'task':<10}{'cores':>6}" + "".join(f"{label + ' ops/s':>16}" for _, label in libs)
          + f"{'Atelier/libvips':>17}{'Atelier/Pillow':>16}")
    for task, _ in tasks:
        for cores in ("1", "all"):
            rates = [results.get(f"{lib}/{cores}", {}).get(anchor(lib, task), {}).get("ops_per_s") for lib, _ in libs]
            ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "n/a"
            print(f"{task:<10}{cores:>6}" + "".join(f"{r:>16.2f}" if r else f"{'n/a':>16}" for r in rates)
                  + f"{ratio(rates[0], rates[1]):>17}{ratio(rates[0], rates[2]):>16}")
    print(f"\n{'output (q80, 1200 px)':<24}" + "".join(f"{label + ' bytes':>16}{'SSIM':>8}" for _, label in libs))
    for task, extension in tasks[1:]:
        row = f"{task:<24}"
        for lib, _ in libs:
            size = results.get(f"{lib}/1", {}).get(anchor(lib, task), {}).get("bytes")
            quality = score(lib, anchor(lib, task), extension)
            row += (f"{size:>16}" if size else f"{'n/a':>16}") + (f"{quality:>8.4f}" if quality else f"{'n/a':>8}")
        print(row)

    # Equal quality: each library's (SSIM, bytes) along its quality sweep, and the bytes it needs
    # for the SSIM libvips reaches at q80 (linear between the two sweep points around it).
    def sweep(lib, task, extension):
        points = []
        for q in QUALITIES:
            path = out / f"{lib}-{task}-q{q}.{extension}"
            if path.exists():
                points.append((score(lib, f"{task}-q{q}", extension), path.stat().st_size))
        return sorted(points)

    def bytes_for(points, target):
        for (s0, b0), (s1, b1) in zip(points, points[1:]):
            if s0 <= target <= s1:
                return b0 + (b1 - b0) * (target - s0) / (s1 - s0) if s1 > s0 else b0
        return None

    print(f"\n{'bytes at libvips q80 SSIM':<26}{'SSIM':>8}" + "".join(f"{label:>12}" for _, label in libs)
          + f"{'Atelier/libvips':>17}{'Atelier/Pillow':>16}")
    for task, extension in tasks[1:]:
        target = score("vips", anchor("vips", task), extension)
        if target is None:
            continue
        sizes = [bytes_for(sweep(lib, anchor(lib, task), extension), target) for lib, _ in libs]
        ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "n/a"
        print(f"{task:<26}{target:>8.4f}" + "".join(f"{b:>12.0f}" if b else f"{'n/a':>12}" for b in sizes)
              + f"{ratio(sizes[0], sizes[1]):>17}{ratio(sizes[0], sizes[2]):>16}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "make-input" and len(sys.argv) == 3:
        make_input(sys.argv[2])
    elif command == "run" and len(sys.argv) == 7:
        run(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
    elif command == "report" and len(sys.argv) == 5:
        report(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
