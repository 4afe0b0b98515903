"""The command-line flags every dataset-scale CLI shares (rcnn.eval, batch rcnn.run), and the options they make."""

from __future__ import annotations

import argparse
import os

from rcnn.cli import non_negative_int, positive_int
from rcnn.cluster.ray_tasks import FanOutOptions


def add_fan_out_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-j", "--workers", type=positive_int, default=min(2, os.cpu_count() or 1),
                   help="CPUs of the local Ray instance, i.e. images at once (each holds --threads of them); not "
                        "used with --ray-address, where the cluster's CPUs decide")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="run the images on this Ray cluster (e.g. auto, HOST:6379, ray://HOST:10001) instead of a "
                        "local Ray instance (default: $RAY_ADDRESS if set, else local)")
    p.add_argument("--retries", type=non_negative_int, default=3,
                   help="times an image is run again when its worker process or node dies")


def fan_out_options(address: str | None, workers: int, retries: int, threads: int, progress: bool,
                    label: str) -> FanOutOptions:
    return FanOutOptions(address=address, workers=workers, cpus_per_task=float(threads), retries=retries,
                         progress=progress, label=label)
