"""The exception types the CLIs turn into a one-line message and a non-zero exit (see rcnn.cli.run_cli)."""


class RcnnError(Exception):
    """A user-facing error: bad input, missing build, failed run. The message is one line. Exit status 1."""

    exit_code = 1


class RefusedInput(RcnnError):
    """A model, image or tensor refused as unsafe or over a limit (rcnn.onnxgraph.gate). Exit 3, as ort_test."""

    exit_code = 3
