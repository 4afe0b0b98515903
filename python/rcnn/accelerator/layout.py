"""Which layouts each tensor is available in while the partitioner rewrites a graph, and the Transposes between them.

Every tensor of the input model keeps its name for its original layout ("orig": NCHW for a 4-D feature map). A
systolic op that writes NHWC produces `<name>_nhwc` instead; the original name then only exists once some consumer
(a CPU node, a graph output) asks for it, and a Transpose back (perm 0,3,1,2) is inserted that writes exactly that
name, so CPU nodes and graph outputs are never renamed. A consumer needing NHWC of an "orig" tensor gets one
Transpose (perm 0,2,3,1). Each tensor gets at most one Transpose per direction, shared by all its consumers.
"""

from __future__ import annotations

from collections.abc import Callable

from onnx import NodeProto, helper

from rcnn.onnxgraph.graph import NameAllocator

ORIG = "orig"
NHWC = "nhwc"
TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)


class LayoutTracker:
    """The layouts each tensor exists in; `need` inserts the Transpose a consumer requires (once per direction)."""

    def __init__(self, names: NameAllocator, node_names: NameAllocator, emit: Callable[[NodeProto], None]) -> None:
        self.names = names
        self.node_names = node_names
        self.emit = emit
        self._versions: dict[str, dict[str, str]] = {}
        self.to_nhwc = 0
        self.to_nchw = 0
        self.nhwc_of: dict[str, str] = {}  # original name -> NHWC tensor name (for value_info)

    def versions(self, name: str) -> dict[str, str]:
        return self._versions.get(name, {ORIG: name})

    def has(self, name: str, layout: str) -> bool:
        return layout in self.versions(name)

    def produce(self, name: str, layout: str) -> str:
        """The tensor name a node writes when it produces `name` in `layout` (registers that version only)."""
        tensor = name if layout == ORIG else self._nhwc_name(name)
        self._versions[name] = {layout: tensor}
        return tensor

    def _nhwc_name(self, name: str) -> str:
        if name not in self.nhwc_of:
            self.nhwc_of[name] = self.names.fresh(f"{name}_nhwc")
        return self.nhwc_of[name]

    def need(self, name: str, layout: str) -> str:
        """The tensor holding `name` in `layout`, inserting a Transpose from the other layout when needed."""
        versions = self.versions(name)
        if layout in versions:
            return versions[layout]
        if layout == NHWC:
            src, perm, dst = versions[ORIG], TO_NHWC, self._nhwc_name(name)
            self.to_nhwc += 1
            node_base = f"{name}_to_nhwc"
        else:
            src, perm, dst = versions[NHWC], TO_NCHW, name
            self.to_nchw += 1
            node_base = f"{name}_to_nchw"
        self.emit(helper.make_node("Transpose", [src], [dst], name=self.node_names.fresh(node_base), perm=list(perm)))
        self._versions[name] = {**versions, layout: dst}
        return dst
