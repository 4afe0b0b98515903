"""Reading 64-bit little-endian ELF files (x86_64 and riscv64 alike): whether one is complete, and which shared
libraries it asks its loader for (DT_NEEDED, RUNPATH), without binutils."""

from __future__ import annotations

import struct
from pathlib import Path

_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_DT_NEEDED, _DT_STRTAB, _DT_RPATH, _DT_RUNPATH = 1, 5, 15, 29


def elf_problem(path: Path) -> str | None:
    """Why `path` is no complete 64-bit little-endian ELF file (None when it is one). A truncated binary would
    otherwise end in a bare SIGBUS when the loader maps a segment past the file's end."""
    try:
        with path.open("rb") as f:
            header = f.read(64)
        size = path.stat().st_size
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
        return "not a 64-bit little-endian ELF file"
    phoff, shoff = struct.unpack_from("<QQ", header, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", header, 54)
    if phoff + phentsize * phnum > size or shoff + shentsize * shnum > size:
        return f"truncated ({size} bytes; its headers reach past the end)"
    with path.open("rb") as f:
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for _type, offset, _vaddr, filesz in _segments(table, 0, phentsize, phnum):
        if offset + filesz > size:
            return f"truncated ({size} bytes; a segment ends at byte {offset + filesz})"
    return None


def _segments(data: bytes, phoff: int, phentsize: int, phnum: int) -> list[tuple[int, int, int, int]]:
    """(p_type, p_offset, p_vaddr, p_filesz) of every program header."""
    out = []
    for k in range(phnum):
        base = phoff + k * phentsize
        p_type, = struct.unpack_from("<I", data, base)
        offset, vaddr = struct.unpack_from("<QQ", data, base + 8)
        filesz, = struct.unpack_from("<Q", data, base + 32)
        out.append((p_type, offset, vaddr, filesz))
    return out


def interpreter(path: Path) -> str | None:
    """PT_INTERP: the program loader an executable names (None for a library or a static program)."""
    data = path.read_bytes()
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for p_type, offset, _vaddr, filesz in _segments(data, phoff, phentsize, phnum):
        if p_type == _PT_INTERP:
            return data[offset:offset + filesz].rstrip(b"\0").decode()
    return None


def dynamic_needs(path: Path) -> tuple[list[str], list[str]]:
    """(DT_NEEDED sonames, RUNPATH/RPATH entries) of a complete ELF file; ([], []) for a static one."""
    data = path.read_bytes()
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    segments = _segments(data, phoff, phentsize, phnum)

    def file_offset(vaddr: int) -> int:
        for p_type, offset, start, filesz in segments:
            if p_type == _PT_LOAD and start <= vaddr < start + filesz:
                return offset + vaddr - start
        raise ValueError(f"{path}: address {vaddr:#x} is in no loaded segment")

    dynamic = next(((offset, filesz) for p_type, offset, _v, filesz in segments if p_type == _PT_DYNAMIC), None)
    if dynamic is None:
        return [], []
    entries = [struct.unpack_from("<qQ", data, dynamic[0] + 16 * k) for k in range(dynamic[1] // 16)]
    strtab = file_offset(next(v for tag, v in entries if tag == _DT_STRTAB))

    def string(at: int) -> str:
        end = data.index(b"\0", strtab + at)
        return data[strtab + at:end].decode()

    needed = [string(v) for tag, v in entries if tag == _DT_NEEDED]
    paths = [p for tag, v in entries if tag in (_DT_RPATH, _DT_RUNPATH) for p in string(v).split(":") if p]
    return needed, paths
