"""Quantization: graph preparation (rcnn.optimize), the project's op table, calibration data sets (rcnn.dataset)
and readers, quantize_static with the detector rules, the int8 fixups (rcnn.calibrate).

May import: rcnn.runtime, rcnn.onnxgraph and the base modules (errors, files, paths).
"""
