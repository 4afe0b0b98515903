"""Detector outputs: finding boxes/labels/scores/masks, mapping them to the image, drawing, COCO RLE, class names,
COCO results (postprocess) and COCO AP with pycocotools (coco_eval).

May import: rcnn.runtime, rcnn.onnxgraph and the base modules (errors, files, paths).
"""
