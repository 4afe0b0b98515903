"""The package's layout: `import rcnn`, every subpackage and every CLI's --help work without the C++ build, and the
import arrows point down (no library module imports a top-level CLI module, no cycles between subpackages)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rcnn

PACKAGE = Path(rcnn.__file__).resolve().parent
CLIS = ("run", "native", "optimize", "calibrate", "dataset", "export", "eval", "compare", "bench",
        "postprocess", "shapes", "train_shapes", "testnets", "accuracy")
BASE = ("errors", "cli", "paths", "files")  # the top level's shared plumbing (importable by everyone)
API = ("systolic",)  # the public facade for users' own code: rcnn.systolic.session(model)
SUBPACKAGES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())


def test_the_top_level_holds_only_the_clis_and_the_base_modules() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert top == set(CLIS) | set(BASE) | set(API)
    assert {"onnxgraph", "runtime", "accelerator", "quant", "detection", "models", "tools"} <= set(SUBPACKAGES)


@pytest.fixture(scope="module")
def no_build_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment in which the C++ build does not exist: RCNN_BUILD_DIR empty, rcnn._systolic unimportable."""
    d = tmp_path_factory.mktemp("nobuild")
    (d / "build").mkdir()
    hook = d / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        "class _NoExtension(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'rcnn._systolic':\n"
        "            raise ImportError('hidden by test_layout: no C++ build')\n"
        "        return None\n"
        "sys.meta_path.insert(0, _NoExtension())\n")
    env = dict(os.environ, RCNN_BUILD_DIR=str(d / "build"), RCNN_SYSROOT=str(d / "build" / "sysroot"))
    env["PYTHONPATH"] = os.pathsep.join([str(hook), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def test_import_without_the_build(no_build_env: dict[str, str], tmp_path: Path) -> None:
    modules = ["rcnn", *(f"rcnn.{p}" for p in SUBPACKAGES)]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n"
            "    importlib.import_module(m)\n"
            "try:\n"
            "    import rcnn._systolic\n"
            "except ImportError:\n"
            "    pass\n"
            "else:\n"
            "    sys.exit('the build is not hidden')\n"
            "assert 'rcnn._systolic' not in sys.modules\n"
            "from rcnn.accelerator import systolic\n"
            "try:\n"
            "    systolic.read_config()\n"
            "except ImportError as e:\n"
            "    assert 'rcnn._systolic is not built' in str(e) and 'pip install -e .' in str(e), e\n"
            "    assert '\\n' not in str(e)\n"
            "else:\n"
            "    sys.exit('read_config worked without the build')\n")
    r = subprocess.run([sys.executable, "-c", code], env=no_build_env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("cli", CLIS)
def test_help_without_the_build(cli: str, no_build_env: dict[str, str], tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", f"rcnn.{cli}", "--help"], env=no_build_env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: python -m rcnn.{cli}"), r.stdout[:200]
    assert not list(tmp_path.iterdir()), "--help wrote files"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The rcnn modules `path` imports (at any depth: function-level imports count too)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "rcnn")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "rcnn":
                continue
            for a in node.names:  # `from rcnn.x import y`: y may be a module of package rcnn.x
                sub = f"{node.module}.{a.name}"
                found.add(sub if _exists(sub) else node.module)
    return found


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_no_library_module_imports_a_cli() -> None:
    clis = {f"rcnn.{c}" for c in CLIS}
    bad = {m: sorted(deps & clis) for m, deps in _graph().items() if m not in clis and deps & clis}
    assert not bad, f"library modules import CLI modules: {bad}"
    cli_to_cli = {m: sorted(deps & clis) for m, deps in _graph().items() if m in clis and deps & clis}
    assert not cli_to_cli, f"CLI modules import each other: {cli_to_cli}"


def _subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in SUBPACKAGES) else None


def test_no_import_cycles_between_subpackages() -> None:
    edges: dict[str, set[str]] = {p: set() for p in SUBPACKAGES}
    for module, deps in _graph().items():
        src = _subpackage(module)
        if src is None:
            continue
        for dep in deps:
            dst = _subpackage(dep)
            if dst is not None and dst != src:
                edges[src].add(dst)
    # Depth-first search for a cycle; the message names it.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(p: str) -> list[str] | None:
        state[p] = 1
        stack.append(p)
        for q in sorted(edges[p]):
            if state.get(q) == 1:
                return [*stack[stack.index(q):], q]
            if q not in state and (cycle := visit(q)):
                return cycle
        stack.pop()
        state[p] = 2
        return None

    for p in SUBPACKAGES:
        if p not in state and (cycle := visit(p)):
            pytest.fail(f"import cycle between subpackages: {' -> '.join(cycle)}")


def test_library_modules_import_only_the_base_of_the_top_level() -> None:
    allowed = {f"rcnn.{b}" for b in BASE} | {"rcnn"}
    bad = {}
    for module, deps in _graph().items():
        if _subpackage(module) is None:
            continue
        top = {d for d in deps if _subpackage(d) is None and d not in allowed and d != "rcnn._systolic"}
        if top:
            bad[module] = sorted(top)
    assert not bad, bad
