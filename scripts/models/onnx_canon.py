"""Make an ONNX graph's bytes independent of converter hash-order noise.

Converters such as tf2onnx merge identical constants and name them after whichever duplicate a
Python set or dict yields first, so the same input can give differently named (and ordered)
initializers from run to run. canonicalize() merges initializers with identical contents, renames
them and every intermediate tensor by order of first use (graph inputs and outputs keep their
names), names nodes by position, sorts the initializer list and drops value_info.
"""
import hashlib
import heapq

import onnx


def canonicalize(m: onnx.ModelProto, keep_outputs=None) -> onnx.ModelProto:
    g = m.graph
    if keep_outputs is not None:
        outs = [o for o in g.output if o.name in keep_outputs]
        del g.output[:]
        g.output.extend(outs)
        prune(g, list(g.node), {o.name for o in g.output})
    _sort_nodes(g)
    io = {i.name for i in g.input} | {o.name for o in g.output}
    by_content = {}
    init_alias = {}
    init_of = {}
    for t in g.initializer:
        key = (t.data_type, tuple(t.dims), t.SerializeToString(deterministic=True).replace(t.name.encode(), b""))
        first = by_content.setdefault(key, t.name)
        init_alias[t.name] = first
        if first == t.name:
            init_of[t.name] = t
    rename = {}
    counter = [0, 0]

    def name_for(x, is_init):
        if x == "" or x in io:
            return x
        if is_init:
            x = init_alias[x]
        if x not in rename:
            if is_init:
                rename[x] = f"w{counter[0]}"
                counter[0] += 1
            else:
                rename[x] = f"t{counter[1]}"
                counter[1] += 1
        return rename[x]

    for k, n in enumerate(g.node):
        for i, x in enumerate(n.input):
            n.input[i] = name_for(x, x in init_alias)
        for i, x in enumerate(n.output):
            n.output[i] = name_for(x, False)
        n.name = f"{n.op_type}_{k}"
        for field in ("domain", "doc_string"):  # "" set explicitly vs unset serialize differently
            v = getattr(n, field)
            n.ClearField(field)
            if v:
                setattr(n, field, v)
    inits = []
    for old, t in init_of.items():
        if old in rename:
            t.name = rename[old]
            inits.append(t)
    inits.sort(key=lambda t: int(t.name[1:]))
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.value_info[:]
    m.doc_string = ""
    g.doc_string = ""
    ops = sorted(m.opset_import, key=lambda o: o.domain)
    del m.opset_import[:]
    m.opset_import.extend(ops)
    return m


def prune(g, nodes, outputs):
    """Keeps, of `nodes`, those the `outputs` depend on (in order), and the initializers they read."""
    needed = set(outputs)
    live = []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            live.append(n)
            needed.update(x for x in n.input if x)
    live.reverse()
    del g.node[:]
    g.node.extend(live)
    inits = [t for t in g.initializer if t.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)


def _sort_nodes(g):
    """Topologically sort nodes by a structural (Merkle) signature, so that independent branches
    come out in the same order whatever order the converter emitted them in."""
    init_sig = {}
    for t in g.initializer:
        c = onnx.TensorProto()
        c.CopyFrom(t)
        c.name = ""
        init_sig[t.name] = hashlib.sha256(c.SerializeToString(deterministic=True)).hexdigest()
    producer = {}
    for k, n in enumerate(g.node):
        for i, o in enumerate(n.output):
            producer[o] = (k, i)
    sig = {}

    def node_sig(k):
        if k in sig:
            return sig[k]
        n = g.node[k]
        h = hashlib.sha256(n.op_type.encode() + n.domain.encode())
        for a in sorted(n.attribute, key=lambda a: a.name):
            h.update(a.SerializeToString(deterministic=True))
        for x in n.input:
            if x in producer:
                pk, pi = producer[x]
                h.update(f"n{node_sig(pk)}:{pi}".encode())
            elif x in init_sig:
                h.update(f"w{init_sig[x]}".encode())
            else:
                h.update(f"i{x}".encode())
        sig[k] = h.hexdigest()
        return sig[k]

    import sys
    sys.setrecursionlimit(max(10000, 4 * len(g.node)))
    for k in range(len(g.node)):
        node_sig(k)
    deps = {k: set() for k in range(len(g.node))}
    users = {k: [] for k in range(len(g.node))}
    for k, n in enumerate(g.node):
        for x in n.input:
            if x in producer:
                deps[k].add(producer[x][0])
                users[producer[x][0]].append(k)
    heap = [(sig[k], k) for k in deps if not deps[k]]
    heapq.heapify(heap)
    order = []
    while heap:
        _, k = heapq.heappop(heap)
        order.append(k)
        for u in users[k]:
            deps[u].discard(k)
            if not deps[u]:
                heapq.heappush(heap, (sig[u], u))
    assert len(order) == len(g.node), "graph has a cycle"
    nodes = [g.node[k] for k in order]
    copies = [onnx.NodeProto() for _ in nodes]
    for c, n in zip(copies, nodes):
        c.CopyFrom(n)
    del g.node[:]
    g.node.extend(copies)
