"""The project's models: the demo Mask R-CNN architecture (detectors), its synthetic training data (synthetic), its
training and packaging (training), the demo files (demo; the shipped models live in models/shapes/), the torchvision
exporter (export) and the small test networks (testnets).

May import: rcnn.quant, rcnn.detection, rcnn.accelerator, rcnn.runtime, rcnn.onnxgraph and the base modules.
"""
