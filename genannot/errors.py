"""User-facing errors: each carries a one-line message and the exit code the CLI returns.

Core code raises these instead of printing or exiting, so the CLI can map them to a single
line on stderr and a non-zero status, and tests can assert on them in-process.
"""


class GenannotError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code = 1


class InputError(GenannotError):
    """Unreadable, empty or malformed input (FASTA, annotation, options)."""

    exit_code = 2


class ModelError(GenannotError):
    """A model that cannot be found, verified or loaded."""

    exit_code = 3


class NetworkError(GenannotError):
    """A download that failed (offline, unknown repository, wrong revision)."""

    exit_code = 4


class DeviceError(GenannotError):
    """A requested device that is not available (e.g. --device cuda without a GPU)."""

    exit_code = 5


class ResourceError(GenannotError):
    """The machine could not give the run what it needs (a worker process killed, e.g. for memory)."""

    exit_code = 6
