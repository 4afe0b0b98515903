"""rcnn: quantized R-CNN-class networks on an emulated RISC-V 64 machine with a Gemmini-style systolic accelerator."""

__version__ = "0.1.0"
