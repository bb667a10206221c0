#!/usr/bin/env python3
"""Convert MediaPipe's selfie segmentation TFLite model to ONNX (onnx + numpy + the `tflite` parser).

tflite2onnx cannot convert it: it ends in MediaPipe's custom op Convolution2DTransposeBias. This
converter handles exactly the op set these models use (DEQUANTIZE of fp16 weights, CONV_2D,
DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, RESIZE_BILINEAR, ADD, MUL, RELU, HARD_SWISH, LOGISTIC and the
custom Convolution2DTransposeBias) and rejects anything else. Shapes are static (as in the file);
TF 'SAME' padding is turned into explicit ONNX pads.

ONNX interface: `input` [1,256,256,3] float32 NHWC RGB 0..1 -> `output` [1,256,256,1] float32
person probability 0..1 (the model's own sigmoid). Internally NCHW.

Usage: selfie_tflite_to_onnx.py IN.tflite OUT.onnx
       selfie_tflite_to_onnx.py --verify IN.tflite OUT.onnx   (numpy reference of the TFLite graph)
"""
import math
import os
import struct
import sys

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
BUILTIN = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")}
ACT = {0: None, 1: "Relu", 3: "Relu6"}  # tflite ActivationFunctionType NONE, RELU, RELU6
NP_TYPE = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
           tflite.TensorType.INT32: np.int32}


class TFLiteGraph:
    def __init__(self, path):
        buf = open(path, "rb").read()
        self.m = tflite.Model.GetRootAsModel(buf, 0)
        if self.m.SubgraphsLength() != 1:
            raise SystemExit("only single-subgraph models are supported")
        self.g = self.m.Subgraphs(0)

    def tensor(self, i):
        return self.g.Tensors(i)

    def name(self, i):
        return self.g.Tensors(i).Name().decode()

    def shape(self, i):
        return [int(x) for x in self.g.Tensors(i).ShapeAsNumpy()]

    def const(self, i):
        t = self.g.Tensors(i)
        b = self.m.Buffers(t.Buffer())
        if b is None or b.DataLength() == 0:
            return None
        return np.frombuffer(b.DataAsNumpy().tobytes(), dtype=NP_TYPE[t.Type()]).reshape(self.shape(i))

    def ops(self):
        for k in range(self.g.OperatorsLength()):
            op = self.g.Operators(k)
            oc = self.m.OperatorCodes(op.OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            kind = oc.CustomCode().decode() if code == tflite.BuiltinOperator.CUSTOM else BUILTIN[code]
            ins = [op.Inputs(j) for j in range(op.InputsLength())]
            outs = [op.Outputs(j) for j in range(op.OutputsLength())]
            yield kind, op, ins, outs

    def io(self):
        return ([self.g.Inputs(i) for i in range(self.g.InputsLength())],
                [self.g.Outputs(i) for i in range(self.g.OutputsLength())])


def options(op, cls):
    o = cls()
    t = op.BuiltinOptions()
    o.Init(t.Bytes, t.Pos)
    return o


def same_pads(in_hw, k_hw, s_hw, d_hw=(1, 1)):
    """TF 'SAME' padding as ONNX pads [top, left, bottom, right] (the extra pixel goes last)."""
    pads_begin, pads_end = [], []
    for n, k, s, d in zip(in_hw, k_hw, s_hw, d_hw):
        ke = (k - 1) * d + 1
        out = math.ceil(n / s)
        total = max((out - 1) * s + ke - n, 0)
        pads_begin.append(total // 2)
        pads_end.append(total - total // 2)
    return pads_begin + pads_end


def conv_params(g, op, kind, ins):
    """Returns (weights NHWC-style np, bias, strides, pads, dilations, fused act, group)."""
    if kind == "CONV_2D":
        o = options(op, tflite.Conv2DOptions)
    else:
        o = options(op, tflite.DepthwiseConv2DOptions)
    s = (o.StrideH(), o.StrideW())
    d = (o.DilationHFactor(), o.DilationWFactor())
    in_shape = g.shape(ins[0])
    k_shape = g.shape(ins[1])
    kh, kw = k_shape[1], k_shape[2]
    pads = same_pads(in_shape[1:3], (kh, kw), s, d) if o.Padding() == tflite.Padding.SAME else [0, 0, 0, 0]
    if kind == "DEPTHWISE_CONV_2D" and o.DepthMultiplier() not in (0, 1):
        raise SystemExit("depth_multiplier != 1 unsupported")
    return s, pads, d, o.FusedActivationFunction()


def transpose_conv_params(op):
    data = bytes(op.CustomOptionsAsNumpy()) if op.CustomOptionsLength() else b""
    if len(data) < 12:
        raise SystemExit("Convolution2DTransposeBias: unexpected custom options")
    padding, stride_w, stride_h = struct.unpack("<iii", data[:12])  # TfLiteTransposeConvParams
    return padding, stride_h, stride_w


def convert(src, dst):
    g = TFLiteGraph(src)
    (inp,), (outp,) = g.io()
    nodes, inits = [], []
    consts = {}  # tflite tensor index -> np array (dequantized weights)
    name = {}    # tflite tensor index -> onnx tensor name (NCHW activations)
    in_shape = g.shape(inp)
    nodes.append(helper.make_node("Transpose", ["input"], ["input_nchw"], perm=[0, 3, 1, 2], name="input_to_nchw"))
    name[inp] = "input_nchw"

    def init(arr, tag):
        n = f"w{len(inits)}_{tag}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), n))
        return n

    def act(out_name, fused, tag):
        if fused in (None, 0):
            return out_name
        kind = ACT.get(fused)
        if kind is None:
            raise SystemExit(f"fused activation {fused} unsupported")
        o = out_name + "_act"
        if kind == "Relu6":
            nodes.append(helper.make_node("Clip", [out_name, init(np.array(0, np.float32), "min"), init(np.array(6, np.float32), "max")], [o], name=tag + "_relu6"))
        else:
            nodes.append(helper.make_node("Relu", [out_name], [o], name=tag + "_relu"))
        return o

    def src(i):
        if i in name:
            return name[i]
        c = consts.get(i)
        if c is None:
            c = g.const(i)
        if c is None:
            raise SystemExit(f"tensor {g.name(i)} has no producer")
        # an NHWC constant operand of an elementwise op: make it NCHW
        if c.ndim == 4:
            c = c.transpose(0, 3, 1, 2)
        name[i] = init(c.astype(np.float32), "c")
        return name[i]

    for k, (kind, op, ins, outs) in enumerate(g.ops()):
        tag = f"{k}_{kind.lower()}"
        out = f"t{k}"
        if kind == "DEQUANTIZE":
            consts[outs[0]] = g.const(ins[0]).astype(np.float32)
            continue
        w = lambda i: consts[i] if i in consts else g.const(i).astype(np.float32)  # noqa: E731
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            s, pads, d, fused = conv_params(g, op, kind, ins)
            kern = w(ins[1])
            if kind == "CONV_2D":
                W = kern.transpose(0, 3, 1, 2)  # [O,kh,kw,I] -> [O,I,kh,kw]
                group = 1
            else:
                W = kern.transpose(3, 0, 1, 2)  # [1,kh,kw,C] -> [C,1,kh,kw]
                group = W.shape[0]
            cin = [src(ins[0]), init(W, "W")]
            if len(ins) > 2 and ins[2] >= 0:
                cin.append(init(w(ins[2]), "B"))
            nodes.append(helper.make_node("Conv", cin, [out], name=tag, kernel_shape=list(W.shape[2:]),
                                          strides=list(s), pads=pads, dilations=list(d), group=group))
            out = act(out, fused, tag)
        elif kind == "Convolution2DTransposeBias":
            padding, sh, sw = transpose_conv_params(op)
            kern = w(ins[1])  # [O,kh,kw,I]
            kh, kw = kern.shape[1:3]
            ih, iw = g.shape(ins[0])[1:3]
            oh, ow = g.shape(outs[0])[1:3]
            total_h = max((ih - 1) * sh + kh - oh, 0)
            total_w = max((iw - 1) * sw + kw - ow, 0)
            pads = [total_h // 2, total_w // 2, total_h - total_h // 2, total_w - total_w // 2]
            W = kern.transpose(3, 0, 1, 2)  # -> [I,O,kh,kw]
            nodes.append(helper.make_node("ConvTranspose", [src(ins[0]), init(W, "W"), init(w(ins[2]), "B")], [out],
                                          name=tag, kernel_shape=[kh, kw], strides=[sh, sw], pads=pads))
        elif kind == "AVERAGE_POOL_2D":
            o = options(op, tflite.Pool2DOptions)
            ih, iw = g.shape(ins[0])[1:3]
            fh, fw = o.FilterHeight(), o.FilterWidth()
            if (fh, fw) == (ih, iw) and o.Padding() == tflite.Padding.VALID:
                nodes.append(helper.make_node("GlobalAveragePool", [src(ins[0])], [out], name=tag))
            else:
                s = (o.StrideH(), o.StrideW())
                pads = same_pads((ih, iw), (fh, fw), s) if o.Padding() == tflite.Padding.SAME else [0, 0, 0, 0]
                nodes.append(helper.make_node("AveragePool", [src(ins[0])], [out], name=tag, kernel_shape=[fh, fw],
                                              strides=list(s), pads=pads, count_include_pad=0))
            out = act(out, o.FusedActivationFunction(), tag)
        elif kind == "RESIZE_BILINEAR":
            o = options(op, tflite.ResizeBilinearOptions)
            size = g.const(ins[1])
            mode = "align_corners" if o.AlignCorners() else ("half_pixel" if o.HalfPixelCenters() else "asymmetric")
            n, c = 1, g.shape(ins[0])[3]
            sizes = init(np.array([n, c, int(size[0]), int(size[1])], np.int64), "sizes")
            nodes.append(helper.make_node("Resize", [src(ins[0]), "", "", sizes], [out], name=tag, mode="linear",
                                          coordinate_transformation_mode=mode))
        elif kind in ("ADD", "MUL"):
            o = options(op, tflite.AddOptions if kind == "ADD" else tflite.MulOptions)
            nodes.append(helper.make_node(kind.capitalize(), [src(ins[0]), src(ins[1])], [out], name=tag))
            out = act(out, o.FusedActivationFunction(), tag)
        elif kind in ("RELU", "HARD_SWISH", "LOGISTIC"):
            onnx_op = {"RELU": "Relu", "HARD_SWISH": "HardSwish", "LOGISTIC": "Sigmoid"}[kind]
            nodes.append(helper.make_node(onnx_op, [src(ins[0])], [out], name=tag))
        else:
            raise SystemExit(f"op {kind} unsupported")
        name[outs[0]] = out
    nodes.append(helper.make_node("Transpose", [name[outp]], ["output"], perm=[0, 2, 3, 1], name="output_to_nhwc"))
    out_shape = g.shape(outp)
    graph = helper.make_graph(nodes, "selfie_segmentation",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, producer_name="atelier selfie_tflite_to_onnx", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    onnx.save(model, dst + ".tmp")
    os.replace(dst + ".tmp", dst)


# ---------------------------------------------------------------- numpy reference (NHWC, TF semantics)

def _np_conv(x, k, b, s, pads, depthwise):
    """x [1,H,W,C]; k [O,kh,kw,I] or depthwise [1,kh,kw,C]; pads [t,l,b,r]."""
    x = np.pad(x, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)))
    kh, kw = k.shape[1:3]
    ho = (x.shape[1] - kh) // s[0] + 1
    wo = (x.shape[2] - kw) // s[1] + 1
    out_c = k.shape[3] if depthwise else k.shape[0]
    y = np.zeros((1, ho, wo, out_c))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + s[0] * (ho - 1) + 1:s[0], j:j + s[1] * (wo - 1) + 1:s[1], :]
            y += patch * k[0, i, j] if depthwise else np.tensordot(patch, k[:, i, j, :], axes=([3], [1]))
    return y + (b if b is not None else 0)


def _np_resize_bilinear(x, oh, ow, align_corners, half_pixel):
    ih, iw = x.shape[1:3]

    def coords(o, i):
        if align_corners and o > 1:
            return np.arange(o) * (i - 1) / (o - 1)
        if half_pixel:
            return np.maximum((np.arange(o) + 0.5) * i / o - 0.5, 0)
        return np.arange(o) * i / o

    ys, xs = coords(oh, ih), coords(ow, iw)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, ih - 1), np.minimum(x0 + 1, iw - 1)
    dy, dx = (ys - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
    top = x[:, y0][:, :, x0] * (1 - dx) + x[:, y0][:, :, x1] * dx
    bot = x[:, y1][:, :, x0] * (1 - dx) + x[:, y1][:, :, x1] * dx
    return top * (1 - dy) + bot * dy


def np_reference(src, x):
    g = TFLiteGraph(src)
    (inp,), (outp,) = g.io()
    v = {inp: x.astype(np.float64)}
    fa = {0: lambda a: a, 1: lambda a: np.maximum(a, 0), 3: lambda a: np.clip(a, 0, 6)}

    def val(i):
        return v[i] if i in v else g.const(i).astype(np.float64)

    for kind, op, ins, outs in g.ops():
        if kind == "DEQUANTIZE":
            r = g.const(ins[0]).astype(np.float64)
        elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            s, pads, d, fused = conv_params(g, op, kind, ins)
            r = fa[fused](_np_conv(val(ins[0]), val(ins[1]), val(ins[2]), s, pads, kind == "DEPTHWISE_CONV_2D"))
        elif kind == "Convolution2DTransposeBias":
            _, sh, sw = transpose_conv_params(op)
            a, k, b = val(ins[0]), val(ins[1]), val(ins[2])
            oh, ow = g.shape(outs[0])[1:3]
            r = np.zeros((1, oh, ow, k.shape[0]))
            for i in range(k.shape[1]):
                for j in range(k.shape[2]):
                    r[:, i::sh, j::sw, :] += np.tensordot(a, k[:, i, j, :], axes=([3], [1]))
            r += b
        elif kind == "AVERAGE_POOL_2D":
            r = val(ins[0]).mean(axis=(1, 2), keepdims=True)
        elif kind == "RESIZE_BILINEAR":
            o = options(op, tflite.ResizeBilinearOptions)
            size = g.const(ins[1])
            r = _np_resize_bilinear(val(ins[0]), int(size[0]), int(size[1]), o.AlignCorners(), o.HalfPixelCenters())
        elif kind == "ADD":
            r = val(ins[0]) + val(ins[1])
        elif kind == "MUL":
            r = val(ins[0]) * val(ins[1])
        elif kind == "RELU":
            r = np.maximum(val(ins[0]), 0)
        elif kind == "HARD_SWISH":
            a = val(ins[0])
            r = a * np.clip(a + 3, 0, 6) / 6
        elif kind == "LOGISTIC":
            with np.errstate(over="ignore"):
                r = 1 / (1 + np.exp(-val(ins[0])))
        else:
            raise SystemExit(f"reference: op {kind} unsupported")
        v[outs[0]] = r
    return v[outp]


def verify(src, onnx_path, image=None):
    """Max abs difference between ONNX Runtime and the numpy reference on a real photo (random noise
    saturates the output to 0 and would hide errors)."""
    import onnxruntime as ort
    from PIL import Image

    g = TFLiteGraph(src)
    (inp,), _ = g.io()
    h, w = g.shape(inp)[1:3]
    image = image or os.path.join(os.path.dirname(__file__), "..", "..", "end2end", "fixtures", "astronaut.png")
    x = (np.asarray(Image.open(image).convert("RGB").resize((w, h), Image.BILINEAR), np.float32) / 255)[None]
    ref = np_reference(src, x)
    y = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(["output"], {"input": x})[0]
    return float(np.abs(y - ref).max())


if __name__ == "__main__":
    if sys.argv[1] == "--verify":
        d = verify(sys.argv[2], sys.argv[3])
        print(f"max abs diff vs numpy reference: {d:.2e}")
        sys.exit(0 if d < 1e-3 else 1)
    convert(sys.argv[1], sys.argv[2])
