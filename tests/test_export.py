"""rcnn.export: BN folding, the exported small Mask R-CNN against PyTorch eager, metadata, CLI errors."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from rcnn.errors import RcnnError
from rcnn.models import export
from rcnn.models.synthetic import CLASSES

from conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def shapes_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, export.ExportReport]:
    torch.set_num_threads(2)
    model = export.build_model(export.SHAPES_ARCH, None, None, random_init=True, seed=0)
    out = tmp_path_factory.mktemp("export") / "shapes.onnx"
    return out, export.export_model(model, out, arch=export.SHAPES_ARCH, size=None)


def test_shapes_export_matches_eager(shapes_export: tuple[Path, export.ExportReport]) -> None:
    path, report = shapes_export
    assert report.detections and report.detections > 0  # otherwise the comparison below compares nothing
    d = report.diffs
    assert d["scores"] <= 1e-4 and d["boxes"] <= 1e-2 and d["masks"] <= 1e-3 and d["min_iou"] > 0.999, d
    assert report.folded_bn > 0
    assert report.op_histogram.get("BatchNormalization", 0) == 0
    model = onnx.load(str(path))
    assert export.unfolded_bn_chains(model.graph) == []
    assert model.ir_version <= 10
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    assert 11 <= opset <= 22
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["rcnn.classes"]) == list(CLASSES)
    assert meta["rcnn.preprocess"] == "torchvision" and meta["rcnn.arch"] == export.SHAPES_ARCH
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.shape for i in sess.get_inputs()] == [[3, 256, 256]]
    x = np.random.default_rng(0).random((3, 256, 256), dtype=np.float32)
    boxes, _, _, masks = sess.run(["boxes", "labels", "scores", "masks"], {"image": x})
    assert masks.shape == (len(boxes), 1, 28, 28) and len(boxes) > 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter's deprecation notice
def test_chain_detector_finds_unfolded_frozen_bn(tmp_path: Path) -> None:
    """A FrozenBatchNorm2d exported without folding is the Conv->Mul->Add chain the export refuses."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), FrozenBatchNorm2d(4)).eval()
    net[1].weight.fill_(2.0)
    path = tmp_path / "frozen.onnx"
    torch.onnx.export(net, (torch.rand(1, 3, 8, 8),), str(path), dynamo=False, opset_version=17)
    assert len(export.unfolded_bn_chains(onnx.load(str(path)).graph)) == 1
    export.fold_batchnorm(net)
    torch.onnx.export(net, (torch.rand(1, 3, 8, 8),), str(path), dynamo=False, opset_version=17)
    assert export.unfolded_bn_chains(onnx.load(str(path)).graph) == []


def test_fold_frozen_batchnorm_keeps_outputs() -> None:
    from torchvision.models import resnet18
    from torchvision.ops.misc import FrozenBatchNorm2d

    torch.manual_seed(0)
    net = resnet18(weights=None, norm_layer=FrozenBatchNorm2d, num_classes=10).eval()
    g = torch.Generator().manual_seed(1)
    for m in net.modules():  # non-trivial statistics, or folding would be an identity and prove nothing
        if isinstance(m, FrozenBatchNorm2d):
            n = m.weight.numel()
            m.weight.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    x = torch.rand(1, 3, 64, 64, generator=g)
    with torch.no_grad():
        before = net(x)
        assert export.fold_batchnorm(net) == 20  # stem 1 + 8 blocks x 2 + 3 downsample
        after = net(x)
    assert export.count_batchnorm(net) == 0
    assert torch.allclose(before, after, atol=1e-4, rtol=1e-4), (before - after).abs().max()


def test_fold_skips_training_batchnorm() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).train()
    assert export.fold_batchnorm(net) == 0 and export.count_batchnorm(net) == 1


def test_paste_masks_full_size(tmp_path: Path) -> None:
    model = export.build_model(export.SHAPES_ARCH, None, None, random_init=True, seed=0)
    out = tmp_path / "pasted.onnx"
    report = export.export_model(model, out, arch=export.SHAPES_ARCH, size=None, paste_masks=True)
    assert report.diffs["masks"] <= 1e-3
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((3, 256, 256), dtype=np.float32)
    boxes, masks = sess.run(["boxes", "masks"], {"image": x})
    assert masks.shape == (len(boxes), 1, 256, 256) and len(boxes) > 0
    assert "postprocess" not in vars(model.transform)  # the instance patch is undone after export


def test_classifier_export_and_failed_check_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = export.build_model("resnet18", 10, None, random_init=True, seed=0)
    out = tmp_path / "resnet18.onnx"
    report = export.export_model(model, out, arch="resnet18", size=32)
    assert report.outputs == ["logits"] and report.input_shape == [1, 3, 32, 32] and report.diffs["logits"] < 1e-3
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["rcnn.classes"]) == [f"class {i}" for i in range(10)]
    out.unlink()
    monkeypatch.setitem(export.TOLERANCES, "logits", -1.0)  # any difference, even 0, now counts as disagreement
    with pytest.raises(RcnnError, match="disagree"):
        export.export_model(model, out, arch="resnet18", size=32)
    assert list(tmp_path.iterdir()) == []


def test_weights_file_roundtrip_and_mismatch(tmp_path: Path) -> None:
    model = export.build_model(export.SHAPES_ARCH, None, None, random_init=True, seed=3)
    ckpt = tmp_path / "ckpt.pt"
    torch.save(model.state_dict(), ckpt)
    loaded = export.build_model(export.SHAPES_ARCH, None, str(ckpt), random_init=False, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values(),
                                                   strict=True))
    with pytest.raises(RcnnError, match="do not fit"):
        export.build_model("fasterrcnn_resnet50_fpn", None, str(ckpt), random_init=False, seed=0)


def test_default_weights_offline_is_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(RcnnError, match="cannot download") as e:
        export.build_model("resnet18", None, "DEFAULT", random_init=False, seed=0)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("args", "message"), [
    (["--arch", "no_such_net", "--random-init"], "unknown arch 'no_such_net'"),
    (["--arch", export.SHAPES_ARCH, "--weights", "/nonexistent.pt"], "weights file not found"),
    (["--arch", export.SHAPES_ARCH, "--random-init", "--opset", "9"], "--opset"),
    (["--arch", export.SHAPES_ARCH], "one of the arguments --weights --random-init is required"),
])
def test_cli_errors(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "m.onnx"
    r = run_cli("rcnn.export", "-o", out, *args, cwd=ROOT, timeout=120)
    assert r.returncode in (1, 2), r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rcnn.export: error:") and message in lines[0], r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temp file
