"""COCO 2017 category names in the two label spaces detectors use.

COCO_91: index = COCO category id (1..90, with "N/A" for the ten ids COCO never used), index 0 the background. This
is the label space of torchvision's COCO detectors, so a label *is* the COCO category id.
COCO_81: background + the 80 categories numbered contiguously, as Detectron and the ONNX model-zoo Mask R-CNN emit
them; `COCO_81_IDS` maps such a label back to the COCO category id.
"""

from __future__ import annotations

NA = "N/A"

COCO_91: tuple[str, ...] = (
    "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", NA, "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse",
    "sheep", "cow", "elephant", "bear", "zebra", "giraffe", NA, "backpack", "umbrella", NA,
    NA, "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
    "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", NA, "wine glass", "cup", "fork", "knife",
    "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
    "donut", "cake", "chair", "couch", "potted plant", "bed", NA, "dining table", NA, NA,
    "toilet", NA, "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
    "toaster", "sink", "refrigerator", NA, "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)

COCO_81_IDS: tuple[int, ...] = (0, *(i for i, name in enumerate(COCO_91) if i and name != NA))
COCO_81: tuple[str, ...] = tuple(COCO_91[i] for i in COCO_81_IDS)
