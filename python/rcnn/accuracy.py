"""python -m rcnn.accuracy: float vs int8 accuracy of mobile CNNs (MobileNetV3: depthwise convs, hard-swish,
hard-sigmoid, squeeze-and-excitation) on ONNX Runtime's CPU EP and on the accelerator (the Systolic plugin EP, run
natively), per quantization scheme, with the share of the MACs placed on the accelerator.

The models are torchvision's mobilenet_v3_small (a classifier of centred synthetic shapes, 96 px, metric top-1) and
lraspp_mobilenet_v3_large (a segmenter of synthetic scenes, 128 px, metric mIoU), trained here from scratch on
rcnn.shapes data (seeded, a few minutes on 2 cores each) and cached in --out with their data. Each is prepared by
rcnn.optimize's library (Gemm -> MatMul), calibrated on --calib images and quantized five ways: the project's
default QuantizeOptions() (symmetric int8; per-channel weight scales chosen by the model: on with depthwise convs),
int8 per-tensor (per_channel=False), int8 per-channel, u8s8 per-channel (asymmetric uint8 activations, int8 weights)
and uint8 per-channel (asymmetric uint8). Output: the markdown table on stdout and --out/accuracy.{md,json,png}.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rcnn.cli import ArgumentParser, HelpFormatter, positive_int, run_cli
from rcnn.tools.accuracy import DEFAULT_CALIB, DEFAULT_IMAGES

KINDS = ("classifier", "segmenter")  # rcnn.models.mobile.KINDS, repeated so that --help imports no torch
DEFAULT_STEPS = 400  # rcnn.models.mobile.DEFAULT_STEPS, likewise


def model_list(text: str) -> list[str]:
    """argparse type of --models: comma-separated kinds, each known, none twice."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in KINDS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(KINDS)}, got {text!r}")
    return list(dict.fromkeys(names))


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m rcnn.accuracy", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/mobile"),
                   help="folder for the trained models, their data, the quantized models and the table (created; "
                        "what is already there is reused)")
    p.add_argument("--images", type=positive_int, default=DEFAULT_IMAGES,
                   help="held-out synthetic images to evaluate on (their own seed)")
    p.add_argument("--calib", type=positive_int, default=DEFAULT_CALIB,
                   help="synthetic calibration images (another seed) for the int8 models")
    p.add_argument("--models", type=model_list, default=list(KINDS), metavar="LIST",
                   help=f"comma-separated models to evaluate, from {','.join(KINDS)} (default: both)")
    p.add_argument("--train-steps", type=positive_int, default=DEFAULT_STEPS,
                   help="training steps of each model when it is not in --out yet (another count trains and caches "
                        "another model)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, only the table and the file paths")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    from rcnn.models.mobile import default_config, ensure_model
    from rcnn.tools.accuracy import evaluate_model, markdown, write_outputs

    progress = not a.quiet
    say = (lambda text: None) if a.quiet else (lambda text: print(text, flush=True))
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    timings: dict[str, float] = {}
    for kind in a.models:
        model = ensure_model(a.out, default_config(kind, a.train_steps), progress, say)
        if model.train_seconds is not None:
            timings[f"{kind}_train_s" + ("_cached" if model.cached else "")] = round(model.train_seconds, 1)
        start = time.monotonic()
        got, _ = evaluate_model(model, a.out, a.images, a.calib, progress=progress, log=say)
        timings[f"{kind}_eval_s"] = round(time.monotonic() - start, 1)
        rows += got
    settings = {"command": "python -m rcnn.accuracy " + " ".join(sys.argv[1:] if argv is None else argv),
                "images": a.images, "calib": a.calib, "models": a.models, "train_steps": a.train_steps,
                "timings": timings}
    files = write_outputs(rows, a.out, settings)
    print(markdown(rows), end="")
    print(f"wrote {files['markdown']}, {files['json']}, {files['png']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli("rcnn.accuracy", main))
