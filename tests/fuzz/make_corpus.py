#!/usr/bin/env python3
"""Writes the fuzzer's own seed files, tests/fuzz/corpus/ (the other seeds are the repository's test data).

    .venv/bin/python tests/fuzz/make_corpus.py

Small inputs of every kind the targets read that the repository's data lacks: JPEGs (baseline, progressive,
grey, restart markers), PNGs (16-bit, palette with transparency, grey + alpha, interlaced), BMPs and PNMs of other
depths, TensorProtos with typed (not raw) values, models whose tensors sit in every place the gate walks
(external data, sparse initializers, attributes, subgraphs, functions, training graphs), command lines, session
config entries, accelerator configs and JSON documents. Deterministic: rerunning rewrites identical files.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper
from PIL import Image

OUT = Path(__file__).resolve().parent / "corpus"


def pattern(h: int, w: int, channels: int = 3) -> np.ndarray:
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(channels), indexing="ij")
    return ((x * 37 + y * 91 + c * 53) % 256).astype(np.uint8)


def save_image(name: str, image: Image.Image, **options: object) -> None:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    (OUT / name).write_bytes(buffer.getvalue())


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def interlaced_png(rgb: np.ndarray) -> bytes:
    """Adam7-interlaced 8-bit RGB PNG (Pillow writes no interlaced PNGs): each pass's pixels, filter type 0."""
    h, w, _ = rgb.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = rgb[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(raw, 9))
            + png_chunk(b"IEND", b""))


def images() -> None:
    rgb = Image.fromarray(pattern(9, 11))
    save_image("baseline_420.jpg", rgb, format="JPEG", quality=60, subsampling=2)
    save_image("baseline_444.jpg", rgb, format="JPEG", quality=60, subsampling=0)
    save_image("progressive.jpg", rgb, format="JPEG", quality=60, progressive=True)
    save_image("grey.jpg", rgb.convert("L"), format="JPEG", quality=60)
    save_image("restart.jpg", Image.fromarray(pattern(17, 20)), format="JPEG", quality=50, restart_marker_blocks=1)
    grey16 = Image.fromarray(pattern(5, 6, 1)[:, :, 0].astype(np.uint16) * 257)  # mode I;16
    save_image("grey16.png", grey16, format="PNG")
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    save_image("palette_trns.png", palette, format="PNG", transparency=0)
    save_image("grey_alpha.png", Image.fromarray(pattern(4, 5, 2)), format="PNG")
    (OUT / "interlaced.png").write_bytes(interlaced_png(pattern(9, 10)))
    save_image("rgba32.bmp", Image.fromarray(pattern(3, 5, 4)), format="BMP")
    save_image("palette8.bmp", palette, format="BMP")
    save_image("mono1.bmp", rgb.convert("1"), format="BMP")
    save_image("grey.pgm", rgb.convert("L"), format="PPM")
    samples = (pattern(3, 4).astype(">u2") * 257).tobytes()
    (OUT / "rgb16.ppm").write_bytes(b"P6\n# 16-bit\n4 3\n65535\n" + samples)


def tensors() -> None:
    typed = {
        "float_data": helper.make_tensor("f", TP.FLOAT, [2, 2], [1.5, -2.0, 0.0, 3.25]),
        "int8_in_int32": helper.make_tensor("i8", TP.INT8, [3], [-128, 0, 127]),
        "uint16_in_int32": helper.make_tensor("u16", TP.UINT16, [2], [0, 65535]),
        "bool_in_int32": helper.make_tensor("b", TP.BOOL, [3], [True, False, True]),
        "float16_in_int32": helper.make_tensor("h", TP.FLOAT16, [2], np.array([1.0, -0.5], np.float16)),
        "int64_data": helper.make_tensor("i64", TP.INT64, [2], [-(2**63), 2**63 - 1]),
        "double_data": helper.make_tensor("d", TP.DOUBLE, [1, 2], [1e300, -1e-300]),
        "uint32_in_uint64": helper.make_tensor("u32", TP.UINT32, [2], [0, 2**32 - 1]),
        "uint64_data": helper.make_tensor("u64", TP.UINT64, [1], [2**64 - 1]),
        "scalar": helper.make_tensor("s", TP.FLOAT, [], [7.0]),
        "empty": helper.make_tensor("e", TP.INT32, [0, 4], []),
    }
    for name, tensor in typed.items():
        (OUT / f"{name}.pb").write_bytes(tensor.SerializeToString())


def save_model(name: str, graph: onnx.GraphProto, functions: list[onnx.FunctionProto] | None = None,
               training: onnx.TrainingInfoProto | None = None) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
                              functions=functions or [])
    if training is not None:
        model.training_info.append(training)
    (OUT / name).write_bytes(model.SerializeToString())


def external(name: str, dims: list[int], entries: dict[str, str]) -> onnx.TensorProto:
    tensor = onnx.TensorProto(name=name, data_type=TP.FLOAT, dims=dims)
    tensor.data_location = TP.EXTERNAL
    for key, value in entries.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def models() -> None:
    x = helper.make_tensor_value_info("x", TP.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TP.FLOAT, [2, 3])
    shapeless = helper.make_tensor_value_info("s", TP.FLOAT, None)
    add = helper.make_node("Add", ["x", "W"], ["y"], name="add")

    # External data in the scratch folder of the model target (tests/fuzz/scratch.cpp): ok_w.bin holds 24 bytes.
    weights = external("W", [2, 3], {"location": "ok_w.bin", "offset": "0", "length": "24"})
    save_model("external.onnx", helper.make_graph([add], "external", [x, shapeless], [y], [weights]))
    sub = external("W", [2, 3], {"location": "sub/w.bin"})
    save_model("external_sub.onnx", helper.make_graph([add], "external_sub", [x], [y], [sub]))

    # Tensors in every other place: typed initializers, a sparse initializer, Constant attributes (dense, sparse,
    # a list), an If with subgraphs, a function with a default attribute, a training graph.
    inits = [
        helper.make_tensor("i8", TP.INT8, [2], [1, -1]),
        helper.make_tensor("h", TP.FLOAT16, [1], np.array([0.5], np.float16)),
        helper.make_tensor("c", TP.COMPLEX64, [1], [complex(1, 2)]),
        helper.make_tensor("q", TP.INT4, [3], [1, -2, 7]),
        helper.make_tensor("str", TP.STRING, [1], [b"text"]),
    ]
    sparse = helper.make_sparse_tensor(helper.make_tensor("sv", TP.FLOAT, [2], [1.0, 2.0]),
                                       helper.make_tensor("si", TP.INT64, [2], [0, 5]), [2, 3])
    constant = helper.make_node("Constant", [], ["k"], name="k", value=helper.make_tensor("kv", TP.FLOAT, [1], [1.0]))
    sparse_constant = helper.make_node("Constant", [], ["ks"], sparse_value=sparse)
    branch_out = helper.make_tensor_value_info("b", TP.FLOAT, [1])
    then_graph = helper.make_graph([helper.make_node("Constant", [], ["b"], value=helper.make_tensor(
        "tv", TP.FLOAT, [1], [2.0]))], "then", [], [branch_out])
    else_graph = helper.make_graph([helper.make_node("Constant", [], ["b"], value=external(
        "ev", [1], {"location": "big.bin", "offset": "8", "length": "4"}))], "else", [], [branch_out])
    cond = helper.make_tensor_value_info("cond", TP.BOOL, [])
    branch = helper.make_node("If", ["cond"], ["z"], name="if", then_branch=then_graph, else_branch=else_graph)
    z = helper.make_tensor_value_info("z", TP.FLOAT, [1])
    graph = helper.make_graph([constant, sparse_constant, branch], "places", [cond, shapeless], [z], inits,
                              sparse_initializer=[sparse])
    function = helper.make_function("local", "f", ["a"], ["o"], [helper.make_node("Identity", ["a"], ["o"])],
                                    [helper.make_opsetid("", 17)], attributes=[])
    function.attribute_proto.append(helper.make_attribute("t", helper.make_tensor("ft", TP.FLOAT, [1], [3.0])))
    training = onnx.TrainingInfoProto()
    training.initialization.CopyFrom(helper.make_graph([], "init", [], [], [helper.make_tensor(
        "ti", TP.INT32, [2], [1, 2])]))
    save_model("places.onnx", graph, [function], training)


def texts() -> None:
    argv = {
        "run.argv": ["-m", "model.onnx", "--input", "x.pb", "-x", "2", "--threads", "4", "--ep-lib",
                     "librcnn_systolic_ep.so", "--dim", "8", "--session-config", "session.intra_op.allow_spinning=1",
                     "-r", "3"],
        "image.argv": ["--model=m.onnx", "-i", "a.png", "-ptorchvision", "-O99", "-d", "4", "-o", "out", "-t", "p",
                       "-s", "opt.onnx"],
        "config.argv": ["-m", "m.onnx", "--systolic-config", "accelerator.toml", "--dim", "16", "--threads", "2",
                        "--ep-lib", "ep.so", "--custom-op-lib", "a.so"],
        "help.argv": ["-h"],
    }
    for name, args in argv.items():
        (OUT / name).write_bytes("\0".join(args).encode())
    options = {
        "all.options": ["execution=2", "threads=8", "dim=32", 'config=dim = 16\nelem = "int8"\ndataflow = "os"\n',
                        "report_id=r1", "report_file=/tmp/r.json"],
        "fp32.options": ['config=elem = "fp32"\ndim = 8\nacc_rows = 4_096\n', "execution=0"],
    }
    for name, records in options.items():
        (OUT / name).write_bytes("\0".join(records).encode())
    (OUT / "commented.toml").write_bytes(
        b'# comment\r\ndim = 32   # trailing\r\nsp_banks = +4\nsp_bank_rows = 1_024\n\n  acc_rows=64\n'
        b'dataflow = "cpu" # "quoted # hash"\nelem="int8"\ndma_bytes_per_cycle = 8\n')
    (OUT / "report.json").write_text(
        '{"ep": "SystolicExecutionProvider", "version": "0.1.0", "report_id": "r", "execution": 2, "mode": "ws", '
        '"threads": 1, "config": {"description": "int8 16x16 systolic array", "dim": 16, "elem": "int8"}, '
        '"nodes": [{"name": "c", "op": "QLinearConv", "domain": "", "placement": "accelerator", "macs": 10}, '
        '{"name": "a", "op": "QLinearAdd", "domain": "com.microsoft", "placement": "cpu", "macs": null, '
        '"reason": "broadcasting add"}, {"name": "m", "op": "MatMul", "domain": "", "placement": "cpu", '
        '"macs": 18446744073709551615, "reason": "B is not a 2-D constant"}, {"name": "r", "op": "Resize", '
        '"domain": "", "placement": "cpu", "macs": null, "reason": "no accelerator op for Resize"}], '
        '"summary": {"nodes": 4, "nodes_on_accelerator": 1, "compiled_nodes": 1, "macs_accelerator": 10, '
        '"macs_cpu": 0}, "runs": 1, "total": {"calls": 1, "macs": 10, "cycles": 99}}\n')
    (OUT / "values.json").write_text(
        '[true, false, null, -0, 1.5e-7, 2E+300, "tab\\t quote\\" slash\\/ \\u00e9 \\ud83d\\ude00 \\u0000", '
        '{}, [], {"nested": [[{"a": {}}]]}, "\u00e9\u4e2d"]')


def main() -> None:
    OUT.mkdir(exist_ok=True)
    images()
    tensors()
    models()
    texts()


if __name__ == "__main__":
    main()
