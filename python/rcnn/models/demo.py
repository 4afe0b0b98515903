"""The built-in demo: the int8 Mask R-CNN trained on synthetic shapes (python -m rcnn.train_shapes), shipped in
models/shapes/, and the demo image python -m rcnn.run uses without arguments."""

from __future__ import annotations

from rcnn import paths

DEMO_MODEL = paths.MODELS_DIR / "shapes" / "shapes_int8.onnx"
DEMO_IMAGE = paths.MODELS_DIR / "shapes" / "demo" / "images" / "00003.png"  # all three classes
