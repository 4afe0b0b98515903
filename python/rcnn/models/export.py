"""The library of python -m rcnn.export: a torchvision detector or classifier (or the project's
shapes_resnet18_fpn) to ONNX.

Input contract of the exported detectors: one image `image`, float32 [3,H,W], RGB, values in [0,1], channels first,
no batch dimension. Do NOT normalise it (no mean/std): the graph contains torchvision's GeneralizedRCNNTransform,
which normalises (and resizes) itself. Normalising outside as well is what pytorch/vision#3588 ("exported Mask
R-CNN gives wrong results") was about. The model records this as metadata rcnn.preprocess=torchvision, which
rcnn.run and rcnn.native read. Classifiers take `input` float32 [1,3,H,W] (ImageNet-normalised, as in torchvision)
and give `logits`; their rcnn.preprocess is that normalisation as a spec, rgb,/255,mean=0.485:0.456:0.406,
std=0.229:0.224:0.225 (without the line break).

Detector outputs: boxes float32[N,4] (x1,y1,x2,y2 in input pixels), labels int64[N], scores float32[N] and, for
Mask R-CNN, masks. By default (--no-paste-masks) the graph ends at the per-box 28x28 mask probabilities,
masks float32[N,1,28,28], as the ONNX model-zoo Mask R-CNN does; pasting them into the image is left to the host
(rcnn.detection.detections), which saves the costly in-graph paste Loop. --paste-masks keeps torchvision's paste:
masks float32[N,1,H,W].

Steps: build (weights=None, so BatchNorm2d) and load --weights FILE (a state dict, strict) or --weights DEFAULT
(torchvision's download), or --random-init; fold FrozenBatchNorm2d / eval BatchNorm2d into the preceding
convolutions; export with the legacy TorchScript exporter (dynamo fails on NMS); refuse a graph that still holds
BatchNormalization or a per-channel Conv->Mul->Add chain; write metadata rcnn.classes (JSON list, index = label),
rcnn.preprocess, rcnn.arch; run the model in onnxruntime and in PyTorch on the same image and fail if they disagree;
write the file atomically. Nothing of torchvision is patched: only the model instance is changed.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rcnn.errors import RcnnError
from rcnn.files import atomic_write
from rcnn.onnxgraph.graph import MAX_IR_VERSION, consumers

DEFAULT_ARCH = "maskrcnn_resnet50_fpn"
SHAPES_ARCH = "shapes_resnet18_fpn"  # rcnn.detectors.ARCH, repeated so that --help does not import torch
OPSETS = range(11, 23)
CLASSIFIER_SIZE = 224
PREPROCESS = "torchvision"
# torchvision's ImageNet classifier normalisation as an rcnn.preprocess spec.
CLASSIFIER_PREPROCESS = "rgb,/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225"
# Eager vs ORT tolerances, on detections matched by label and best IoU.
TOLERANCES = {"scores": 1e-4, "boxes": 1e-2, "masks": 1e-3, "logits": 1e-3}


@dataclass
class ExportReport:
    path: Path
    arch: str
    opset: int
    ir_version: int
    input_shape: list[int | str]
    outputs: list[str]
    op_histogram: dict[str, int]
    folded_bn: int
    diffs: dict[str, float] = field(default_factory=dict)  # max abs eager-vs-ORT difference per output
    detections: int | None = None  # eager detections on the check image (None for a classifier)
    file_bytes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- folding


def _fold_pair(conv: Any, bn: Any) -> None:
    """conv followed by bn → conv with scaled weights and a bias (both BN kinds keep weight/bias/running stats)."""
    import torch

    scale = bn.weight * (bn.running_var + bn.eps).rsqrt()
    shift = bn.bias - bn.running_mean * scale
    conv.weight.data.mul_(scale.reshape(-1, 1, 1, 1).to(conv.weight.dtype))
    bias = shift if conv.bias is None else conv.bias * scale + shift
    conv.bias = torch.nn.Parameter(bias.detach().clone().to(conv.weight.dtype))


def _foldable(conv: Any, bn: Any) -> bool:
    from torch import nn
    from torchvision.ops.misc import FrozenBatchNorm2d

    if not isinstance(conv, nn.Conv2d):
        return False
    if isinstance(bn, FrozenBatchNorm2d):
        ok = True
    elif isinstance(bn, nn.BatchNorm2d):
        # A training-mode BN normalises with batch statistics, which a folded conv cannot reproduce.
        ok = not bn.training and bn.running_mean is not None and bn.affine
    else:
        return False
    return ok and conv.out_channels == bn.weight.numel()


def fold_batchnorm(model: Any) -> int:
    """Fold FrozenBatchNorm2d / eval-mode BatchNorm2d into the convolution before it, in place; returns the count.

    Two layouts cover torchvision's backbones: siblings convK/bnK (ResNet stem, BasicBlock, Bottleneck) and a
    Sequential whose conv is directly followed by a BN (downsample paths, Conv2dNormActivation). The BN becomes
    nn.Identity, so the exporter emits no BatchNormalization and no Mul/Add pair for it.
    """
    import torch
    from torch import nn

    count = 0
    with torch.no_grad():
        for parent in list(model.modules()):
            kids = dict(parent.named_children())
            pairs: list[tuple[str, str]] = []
            if isinstance(parent, nn.Sequential):
                names = list(kids)
                pairs += list(itertools.pairwise(names))
            pairs += [("conv" + name[2:], name) for name in kids if name.startswith("bn") and "conv" + name[2:] in kids]
            for conv_name, bn_name in pairs:
                conv, bn = kids[conv_name], getattr(parent, bn_name)
                if _foldable(conv, bn):
                    _fold_pair(conv, bn)
                    setattr(parent, bn_name, nn.Identity())
                    count += 1
    return count


def count_batchnorm(model: Any) -> int:
    from torch import nn
    from torchvision.ops.misc import FrozenBatchNorm2d

    return sum(isinstance(m, (nn.modules.batchnorm._BatchNorm, FrozenBatchNorm2d)) for m in model.modules())


# ---------------------------------------------------------------------------------------------------- building


def _detection_builders() -> list[str]:
    import torchvision

    return list(torchvision.models.list_models(module=torchvision.models.detection))


def is_detector(model: Any) -> bool:
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    return isinstance(getattr(model, "transform", None), GeneralizedRCNNTransform)


def _load_state_dict(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise RcnnError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors all mean "not a loadable state dict"
        raise RcnnError(f"cannot read weights {path}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # torchvision's reference training scripts save {"model": ..., "optimizer": ...}
    if not isinstance(state, dict):
        raise RcnnError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def _classes_in_state(state: dict[str, Any]) -> int | None:
    """Number of classes a detector checkpoint was trained for (its box classifier's rows), if recognisable."""
    w = state.get("roi_heads.box_predictor.cls_score.weight")
    return int(w.shape[0]) if w is not None else None


def _default_weights(arch: str, num_classes: int | None) -> Any:
    import torchvision

    try:
        return torchvision.models.get_model(arch, weights="DEFAULT", **({"num_classes": num_classes}
                                                                        if num_classes else {}))
    except OSError as e:  # urllib's URLError is an OSError; so is a read-only or full cache folder
        raise RcnnError(f"cannot download torchvision's DEFAULT weights for {arch} (offline?): {e}") from None
    except ValueError as e:  # e.g. num_classes that does not match the pretrained head
        raise RcnnError(f"--weights DEFAULT for {arch}: {e}") from None


def build_model(arch: str, num_classes: int | None, weights: str | None, random_init: bool, seed: int) -> Any:
    """The model in eval mode: `weights` is a state-dict file or "DEFAULT"; exactly one of weights/random_init."""
    import torch
    import torchvision

    if (weights is None) == (not random_init):
        raise RcnnError("give exactly one of --weights FILE, --weights DEFAULT or --random-init")
    if num_classes is not None and num_classes < 2 and arch in [SHAPES_ARCH, *_detection_builders()]:
        raise RcnnError(f"--num-classes must be >= 2 for a detector (background + classes), got {num_classes}")
    known = [SHAPES_ARCH, *torchvision.models.list_models()]
    if arch not in known:
        raise RcnnError(f"unknown arch {arch!r}: use {SHAPES_ARCH} or a torchvision model name "
                        "(torchvision.models.list_models())")
    if weights == "DEFAULT":
        if arch == SHAPES_ARCH:
            raise RcnnError(f"{SHAPES_ARCH} has no downloadable weights: train it (python -m rcnn.train_shapes)")
        return _default_weights(arch, num_classes).eval()
    state = _load_state_dict(Path(weights)) if weights is not None else None
    if num_classes is None and state is not None:
        num_classes = _classes_in_state(state)
    torch.manual_seed(seed)  # random init is reproducible; a loaded state dict overwrites every parameter anyway
    if arch == SHAPES_ARCH:
        from rcnn.models.detectors import shapes_maskrcnn

        model = shapes_maskrcnn(num_classes or 4)
    else:
        extra: dict[str, Any] = {"num_classes": num_classes} if num_classes else {}
        if arch in _detection_builders():
            extra["weights_backbone"] = None  # the default would download ImageNet weights and use FrozenBN
        model = torchvision.models.get_model(arch, weights=None, **extra)
    if state is not None:
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            first = " ".join(str(e).split())  # torch's message spans lines; the CLI prints one
            raise RcnnError(f"weights {weights} do not fit {arch}: {first[:400]}") from None
    return model.eval()


def model_num_classes(model: Any) -> int | None:
    """Classes including background for a detector, output logits for a classifier; None when unknown."""
    from torch import nn

    roi = getattr(model, "roi_heads", None)
    if roi is not None and hasattr(roi.box_predictor, "cls_score"):
        return int(roi.box_predictor.cls_score.out_features)
    head = getattr(getattr(model, "head", None), "classification_head", None)
    if head is not None and hasattr(head, "num_classes"):
        return int(head.num_classes)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return int(linears[-1].out_features) if linears and not is_detector(model) else None


def default_class_names(arch: str, num_classes: int | None, weights: str | None = None) -> list[str] | None:
    """Label names: the DEFAULT weights' categories, COCO-91 for 91-class torchvision detectors, the shapes classes
    for the project's arch, else "class N"."""
    from rcnn.detection.coco_names import COCO_91
    from rcnn.models.synthetic import CLASSES

    if weights == "DEFAULT" and arch != SHAPES_ARCH:
        import torchvision

        categories = torchvision.models.get_model_weights(arch).DEFAULT.meta.get("categories")
        if categories:
            return list(categories)
    if num_classes is None:
        return None
    if arch == SHAPES_ARCH and num_classes == len(CLASSES):
        return list(CLASSES)
    if arch != SHAPES_ARCH and num_classes == len(COCO_91) and arch in _detection_builders():
        return list(COCO_91)
    return [f"class {i}" for i in range(num_classes)]


def natural_size(model: Any, arch: str) -> int:
    """The square input size the model is made for: the detector transform's min_size, 224 for classifiers."""
    if arch == SHAPES_ARCH:
        from rcnn.models.detectors import INPUT_SIZE

        return INPUT_SIZE
    if is_detector(model):
        t = model.transform
        return int(t.fixed_size[0]) if getattr(t, "fixed_size", None) else int(min(t.min_size))
    return CLASSIFIER_SIZE


# ---------------------------------------------------------------------------------------------------- export


@contextmanager
def _unpasted_masks(model: Any, paste: bool) -> Iterator[None]:
    """Replace, on this instance only, transform.postprocess so that boxes are mapped back to input pixels but
    masks stay the roi_heads' per-box [N,1,28,28] probabilities (torchvision pastes them in postprocess)."""
    if paste or not is_detector(model):
        yield
        return
    from torchvision.models.detection.transform import resize_boxes, resize_keypoints

    def postprocess(result: list[dict[str, Any]], image_shapes: list[tuple[int, int]],
                    original_image_sizes: list[tuple[int, int]]) -> list[dict[str, Any]]:
        for pred, resized, original in zip(result, image_shapes, original_image_sizes, strict=True):
            pred["boxes"] = resize_boxes(pred["boxes"], resized, original)
            if "keypoints" in pred:
                pred["keypoints"] = resize_keypoints(pred["keypoints"], resized, original)
        return result

    model.transform.postprocess = postprocess
    try:
        yield
    finally:
        del model.transform.postprocess  # the class method shows through again


def _check_input(image: np.ndarray | None, size: int) -> np.ndarray:
    """HxWx3 uint8 RGB (default: the seeded demo shapes image) resized to size x size → float32 [3,H,W] in [0,1]."""
    from rcnn.models.synthetic import DEMO_SEED, make_sample
    from rcnn.runtime.preprocess import normalize, resize_bilinear

    rgb = make_sample(DEMO_SEED, 0).image if image is None else image
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise RcnnError(f"the check image must be HxWx3 RGB, got shape {list(rgb.shape)}")
    return normalize(resize_bilinear(rgb.astype(np.float32), size, size), PREPROCESS)


def _eager(model: Any, x: np.ndarray, detector: bool) -> dict[str, np.ndarray]:
    import torch

    with torch.no_grad():
        t = torch.from_numpy(x)
        if detector:
            out = model([t])[0]
            return {k: v.numpy() for k, v in out.items()}
        return {"logits": model(t).numpy()}


def _torch_export(model: Any, x: np.ndarray, path: Path, detector: bool, outputs: list[str], dynamic: bool,
                  opset: int, pasted: bool) -> None:
    import torch

    t = torch.from_numpy(x)
    if detector:
        args: tuple = ([t],)
        inputs = ["image"]
        axes: dict[str, dict[int, str]] = {name: {0: "N"} for name in outputs}
        if dynamic:
            axes["image"] = {1: "H", 2: "W"}
            if "masks" in axes and pasted:  # pasted masks follow the image size
                axes["masks"] = {0: "N", 2: "H", 3: "W"}
    else:
        args = (t,)
        inputs = ["input"]
        axes = {"input": {2: "H", 3: "W"}} if dynamic else {}
    with warnings.catch_warnings():
        # The tracer warns about every Python-side shape computation in torchvision; they are expected.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, args, str(path), dynamo=False, opset_version=opset, do_constant_folding=True,
                              input_names=inputs, output_names=outputs, dynamic_axes=axes or None)
        except Exception as e:  # the exporter raises many types; the CLI wants one line
            raise RcnnError(f"torch.onnx.export failed: {type(e).__name__}: {str(e).splitlines()[0]}") from e


def op_histogram(graph: Any) -> Counter[str]:
    """Op types of the graph and of every subgraph (If/Loop bodies)."""
    ops: Counter[str] = Counter()
    for node in graph.node:
        ops[node.op_type] += 1
        for attr in node.attribute:
            for g in [attr.g] if attr.HasField("g") else list(attr.graphs):
                ops += op_histogram(g)
    return ops


def _constant_dims(graph: Any) -> dict[str, tuple[int, ...]]:
    dims = {i.name: tuple(i.dims) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    dims[node.output[0]] = tuple(attr.t.dims)
    return dims


def _per_channel(dims: tuple[int, ...] | None) -> bool:
    return dims is not None and len(dims) in (3, 4) and dims[-2:] == (1, 1) and (len(dims) == 3 or dims[0] == 1)


def unfolded_bn_chains(graph: Any) -> list[str]:
    """Conv→Mul(const [C,1,1])→Add(const) chains: what an unfolded FrozenBatchNorm2d exports to. Returns Conv names."""
    consts = _constant_dims(graph)
    readers = consumers(graph)

    def const_operand(node: Any, tensor: str) -> tuple[int, ...] | None:
        others = [i for i in node.input if i != tensor]
        return consts.get(others[0]) if len(others) == 1 else None

    found = []
    for conv in (n for n in graph.node if n.op_type == "Conv"):
        for mul in readers.get(conv.output[0], []):
            if mul.op_type != "Mul" or not _per_channel(const_operand(mul, conv.output[0])):
                continue
            if any(add.op_type == "Add" and const_operand(add, mul.output[0]) is not None
                   for add in readers.get(mul.output[0], [])):
                found.append(conv.name)
    return found


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a [N,4] with every box in b [M,4]."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def compare_detections(eager: dict[str, np.ndarray], ort: dict[str, np.ndarray]) -> dict[str, float]:
    """Max abs differences over ORT detections matched to eager ones (same label, best IoU). Random-init heads give
    near-tied scores, so the two runtimes may order detections differently; matching makes that harmless."""
    if len(eager["boxes"]) != len(ort["boxes"]):
        raise RcnnError(f"onnxruntime gives {len(ort['boxes'])} detections, PyTorch {len(eager['boxes'])}")
    diffs = {"boxes": 0.0, "scores": 0.0, "min_iou": 1.0}
    if "masks" in eager:
        diffs["masks"] = 0.0
    if len(eager["boxes"]) == 0:
        return diffs
    iou = _iou(ort["boxes"], eager["boxes"])
    iou[ort["labels"][:, None] != eager["labels"][None, :]] = -1.0
    for i, j in enumerate(iou.argmax(axis=1)):
        diffs["min_iou"] = min(diffs["min_iou"], float(iou[i, j]))
        for name in ("boxes", "scores", "masks"):
            if name in diffs:
                d = np.abs(ort[name][i].astype(np.float64) - eager[name][j]).max()
                diffs[name] = max(diffs[name], float(d))
    return diffs


def _run_ort(data: bytes, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3  # the paste Loop's harmless VerifyOutputSizes warnings at opset 17
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feed), strict=True))


def _check(data: bytes, x: np.ndarray, eager: dict[str, np.ndarray], detector: bool) -> dict[str, float]:
    if detector:
        diffs = compare_detections(eager, _run_ort(data, {"image": x}))
    else:
        got = _run_ort(data, {"input": x})["logits"]
        scale = max(1.0, float(np.abs(eager["logits"]).max()))  # relative: random logits can be large
        diffs = {"logits": float(np.abs(got - eager["logits"]).max()) / scale}
    bad = [f"{k} {v:.3g} > {TOLERANCES[k]:g}" for k, v in diffs.items() if k in TOLERANCES and v > TOLERANCES[k]]
    if bad:
        raise RcnnError(f"onnxruntime and PyTorch disagree: {', '.join(bad)}")
    return diffs


def _finish_graph(data: bytes, metadata: dict[str, str], shapes: dict[str, tuple[int, ...]]) -> tuple[Any, bytes]:
    import onnx

    proto = onnx.load_from_string(data)
    proto.ir_version = min(proto.ir_version, MAX_IR_VERSION)
    # The tracer names every data-dependent dim (masks [N,1,Slicemasks_dim_2,...]); those past the first that we
    # did not name ourselves are fixed by the architecture (28x28 per-box masks), so declare them.
    for value in proto.graph.output:
        for k, dim in enumerate(value.type.tensor_type.shape.dim):
            if k and dim.dim_param and dim.dim_param not in ("H", "W") and value.name in shapes:
                dim.dim_value = shapes[value.name][k]
    for key, value in metadata.items():
        entry = next((p for p in proto.metadata_props if p.key == key), None) or proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    return proto, proto.SerializeToString()


def _verify_graph(proto: Any) -> Counter[str]:
    ops = op_histogram(proto.graph)
    if ops["BatchNormalization"]:
        raise RcnnError(f"{ops['BatchNormalization']} BatchNormalization node(s) left in the graph (BN not folded)")
    chains = unfolded_bn_chains(proto.graph)
    if chains:
        raise RcnnError(f"{len(chains)} Conv->Mul->Add per-channel chain(s) (an unfolded BN), first after {chains[0]}")
    return ops


def export_model(model: Any, out: Path, *, arch: str, size: int | None, dynamic: bool = False, opset: int = 17,
                 paste_masks: bool = False, class_names: Sequence[str] | None = None, check: bool = True,
                 check_image: np.ndarray | None = None) -> ExportReport:
    """Fold BN (in place), export, verify and write `out` atomically. `check_image` is HxWx3 uint8 RGB (default:
    the seeded demo shapes image), resized to size x size; it is also the tracing input. Raises RcnnError."""
    import torch

    if opset not in OPSETS:
        raise RcnnError(f"opset {opset} not supported: use {OPSETS.start}..{OPSETS.stop - 1}")
    start = time.monotonic()
    model.eval()
    folded = fold_batchnorm(model)
    detector = is_detector(model)
    size = size or natural_size(model, arch)
    x = _check_input(check_image, size)
    if not detector:
        x = x[None]
    names = list(class_names) if class_names is not None else default_class_names(arch, model_num_classes(model))
    # What rcnn.run feeds the model; the check below feeds the same x to ORT and PyTorch, whatever its scale.
    metadata = {"rcnn.arch": arch, "rcnn.preprocess": PREPROCESS if detector else CLASSIFIER_PREPROCESS}
    if names is not None:
        metadata["rcnn.classes"] = json.dumps(names)
    with _unpasted_masks(model, paste_masks), torch.no_grad():
        eager = _eager(model, x, detector)
        outputs = list(eager)
        with tempfile.TemporaryDirectory(prefix="rcnn-export-") as tmp:
            path = Path(tmp) / "model.onnx"
            _torch_export(model, x, path, detector, outputs, dynamic, opset, paste_masks)
            proto, data = _finish_graph(path.read_bytes(), metadata, {k: v.shape for k, v in eager.items()})
    ops = _verify_graph(proto)
    diffs = _check(data, x, eager, detector) if check else {}
    atomic_write(out, data)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    report = ExportReport(path=Path(out), arch=arch, opset=opset, ir_version=proto.ir_version,
                          input_shape=[d.dim_param or d.dim_value for d in dims],
                          outputs=outputs, op_histogram=dict(sorted(ops.items())), folded_bn=folded, diffs=diffs,
                          detections=len(eager["boxes"]) if detector else None, file_bytes=len(data),
                          seconds=time.monotonic() - start)
    if detector and check and not len(eager["boxes"]):
        report.notes.append("no detections on the check image: boxes/scores/masks were not compared")
    return report
