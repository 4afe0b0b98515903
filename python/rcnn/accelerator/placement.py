"""The partitioner's placement report: where every node of the input model runs, and why.

`PlacementReport.to_json()` / `from_json()` round-trip it (the cache stores it that way); `format_table()` is what
`python -m rcnn.partition` prints.
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
    systolic_node: str | None = None  # the rcnn.systolic node it became or was fused into
    role: str | None = None  # e.g. "QConv", "fused relu", "fused pool", "fused quantize pair"
    reason: str | None = None  # why a candidate stayed on the CPU, or a note on a CPU node the partitioner moved
    macs: int | None = None  # multiply-accumulates of a conv/matmul/gemm (None: not such a node, or shapes unknown)


@dataclass
class PlacementReport:
    model: str  # where the model came from (a path, or the graph name)
    elem: str  # "int8" or "fp32"
    partitioner_version: str
    nodes: list[NodePlacement] = field(default_factory=list)
    systolic_nodes: dict[str, int] = field(default_factory=dict)  # op type in rcnn.systolic -> count written
    transposes_to_nhwc: int = 0
    transposes_to_nchw: int = 0
    notes: list[str] = field(default_factory=list)
    from_cache: bool = False
    cache_key: str | None = None
    compiled_nodes: int | None = None  # placed by the Systolic EP: the compiled nodes it fused them into

    @classmethod
    def from_ep(cls, report: dict[str, Any], model: str) -> PlacementReport:
        """The placement the Systolic plugin EP decided and reported (its report's nodes, ep/ort/plugin/README.md)."""
        nodes = [NodePlacement(n["name"], n["op"], n.get("domain", ""),
                               SYSTOLIC if n["placement"] == "accelerator" else CPU,
                               systolic_node=(f"compiled node {n['compiled_node']}" if "compiled_node" in n else None),
                               role=n.get("unit"), reason=n.get("reason"), macs=n.get("macs"))
                 for n in report["nodes"]]
        return cls(model=model, elem=report["config"]["elem"], partitioner_version=f"{report['ep']} "
                   f"{report['version']}", nodes=nodes, compiled_nodes=report["summary"]["compiled_nodes"])

    # ---- derived numbers ------------------------------------------------------------------------------------

    @property
    def transposes_inserted(self) -> int:
        return self.transposes_to_nhwc + self.transposes_to_nchw

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
            "transposes_inserted": self.transposes_inserted, "macs_total": self.macs_total,
            "macs_systolic": self.macs_systolic, "mac_share": self.mac_share, "macs_unknown": self.macs_unknown,
        }
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> PlacementReport:
        d = json.loads(text)
        d.pop("summary", None)
        nodes = [NodePlacement(**n) for n in d.pop("nodes")]
        return cls(nodes=nodes, **d)

    # ---- printing -------------------------------------------------------------------------------------------

    def format_table(self) -> str:
        rows = [("node", "op", "placement", "systolic node", "MACs", "reason / note")]
        for n in self.nodes:
            op = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
            target = ""
            if n.systolic_node:
                target = n.systolic_node if n.role in (None, *SYSTOLIC_OPS) else f"{n.systolic_node} ({n.role})"
            rows.append((n.name, op, n.placement, target, _count(n.macs) if n.macs is not None else "",
                         n.reason or ""))
        widths = [min(max(len(r[i]) for r in rows), 40) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5] for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 13)
        lines.append("")
        lines.append(f"{self.placed} of {len(self.nodes)} nodes on the accelerator ({self.elem})"
                     + (f"; written: {', '.join(f'{k} x{v}' for k, v in sorted(self.systolic_nodes.items()))}"
                        if self.systolic_nodes else ""))
        lines.append("by op type (systolic/cpu): " + ", ".join(
            f"{op} {t[SYSTOLIC]}/{t[CPU]}" for op, t in self.totals().items()))
        if self.compiled_nodes is not None:
            lines.append(f"compiled nodes of the Systolic EP: {self.compiled_nodes}")
        else:
            lines.append(f"transposes inserted: {self.transposes_inserted} "
                         f"({self.transposes_to_nhwc} into NHWC, {self.transposes_to_nchw} back to NCHW)")
        share = self.mac_share
        if share is None:
            lines.append("MACs: no conv/matmul with known shapes")
        else:
            lines.append(f"MACs on the accelerator: {_count(self.macs_systolic)} of {_count(self.macs_total)} "
                         f"({100 * share:.1f} %)")
        if self.macs_unknown:
            lines.append(f"MACs unknown (shapes not inferred) for: {', '.join(self.macs_unknown)}")
        lines.extend(f"note: {n}" for n in self.notes)
        if self.from_cache:
            lines.append(f"(from cache, key {self.cache_key})")
        return "\n".join(lines)


MAC_OPS = frozenset({"Conv", "QLinearConv", "ConvInteger", "MatMul", "QLinearMatMul", "MatMulInteger", "Gemm",
                     "QGemm", "ConvTranspose"})
SYSTOLIC_OPS = frozenset({"QConv", "QMatMul", "QAdd", "Conv", "MatMul"})


def _count(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)
