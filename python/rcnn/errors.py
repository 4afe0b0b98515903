"""The one exception type the CLIs turn into a one-line message and a non-zero exit."""


class RcnnError(Exception):
    """A user-facing error: bad input, missing build, failed run. The message is one line."""
