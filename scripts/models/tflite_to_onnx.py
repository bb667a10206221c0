#!/usr/bin/env python3
"""Convert a TFLite model to ONNX with tflite2onnx, then make the result deterministic.

tflite2onnx builds its initializer list from a Python set, so its order (and the file's bytes) change
from run to run with the string hash seed. Here initializers and value_info are sorted by name and
the model is saved again, so the same .tflite always gives the same bytes.

Usage: tflite_to_onnx.py IN.tflite OUT.onnx
"""
import logging
import os
import sys

import onnx


def convert(src, dst):
    import tflite2onnx

    logging.disable(logging.WARNING)  # it warns about float16 weights it dequantizes fine
    tmp = dst + ".raw"
    tflite2onnx.convert(src, tmp)
    m = onnx.load(tmp)
    os.remove(tmp)
    g = m.graph
    inits = sorted(g.initializer, key=lambda t: t.name)
    del g.initializer[:]
    g.initializer.extend(inits)
    vi = sorted(g.value_info, key=lambda v: v.name)
    del g.value_info[:]
    g.value_info.extend(vi)
    onnx.checker.check_model(m)
    onnx.save(m, dst + ".tmp")
    os.replace(dst + ".tmp", dst)


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2])
