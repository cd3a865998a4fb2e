"""The 'genannot' logger on stderr: set up by the command line (-v / -q), and the same way in the worker
processes that decode for it (genannot.runtime.workers), so that their warnings read alike and -q silences
them too."""

from __future__ import annotations

import logging
import sys

_SETTINGS: tuple[int, str] | None = None  # (level, format) of the last log_to_stderr


def log_to_stderr(level: int, fmt: str) -> None:
    """Send the 'genannot' logger's records at `level` and above to stderr, formatted with `fmt`."""
    global _SETTINGS
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger("genannot")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    _SETTINGS = (level, fmt)


def settings() -> tuple[int, str] | None:
    """(level, format) set by log_to_stderr in this process, None where it was not called (library use)."""
    return _SETTINGS
