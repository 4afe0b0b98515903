#!/usr/bin/env python3
"""Regenerates the small files the C++ tests (tests/cpp) run ort_test on.

    .venv/bin/python tests/cpp/data/make_test_data.py

Deterministic: rerunning rewrites identical files. Needs onnx, numpy, pillow and onnxruntime (for the
reference outputs of the quantized models). Models use IR 8 / opset 17 so that ORT 1.21 (riscv64) loads them.

Expected outputs live in expected/<case>/output_K.pb, written by onnx.numpy_helper.from_array: ort_test's
output files must equal them byte for byte. The systolic_* models' expected outputs come from ONNX Runtime's CPU EP
(with the accelerator's residual add written in standard ops, tests/resadd_reference.py) and the NumPy reference of
the accelerator numerics in tests/gemmini_ref.py, never from the Systolic EP under test.
"""

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for the shared references of the accelerator
import gemmini_ref as ref  # noqa: E402

F32 = np.float32


def save_model(graph, name, metadata=None, domains=()):
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid(domain, 1) for domain in domains]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=8, producer_name="rcnn-tests")
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, HERE / name)


def save_expected(case, arrays_and_names):
    folder = HERE / "expected" / case
    folder.mkdir(parents=True, exist_ok=True)
    for k, (array, name) in enumerate(arrays_and_names):
        onnx.save_tensor(numpy_helper.from_array(array, name), folder / f"output_{k}.pb")


# ---------------------------------------------------------------- every dtype through Identity
DTYPES = {  # input name: (ONNX type, numpy type)
    "f32": (TP.FLOAT, np.float32),
    "f64": (TP.DOUBLE, np.float64),
    "f16": (TP.FLOAT16, np.float16),
    "i8": (TP.INT8, np.int8),
    "u8": (TP.UINT8, np.uint8),
    "i16": (TP.INT16, np.int16),
    "u16": (TP.UINT16, np.uint16),
    "i32": (TP.INT32, np.int32),
    "u32": (TP.UINT32, np.uint32),
    "i64": (TP.INT64, np.int64),
    "u64": (TP.UINT64, np.uint64),
    "b": (TP.BOOL, np.bool_),
}


def dtype_values(np_type):
    if np_type is np.bool_:
        return np.array([[True, False, True], [False, False, True]])
    if np.issubdtype(np_type, np.integer):
        info = np.iinfo(np_type)
        return np.array([[info.min, info.max, 0], [1, 2, 7]], dtype=np_type)
    big = 65504 if np_type is np.float16 else 1e30
    return np.array([[1.5, -2.25, 0], [np.inf, -0.0, big]], dtype=np_type)


def make_identity_all():
    names = list(DTYPES)
    graph = helper.make_graph(
        [helper.make_node("Identity", [k], [k + "_out"]) for k in names],
        "identity_all",
        [helper.make_tensor_value_info(k, DTYPES[k][0], ["n", 3]) for k in names],
        [helper.make_tensor_value_info(k + "_out", DTYPES[k][0], ["n", 3]) for k in names],
    )
    save_model(graph, "identity_all.onnx")
    expected = []
    for k in names:
        onnx_type, np_type = DTYPES[k]
        values = dtype_values(np_type)
        # Typed fields (make_tensor with a list), as hand-written test data often is. Two files are named so
        # that they match no input and must be bound by position: f32 (unnamed) and i8 ("other").
        tensor_name = {"f32": "", "i8": "other"}.get(k, k)
        tensor = helper.make_tensor(tensor_name, onnx_type, values.shape, vals=values.flatten().tolist())
        onnx.save_tensor(tensor, HERE / f"in_{k}.pb")
        expected.append((values, k + "_out"))
    save_expected("identity_all", expected)


# ---------------------------------------------------------------- images and preprocessing
MEANS = {
    "zoo": [102.9801, 115.9465, 122.7717],
    "caffe2": [103.939, 116.779, 123.68],
    "caffe": [103.94, 116.78, 123.68],
    "mxnet": [0.406, 0.456, 0.485],
}
MXNET_STD = [0.225, 0.224, 0.229]
BGR_MODES = {"zoo", "caffe2", "caffe", "mxnet"}


def tiny_image():
    """5 wide x 4 high; the formula is repeated in test_image_decode.cpp."""
    y, x = np.mgrid[0:4, 0:5]
    return np.stack([(37 * x + 11 * y) % 256, 255 - 13 * x * y, 3 * x + 50 * y], axis=-1).astype(np.uint8)


def axis_samples(n_out, n_in):
    s = (np.arange(n_out).astype(F32) + F32(0.5)) * F32(n_in) / F32(n_out) - F32(0.5)
    s = np.maximum(s, F32(0))
    i0 = s.astype(np.int64)
    return i0, np.minimum(i0 + 1, n_in - 1), (s - i0.astype(F32)).astype(F32)


def resize(image, h_out, w_out):
    image = image.astype(F32)
    if image.shape[:2] == (h_out, w_out):
        return image
    y0, y1, ly = axis_samples(h_out, image.shape[0])
    x0, x1, lx = axis_samples(w_out, image.shape[1])
    ly, lx, one = ly[:, None, None], lx[None, :, None], F32(1)
    p00, p01 = image[y0][:, x0], image[y0][:, x1]
    p10, p11 = image[y1][:, x0], image[y1][:, x1]
    return (one - ly) * ((one - lx) * p00 + lx * p01) + ly * ((one - lx) * p10 + lx * p11)


def preprocess(image, mode, h_out, w_out):
    v = resize(image, h_out, w_out)
    planes = []
    for c in range(3):
        plane = v[:, :, 2 - c] if mode in BGR_MODES else v[:, :, c]
        if mode in ("zoo", "caffe2"):
            plane = plane - F32(MEANS[mode][c])
        elif mode == "caffe":
            plane = (plane - F32(MEANS[mode][c])) * F32(0.017)
        elif mode == "mxnet":
            plane = (plane / F32(255.0) - F32(MEANS[mode][c])) / F32(MXNET_STD[c])
        elif mode == "torchvision":
            plane = plane / F32(255.0)
        planes.append(plane.astype(F32))
    return np.stack(planes)


def make_images():
    pixels = tiny_image()
    Image.fromarray(pixels).save(HERE / "tiny.png")
    Image.fromarray(pixels).save(HERE / "tiny.ppm")
    Image.fromarray(pixels).save(HERE / "tiny.bmp")
    Image.fromarray(pixels[:, :, 0]).save(HERE / "tiny_grey.png")
    Image.fromarray(np.dstack([pixels, np.full(pixels.shape[:2], 9, np.uint8)])).save(HERE / "tiny_rgba.png")

    # Symbolic H/W and rcnn.preprocess metadata: no -p needed, no resize.
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["out"])],
        "image_identity",
        [helper.make_tensor_value_info("image", TP.FLOAT, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info("out", TP.FLOAT, [1, 3, "H", "W"])],
    )
    save_model(graph, "image_identity.onnx", {"rcnn.preprocess": "zoo"})
    save_expected("image_identity", [(preprocess(pixels, "zoo", 4, 5)[None], "out")])

    # Fixed [3,7,9]: upscales 4x5 -> 7x9; no metadata, so -p is required.
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["out"])],
        "image_fixed",
        [helper.make_tensor_value_info("image", TP.FLOAT, [3, 7, 9])],
        [helper.make_tensor_value_info("out", TP.FLOAT, [3, 7, 9])],
    )
    save_model(graph, "image_fixed.onnx")
    for mode in ("zoo", "torchvision", "caffe2", "caffe", "mxnet", "none"):
        save_expected(f"image_fixed_{mode}", [(preprocess(pixels, mode, 7, 9), "out")])


# ---------------------------------------------------------------- int8 QLinearConv
def make_qconv():
    import onnxruntime as ort

    rng = np.random.default_rng(7)
    weights = rng.integers(-127, 128, (8, 4, 3, 3)).astype(np.int8)
    initializers = [
        numpy_helper.from_array(np.array(0.05, F32), "x_scale"),
        numpy_helper.from_array(np.array(3, np.int8), "x_zp"),
        numpy_helper.from_array(weights, "w"),
        numpy_helper.from_array((rng.random(8) * 0.01 + 0.002).astype(F32), "w_scale"),
        numpy_helper.from_array(np.zeros(8, np.int8), "w_zp"),
        numpy_helper.from_array(np.array(0.2, F32), "y_scale"),
        numpy_helper.from_array(np.array(-5, np.int8), "y_zp"),
        numpy_helper.from_array(rng.integers(-2000, 2000, 8).astype(np.int32), "bias"),
    ]
    node = helper.make_node(
        "QLinearConv",
        ["x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp", "bias"],
        ["y"],
        pads=[1, 1, 1, 1],
    )
    graph = helper.make_graph(
        [node],
        "qconv",
        [helper.make_tensor_value_info("x", TP.INT8, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TP.INT8, [1, 8, 8, 8])],
        initializers,
    )
    save_model(graph, "qconv.onnx")
    x = rng.integers(-128, 128, (1, 4, 8, 8)).astype(np.int8)
    onnx.save_tensor(numpy_helper.from_array(x, "x"), HERE / "qconv_x.pb")
    (HERE / "truncated.pb").write_bytes((HERE / "qconv_x.pb").read_bytes()[:40])  # cut inside raw_data
    session = ort.InferenceSession(str(HERE / "qconv.onnx"), providers=["CPUExecutionProvider"])
    save_expected("qconv", [(session.run(None, {"x": x})[0], "y")])


# ---------------------------------------------------------------- models the Systolic plugin EP claims (or declines)
# Standard QOperator int8 and float models. Expected outputs come from ONNX Runtime's CPU EP, never from the EP under
# test: its QLinearConv / QLinearMatMul / MaxPool / Relu are the very integer arithmetic the accelerator does, and each
# residual add the EP places is written as Gemmini's resadd in standard ops (tests/resadd_reference.py), since the
# accelerator's add rounds each input on its own where QLinearAdd rounds once. The int8 sum is checked once more
# against the NumPy reference of the accelerator numerics (tests/gemmini_ref.py).
MS = "com.microsoft"


def scalar(value, dtype, name):
    return numpy_helper.from_array(np.array(value, dtype), name)


def qlinear_conv(name, x, x_q, w, w_scale, y_q, bias=None, **attrs):
    """QLinearConv `name` reading tensor x quantized as x_q = (scale, zero point), writing `name` as y_q; its
    initializers come back with it."""
    inputs = [x, f"{x}_s", f"{x}_z", f"{name}_w", f"{name}_ws", f"{name}_wz", f"{name}_s", f"{name}_z"]
    inits = [scalar(x_q[0], F32, f"{x}_s"), scalar(x_q[1], np.int8, f"{x}_z"), numpy_helper.from_array(w, f"{name}_w"),
             scalar(w_scale, F32, f"{name}_ws"), scalar(0, np.int8, f"{name}_wz"), scalar(y_q[0], F32, f"{name}_s"),
             scalar(y_q[1], np.int8, f"{name}_z")]
    if bias is not None:
        inputs.append(f"{name}_b")
        inits.append(numpy_helper.from_array(bias, f"{name}_b"))
    return helper.make_node("QLinearConv", inputs, [name], name=name, **attrs), inits


def cpu_run(model_bytes, feeds):
    import onnxruntime as ort

    return ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"]).run(None, feeds)


def make_systolic_int8():
    """QLinearConv (3x3, Relu) and QLinearConv (2x2, groups, asymmetric pads) -> QLinearAdd (ratios <= 1) ->
    depthwise QLinearConv (stride, dilation, asymmetric pads) -> MaxPool (pads) -> QLinearMatMul, on [1,8,8,8]:
    every node a unit the EP claims, all fused into one compiled node."""
    from resadd_reference import resadd_reference

    rng = np.random.default_rng(11)
    i8 = lambda *shape: rng.integers(-128, 128, shape).astype(np.int8)  # noqa: E731
    w1, w2, w3, wm = i8(16, 8, 3, 3), i8(16, 4, 2, 2), i8(16, 1, 3, 3), i8(4, 10)
    b1 = rng.integers(-3000, 3000, 16).astype(np.int32)
    b3 = rng.integers(-500, 500, 16).astype(np.int32)
    c1, i1 = qlinear_conv("c1", "x", (0.02, 0), w1, 0.01, (0.04, 0), b1, pads=[1, 1, 1, 1])
    c2, i2 = qlinear_conv("c2", "x", (0.02, 0), w2, 0.02, (0.05, 0), pads=[0, 0, 1, 1], group=2)
    add = helper.make_node("QLinearAdd", ["r1", "c1_s", "c1_z", "c2", "c2_s", "c2_z", "sum_s", "sum_z"], ["sum"],
                           name="sum", domain=MS)
    c3, i3 = qlinear_conv("c3", "sum", (0.06, 0), w3, 0.01, (0.03, 0), b3, strides=[2, 1], dilations=[2, 1],
                          pads=[2, 1, 1, 0], group=16)
    mm = helper.make_node("QLinearMatMul", ["p3", "c3_s", "c3_z", "wm", "wm_s", "wm_z", "y_s", "y_z"], ["y"], name="mm")
    nodes = [c1, helper.make_node("Relu", ["c1"], ["r1"], name="relu1"), c2, add, c3,
             helper.make_node("MaxPool", ["c3"], ["p3"], name="pool3", kernel_shape=[2, 2], strides=[1, 2],
                              pads=[0, 1, 1, 0]), mm]
    inits = [*i1, *i2[2:], *i3[2:], scalar(0.06, F32, "sum_s"), scalar(0, np.int8, "sum_z"),
             numpy_helper.from_array(wm, "wm"), scalar(0.01, F32, "wm_s"), scalar(0, np.int8, "wm_z"),
             scalar(0.05, F32, "y_s"), scalar(0, np.int8, "y_z")]
    graph = helper.make_graph(
        nodes, "systolic_int8",
        [helper.make_tensor_value_info("x", TP.INT8, [1, 8, 8, 8])],
        [helper.make_tensor_value_info("y", TP.INT8, [1, 16, 4, 10]),
         helper.make_tensor_value_info("sum", TP.INT8, [1, 16, 8, 8])],
        inits)
    save_model(graph, "systolic_int8.onnx", domains=(MS,))
    x = i8(1, 8, 8, 8)
    onnx.save_tensor(numpy_helper.from_array(x, "x"), HERE / "systolic_int8_x.pb")
    y, total = cpu_run(resadd_reference(HERE / "systolic_int8.onnx", {"sum"}), {"x": x})
    # The sum through the NumPy reference (NHWC, HWIO weights) as well.
    nhwc, hwio = (0, 2, 3, 1), (2, 3, 1, 0)
    conv = {"strides": [1, 1], "dilations": [1, 1], "group": 1, "relu": 0, "pool": 0}
    t1 = ref.qconv(x.transpose(nhwc), w1.transpose(hwio), b1,
                   {**conv, "x_scale": 0.02, "w_scale": 0.01, "y_scale": 0.04, "pads": [1, 1, 1, 1], "relu": 1})
    t2 = ref.qconv(x.transpose(nhwc), w2.transpose(hwio), None,
                   {**conv, "x_scale": 0.02, "w_scale": 0.02, "y_scale": 0.05, "pads": [0, 0, 1, 1], "group": 2})
    want = ref.qadd(t1, t2, {"a_scale": 0.04, "b_scale": 0.05, "c_scale": 0.06, "relu": 0})
    np.testing.assert_array_equal(total, want.transpose(0, 3, 1, 2))
    assert len(np.unique(y)) > 10 and len(np.unique(total)) > 50
    save_expected("systolic_int8", [(y, "y"), (total, "sum")])


def make_systolic_fp32():
    """Float Conv -> Relu -> MaxPool -> MatMul (the fp32 config's units) on small integer-valued data: every sum is
    exact in float32, so the CPU EP's result is the accelerator's too, in every mode."""
    rng = np.random.default_rng(12)
    ints = lambda lo, hi, *shape: rng.integers(lo, hi, shape).astype(F32)  # noqa: E731
    w, b, wm = ints(-4, 5, 8, 3, 3, 3), ints(-20, 20, 8), ints(-4, 5, 3, 5)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["t"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["t"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("MatMul", ["p", "wm"], ["y"], name="mm")]
    inits = [numpy_helper.from_array(v, k) for k, v in {"w": w, "b": b, "wm": wm}.items()]
    graph = helper.make_graph(
        nodes, "systolic_fp32",
        [helper.make_tensor_value_info("x", TP.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [1, 8, 3, 5])],
        inits)
    save_model(graph, "systolic_fp32.onnx")
    x = ints(-8, 9, 1, 3, 6, 6)
    onnx.save_tensor(numpy_helper.from_array(x, "x"), HERE / "systolic_fp32_x.pb")
    (y,) = cpu_run((HERE / "systolic_fp32.onnx").read_bytes(), {"x": x})
    assert len(np.unique(y)) > 10
    save_expected("systolic_fp32", [(y, "y")])


def make_systolic_declines():
    """Quantized nodes the EP must leave on the CPU EP, each for its own reason: a QLinearConv whose weights are a
    graph input, a 1-D QLinearConv, a QLinearAdd with a scale ratio of 2 (its scaled input would saturate before
    the sum) and a broadcasting QLinearAdd. Nothing is placed, so the CPU EP's outputs are the expected ones."""
    rng = np.random.default_rng(13)
    i8 = lambda *shape: rng.integers(-128, 128, shape).astype(np.int8)  # noqa: E731
    conv_dyn, i_dyn = qlinear_conv("conv_dynamic", "x", (0.1, 0), np.zeros(1, np.int8), 0.1, (1.0, 0),
                                   pads=[1, 1, 1, 1])
    conv_dyn.input[3] = "w"  # the weights are an input, not a constant
    conv_1d, i_1d = qlinear_conv("conv_1d", "s", (0.1, 0), i8(4, 4, 3), 0.1, (2.0, 0))
    ratio_add = helper.make_node("QLinearAdd", ["a", "a_s", "z", "b", "a_s", "z", "c_s", "z"], ["ratio_add"],
                                 name="ratio_add", domain=MS)
    broadcast_add = helper.make_node("QLinearAdd", ["a", "c_s", "z", "c", "c_s", "z", "c_s", "z"], ["broadcast_add"],
                                     name="broadcast_add", domain=MS)
    inits = [*(i for i in i_dyn if i.name != "conv_dynamic_w"), *i_1d,
             scalar(0.1, F32, "a_s"), scalar(0.05, F32, "c_s"), scalar(0, np.int8, "z")]
    feeds = {"x": i8(1, 8, 4, 4), "w": i8(16, 8, 3, 3), "s": i8(1, 4, 10), "a": i8(1, 3, 2, 2), "b": i8(1, 3, 2, 2),
             "c": i8(1, 1, 2, 2)}
    graph = helper.make_graph(
        [conv_dyn, conv_1d, ratio_add, broadcast_add], "systolic_declines",
        [helper.make_tensor_value_info(k, TP.INT8, list(v.shape)) for k, v in feeds.items()],
        [helper.make_tensor_value_info(k, TP.INT8, shape) for k, shape in
         (("conv_dynamic", [1, 16, 4, 4]), ("conv_1d", [1, 4, 8]), ("ratio_add", [1, 3, 2, 2]),
          ("broadcast_add", [1, 3, 2, 2]))],
        inits)
    save_model(graph, "systolic_declines.onnx", domains=(MS,))
    for name, value in feeds.items():
        onnx.save_tensor(numpy_helper.from_array(value, name), HERE / f"systolic_declines_{name}.pb")
    outputs = cpu_run((HERE / "systolic_declines.onnx").read_bytes(), feeds)
    names = ("conv_dynamic", "conv_1d", "ratio_add", "broadcast_add")
    save_expected("systolic_declines", list(zip(outputs, names, strict=True)))
    # A config the EP must reject, with the line number in the message.
    (HERE / "bad_accelerator.toml").write_text("# not a valid accelerator config\ndim = 16\nrows = 12\n")


# ---------------------------------------------------------------- what ort_test must refuse or accept unchanged
def external_initializer(name, values, location, offset=None, length=None):
    """An initializer whose data is in another file, written as ORT reads it (no raw_data in the model)."""
    tensor = numpy_helper.from_array(values, name)
    tensor.ClearField("raw_data")
    tensor.data_location = TP.EXTERNAL
    entries = {"location": location}
    entries.update({k: str(v) for k, v in (("offset", offset), ("length", length)) if v is not None})
    for key, value in entries.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def save_add_model(path, initializer):
    """y = x + W for x float [2,3] (in_f32.pb). Serialized directly: onnx.save would process the external data."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "W"], ["y"])],
        path.stem,
        [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [2, 3])],
        [initializer],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
                              producer_name="rcnn-tests")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(model.SerializeToString())


def make_external():
    """external/: a valid external-data model (ORT must still run it) and two whose data lies outside the folder:
    one up through "..", at in_f32.pb next to the folder, and one at an absolute path."""
    folder = HERE / "external"
    w = np.arange(1, 7, dtype=F32).reshape(2, 3)
    (folder / "ok_w.bin").parent.mkdir(exist_ok=True)
    (folder / "ok_w.bin").write_bytes(w.tobytes())
    save_add_model(folder / "ok.onnx", external_initializer("W", w, "ok_w.bin", offset=0, length=24))
    x = numpy_helper.to_array(onnx.load_tensor(HERE / "in_f32.pb"))
    save_expected("external_ok", [(x + w, "y")])
    save_add_model(folder / "escape.onnx", external_initializer("W", w, "../in_f32.pb"))
    save_add_model(folder / "absolute.onnx", external_initializer("W", w, "/etc/passwd"))


def make_shapeless():
    """An input declared without any shape: ORT's C API reports it with 0 dims, yet any tensor must be accepted."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "shapeless",
        [helper.make_tensor_value_info("x", TP.FLOAT, None)],
        [helper.make_tensor_value_info("y", TP.FLOAT, None)],
    )
    # onnx.checker insists on shapes in the graph's signature; ONNX Runtime does not.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
                              producer_name="rcnn-tests")
    (HERE / "shapeless.onnx").write_bytes(model.SerializeToString())
    save_expected("shapeless", [(numpy_helper.to_array(onnx.load_tensor(HERE / "in_f32.pb")), "y")])


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_huge_image():
    """A real 20000x20000 PNG (1-bit grey, all black: 400 M pixels in about 50 KB). Its header alone must get it
    refused (RCNN_MAX_IMAGE_PIXELS); decoding it would take 1.2 GB."""
    width = height = 20000
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte 0, then the row's packed bits
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, grey, no interlace
    png = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(row * height, 9))
           + png_chunk(b"IEND", b""))
    (HERE / "huge_20000x20000.png").write_bytes(png)


if __name__ == "__main__":
    make_identity_all()
    make_images()
    make_qconv()
    make_systolic_int8()
    make_systolic_fp32()
    make_systolic_declines()
    make_external()
    make_shapeless()
    make_huge_image()
