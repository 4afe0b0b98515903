"""librcnn_systolic_ep.so exports exactly ONNX Runtime's two plugin-EP entry points and the report C ABI
(RcnnSystolicEpReport, pinned by the version script ep/ort/exports.map), in the host and the riscv64 build: nothing a
loader could bind to by accident, no standard-library template instances leaking out."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from rcnn import paths

EXPECTED = {"CreateEpFactories", "ReleaseEpFactory", "RcnnSystolicEpReport"}

SHT_DYNSYM = 11
SHN_UNDEF = 0
STB_LOCAL = 0
STT_SECTION, STT_FILE = 3, 4


def elf_defined_dynamic_symbols(path: Path) -> set[str]:
    """Names of the defined, non-local symbols of an ELF64 little-endian file's .dynsym (what `nm -D --defined-only`
    lists), read without any tool, for targets whose nm is not installed."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path}: not an ELF64 little-endian file"
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names: set[str] = set()
    for _name, sh_type, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if sh_type != SHT_DYNSYM:
            continue
        strtab_offset = sections[link][4]
        for k in range(1, size // entsize):  # entry 0 is the null symbol
            st_name, st_info, _other, st_shndx = struct.unpack_from("<IBBH", data, offset + k * entsize)
            if st_shndx == SHN_UNDEF or st_info >> 4 == STB_LOCAL or st_info & 0xF in (STT_SECTION, STT_FILE):
                continue
            end = data.index(b"\0", strtab_offset + st_name)
            names.add(data[strtab_offset + st_name:end].decode())
    return names


def nm_defined_dynamic_symbols(nm: str, path: Path) -> set[str]:
    out = subprocess.run([nm, "-D", "--defined-only", str(path)], capture_output=True, text=True, check=True).stdout
    # "<address> <type> <name>[@@version]"
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


def library(native: bool) -> Path:
    lib = paths.host_ep_library() if native else paths.riscv64_ep_library()
    assert lib is not None and Path(lib).is_file(), f"librcnn_systolic_ep.so ({'host' if native else 'riscv64'}) " \
                                                    "is not built: pip install -e . / cmake --build build/riscv64"
    return Path(lib)


@pytest.mark.parametrize("native", [True, False], ids=["host", "riscv64"])
def test_exported_symbols_are_exactly_the_abi(native: bool) -> None:
    lib = library(native)
    assert elf_defined_dynamic_symbols(lib) == EXPECTED
    nm = shutil.which("nm" if native else "riscv64-linux-gnu-nm")
    if nm is not None:
        assert nm_defined_dynamic_symbols(nm, lib) == EXPECTED


def test_elf_reader_agrees_with_nm() -> None:
    """The tool-free reader sees what nm sees, also on a library that exports far more than ours."""
    nm = shutil.which("nm")
    assert nm is not None, "binutils' nm is missing"
    import onnxruntime

    capi = Path(onnxruntime.__file__).parent / "capi"
    for lib in [library(True), *sorted(capi.glob("onnxruntime_pybind11_state*.so"))[:1]]:
        assert elf_defined_dynamic_symbols(lib) == nm_defined_dynamic_symbols(nm, lib), lib
