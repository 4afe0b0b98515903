"""Public facade of the Systolic accelerator's plugin execution provider.

    import rcnn.systolic
    s = rcnn.systolic.session("model.onnx")              # onnxruntime.InferenceSession, EP registered
    rcnn.systolic.report(s)                               # placement, MACs, counters, cycle estimate (dict)

See rcnn.accelerator.ep and ep/ort/README.md.
"""

from __future__ import annotations

from rcnn.accelerator.ep import EP_NAME, ep_device, library_path, provider_options, register, report, session

__all__ = ["EP_NAME", "ep_device", "library_path", "provider_options", "register", "report", "session"]
