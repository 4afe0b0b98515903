"""The systolic accelerator: its config and ops from Python (systolic; the compiled rcnn._systolic is imported on
first use), sessions with the Systolic plugin EP and its report (ep), and the placement the EP reports, as a table
(placement). Where nodes go is decided once, by the EP (C++).

May import: rcnn.runtime, rcnn.onnxgraph and the base modules (errors, files, paths).
"""
