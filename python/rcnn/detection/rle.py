"""COCO run-length encoding of binary masks, in the compressed string form COCO results files carry.

A mask of size [h, w] is read in column-major order (down the first column, then the next) as alternating runs of
0s and 1s, starting with a (possibly empty) run of 0s. The compressed string stores each run length, from the third
on as the difference to the run two before, as little-endian groups of 5 bits: each group is a character
chr(48 + bits), with 0x20 added when another group follows; the last group's 0x10 bit is the sign.
"""

from __future__ import annotations

import numpy as np

from rcnn.errors import RcnnError


def run_lengths(mask: np.ndarray) -> list[int]:
    """Column-major run lengths of a 2-D boolean mask, the first one counting 0s."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(edges).tolist()
    return [0, *runs] if flat[0] else runs


def _compress(counts: list[int]) -> str:
    out = []
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        while True:
            group = x & 0x1F
            x >>= 5  # arithmetic shift: a negative delta ends at -1 with its sign bit (0x10) set
            more = x != -1 if group & 0x10 else x != 0
            out.append(chr(48 + (group | 0x20 if more else group)))
            if not more:
                break
    return "".join(out)


def _decompress(text: str) -> list[int]:
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        x, shift = 0, 0
        while True:
            if pos >= len(text):
                raise RcnnError("truncated RLE string")
            c = ord(text[pos]) - 48
            pos += 1
            x |= (c & 0x1F) << shift
            shift += 5
            if not c & 0x20:
                if c & 0x10:
                    x -= 1 << shift  # sign-extend
                break
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def encode(mask: np.ndarray) -> dict:
    """{"size": [h, w], "counts": compressed string} for a 2-D boolean mask."""
    if mask.ndim != 2:
        raise RcnnError(f"RLE encodes a 2-D mask, got shape {list(mask.shape)}")
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": _compress(run_lengths(mask))}


def decode(rle: dict) -> np.ndarray:
    """The boolean [h, w] mask of an RLE dict; counts may be the compressed string or a plain list of run lengths."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    counts = _decompress(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if sum(counts) != h * w or min(counts, default=0) < 0:
        raise RcnnError(f"RLE runs cover {sum(counts)} pixels, a {h}x{w} mask has {h * w}")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape((h, w), order="F")
