"""Fuzzing the Python readers of untrusted files: mutated .npy/.pb, image and model bytes, fixed seed.

The Python twin of tests/fuzz/ (fuzz_rcnn, the C++ parsers under ASan/UBSan, run by ctest as fuzz.short). Each case
writes a mutated seed to a file and reads it through the package's entry point; the only allowed outcomes are
success and RcnnError (RefusedInput included). Any other exception is a finding: the test fails naming the kind,
seed and case, with the input saved under the test's temporary folder. Inputs that once failed live in
tests/fuzz/regressions/python_<kind>/ and are replayed first, with the C++ fuzzer's regressions of the same bytes.

A longer run: RCNN_FUZZ_PY_CASES=20000 RCNN_FUZZ_PY_SEED=$RANDOM .venv/bin/python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rcnn.errors import RcnnError
from rcnn.onnxgraph.gate import load_model
from rcnn.runtime.preprocess import load_rgb
from rcnn.runtime.tensors import load_tensor

from conftest import ROOT

# Warnings mutated inputs provoke on the way to a result or an RcnnError: not findings.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Ignoring unknown external data key"),  # onnx: a misspelt key, ignored
    pytest.mark.filterwarnings("ignore:invalid escape sequence"),  # NumPy: ast.literal_eval of a .npy header
    pytest.mark.filterwarnings("ignore:Data type alias"),  # NumPy: a deprecated dtype letter in a .npy header
    pytest.mark.filterwarnings("ignore:Reading `.npy` or `.npz` file required additional header parsing"),
]

SEED = int(os.environ.get("RCNN_FUZZ_PY_SEED", "20261204"))
CASES = int(os.environ.get("RCNN_FUZZ_PY_CASES", "2000"))  # per kind: 8000 cases in about 5 s
DATA = ROOT / "tests" / "cpp" / "data"
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
REGRESSIONS = ROOT / "tests" / "fuzz" / "regressions"
MAX_SEED_BYTES = 64 * 1024
MAX_INPUT_BYTES = 256 * 1024

# Edge values of headers and protobuf fields (sizes, sign bits, all ones).
INTERESTING = [0, 1, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 20000, 2**31 - 1, 2**31,
               2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]
TOKENS = [b"\x93NUMPY", b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", b"'shape': (", b"|O",
          b"<f8", b">u2", b"True", b"\x89PNG\r\n\x1a\n", b"IHDR", b"IDAT", b"\xff\xd8\xff", b"\xff\xc0", b"BM",
          b"P6\n", b"65535\n", b"ok_w.bin", b"../", b"/etc/passwd", b"location", b"offset", b"length"]


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def mutate_once(data: bytearray, rng: random.Random, partner: bytes) -> None:
    op = rng.randrange(11) if data else 4
    at = rng.randrange(len(data)) if data else 0
    span = min(1 << rng.randrange(8), len(data) - at) if data else 0
    if op == 0:
        data[at] ^= 1 << rng.randrange(8)
    elif op == 1:
        data[at] = rng.choice([0x00, 0x01, 0x7F, 0x80, 0xFF])
    elif op == 2:
        data[at] = rng.randrange(256)
    elif op == 3:  # a 2/4/8-byte edge value, either byte order (PNG/JPEG headers are big-endian, BMP/npy little)
        width = rng.choice([2, 4, 8])
        if len(data) >= width:
            at = rng.randrange(len(data) - width + 1)
            value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            data[at:at + width] = value.to_bytes(width, rng.choice(["little", "big"]))
    elif op == 4:  # a varint, sometimes a whole field (tag first)
        value = varint(rng.choice(INTERESTING))
        if rng.random() < 0.5:
            value = bytes([(rng.randrange(1, 32) << 3) | rng.randrange(8)]) + value
        data[at:at] = value
    elif op == 5:
        del data[at:at + span]
    elif op == 6:
        data[at:at] = data[at:at + span]
    elif op == 7:
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 17)))
    elif op == 8 and partner:  # splice: this input's prefix, the partner's suffix
        del data[at:]
        data += partner[rng.randrange(len(partner)):]
    elif op == 9:
        del data[rng.randrange(len(data) + 1):]
    else:
        token = rng.choice(TOKENS)
        if rng.random() < 0.5:
            data[at:at + len(token)] = token
        else:
            data[at:at] = token


def mutate(seed: bytes, rng: random.Random, partner: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(1 + int(rng.expovariate(0.5)) % 8):
        mutate_once(data, rng, partner)
    return bytes(data[:MAX_INPUT_BYTES])


def npy_seeds() -> list[bytes]:
    arrays = [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array(-5, dtype=np.int8),
        np.zeros((0, 3), dtype=bool),
        np.asfortranarray(np.arange(6, dtype=np.float64).reshape(3, 2)),
        np.arange(4, dtype=">u2"),
        np.array([(1, 2.5)], dtype=[("a", "<i4"), ("b", "<f4")]),
        np.array([1 + 2j], dtype=np.complex64),
    ]
    seeds = []
    for array in arrays:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        seeds.append(buffer.getvalue())
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ones((2, 2), np.uint8), version=(2, 0))
    seeds.append(buffer.getvalue())
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"pickled": 1}], dtype=object), allow_pickle=True)  # refused: pickles
    seeds.append(buffer.getvalue())
    return seeds


def files(*patterns: str) -> list[bytes]:
    found = sorted({p for folder in (DATA, CORPUS) for pattern in patterns for p in folder.rglob(pattern)})
    return [p.read_bytes() for p in found if p.stat().st_size <= MAX_SEED_BYTES]


@dataclass
class Kind:
    name: str
    suffix: str
    read: Callable[[Path], object]
    seeds: Callable[[], list[bytes]]
    cpp_target: str | None = None  # fuzz_rcnn's target of the same bytes: its regressions are replayed here too


KINDS = {
    "npy": Kind("npy", ".npy", load_tensor, npy_seeds),
    "pb": Kind("pb", ".pb", load_tensor, lambda: files("*.pb"), "tensor_proto"),
    "image": Kind("image", ".png", load_rgb, lambda: files("*.png", "*.jpg", "*.bmp", "*.ppm", "*.pgm"), "image"),
    "model": Kind("model", ".onnx", load_model, lambda: files("*.onnx"), "model"),
}


def scratch_folder(root: Path) -> Path:
    """The model's folder, with the files the seeds' external data names (as tests/fuzz/scratch.cpp)."""
    folder = root / "models"
    (folder / "sub").mkdir(parents=True)
    (folder / "dir").mkdir()
    for name, size in [("ok_w.bin", 24), ("big.bin", 4096), ("empty.bin", 0), ("sub/w.bin", 24)]:
        (folder / name).write_bytes(bytes((7 * i + 1) % 256 for i in range(size)))
    (root / "secret.bin").write_bytes(b"s" * 24)
    (folder / "link_out").symlink_to("../secret.bin")
    (folder / "link_in").symlink_to("ok_w.bin")
    return folder


def run_case(kind: Kind, path: Path, data: bytes, label: str, saved: Path) -> str | None:
    """None when the reader accepted the input or raised RcnnError, else what went wrong (the input saved)."""
    path.unlink(missing_ok=True)  # a fresh file: ext4 flushes a file truncated and rewritten in place
    path.write_bytes(data)
    try:
        kind.read(path)
    except RcnnError:
        return None
    except Exception as e:  # any other type is what the fuzzer looks for
        saved.mkdir(parents=True, exist_ok=True)
        crash = saved / f"{kind.name}-seed{SEED}-{label}{kind.suffix}"
        crash.write_bytes(data)
        return f"{kind.name}, seed {SEED}, case {label}: {type(e).__name__}: {e} (input: {crash})"
    return None


@pytest.mark.parametrize("kind_name", list(KINDS))
def test_fuzz_python_readers(kind_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small limits keep hostile headers from making a case slow; the refusals themselves are what is tested.
    monkeypatch.setenv("RCNN_MAX_IMAGE_PIXELS", str(1 << 18))
    monkeypatch.setenv("RCNN_MAX_TENSOR_BYTES", str(1 << 24))
    kind = KINDS[kind_name]
    path = scratch_folder(tmp_path) / f"input{kind.suffix}"
    saved = tmp_path / "crashes"
    folders = [f"python_{kind.name}"] + ([kind.cpp_target] if kind.cpp_target else [])
    regressions = sorted(file for folder in folders for file in (REGRESSIONS / folder).glob("*"))
    cases = [(f"regression-{file.stem}", file.read_bytes()) for file in regressions]
    seeds = kind.seeds()
    assert seeds, f"no seeds for {kind.name}"
    cases += [(f"seed{k}", seed) for k, seed in enumerate(seeds)]
    pool = seeds + [data for label, data in cases if label.startswith("regression-")]
    rng = random.Random(f"{SEED}-{kind.name}")
    cases += [(str(k), mutate(rng.choice(pool), rng, rng.choice(pool))) for k in range(CASES)]
    failures = [f for label, data in cases if (f := run_case(kind, path, data, label, saved)) is not None]
    assert not failures, f"{len(failures)} crash(es):\n" + "\n".join(failures[:20])

