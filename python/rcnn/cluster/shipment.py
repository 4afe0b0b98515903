"""Files that travel to Ray workers by value (the model and its external data, an accelerator config): their bytes
under relative names, landed once per machine in the user's cache, in a folder named by their digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from rcnn.files import cached_folder, user_cache_dir
from rcnn.onnxgraph import gate


@dataclass(frozen=True)
class Shipment:
    digest: str
    files: dict[str, bytes]  # relative path → contents


def ship(files: dict[str, Path]) -> Shipment:
    contents = {name: path.read_bytes() for name, path in sorted(files.items())}
    h = hashlib.sha256()
    for name, data in contents.items():
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return Shipment(h.hexdigest(), contents)


def ship_model(model: Path) -> Shipment:
    """The model file and the external data files it reads (the gate has checked they stay in its folder)."""
    folder = model.parent.resolve()
    external = gate.check_model(gate.load_model(model, external_data=False), folder)
    return ship({model.name: model, **{str(f.resolve().relative_to(folder)): f for f in external}})


def land(shipment: Shipment, cache: Path | None = None) -> Path:
    """The folder on this machine that holds the shipment's files."""

    def fill(folder: Path) -> None:
        for name, data in shipment.files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    return cached_folder(cache or user_cache_dir() / "shipments", shipment.digest, fill)
