"""Per-item work fanned out as Ray tasks: a local Ray instance by default (no cluster needed), or an existing cluster
by address (--ray-address, else $RAY_ADDRESS).

What every task needs (the model, the programs: rcnn.runtime.bundle) is one `shared` object, put into Ray's object
store once and turned into a ready context (`prepare`) once per worker process; each task then gets one item's
payload (an image's bytes, not a path: no shared filesystem is assumed). A task whose worker process or node dies is
run again by Ray (`retries`); an item's own failure (bad input, a failed run) comes back as a `Failure` with its
one-line reason and is not retried. Results reach `on_result` as they finish, in the driver, which writes them down
(rcnn.cluster.journal) before the next one is counted.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rcnn
from rcnn.errors import RcnnError


@dataclass(frozen=True)
class Failure:
    """An item that could not be done, and why (one line)."""

    reason: str


@dataclass(frozen=True)
class FanOutOptions:
    address: str | None = None  # a Ray cluster ("auto", "ray://host:10001", "host:6379"); None: $RAY_ADDRESS or local
    workers: int = 2  # tasks at once on the local instance; a cluster runs as many as its CPUs allow
    cpus_per_task: float = 1.0  # Ray CPUs each task holds (its ORT threads)
    retries: int = 3  # times a task is run again after its worker process or node died
    progress: bool = True
    label: str = ""


@dataclass
class FanOutStats:
    done: int = 0
    failed: int = 0
    wall_s: float = 0.0
    where: str = ""  # "local Ray instance (2 CPUs)" or "Ray cluster at ADDR (N CPUs on M nodes)"


def code_digest() -> str:
    """sha256 over the package's Python sources: a worker must run the same rcnn as the driver."""
    h = hashlib.sha256()
    for root in sorted(rcnn.__path__):
        for f in sorted(Path(root).rglob("*.py")):
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text and isinstance(e, RcnnError) else f"{type(e).__name__}: {text[0] if text else ''}"


# In a Ray worker process: the prepared context of the shipment it works on (one kept; a new shipment replaces it).
_CONTEXT: dict[str, Any] = {}


def _execute(prepare: Callable[[Any], Any], code: str, shared: list[Any], task: Callable[[Any, Any], Any],
             payload: Any) -> Any:
    """The body of every Ray task (shared is [ObjectRef]: fetched only when this process has no context yet)."""
    import ray

    key = shared[0].hex()
    try:
        if key not in _CONTEXT:
            if code != code_digest():
                raise RcnnError(f"the worker on {ray.util.get_node_ip_address()} runs another rcnn than the driver: "
                                "install the same version on every node")
            _CONTEXT.clear()
            _CONTEXT[key] = prepare(ray.get(shared[0]))
        return task(_CONTEXT[key], payload)
    except Exception as e:  # the item's own failure: reported with the item, not retried
        return Failure(one_line(e))


def _address(options: FanOutOptions) -> str | None:
    return options.address or os.environ.get("RAY_ADDRESS") or None


def _node_cpus() -> list[float]:
    """The CPUs of every live node of the connected Ray instance."""
    import ray

    return [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]


def _describe(options: FanOutOptions) -> str:
    address, cpus = _address(options), _node_cpus()
    if not address:
        return f"a local Ray instance ({int(sum(cpus))} CPUs)"
    return f"the Ray cluster at {address} ({int(sum(cpus))} CPUs on {len(cpus)} node(s))"


@contextmanager
def ray_connection(options: FanOutOptions) -> Iterator[str]:
    """Connected to Ray inside the block: a local instance of options.workers CPUs (started, then stopped), or the
    cluster at the address. A program that is connected already (the user's own Ray program, or an enclosing
    ray_connection: one start for all of a CLI's runs) keeps its connection. Yields where the tasks run."""
    import ray

    if ray.is_initialized():
        yield _describe(options)
        return
    address = _address(options)
    common: dict[str, Any] = dict(log_to_driver=False, logging_level=logging.ERROR)
    try:
        if address:
            ray.init(address=address, **common)
        else:  # -j images at once, each holding its threads' CPUs
            cpus = options.workers * max(1, math.ceil(options.cpus_per_task))
            ray.init(num_cpus=cpus, include_dashboard=False, **common)
    except Exception as e:  # Ray's own types (ConnectionError, RuntimeError, ...)
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise RcnnError(f"could not start or reach {where}: {one_line(e)}") from None
    try:
        biggest = max(_node_cpus(), default=0)
        if biggest < options.cpus_per_task:  # Ray would wait forever for a node that can take a task
            raise RcnnError(f"no node of the Ray cluster at {address} has {options.cpus_per_task:g} CPUs for a task "
                            f"of --threads {options.cpus_per_task:g} (the largest has {biggest:g})")
        yield _describe(options)
    finally:
        ray.shutdown()


def _progress_bar(total: int, initial: int, options: FanOutOptions) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=options.label or "items", unit="img", disable=not options.progress,
                file=sys.stderr, dynamic_ncols=True)


def fan_out(prepare: Callable[[Any], Any], shared: Any, task: Callable[[Any, Any], Any],
            items: Iterable[tuple[str, Any]], total: int, on_result: Callable[[str, Any], None],
            options: FanOutOptions, already_done: int = 0) -> FanOutStats:
    """task(prepare(shared), payload) for each of the `total` (item id, payload) pairs, as Ray tasks; on_result(item
    id, result or Failure) in the driver as each finishes. `items` is read lazily, and at most twice as many tasks
    are in flight as can run, so payloads stream through the object store instead of all sitting in it."""
    import ray

    stats = FanOutStats()
    if total == 0:  # nothing left (a resumed run that had finished): no Ray instance to start
        return stats
    start = time.perf_counter()
    in_flight: dict[Any, str] = {}
    with ray_connection(options) as stats.where:
        try:
            remote = ray.remote(num_cpus=options.cpus_per_task, max_retries=options.retries,
                                retry_exceptions=False)(_execute)
            shared_box = [ray.put(shared)]
            code = code_digest()
            slots = max(1, int(ray.cluster_resources().get("CPU", 1) // max(options.cpus_per_task, 1e-3)))
            pending: Iterable[tuple[str, Any]] = iter(items)
            with _progress_bar(already_done + total, already_done, options) as bar:
                while True:
                    for item, payload in pending:
                        in_flight[remote.remote(prepare, code, shared_box, task, payload)] = item
                        if len(in_flight) >= 2 * slots:
                            break
                    if not in_flight:
                        break
                    ready, _ = ray.wait(list(in_flight), num_returns=1)
                    item = in_flight.pop(ready[0])
                    try:
                        result = ray.get(ready[0])
                    except ray.exceptions.RayError as e:  # the retries are spent: the worker or node kept dying
                        result = Failure(f"lost its worker {options.retries + 1} times: {one_line(e)}")
                    on_result(item, result)
                    stats.failed += isinstance(result, Failure)
                    stats.done += not isinstance(result, Failure)
                    bar.set_postfix_str(f"failed {stats.failed}", refresh=False)
                    bar.update()
        finally:
            for ref in in_flight:  # left only on the way out of an error: nothing may keep running for us
                ray.cancel(ref, force=True)
    stats.wall_s = time.perf_counter() - start
    return stats
