"""ONNX graphs, read and checked: the shared graph helpers (target limits, opset lookup, consumer map, fresh names),
the read-only GraphIndex, the model-info reader and the safety gate every untrusted model, image and tensor passes.

May import: rcnn.errors, rcnn.files, rcnn.paths (and onnx, numpy). Nothing else of rcnn.
"""
