#!/usr/bin/env python3
"""Convert @vladmandic/human's CenterNet TF.js graph model (models/centernet.json + .bin) to ONNX.

Runs in the separate TensorFlow venv (target/models-venv-tf, scripts/models/requirements-tf.txt),
which only this conversion uses. tf2onnx 1.17 needs four small fixes for this model and these
versions, applied here without touching the installed packages:
  - numpy 2 removed np.product (and friends) that tf2onnx's TF.js reader still calls: aliased back;
  - the TF.js graph omits the TArgs attribute of _FusedConv2D / FusedDepthwiseConv2dNative and the
    index_type attribute of TopKV2, which TensorFlow's op registry now requires: added to a copy of
    model.json (TArgs = [DT_FLOAT] * num_args, index_type = DT_INT32).
  - tf2onnx's Graph.extract_sub_graph_nodes returns list(a set of Node objects), and
    delete_unused_nodes (run after every optimizer pass) makes that the graph's node order. Nodes
    hash by id(), i.e. by memory address, so the order changed from run to run (ASLR) and the
    optimizers, which rewrite the first match in node order, now and then built a different (equally
    correct) graph: about 1 run in 20, e.g. one squeeze-excite block's no-op Reshape removed, 317
    nodes instead of 318 - a structural difference canonicalization cannot undo, whatever the CPU.
    Patched: the extracted nodes keep the graph's order, and Node hashes by creation order, so no set
    of nodes iterates by address. (No float math here depends on the CPU: TensorFlow only infers
    shapes, and tf2onnx folds only Cast/Transpose/Reshape/Concat/Unsqueeze/Split and exact IEEE
    Mul/Add/Sub in numpy.)
The result is then made byte-for-byte deterministic (onnx_canon.canonicalize) and pruned to the one
output Atelier uses, `tower_0/detections` [1,100,6].

Usage: centernet_tfjs_to_onnx.py MODEL_JSON OUT_ONNX
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np

for _old, _new in (("product", "prod"), ("cumproduct", "cumprod"), ("alltrue", "all"), ("sometrue", "any")):
    if not hasattr(np, _old):
        setattr(np, _old, getattr(np, _new))


def patch_graph_json(src_json, dst_dir):
    with open(src_json) as f:
        d = json.load(f)
    for n in d["modelTopology"]["node"]:
        attr = n.setdefault("attr", {})
        if n["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative") and "TArgs" not in attr:
            k = int(attr.get("num_args", {}).get("i", "1"))
            attr["TArgs"] = {"list": {"type": ["DT_FLOAT"] * k}}
        if n["op"] == "TopKV2" and "index_type" not in attr:
            attr["index_type"] = {"type": "DT_INT32"}
    base = os.path.dirname(os.path.abspath(src_json))
    for group in d["weightsManifest"]:
        for p in group["paths"]:
            shutil.copyfile(os.path.join(base, p), os.path.join(dst_dir, p))
    out = os.path.join(dst_dir, os.path.basename(src_json))
    with open(out, "w") as f:
        json.dump(d, f)
    return out


def make_tf2onnx_deterministic():
    """Takes memory addresses out of tf2onnx's graph rewriting (see the module's docstring)."""
    import itertools

    from tf2onnx.graph import Graph, Node

    seq = itertools.count()
    node_init = Node.__init__

    def init(self, *args, **kwargs):
        self._atelier_seq = next(seq)
        node_init(self, *args, **kwargs)

    # Identity equality is kept; only the hash (and so a set's iteration order) changes. Copies made
    # by copy.deepcopy (optimize_graph copies the graph before each pass) keep their original's number.
    Node.__init__ = init
    Node.__hash__ = lambda self: self._atelier_seq
    extract = Graph.extract_sub_graph_nodes

    def extract_in_graph_order(self, *args, **kwargs):
        found = set(extract(self, *args, **kwargs))
        ordered = [n for n in self.get_nodes() if n in found]
        if len(ordered) != len(found):
            raise RuntimeError("extract_sub_graph_nodes found nodes that are not in the graph")
        return ordered

    Graph.extract_sub_graph_nodes = extract_in_graph_order


def main():
    src, dst = sys.argv[1], os.path.abspath(sys.argv[2])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    import onnx
    from tf2onnx import convert as tf2onnx_convert
    from tf2onnx import logging as tf2onnx_logging
    from tf2onnx import version as tf2onnx_version_mod

    tf2onnx_version = tf2onnx_version_mod.version

    tf2onnx_logging.set_level(logging.ERROR)
    make_tf2onnx_deterministic()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from onnx_canon import canonicalize

    with tempfile.TemporaryDirectory() as tmp:
        patched = patch_graph_json(src, tmp)
        raw = os.path.join(tmp, "raw.onnx")
        sys.argv = ["tf2onnx.convert", "--tfjs", patched, "--output", raw, "--opset", "17"]
        tf2onnx_convert.main()
        m = canonicalize(onnx.load(raw), keep_outputs={"tower_0/detections"})
    save(m, "centernet", tf2onnx_version, dst)


def save(m, name, tf2onnx_version, dst):
    """Names, checks and writes a converted model the same way for every TF.js conversion, so
    the bytes (and the manifest's SHA-256) depend on the model alone."""
    import onnx

    m.producer_name = "tf2onnx+atelier"
    m.producer_version = tf2onnx_version
    m.graph.name = name
    onnx.checker.check_model(m)
    with open(dst + ".tmp", "wb") as f:
        f.write(m.SerializeToString(deterministic=True))
    os.replace(dst + ".tmp", dst)


if __name__ == "__main__":
    main()
