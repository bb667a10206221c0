#!/usr/bin/env python3
"""Convert a TensorFlow.js LAYERS model (model.json + group*-shard*.bin) to ONNX, using only onnx + numpy.

Written for the UpscalerJS ESRGAN models (@upscalerjs/esrgan-slim, -medium: RDN; -thick: RRDN), whose
Keras functional graphs contain: InputLayer, Conv2D (stride 1, 'same'/'valid'), Activation, Add,
Concatenate (channel axis), UpSampling2D (nearest), and the UpscalerJS custom layers MultiplyBeta
(x * beta) and PixelShuffle{N}x (tf.depthToSpace, NHWC). Anything else is rejected with an error.

The ONNX graph has one input `input` [1,H,W,3] float32 NHWC RGB 0..255 (H and W dynamic) and one
output `output` [1,sH,sW,3] float32 NHWC RGB 0..255, clipped in-graph to 0..255. Internally it runs
in NCHW. The model's own value range (UpscalerJS' `inputRange`/`outputRange`: 0..255 for RDN,
0..1 for RRDN) is given with --range and folded into the graph, so every converted model has the
same interface.

Usage: tfjs_layers_to_onnx.py MODEL_JSON OUT_ONNX [--range 255|1]
       tfjs_layers_to_onnx.py --verify MODEL_JSON OUT_ONNX [--range 255|1]
         (compares the ONNX model against a numpy implementation of the same layers run directly on
          the TF.js weights; needs onnxruntime)
The output is deterministic: the same model.json and shards always give the same bytes.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8


# ---------------------------------------------------------------- TF.js model loading (shared)

def load_tfjs(model_json):
    """Returns (layers, input_layer_names, output_layer_names, weights dict name -> np.float32 array)."""
    with open(model_json) as f:
        d = json.load(f)
    if d.get("format") not in (None, "layers-model"):
        raise SystemExit(f"{model_json}: format {d.get('format')!r} is not a layers model")
    cfg = d["modelTopology"]["model_config"]
    if cfg["class_name"] not in ("Functional", "Model"):
        raise SystemExit(f"{model_json}: unsupported model class {cfg['class_name']}")
    base = os.path.dirname(model_json)
    weights = {}
    for group in d["weightsManifest"]:
        blob = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            if w.get("quantization"):
                raise SystemExit(f"{w['name']}: quantized weights are not supported")
            if w["dtype"] != "float32":
                raise SystemExit(f"{w['name']}: dtype {w['dtype']} is not supported")
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            a = np.frombuffer(blob, dtype="<f4", count=n, offset=off).reshape(w["shape"])
            weights[w["name"]] = a.astype(np.float32)
            off += 4 * n
        if off != len(blob):
            raise SystemExit(f"weights group {group['paths']}: {len(blob) - off} bytes left over")
    c = cfg["config"]
    ins = [x[0] for x in c["input_layers"]]
    outs = [x[0] for x in c["output_layers"]]
    if len(ins) != 1 or len(outs) != 1:
        raise SystemExit("only single-input single-output models are supported")
    return c["layers"], ins[0], outs[0], weights


def inbound(layer):
    """Names of the layers feeding `layer` (each layer must be called exactly once)."""
    nodes = layer["inbound_nodes"]
    if not nodes:
        return []
    if len(nodes) != 1:
        raise SystemExit(f"layer {layer['name']} is shared (called {len(nodes)} times): unsupported")
    names = []
    for x in nodes[0]:
        if x[1] != 0 or x[2] != 0:
            raise SystemExit(f"layer {layer['name']}: multi-output inbound tensors are unsupported")
        names.append(x[0])
    return names


def conv_weights(weights, name):
    k = weights.get(f"{name}/kernel")
    if k is None:
        raise SystemExit(f"weights for {name}/kernel missing")
    return k, weights.get(f"{name}/bias")


def check_conv(cfg, name):
    if tuple(cfg.get("strides", (1, 1))) != (1, 1) or tuple(cfg.get("dilation_rate", (1, 1))) != (1, 1):
        raise SystemExit(f"Conv2D {name}: only stride 1, dilation 1 supported")
    if cfg.get("groups", 1) != 1:
        raise SystemExit(f"Conv2D {name}: grouped convolution unsupported")
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise SystemExit(f"Conv2D {name}: only channels_last supported")
    if cfg["padding"] not in ("same", "valid"):
        raise SystemExit(f"Conv2D {name}: padding {cfg['padding']} unsupported")
    kh, kw = cfg["kernel_size"]
    if cfg["padding"] == "same" and (kh % 2 == 0 or kw % 2 == 0):
        raise SystemExit(f"Conv2D {name}: 'same' padding with an even kernel unsupported")


def pixel_shuffle_scale(layer):
    cls = layer["class_name"]
    if cls.startswith("PixelShuffle") and cls.endswith("x"):
        return int(layer["config"].get("scale", cls[len("PixelShuffle"):-1]))
    return None


# ---------------------------------------------------------------- ONNX emission

def convert(model_json, out_path, value_range):
    layers, in_name, out_name, weights = load_tfjs(model_json)
    nodes, inits = [], []
    used = set()
    scale_total = 1

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    t = {}  # keras layer name -> onnx tensor name (NCHW)
    for layer in layers:
        cls, name, cfg = layer["class_name"], layer["name"], layer["config"]
        srcs = [t[s] for s in inbound(layer)]
        out = f"{name}:0"
        if cls == "InputLayer":
            if name != in_name:
                raise SystemExit("unexpected second input layer")
            nodes.append(helper.make_node("Transpose", ["input"], ["input_nchw"], perm=[0, 3, 1, 2], name="input_to_nchw"))
            cur = "input_nchw"
            if value_range != 255:
                cur = "input_scaled"
                nodes.append(helper.make_node("Mul", ["input_nchw", const("in_scale", np.array(value_range / 255.0, np.float32))], [cur], name="input_scale"))
            t[name] = cur
            continue
        if cls == "Conv2D":
            check_conv(cfg, name)
            k, b = conv_weights(weights, name)
            used.update({f"{name}/kernel", f"{name}/bias"})
            kh, kw = cfg["kernel_size"]
            pads = [kh // 2, kw // 2, kh // 2, kw // 2] if cfg["padding"] == "same" else [0, 0, 0, 0]
            ins = [srcs[0], const(f"{name}/W", k.transpose(3, 2, 0, 1))]
            if cfg.get("use_bias", True):
                ins.append(const(f"{name}/B", b))
            act = cfg.get("activation", "linear")
            conv_out = out if act == "linear" else f"{name}:pre"
            nodes.append(helper.make_node("Conv", ins, [conv_out], name=name, kernel_shape=[kh, kw], pads=pads, strides=[1, 1], dilations=[1, 1], group=1))
            if act != "linear":
                nodes.append(activation(act, conv_out, out, f"{name}_act"))
        elif cls == "Activation":
            nodes.append(activation(cfg["activation"], srcs[0], out, name))
        elif cls == "Add":
            cur = srcs[0]
            for i, s in enumerate(srcs[1:]):
                o = out if i == len(srcs) - 2 else f"{name}:{i}"
                nodes.append(helper.make_node("Add", [cur, s], [o], name=f"{name}_{i}"))
                cur = o
        elif cls == "Concatenate":
            if cfg["axis"] not in (3, -1):
                raise SystemExit(f"Concatenate {name}: axis {cfg['axis']} unsupported")
            nodes.append(helper.make_node("Concat", srcs, [out], name=name, axis=1))
        elif cls == "MultiplyBeta":
            nodes.append(helper.make_node("Mul", [srcs[0], const(f"{name}/beta", np.array(cfg.get("beta", 0.2), np.float32))], [out], name=name))
        elif cls == "UpSampling2D":
            sh, sw = cfg["size"]
            if cfg.get("interpolation", "nearest") != "nearest" or sh != sw:
                raise SystemExit(f"UpSampling2D {name}: only square nearest upsampling supported")
            scale_total *= sh
            scales = const(f"{name}/scales", np.array([1, 1, sh, sw], np.float32))
            nodes.append(helper.make_node("Resize", [srcs[0], "", scales], [out], name=name, mode="nearest",
                                          coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
        elif pixel_shuffle_scale(layer):
            s = pixel_shuffle_scale(layer)
            scale_total *= s
            nodes.append(helper.make_node("DepthToSpace", [srcs[0]], [out], name=name, blocksize=s, mode="DCR"))
        else:
            raise SystemExit(f"layer {name}: class {cls} unsupported")
        t[name] = out
    missing = set(weights) - used
    if missing:
        raise SystemExit(f"weights not used by any layer: {sorted(missing)[:5]}")
    cur = t[out_name]
    if value_range != 255:
        nodes.append(helper.make_node("Mul", [cur, const("out_scale", np.array(255.0 / value_range, np.float32))], ["out_scaled"], name="output_scale"))
        cur = "out_scaled"
    nodes.append(helper.make_node("Clip", [cur, const("clip_min", np.array(0, np.float32)), const("clip_max", np.array(255, np.float32))], ["out_clipped"], name="output_clip"))
    nodes.append(helper.make_node("Transpose", ["out_clipped"], ["output"], perm=[0, 2, 3, 1], name="output_to_nhwc"))
    sh = f"{scale_total}H" if scale_total > 1 else "H"
    sw = f"{scale_total}W" if scale_total > 1 else "W"
    graph = helper.make_graph(
        nodes, "tfjs_layers_model",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, "H", "W", 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, sh, sw, 3])],
        inits)
    model = helper.make_model(graph, producer_name="atelier tfjs_layers_to_onnx", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    tmp = out_path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, out_path)
    return scale_total


def activation(kind, src, dst, name):
    ops = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "linear": "Identity"}
    if kind not in ops:
        raise SystemExit(f"activation {kind} unsupported")
    return helper.make_node(ops[kind], [src], [dst], name=name)


# ---------------------------------------------------------------- independent numpy reference (NHWC)

def np_conv_same(x, k, b, padding):
    """x [N,H,W,Ci], k [kh,kw,Ci,Co] (TF layout), TF 'same'/'valid' padding, stride 1."""
    kh, kw = k.shape[:2]
    if padding == "same":
        ph, pw = kh - 1, kw - 1
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    n, hp, wp, ci = x.shape
    ho, wo = hp - kh + 1, wp - kw + 1
    y = np.zeros((n, ho, wo, k.shape[3]), np.float64)
    for i in range(kh):
        for j in range(kw):
            y += np.tensordot(x[:, i:i + ho, j:j + wo, :], k[i, j].astype(np.float64), axes=([3], [0]))
    if b is not None:
        y += b
    return y


def np_reference(model_json, x, value_range):
    """Runs the TF.js layers model on x [1,H,W,3] (0..255) in float64 NHWC, the way TF.js defines it."""
    layers, in_name, out_name, weights = load_tfjs(model_json)
    acts = {"relu": lambda v: np.maximum(v, 0), "linear": lambda v: v,
            "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh}
    t = {}
    for layer in layers:
        cls, name, cfg = layer["class_name"], layer["name"], layer["config"]
        s = [t[n] for n in inbound(layer)]
        if cls == "InputLayer":
            v = x.astype(np.float64) * (value_range / 255.0)
        elif cls == "Conv2D":
            k, b = conv_weights(weights, name)
            v = acts[cfg.get("activation", "linear")](np_conv_same(s[0], k, b if cfg.get("use_bias", True) else None, cfg["padding"]))
        elif cls == "Activation":
            v = acts[cfg["activation"]](s[0])
        elif cls == "Add":
            v = sum(s)
        elif cls == "Concatenate":
            v = np.concatenate(s, axis=-1)
        elif cls == "MultiplyBeta":
            v = s[0] * cfg.get("beta", 0.2)
        elif cls == "UpSampling2D":
            v = s[0].repeat(cfg["size"][0], axis=1).repeat(cfg["size"][1], axis=2)
        elif pixel_shuffle_scale(layer):
            r = pixel_shuffle_scale(layer)
            n, h, w, c = s[0].shape
            co = c // (r * r)
            # tf.nn.depth_to_space (NHWC): out[n, h*r+i, w*r+j, c] = in[n, h, w, (i*r + j)*co + c]
            v = s[0].reshape(n, h, w, r, r, co).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * r, w * r, co)
        else:
            raise SystemExit(f"reference: class {cls} unsupported")
        t[name] = v
    return np.clip(t[out_name] * (255.0 / value_range), 0, 255)


def verify(model_json, onnx_path, value_range, size=32, seed=0):
    import onnxruntime as ort
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (1, size, size + 8, 3)).astype(np.float32)  # non-square on purpose
    ref = np_reference(model_json, x, value_range)
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    y = sess.run(["output"], {"input": x})[0]
    if y.shape != ref.shape:
        raise SystemExit(f"verify: shape {y.shape} != reference {ref.shape}")
    diff = float(np.abs(y - ref).max())
    return diff


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_json")
    ap.add_argument("out_onnx")
    ap.add_argument("--range", type=float, default=255, help="the model's native value range top (255 or 1)")
    ap.add_argument("--verify", action="store_true", help="compare an existing ONNX file with the numpy reference")
    a = ap.parse_args()
    if a.verify:
        diff = verify(a.model_json, a.out_onnx, a.range)
        print(f"max abs diff vs numpy reference: {diff:.2e}")
        sys.exit(0 if diff < 1e-2 else 1)
    s = convert(a.model_json, a.out_onnx, a.range)
    print(f"wrote {a.out_onnx} (scale x{s})")


if __name__ == "__main__":
    main()
