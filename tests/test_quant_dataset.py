"""python -m rcnn.dataset: image folder -> test_data_set_N/input_0.pb, equal to rcnn.preprocess.image_to_tensor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from rcnn.models import testnets
from rcnn.quant.data import ZooDataReader
from rcnn.runtime.preprocess import image_to_tensor
from rcnn.runtime.tensors import load_tensor

from conftest import run_cli


def _images(folder: Path) -> list[Path]:
    folder.mkdir()
    return [testnets.demo_image(folder / f"{name}.png", size=24, seed=i) for i, name in enumerate(("b", "a", "c"))]


def test_builds_sorted_samples_equal_to_preprocess(tmp_path: Path) -> None:
    imgs = sorted(_images(tmp_path / "imgs"))
    r = run_cli("rcnn.dataset", "--images", tmp_path / "imgs", "--out", tmp_path / "ds", "-p", "caffe2",
                "--size", "16", "20", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "3/3" in r.stderr  # progress bar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "imgs"]
    for n, img in enumerate(imgs):
        got, _ = load_tensor(tmp_path / "ds" / f"test_data_set_{n}" / "input_0.pb")
        np.testing.assert_array_equal(got, image_to_tensor(img, "caffe2", [1, 3, 16, 20]))


def test_none_chw_and_model_dims_feed_calibration(tmp_path: Path) -> None:
    _images(tmp_path / "imgs")
    r = run_cli("rcnn.dataset", "--images", tmp_path / "imgs", "--out", tmp_path / "raw", "-p", "none",
                "--size", "12", "--layout", "chw", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    raw, _ = load_tensor(tmp_path / "raw" / "test_data_set_0" / "input_0.pb")
    assert raw.shape == (3, 12, 12) and raw.max() > 1.0  # raw 0..255
    model = testnets.resnet_float(size=32, widths=(8, 16))
    onnx.save(model, str(tmp_path / "m.onnx"))
    r = run_cli("rcnn.dataset", "--images", tmp_path / "imgs", "--out", tmp_path / "ds", "-p", "none",
                "--model", tmp_path / "m.onnx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    feed = ZooDataReader(model, tmp_path / "ds", "torchvision", progress=False).get_next()
    assert feed is not None and feed["x"].shape == (1, 3, 32, 32) and feed["x"].max() <= 1.0


def test_bad_folder_is_one_line_error(tmp_path: Path) -> None:
    r = run_cli("rcnn.dataset", "--images", tmp_path / "nope", "--out", tmp_path / "ds", "-p", "zoo", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("rcnn.dataset: error: image folder not found")
    assert len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    r = run_cli("rcnn.dataset", "--images", tmp_path / "empty", "--out", tmp_path / "ds", "-p", "zoo", cwd=tmp_path)
    assert r.returncode == 1 and "no images" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _mixed_images(folder: Path) -> None:
    folder.mkdir()
    testnets.demo_image(folder / "a.png", size=24, seed=0)
    testnets.demo_image(folder / "b.png", size=40, seed=1)


def test_free_hw_mixed_sizes_refused_then_size_or_multiple_of(tmp_path: Path) -> None:
    """A model with free H/W: images of two sizes are refused before anything is written, naming them and the
    ways out; --size fills the free dims, --multiple-of rounds each image's own size, --mixed-sizes accepts."""
    _mixed_images(tmp_path / "imgs")
    model = testnets.resnet_float(size=32, widths=(8, 16))
    for d in (2, 3):
        model.graph.input[0].type.tensor_type.shape.dim[d].dim_param = "HW"[d - 2]
    onnx.save(model, str(tmp_path / "m.onnx"))
    base = ("rcnn.dataset", "--images", tmp_path / "imgs", "-p", "none", "--model", tmp_path / "m.onnx", "-q")
    r = run_cli(*base, "--out", tmp_path / "ds", cwd=tmp_path)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "2 different sizes (a.png 24x24, b.png 40x40)" in r.stderr and "--size H W" in r.stderr
    assert not (tmp_path / "ds").exists()
    r = run_cli(*base, "--out", tmp_path / "sized", "--size", "16", "20", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    shapes = {load_tensor(tmp_path / "sized" / f"test_data_set_{n}" / "input_0.pb")[0].shape for n in (0, 1)}
    assert shapes == {(1, 3, 16, 20)}
    r = run_cli(*base, "--out", tmp_path / "m16", "--multiple-of", "16", "--mixed-sizes", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = [load_tensor(tmp_path / "m16" / f"test_data_set_{n}" / "input_0.pb")[0] for n in (0, 1)]
    assert [g.shape for g in got] == [(1, 3, 32, 32), (1, 3, 48, 48)]  # 24 -> 32 (ties up), 40 -> 48
    np.testing.assert_array_equal(got[1], image_to_tensor(tmp_path / "imgs" / "b.png", "none", [1, 3, 48, 48]))
    r = run_cli(*base, "--out", tmp_path / "m8", "--multiple-of", "8", cwd=tmp_path)
    assert r.returncode == 1 and "2 different sizes (a.png 24x24, b.png 40x40)" in r.stderr


def test_size_disagreeing_with_a_fixed_model_input_is_refused(tmp_path: Path) -> None:
    _images(tmp_path / "imgs")
    onnx.save(testnets.resnet_float(size=32, widths=(8, 16)), str(tmp_path / "m.onnx"))
    r = run_cli("rcnn.dataset", "--images", tmp_path / "imgs", "--out", tmp_path / "ds", "-p", "none",
                "--model", tmp_path / "m.onnx", "--size", "16", cwd=tmp_path)
    assert r.returncode == 1 and "--size 16 16 disagrees with m.onnx's input 'x' [1x3x32x32]" in r.stderr, r.stderr
