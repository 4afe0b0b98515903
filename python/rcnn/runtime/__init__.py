"""Running models: tensors and images in (preprocess, inputs, tensors), the run directory, the C++ build, the runner
that starts ort_test (host or riscv64 under qemu) and the host's stock ONNX Runtime (native).

May import: rcnn.onnxgraph and the top-level base modules (errors, files, paths).
"""
