"""Quantization layer: graph preparation, the project's op table, calibration data, quantize_static, int8 fixups."""
