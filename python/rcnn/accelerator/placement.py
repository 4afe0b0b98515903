"""Where every node of a model runs, and why: the Systolic plugin EP's placement, read from its report
(ep/ort/README.md) into a table that `python -m rcnn.run` writes as placement.txt / placement.json.

The placement rules themselves live once, in the EP (C++); this module only reads what it decided.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SYSTOLIC = "systolic"
CPU = "cpu"


@dataclass
class NodePlacement:
    """One node of the input model."""

    name: str
    op_type: str
    domain: str
    placement: str  # SYSTOLIC or CPU
    systolic_node: str | None = None  # "compiled node N": the EP's fused node it is part of
    role: str | None = None  # the node unit it belongs to, e.g. "qdq_conv" (the EP's unit kinds)
    reason: str | None = None  # why it stayed on the CPU
    macs: int | None = None  # multiply-accumulates of a conv/matmul/gemm (None: not such a node, or shapes unknown)


@dataclass
class PlacementReport:
    model: str  # where the model came from (a path, or the graph name)
    elem: str  # "int8" or "fp32"
    ep_version: str  # e.g. "SystolicExecutionProvider 0.3.0"
    nodes: list[NodePlacement] = field(default_factory=list)
    compiled_nodes: int = 0  # the compiled nodes the EP fused the placed nodes into

    @classmethod
    def from_ep(cls, report: dict[str, Any], model: str) -> PlacementReport:
        """The placement the Systolic plugin EP decided and reported (its report's nodes, ep/ort/README.md)."""
        nodes = [NodePlacement(n["name"], n["op"], n.get("domain", ""),
                               SYSTOLIC if n["placement"] == "accelerator" else CPU,
                               systolic_node=(f"compiled node {n['compiled_node']}" if "compiled_node" in n else None),
                               role=n.get("unit"), reason=n.get("reason"), macs=n.get("macs"))
                 for n in report["nodes"]]
        return cls(model=model, elem=report["config"]["elem"], ep_version=f"{report['ep']} "
                   f"{report['version']}", nodes=nodes, compiled_nodes=report["summary"]["compiled_nodes"])

    # ---- derived numbers ------------------------------------------------------------------------------------

    @property
    def placed(self) -> int:
        return sum(1 for n in self.nodes if n.placement == SYSTOLIC)

    def node(self, name: str) -> NodePlacement:
        """The entry of the node named `name` (KeyError when there is none)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def totals(self) -> dict[str, dict[str, int]]:
        """op type -> {"systolic": n, "cpu": m} over the input model's nodes."""
        out: dict[str, dict[str, int]] = {}
        for n in self.nodes:
            out.setdefault(n.op_type, {SYSTOLIC: 0, CPU: 0})[n.placement] += 1
        return dict(sorted(out.items()))

    @property
    def macs_total(self) -> int:
        return sum(n.macs or 0 for n in self.nodes)

    @property
    def macs_systolic(self) -> int:
        return sum(n.macs or 0 for n in self.nodes if n.placement == SYSTOLIC)

    @property
    def mac_share(self) -> float | None:
        """Share of the known conv/matmul MACs placed on the accelerator (None when there are none)."""
        total = self.macs_total
        return self.macs_systolic / total if total else None

    @property
    def macs_unknown(self) -> list[str]:
        """Conv/matmul nodes whose MACs could not be computed (shapes unknown)."""
        return [n.name for n in self.nodes if n.macs is None and n.op_type in MAC_OPS]

    # ---- serialization --------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["summary"] = {
            "nodes": len(self.nodes), "placed": self.placed, "totals": self.totals(),
            "compiled_nodes": self.compiled_nodes, "macs_total": self.macs_total,
            "macs_systolic": self.macs_systolic, "mac_share": self.mac_share, "macs_unknown": self.macs_unknown,
        }
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    # ---- printing -------------------------------------------------------------------------------------------

    def format_table(self) -> str:
        rows = [("node", "op", "placement", "systolic node", "MACs", "reason / note")]
        for n in self.nodes:
            op = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
            target = ""
            if n.systolic_node:
                target = n.systolic_node if n.role is None else f"{n.systolic_node} ({n.role})"
            rows.append((n.name, op, n.placement, target, _count(n.macs) if n.macs is not None else "",
                         n.reason or ""))
        widths = [min(max(len(r[i]) for r in rows), 40) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5] for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 13)
        lines.append("")
        lines.append(f"{self.placed} of {len(self.nodes)} nodes on the accelerator ({self.elem}), in "
                     f"{self.compiled_nodes} compiled node(s) of the Systolic EP")
        lines.append("by op type (systolic/cpu): " + ", ".join(
            f"{op} {t[SYSTOLIC]}/{t[CPU]}" for op, t in self.totals().items()))
        share = self.mac_share
        if share is None:
            lines.append("MACs: no conv/matmul with known shapes")
        else:
            lines.append(f"MACs on the accelerator: {_count(self.macs_systolic)} of {_count(self.macs_total)} "
                         f"({100 * share:.1f} %)")
        if self.macs_unknown:
            lines.append(f"MACs unknown (shapes not inferred) for: {', '.join(self.macs_unknown)}")
        return "\n".join(lines)


MAC_OPS = frozenset({"Conv", "QLinearConv", "ConvInteger", "MatMul", "QLinearMatMul", "MatMulInteger", "Gemm",
                     "QGemm", "ConvTranspose"})


def _count(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)
