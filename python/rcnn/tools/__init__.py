"""Whole workflows behind the CLIs: one run the way rcnn.run makes it (runmodel), per-layer comparison (compare),
benchmark (bench), COCO evaluation of runs (evaluate) and figures (plots).

May import: every other subpackage and the base modules; never a top-level CLI module.
"""
