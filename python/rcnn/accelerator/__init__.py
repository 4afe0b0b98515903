"""The systolic accelerator: its config and ops from Python (systolic; the compiled rcnn._systolic is imported on
first use), the partitioner that places ONNX nodes on it (partition, partition_rules, layout, placement), the choice
of model a run executes (place) and the pure-ONNX reference lowering (systolic_ref).

May import: rcnn.runtime, rcnn.onnxgraph and the base modules (errors, files, paths).
"""
