"""The demo Mask R-CNN in four quantize_static forms on the Systolic plugin EP, native (every mode) and under qemu,
against ONNX Runtime's CPU EP on the same model.

Forms (python/rcnn/models/shapes/shapes_fp32.onnx -> rcnn.optimize --replace_gemm -> quantize_static calibrated on
the four demo images, with the project's detection rule: only the dense network is quantized, box decoding, NMS,
RoiAlign, mask pasting and the prediction layers stay float, as rcnn.calibrate does):
  qdq_s8     QDQ, quantize_static defaults (int8 activations with zero points, int8 weights, per tensor)
  qdq_pc_u8  QDQ, per-channel int8 weights, uint8 activations
  qop_s8     QOperator, int8 activations (zero points), int8 weights
  qop_u8     QOperator, uint8 activations, int8 weights
Compared tensors: every quantized tensor a conv / matmul / add unit writes (QuantizeLinear, QLinearConv,
QLinearMatMul, QLinearAdd outputs: backbone, FPN, RPN head, box and mask heads), exposed as extra graph outputs.

What is asserted:
- placement: >= 99 % of the MACs on the accelerator, every quantized Conv/MatMul claimed;
- every mode 0/1/2 gives identical integers, and they equal an exact integer reference bit for bit: ORT's CPU EP on
  the same model with (1) uint8 activations shifted to int8 (x - 128, zero point - 128: the same integers, but ORT
  then runs its exact S8S8 kernels instead of the AVX2 U8S8 one that saturates int16 pair sums), (2) the QDQ int8
  fusions allowed on x86 (`session.qdqisint8allowed`, else ORT keeps QDQ convs in float) and (3) each residual add
  the EP placed written as Gemmini's resadd (each input scaled, rounded and saturated to int8 on its own);
- against ORT's CPU EP on the model as is: where a tensor first differs (its inputs equal), the cause is one of the
  three above, bounded in LSBs per cause (see test_vs_cpu_ep_as_is);
- with the EP's adds = cpu every residual add stays on ORT's QLinearAdd and every quantized tensor equals the exact
  reference without (3), in modes 0 and 2 (the share of elements the accelerator's adds change is printed);
- riscv64 under qemu (ort_test --ep-lib, Debian's ORT 1.23.2): the same integers as the native EP up to RoiAlign
  (backbone, FPN, RPN head) and the same detections.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from resadd_reference import add_units, resadd_reference

from conftest import riscv64_ort_version

MODELS = Path(__file__).resolve().parent.parent / "python" / "rcnn" / "models" / "shapes"
MODES = (0, 1, 2)
IMAGES = 2  # of the four demo images (all four calibrate)
QOUT = {"QuantizeLinear": 2, "QLinearConv": 7, "QLinearMatMul": 7, "QLinearAdd": 7}  # op -> its output zero point
DETECTIONS = ("boxes", "labels", "scores", "masks")


def _forms() -> dict[str, dict[str, Any]]:
    from onnxruntime.quantization import QuantFormat, QuantType

    return {
        "qdq_s8": dict(quant_format=QuantFormat.QDQ),
        "qdq_pc_u8": dict(quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8),
        "qop_s8": dict(quant_format=QuantFormat.QOperator),
        "qop_u8": dict(quant_format=QuantFormat.QOperator, activation_type=QuantType.QUInt8),
    }


FORMS = ("qdq_s8", "qdq_pc_u8", "qop_s8", "qop_u8")


@dataclass
class Form:
    model: Path  # as quantize_static wrote it
    probed: Path  # the same with every quantized unit output as an extra graph output
    quantized: list[str]  # those extra outputs, in graph (topological) order
    inputs: list[Path]  # input_0.pb per demo image (torchvision preprocessing)


def _quantize_detector(float_model: Path, dataset: Path, dst: Path, **ort_options: Any) -> None:
    """quantize_static on a detector with the project's rule (rcnn.quant: dense network only, prediction layers
    float, the project's op table) and the given format/type options."""
    from onnxruntime.quantization import quantize_static

    from rcnn.quant.data import ZooDataReader
    from rcnn.quant.ops import op_types_to_quantize
    from rcnn.quant.prepare import quiet_ort_logging
    from rcnn.quant.quantize import QuantizeOptions, excluded_nodes

    model = onnx.load(str(float_model))
    _, exclude = excluded_nodes(model, QuantizeOptions())
    with quiet_ort_logging():
        quantize_static(str(float_model), str(dst), ZooDataReader(model, dataset, "None", 0, progress=False),
                        op_types_to_quantize=op_types_to_quantize(), nodes_to_exclude=exclude, **ort_options)


def _probe(model: Path) -> tuple[Path, list[str]]:
    """A copy of `model` with the quantized output of each QuantizeLinear / QLinear* node as an extra output."""
    m = onnx.load(str(model))
    inits = {i.name: i for i in m.graph.initializer}
    have = {o.name for o in m.graph.output}
    names = []
    for n in m.graph.node:
        zp = n.input[QOUT[n.op_type]] if n.op_type in QOUT and len(n.input) > QOUT[n.op_type] else ""
        if zp in inits and n.output[0] not in have:
            m.graph.output.append(helper.make_tensor_value_info(n.output[0], inits[zp].data_type, None))
            names.append(n.output[0])
    dst = model.with_name(model.stem + "_probed.onnx")
    onnx.save(m, str(dst))
    return dst, names


@pytest.fixture(scope="session")
def demo_forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Form]:
    from rcnn.onnxgraph import gate
    from rcnn.quant.dataset import list_images, target_dims, write_dataset
    from rcnn.quant.prepare import optimize

    d = tmp_path_factory.mktemp("demo_forms")
    float_model = d / "shapes_opt.onnx"
    opt, _ = optimize(gate.load_model(MODELS / "shapes_fp32.onnx"), gemm=True)  # as rcnn.train_shapes packages it
    onnx.save(opt, str(float_model))
    dims, name = target_dims(None, float_model, "nchw")
    write_dataset(list_images(MODELS / "demo" / "images"), d / "data", "torchvision", dims, name or "image")
    inputs = sorted((d / "data").glob("test_data_set_*/input_0.pb"))
    forms = {}
    for form, options in _forms().items():
        model = d / f"{form}.onnx"
        _quantize_detector(float_model, d / "data", model, **options)
        probed, names = _probe(model)
        forms[form] = Form(model, probed, names, inputs)
    return forms


def _feeds(form: Form, k: int) -> dict[str, np.ndarray]:
    from rcnn.runtime.tensors import load_tensor

    return {"image": load_tensor(form.inputs[k])[0]}


def _cpu(model: Path | bytes, config: dict[str, str] | None = None) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    for k, v in (config or {}).items():
        so.add_session_config_entry(k, v)
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), so,
                                providers=["CPUExecutionProvider"])


def _run(session: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds), strict=True))


def _as_int8_domain(x: np.ndarray) -> np.ndarray:
    """uint8 -> int8 by the exact shift x - 128 (what the EP does internally); int8 unchanged."""
    return (x ^ 0x80).view(np.int8) if x.dtype == np.uint8 else x


def _lsb(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape, (a.shape, b.shape)
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max()) if a.size else 0


def _placed(report: dict[str, Any]) -> set[str]:
    return {n["name"] for n in report["nodes"] if n["placement"] == "accelerator"}


# ---- the exact integer reference ------------------------------------------------------------------------------------


# Without it ORT's x86 build keeps int8 QDQ Conv/MatMul units in float (DequantizeLinear -> float op ->
# QuantizeLinear) unless the CPU has VNNI; with it they become its exact S8S8 QLinearConv / QLinearMatMul.
EXACT_CPU_CONFIG = {"session.qdqisint8allowed": "1"}


def _detections(out: dict[str, np.ndarray], threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    keep = out["scores"] >= threshold
    return out["labels"][keep], out["boxes"][keep]


def _assert_same_detections(want: dict[str, np.ndarray], got: dict[str, np.ndarray], tol: float, what: str) -> None:
    wl, wb = _detections(want)
    gl, gb = _detections(got)
    assert len(wl) == len(gl) and len(wl) > 0, f"{what}: {len(wl)} vs {len(gl)} detections >= 0.5"
    np.testing.assert_array_equal(wl, gl, err_msg=what)
    np.testing.assert_allclose(wb, gb, atol=tol, rtol=0, err_msg=what)


# ---- placement ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_placement(systolic: Any, demo_forms: dict[str, Form], form: str) -> None:
    f = demo_forms[form]
    s = systolic.session(f.model, mode=2)
    s.run(None, _feeds(f, 0))
    r = systolic.report(s)
    summary = r["summary"]
    print(f"{form}: {summary['accelerator_mac_fraction']:.4%} of MACs, {summary['nodes_on_accelerator']} nodes, "
          f"{summary['compiled_nodes']} compiled nodes")
    # Left on the CPU: the float prediction layers (RPN logits/deltas, box predictor: 0.3 % of the MACs).
    assert summary["accelerator_mac_fraction"] >= 0.99, summary
    m = onnx.load(str(f.model))
    producer = {o: n.op_type for n in m.graph.node for o in n.output}
    quantized = [n.name for n in m.graph.node if n.op_type in ("QLinearConv", "QLinearMatMul") or
                 (n.op_type in ("Conv", "MatMul") and producer.get(n.input[1]) == "DequantizeLinear")]  # int8 weights
    assert quantized and set(quantized) <= _placed(r), set(quantized) - _placed(r)
    assert r["total"]["calls"] > 0 and r["total"]["cycles"] > 0


# ---- native: every mode, bit for bit against the exact reference -------------------------------------------------


@pytest.fixture(scope="session")
def native_results(demo_forms: dict[str, Form]) -> dict[tuple[str, int], list[dict[str, np.ndarray]]]:
    """EP outputs of the probed models: (form, mode) -> per image, by name; plus each session's report."""
    import rcnn.systolic

    rcnn.systolic.register()
    results: dict[Any, Any] = {}
    for form, f in demo_forms.items():
        for mode in MODES:
            s = rcnn.systolic.session(f.probed, mode=mode)
            results[form, mode] = [_run(s, _feeds(f, k)) for k in range(IMAGES)]
            results[form, "report"] = rcnn.systolic.report(s)
    return results


@pytest.mark.parametrize("form", FORMS)
def test_native_every_mode_bit_exact(demo_forms: dict[str, Form], native_results: dict, form: str) -> None:
    f = demo_forms[form]
    for mode in MODES[1:]:
        for k in range(IMAGES):
            for name, want in native_results[form, 0][k].items():
                assert np.array_equal(want, native_results[form, mode][k][name]), (mode, k, name)
    ref = _cpu(resadd_reference(f.probed, _placed(native_results[form, "report"]), int8_domain=True), EXACT_CPU_CONFIG)
    for k in range(IMAGES):
        want = _run(ref, _feeds(f, k))
        got = native_results[form, 0][k]
        diffs = {t: _lsb(want[t], _as_int8_domain(got[t])) for t in f.quantized}
        assert not any(diffs.values()), {t: d for t, d in diffs.items() if d}
        # The same integers into the same float post-processing: the same detections.
        _assert_same_detections(want, got, 1e-3, f"{form} image {k} vs the exact reference")


def test_uint8_forms_are_the_int8_forms_shifted(demo_forms: dict[str, Form], native_results: dict) -> None:
    """quantize_static's asymmetric uint8 and int8 activations differ only by 128 in the zero points: the EP gives
    the same integers (shifted) for qop_u8 as for qop_s8 on every tensor an accelerator node writes up to RoiAlign
    (in the box head the CPU EP's own QLinearAdd of fc6's constant bias rounds u8 and s8 differently, and fc7
    inherits that: the box head is compared against the exact reference in test_native_every_mode_bit_exact)."""
    s8, u8 = demo_forms["qop_s8"], demo_forms["qop_u8"]
    assert s8.quantized == u8.quantized
    m = onnx.load(str(s8.probed))
    placed = _placed(native_results["qop_s8", "report"])
    assert placed == _placed(native_results["qop_u8", "report"])
    roi = _roi_tensors(m)
    written = [t for n in m.graph.node if n.name in placed for t in n.output if t in s8.quantized and t not in roi]
    assert len(written) >= 25  # 28: backbone, FPN, RPN head
    for k in range(IMAGES):
        a, b = native_results["qop_s8", 2][k], native_results["qop_u8", 2][k]
        for t in written:
            assert b[t].dtype == np.uint8 and np.array_equal(a[t], _as_int8_domain(b[t])), t


# ---- against ORT's CPU EP on the model as is ------------------------------------------------------------------


def _inputs_of(m: onnx.ModelProto) -> dict[str, tuple[onnx.NodeProto, list[str]]]:
    """Compared tensor -> (its producer, the compared tensors it depends on through non-compared nodes)."""
    producer = {o: n for n in m.graph.node for o in n.output}
    out: dict[str, tuple[onnx.NodeProto, list[str]]] = {}
    compared = {n.output[0] for n in m.graph.node if n.op_type in QOUT}

    def upstream(t: str, seen: set[str]) -> set[str]:
        if t in seen or t not in producer:
            return set()
        seen.add(t)
        if t in compared:
            return {t}
        return set().union(*(upstream(i, seen) for i in producer[t].input if i)) if producer[t].input else set()

    for t in compared:
        n = producer[t]
        out[t] = (n, sorted(set().union(*(upstream(i, set()) for i in n.input if i))))
    return out


@pytest.mark.parametrize("form", FORMS)
def test_vs_cpu_ep_as_is(systolic: Any, demo_forms: dict[str, Form], native_results: dict, form: str) -> None:
    """Every tensor that differs from ORT's CPU EP with equal inputs (an origin) has one of the known causes,
    bounded per cause; what follows an origin inherits its difference through the later layers (printed)."""
    f = demo_forms[form]
    m = onnx.load(str(f.probed))
    deps = _inputs_of(m)
    placed = _placed(native_results[form, "report"])
    units = add_units(m, placed)
    add_outputs = {u[1] for u in units.values()}
    cpu = _cpu(f.probed)
    for k in range(IMAGES):
        want, got = _run(cpu, _feeds(f, k)), native_results[form, 0][k]
        table = []
        for t in f.quantized:
            if want[t].shape != got[t].shape:  # RoI heads after a flip in the proposals: nothing to compare
                table.append((t, "shape"))
                continue
            lsb = _lsb(want[t], got[t])
            table.append((t, lsb))
            node, ins = deps[t]
            if lsb == 0 or any(not np.array_equal(want[i], got[i]) for i in ins):
                continue
            if t in add_outputs:
                # Gemmini's resadd vs QLinearAdd: <= 1 LSB while no scaled input saturates; the larger
                # differences are the EP bug asserted in test_placed_adds_match_qlinearadd.
                continue
            if node.op_type == "QuantizeLinear" and not ins:  # the float input's QuantizeLinear: ORT on both sides
                pytest.fail(f"{form}: the input quantization differs ({t})")
            u8 = want[t].dtype == np.uint8 or any(want[i].dtype == np.uint8 for i in ins)
            if u8:
                # ORT's AVX2 U8S8 kernel (no VNNI) saturates int16 pair sums (tests/test_systolic_quant_forms.py);
                # the EP is exact (test_native_every_mode_bit_exact). Measured up to 15 LSB on the stem conv.
                assert lsb <= 16, (form, k, t, lsb)
            else:
                # int8 QDQ convs ORT keeps in float on x86 (DequantizeLinear -> float Conv -> QuantizeLinear):
                # float rounding of the sum, 1 LSB at most.
                assert f.model.stem.startswith("qdq") and lsb <= 1, (form, k, t, lsb)
        print(f"{form} image {k}: max LSB vs CPU EP per tensor: "
              + ", ".join(f"{t.split('/')[-2] if '/' in t else t}={d}" for t, d in table))


def _qlinearadd(a: np.ndarray, b: np.ndarray, q: dict[str, np.ndarray]) -> np.ndarray:
    """com.microsoft.QLinearAdd in exact arithmetic: round((a - a_zp) a_s / c_s + (b - b_zp) b_s / c_s) + c_zp."""
    info = np.iinfo(a.dtype)
    v = ((a.astype(np.float64) - float(q["a_z"])) * float(q["a_s"]) +
         (b.astype(np.float64) - float(q["b_z"])) * float(q["b_s"])) / float(q["c_s"])
    return np.clip(np.rint(v) + float(q["c_z"]), info.min, info.max).astype(a.dtype)


@pytest.mark.parametrize("form", FORMS)
def test_placed_adds_match_qlinearadd(demo_forms: dict[str, Form], native_results: dict, form: str) -> None:
    """Each residual add the EP placed, on the EP's own inputs, is within 1 LSB of QLinearAdd. (The EP once placed
    adds whose input zero point let (x - zp) * ratio leave int8 — the accelerator saturates each scaled input before
    the sum — and the layer1.1 add came out 57 LSB off; node_units.cpp add_ratios() now declines those.)"""
    f = demo_forms[form]
    m = onnx.load(str(f.probed))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    units = add_units(m, _placed(native_results[form, "report"]))
    assert units
    worst = {}
    for k in range(IMAGES):
        got = native_results[form, 0][k]
        for name, (ins, out, _) in units.items():
            q = dict(zip(("a_s", "a_z", "b_s", "b_z", "c_s", "c_z"), (inits[i] for i in ins[1:3] + ins[4:]),
                         strict=True))
            worst[name] = max(worst.get(name, 0), _lsb(_qlinearadd(got[ins[0]], got[ins[3]], q), got[out]))
    assert max(worst.values()) <= 1, worst


@pytest.mark.parametrize("form", FORMS)
def test_adds_on_cpu_equal_the_exact_reference_without_resadd(demo_forms: dict[str, Form], native_results: dict,
                                                              form: str) -> None:
    """The EP's adds = cpu: every residual add stays on the CPU EP (ORT's QLinearAdd), so every quantized tensor
    equals the exact reference with no add rewritten, in modes 0 and 2, while adds = accelerator differs from it on
    a measured share of the elements (printed: the number the README quotes), 1 LSB at most where it first differs."""
    import rcnn.systolic

    f = demo_forms[form]
    m = onnx.load(str(f.probed))
    units = add_units(m, _placed(native_results[form, "report"]))
    ref = _cpu(resadd_reference(f.probed, set(), int8_domain=True), EXACT_CPU_CONFIG)
    adds_out = [out for _, out, _ in units.values()]
    # Up to RoiAlign: after it the detections (and so the heads' batch) may differ between the two runs.
    dense = [t for t in f.quantized if t not in _roi_tensors(m)]
    differ = total = out_differ = out_total = 0
    for mode in (0, 2):
        s = rcnn.systolic.session(f.probed, mode=mode, adds="cpu")
        report = rcnn.systolic.report(s)
        assert report["adds"] == "cpu"
        declined = {n["name"]: n["reason"] for n in report["nodes"] if n["name"] in units}
        assert declined and all(r.startswith("adds = cpu: residual adds stay on the CPU EP") for r in
                                declined.values()), declined
        for k in range(IMAGES):
            want = _run(ref, _feeds(f, k))
            got = _run(s, _feeds(f, k))
            diffs = {t: _lsb(want[t], _as_int8_domain(got[t])) for t in f.quantized}
            assert not any(diffs.values()), {t: d for t, d in diffs.items() if d}
            if mode == 0:
                on_acc = native_results[form, 0][k]
                differ += sum(int(np.count_nonzero(on_acc[t] != got[t])) for t in adds_out)
                total += sum(got[t].size for t in adds_out)
                out_differ += sum(int(np.count_nonzero(on_acc[t] != got[t])) for t in dense)
                out_total += sum(got[t].size for t in dense)
    print(f"{form}: adds on the accelerator differ from adds = cpu on {100 * differ / total:.1f} % of the "
          f"{len(adds_out)} placed adds' output elements, {100 * out_differ / out_total:.1f} % of the elements of "
          f"the {len(dense)} quantized tensors before RoiAlign ({IMAGES} images)")
    assert differ > 0, "Gemmini's double rounding should show on real activations"


@pytest.mark.parametrize("form", FORMS)
def test_detections_vs_cpu_ep(demo_forms: dict[str, Form], native_results: dict, form: str) -> None:
    """The confident detections (>= 0.9) agree with ORT's CPU EP: same labels, boxes within 2 px. Those between 0.5
    and 0.9 follow the residual-add difference above (test_placed_adds_match_qlinearadd) and are printed."""
    f = demo_forms[form]
    cpu = _cpu(f.probed)
    for k in range(IMAGES):
        want, got = _run(cpu, _feeds(f, k)), native_results[form, 0][k]
        wl, wb = want["labels"][want["scores"] >= 0.9], want["boxes"][want["scores"] >= 0.9]
        gl, gb = got["labels"][got["scores"] >= 0.9], got["boxes"][got["scores"] >= 0.9]
        print(f"{form} image {k}: scores >= 0.5 CPU EP {np.round(want['scores'][want['scores'] >= 0.5], 3)}, "
              f"systolic EP {np.round(got['scores'][got['scores'] >= 0.5], 3)}")
        assert len(wl) == len(gl) > 0 and np.array_equal(wl, gl), (k, wl, gl)
        np.testing.assert_allclose(wb, gb, atol=2.0, rtol=0)


# ---- riscv64 under qemu --------------------------------------------------------------------------------------------


def _roi_tensors(m: onnx.ModelProto) -> set[str]:
    """Tensors computed from a RoiAlign output (the box and mask heads)."""
    roi: set[str] = set()
    for n in m.graph.node:  # topological order
        if n.op_type == "RoiAlign" or any(i in roi for i in n.input):
            roi.update(n.output)
    return roi


QEMU_RUNS = [("qdq_s8", 2), ("qdq_pc_u8", 2), ("qop_s8", 2), ("qop_s8", 1), ("qop_u8", 2)]


@pytest.mark.parametrize("form, mode", QEMU_RUNS)
def test_qemu_matches_native(demo_forms: dict[str, Form], native_results: dict, tmp_path: Path, form: str,
                             mode: int) -> None:
    from rcnn.runtime import runner

    f = demo_forms[form]
    config = runner.RunConfig(native=False, execution=mode, ep_lib=runner.systolic_ep_library(False), echo=False,
                              # not the runner's default session.disable_quant_qdq=1: with it ORT constant-folds
                              # the weights' DequantizeLinear nodes and no QDQ conv unit is left to claim
                              session_config={}, timeout=600)
    result = runner.run(f.probed, [f.inputs[0]], tmp_path, config)
    report = result.report["systolic_ep"]
    native = native_results[form, "report"]
    print(f"{form} mode {mode} under qemu: {report['summary']['accelerator_mac_fraction']:.4%} of MACs "
          f"(native {native['summary']['accelerator_mac_fraction']:.4%}), {result.wall_s:.1f} s")
    assert result.report["ort_version"] == riscv64_ort_version()
    assert report["execution"] == mode and report["total"]["calls"] > 0
    assert report["summary"]["accelerator_mac_fraction"] == native["summary"]["accelerator_mac_fraction"]
    want = native_results[form, mode][0]
    roi = _roi_tensors(onnx.load(str(f.probed)))
    for t in f.quantized:
        got = result.outputs[t]
        if t not in roi:  # backbone, FPN, RPN head: the product's promise, bit for bit
            assert np.array_equal(want[t], got), (t, _lsb(want[t], got))
        else:
            # Box and mask heads read RoiAlign's float output (CPU EP: ORT 1.23.2 riscv64 vs 1.31.1 x86), which
            # can round to the other side of a quantization step: measured 1 LSB.
            assert _lsb(want[t], got) <= 1, t
    _assert_same_detections(want, result.outputs, 0.05, f"{form} mode {mode}: qemu vs native")
