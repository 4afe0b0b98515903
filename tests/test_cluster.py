"""Dataset-scale runs on Ray (rcnn.eval, batch rcnn.run): parallel == serial, native and under qemu; a killed worker
is retried and its image counted once; an interrupted run resumes without recomputing what was finished; a corrupt
image fails alone; a two-node Ray cluster made with `ray start` runs the programs shipped to it; the pieces (results
journal, program bundle) on their own."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcnn import paths
from rcnn.cluster.journal import Journal
from rcnn.errors import RcnnError
from rcnn.models.demo import DEMO_MODEL
from rcnn.runtime import bundle

from conftest import alive, children, run_cli, wait_for

DEMO_DATA = paths.MODELS_DIR / "shapes" / "demo"  # 4 images with COCO annotations


def _journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def _eval(tmp: Path, *args: str | Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return run_cli("rcnn.eval", *args, "-o", tmp / "evals", "-q", cwd=tmp, timeout=timeout)


# ---------------------------------------------------------------------------------------------- the pieces


def test_journal_resumes_cuts_a_torn_line_and_refuses_another_run(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = Journal(path, {"model": "a", "x": 2}, resume=False)
    j.add("1", "ok", {"v": 1})
    j.add("2", "failed", {"reason": "bad"})
    with path.open("ab") as f:
        f.write(b'{"item":"3","status":"ok","v"')  # the writer was killed mid-line
    with pytest.raises(RcnnError, match="continue it with --resume"):
        Journal(path, {"model": "a", "x": 2}, resume=False)
    with pytest.raises(RcnnError, match="another x: --resume continues only the same run"):
        Journal(path, {"model": "a", "x": 1}, resume=True)
    j = Journal(path, {"model": "a", "x": 2}, resume=True)
    assert j.finished("1") and not j.finished("2") and not j.finished("3") and j.resumed == 2
    j.add("2", "ok", {"v": 2})  # a failed item tried again: the later record counts
    j = Journal(path, {"model": "a", "x": 2}, resume=True)
    assert j.finished("2") and j.done["2"]["v"] == 2
    assert path.read_bytes().endswith(b"\n") and b'"item":"3"' not in path.read_bytes()


def test_bundle_is_deterministic_and_complete(tmp_path: Path) -> None:
    files = bundle.local_runner_files(native=False, device=True, build_it=False)
    a, b = bundle.pack(files), bundle.pack(files)
    assert a.digest == b.digest and a.archive == b.archive
    landed = bundle.unpack(a, tmp_path)
    assert landed.ort_test.is_file() and landed.device is not None and os.access(landed.device, os.X_OK)
    lib = landed.sysroot / "usr" / "lib" / "riscv64-linux-gnu"
    for name in ("libonnxruntime.so.1.23", "libc.so.6", "libonnxruntime_providers_shared.so"):
        assert (lib / name).is_file(), name
    assert (landed.sysroot / "lib").is_symlink() and (landed.sysroot / "lib" / "ld-linux-riscv64-lp64d.so.1").is_file()
    assert bundle.unpack(a, tmp_path) == landed, "a second unpack reuses the first"
    broken = bundle.Bundle(a.digest, a.native, a.archive[:-1] + b"x")
    with pytest.raises(RcnnError, match="arrived damaged"):
        bundle.unpack(broken, tmp_path / "other")


# ---------------------------------------------------------------------------------------------- eval on Ray


def test_parallel_eval_equals_serial_native_and_qemu(tmp_path: Path) -> None:
    """Native and qemu runs of the demo model, one Ray worker vs two: bit-identical raw outputs per image, same AP
    (native and qemu: same AP; their float detection tails run on different ORT builds, so not bit-identical)."""
    runs = ["--run", f"native={DEMO_MODEL}:systolic-native", "--run", f"qemu={DEMO_MODEL}:systolic-qemu", "-x", "2",
            "--data", DEMO_DATA]
    serial, parallel = tmp_path / "serial.json", tmp_path / "parallel.json"
    r = _eval(tmp_path, *runs, "-j", "1", "--json", serial, "--detections", tmp_path / "dets.json")
    assert r.returncode == 0, r.stderr
    r = _eval(tmp_path, *runs, "-j", "2", "--json", parallel, "--compare-to", tmp_path / "dets.json")
    assert r.returncode == 0, r.stderr
    for label in ("native", "qemu"):
        assert f"{label} vs {label} in --compare-to: bit-identical on 4 image(s)" in r.stdout, r.stdout
    one = {s["label"]: s for s in json.loads(serial.read_text())["runs"]}
    two = {s["label"]: s for s in json.loads(parallel.read_text())["runs"]}
    for label in ("native", "qemu"):
        assert one[label]["images"] == two[label]["images"] == 4
        assert one[label]["box"] == two[label]["box"] and one[label]["mask"] == two[label]["mask"]
    assert one["qemu"]["box"] == one["native"]["box"] and one["native"]["box"]["AP50"] > 0.9


def _ray_worker_running_qemu(driver: int) -> int | None:
    """The Ray worker process (python) under `driver` whose task has a qemu-riscv64 running."""
    stack, tree = [driver], {}
    while stack:
        pid = stack.pop()
        for child in children(pid):
            tree[child] = pid
            stack.append(child)
    for pid, parent in tree.items():
        try:
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-riscv64" in cmd.split(b"\0")[0]:
            while parent in tree:  # up past rcnn_device to the Ray worker
                try:
                    title = (Path("/proc") / str(parent) / "cmdline").read_bytes()
                except OSError:
                    break
                if title.startswith(b"ray::"):
                    return parent
                parent = tree[parent]
    return None


def test_killed_worker_is_retried_and_every_image_counted_once(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "rcnn.eval", "--run", f"q={DEMO_MODEL}:systolic-qemu", "-x", "2", "--data", DEMO_DATA,
           "-j", "2", "-o", tmp_path / "evals", "-q", "--json", tmp_path / "s.json"]
    proc = subprocess.Popen([str(c) for c in cmd], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        found: list[int] = []

        def worker_found() -> bool:
            pid = _ray_worker_running_qemu(proc.pid)
            found.extend([pid] if pid else [])
            return bool(found)

        assert wait_for(worker_found, 300), "no Ray worker ever ran qemu"
        os.kill(found[0], signal.SIGKILL)
        assert wait_for(lambda: not alive(found[0]), 10)
        _out, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    (folder,) = (tmp_path / "evals").iterdir()
    records = _journal(folder / "q.jsonl")
    assert sorted(r["item"] for r in records) == ["1", "2", "3", "4"], records  # each once, none lost
    assert all(r["status"] == "ok" for r in records)
    run = json.loads((tmp_path / "s.json").read_text())["runs"][0]
    assert run["images"] == 4 and run["failed"] == 0 and run["box"]["AP50"] > 0.9


# ---------------------------------------------------------------------------------------------- batch rcnn.run


def test_interrupted_batch_run_resumes_without_recomputing(tmp_path: Path) -> None:
    images = sorted((DEMO_DATA / "images").iterdir())[:3]
    args = [a for i in images for a in ("-i", str(i))] + ["-x", "2", "-j", "1", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "rcnn.run", *args, "-o", str(tmp_path / "runs")], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal: list[Path] = []

    def first_done() -> bool:
        journal[:] = list((tmp_path / "runs").glob("*/journal.jsonl"))
        return bool(journal) and len(_journal(journal[0])) >= 1

    try:
        assert wait_for(first_done, 300), "no image finished"
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    batch = journal[0].parent
    before = _journal(journal[0])
    assert 1 <= len(before) < 3, "interrupted before the end"
    assert not [p for p in batch.iterdir() if p.name.startswith(".")], "no half-written run directory stays"
    r = run_cli("rcnn.run", *args, "--resume", batch, cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr
    after = _journal(journal[0])
    assert after[:len(before)] == before and len(after) == 3, "nothing done twice, nothing lost"
    assert sorted(r["item"] for r in after) == [i.stem for i in images]
    assert f"{len(before)} resumed" in r.stdout, r.stdout
    for i in images:
        assert (batch / i.stem / "annotated.png").is_file() and (batch / i.stem / "outputs.json").is_file()
    assert (batch / "overview.png").is_file()
    summary = json.loads((batch / "summary.json").read_text())
    assert summary["done"] == 3 and summary["resumed"] == len(before)


def test_corrupt_image_fails_alone(tmp_path: Path) -> None:
    """One image of three is garbage: it fails with its reason in the summary, the others finish (batch rcnn.run and
    rcnn.eval, natively)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i in sorted((DEMO_DATA / "images").iterdir())[:2]:
        shutil.copy(i, folder / i.name)
    (folder / "zz_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    r = run_cli("rcnn.run", "-i", folder, "--native", "-q", "-o", tmp_path / "runs", cwd=tmp_path, timeout=600)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().endswith("summary.txt)") and "1 of 3 image(s) failed" in r.stderr, r.stderr
    (batch,) = (tmp_path / "runs").iterdir()
    rows = {row["name"]: row for row in json.loads((batch / "summary.json").read_text())["rows"]}
    assert rows["zz_corrupt"]["status"] == "failed" and "cannot read image" in rows["zz_corrupt"]["reason"]
    assert [rows[n]["status"] for n in ("00000", "00001")] == ["ok", "ok"]
    assert not (batch / "zz_corrupt").exists() and (batch / "00000" / "annotated.png").is_file()
    # The same in a COCO folder evaluated by rcnn.eval.
    data = tmp_path / "data"
    shutil.copytree(DEMO_DATA, data)
    (data / "images" / "00002.png").write_bytes(b"not an image")
    r = _eval(tmp_path, "--run", f"n={DEMO_MODEL}:systolic-native", "--data", data, "--json", tmp_path / "s.json")
    assert r.returncode == 1 and "1 image(s) failed and are not scored" in r.stderr, r.stderr
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["runs"][0]["images"] == 3 and doc["runs"][0]["failed"] == 1
    assert doc["failed"]["n"][0]["file_name"].endswith("00002.png") and "cannot read image" in doc["failed"]["n"][0][
        "reason"]


# ---------------------------------------------------------------------------------------------- a cluster


@pytest.fixture()
def two_node_cluster(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`ray start --head` and a second node joined with `ray start --address` (token authentication, Ray's default),
    each with its own cache and no build (RCNN_BUILD_DIR points nowhere): whatever their workers run must have been
    shipped to them. Yields the address and the environment a driver needs (the token)."""
    ray = Path(sys.executable).parent / "ray"
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must stay short
    token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(token, RCNN_BUILD_DIR=str(tmp_path / "no-build"), XDG_CACHE_HOME=str(tmp_path / "node-cache"),
               RAY_TMPDIR=str(ray_tmp))
    port = 20000 + os.getpid() % 20000
    start = [str(ray), "start", "--num-cpus", "1", "--disable-usage-stats", "--node-ip-address", "127.0.0.1"]
    try:
        for role in (["--head", "--port", str(port), "--include-dashboard", "false"],
                     ["--address", f"127.0.0.1:{port}"]):
            r = subprocess.run([*start, *role], env=env, capture_output=True, text=True, timeout=180)
            assert r.returncode == 0, r.stderr[-2000:]
        yield f"127.0.0.1:{port}", {**os.environ, **token}
    finally:
        subprocess.run([str(ray), "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_eval_and_batch_run_on_a_two_node_cluster(tmp_path: Path, two_node_cluster: tuple[str, dict[str, str]]) -> None:
    address, env = two_node_cluster
    local = _eval(tmp_path, "--run", f"n={DEMO_MODEL}:systolic-native", "--data", DEMO_DATA, "--limit", "3",
                  "--detections", tmp_path / "local.json")
    assert local.returncode == 0, local.stderr
    r = subprocess.run([sys.executable, "-m", "rcnn.eval", "--run", f"n={DEMO_MODEL}:systolic-native", "--data",
                        str(DEMO_DATA), "--limit", "3", "-o", str(tmp_path / "evals"), "-q", "--ray-address", address,
                        "--compare-to", str(tmp_path / "local.json")], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"the Ray cluster at {address} (2 CPUs on 2 node(s))" in r.stderr, r.stderr
    assert "n vs n in --compare-to: bit-identical on 3 image(s)" in r.stdout, r.stdout
    # A batch rcnn.run on the same cluster: its workers find no build either.
    r = subprocess.run([sys.executable, "-m", "rcnn.run", "-i", str(DEMO_DATA / "images"), "--native", "-q",
                        "--ray-address", address, "-o", str(tmp_path / "runs")], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "ran on the Ray cluster at" in r.stdout and "00003  ok" in r.stdout, r.stdout
    node_cache = tmp_path / "node-cache" / "rcnn"
    landed = list((node_cache / "bundles").iterdir())
    assert landed and (landed[0] / "bin" / "ort_test").is_file(), "the programs came through Ray, not a build"
    assert list((node_cache / "shipments").iterdir()), "and the model"
