"""The ONNX-graph helpers every pass shares: the target runtime's limits, the opset lookup, the consumer map and
fresh-name allocation. Defined once here; the quantization passes and the exporter import them.
"""

from __future__ import annotations

from collections.abc import Iterable

import onnx

# ORT 1.21 (Debian's riscv64 runtime, the oldest runtime the project targets) reads at most IR 10 and opset 22.
MAX_IR_VERSION = 10
MAX_OPSET = 22
ONNX_DOMAINS = ("", "ai.onnx")


def opset_of(model: onnx.ModelProto) -> int:
    """The model's default-domain (ai.onnx) opset version; 1 when the model imports none."""
    return next((o.version for o in model.opset_import if o.domain in ONNX_DOMAINS), 1)


def subgraph_references(node: onnx.NodeProto) -> set[str]:
    """Names a node's subgraphs (If/Loop/Scan bodies) read from the enclosing scope."""
    refs: set[str] = set()
    for attr in node.attribute:
        graphs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
        for g in graphs:
            defined = {i.name for i in g.input} | {i.name for i in g.initializer}
            for n in g.node:
                refs.update(i for i in n.input if i and i not in defined)
                refs.update(r for r in subgraph_references(n) if r not in defined)
                defined.update(n.output)
    return refs


def consumer_map(nodes: Iterable[onnx.NodeProto], subgraphs: bool = False) -> dict[str, list[int]]:
    """Tensor name -> indices (in `nodes`' order) of the nodes that read it: one entry per (node, input slot);
    empty (omitted optional) inputs are skipped. With `subgraphs`, a name a node's subgraph reads from the
    enclosing scope counts once for that node too."""
    readers: dict[str, list[int]] = {}
    for idx, node in enumerate(nodes):
        for name in node.input:
            if name:
                readers.setdefault(name, []).append(idx)
        if subgraphs:
            for name in subgraph_references(node):
                readers.setdefault(name, []).append(idx)
    return readers


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """Tensor name -> the nodes of `graph` that read it (the node objects, in graph order)."""
    nodes = list(graph.node)
    return {name: [nodes[i] for i in idx] for name, idx in consumer_map(nodes).items()}


class NameAllocator:
    """Fresh tensor and node names that collide with nothing taken: `base`, else `base_2`, `base_3`, ..."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken = set(taken)

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name
