#!/usr/bin/env python3
"""Convert @vladmandic/human's FaceRes TF.js graph model (models/faceres.json + .bin) to ONNX.

Runs in the TensorFlow venv CenterNet's conversion uses, with the same tf2onnx fixes (numpy 2
aliases, missing TF.js attributes, node order independent of memory addresses: see
centernet_tfjs_to_onnx.py). The graph has three heads on one trunk: the 1024-float face
descriptor `global_pooling/Mean`, and age and gender estimates. Only the descriptor is kept; the
age and gender heads (sensitive guesses Atelier never makes) are pruned out of the graph, weights
included, so the installed file cannot produce them. The result is made byte-for-byte
deterministic with onnx_canon.canonicalize.

Usage: faceres_tfjs_to_onnx.py MODEL_JSON OUT_ONNX
"""
import logging
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from centernet_tfjs_to_onnx import make_tf2onnx_deterministic, patch_graph_json, save  # noqa: E402

DESCRIPTOR = "global_pooling/Mean"


def main():
    src, dst = sys.argv[1], os.path.abspath(sys.argv[2])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import onnx
    from tf2onnx import convert as tf2onnx_convert
    from tf2onnx import logging as tf2onnx_logging
    from tf2onnx import version as tf2onnx_version_mod

    from onnx_canon import canonicalize

    tf2onnx_logging.set_level(logging.ERROR)
    make_tf2onnx_deterministic()
    with tempfile.TemporaryDirectory() as tmp:
        patched = patch_graph_json(src, tmp)
        raw = os.path.join(tmp, "raw.onnx")
        sys.argv = ["tf2onnx.convert", "--tfjs", patched, "--output", raw, "--opset", "17"]
        tf2onnx_convert.main()
        m = onnx.load(raw)
        names = [o.name for o in m.graph.output]
        if DESCRIPTOR not in names:
            raise RuntimeError(f"no {DESCRIPTOR} output in the converted graph (outputs: {names})")
        m = canonicalize(m, keep_outputs={DESCRIPTOR})
    # The heads are dense layers (MatMul) with Sigmoid / Softmax; the descriptor's trunk has none.
    heads = {n.op_type for n in m.graph.node} & {"MatMul", "Gemm", "Sigmoid", "Softmax"}
    if [o.name for o in m.graph.output] != [DESCRIPTOR] or heads:
        raise RuntimeError(f"the age/gender heads were not pruned ({sorted(heads)} left)")
    save(m, "faceres", tf2onnx_version_mod.version, dst)


if __name__ == "__main__":
    main()
