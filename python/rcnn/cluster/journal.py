"""The results of a dataset-scale run, written as they arrive so that an interrupted run resumes where it stopped.

One JSON object per line: first a header with the run's key (what its results depend on: model digest, runner,
mode, build, ...), then one record per finished item (`"item"`: its id; `"status"`: "ok" or "failed"). Each line is
written whole, flushed and fsynced before the next item is counted, so a killed run leaves at most one torn last
line, which reopening cuts off. A later record of an item supersedes an earlier one (a failed item is tried again on
resume); finished items are never computed twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rcnn.errors import RcnnError

FORMAT = 1


class Journal:
    """Appends records to `path`; `done` holds the latest record of every item, resumed ones included."""

    def __init__(self, path: Path, key: dict[str, Any], resume: bool) -> None:
        self.path = path
        self.done: dict[str, dict[str, Any]] = {}
        if path.exists():
            if not resume:
                raise RcnnError(f"{path} holds the results of an earlier run: continue it with --resume, or remove "
                                "it")
            self._read(key)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._append({"journal": FORMAT, "key": key})
        self.resumed = len(self.done)

    def _read(self, key: dict[str, Any]) -> None:
        data = self.path.read_bytes()
        good = data.rfind(b"\n") + 1  # a torn last line (the writer was killed mid-line) is cut off
        lines = data[:good].splitlines()
        try:
            header = json.loads(lines[0]) if lines else None
            records = [json.loads(line) for line in lines[1:]]
        except json.JSONDecodeError as e:
            raise RcnnError(f"{self.path} is no results journal (line {e.lineno}: {e.msg}); remove it") from None
        if not isinstance(header, dict) or header.get("journal") != FORMAT:
            raise RcnnError(f"{self.path} is no results journal of this version; remove it")
        if header.get("key") != key:
            theirs = header.get("key") or {}
            differ = sorted(k for k in set(theirs) | set(key) if theirs.get(k) != key.get(k))
            raise RcnnError(f"{self.path} was written by a run with another {', '.join(differ)}: --resume continues "
                            "only the same run (remove it to start anew)")
        if good < len(data):
            with self.path.open("r+b") as f:
                f.truncate(good)
        for r in records:
            self.done[str(r["item"])] = r

    def _append(self, doc: dict[str, Any]) -> None:
        line = (json.dumps(doc, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def finished(self, item: str) -> bool:
        return self.done.get(item, {}).get("status") == "ok"

    def add(self, item: str, status: str, record: dict[str, Any]) -> None:
        doc = {"item": item, "status": status, **record}
        self._append(doc)
        self.done[item] = doc
