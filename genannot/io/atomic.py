"""Atomic output: a file appears complete or not at all.

A target path is written through a temporary file in the same directory, renamed over the
target only when the `with` block succeeds; on any exception (KeyboardInterrupt included) the
temporary file is removed and the target is left untouched. A target that is a symbolic link is written
through it (the file it points to is replaced; the link stays). Standard output ('-' or None) is
buffered in an anonymous temporary file and copied to stdout on success only, so a failed run
prints nothing. Targets that are not regular files (/dev/null, a named pipe) cannot be renamed
over; they are written directly. A failed write (a full disk) raises ResourceError naming the output.

    with atomic_output("genes.gff3") as fh:
        fh.write(...)

    with atomic_outputs({"gff3": "-", "proteins": "p.faa", "genes": None}) as out:
        out["gff3"].write(...)        # out has no "genes" key: that output was not requested
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping

from genannot.errors import InputError, ResourceError

__all__ = ["atomic_output", "atomic_outputs", "check_not_inputs", "check_writable", "is_stdout"]


def is_stdout(path: str | os.PathLike | None) -> bool:
    return path is None or str(path) == "-"


def check_writable(path: str | os.PathLike | None, what: str = "output") -> None:
    """Preflight before long computations: raise InputError if `path` cannot be written.

    None / '-' (stdout) always pass. Nothing is created.
    """
    if is_stdout(path):
        return
    p = Path(path)  # type: ignore[arg-type]
    if str(path) == "":
        raise InputError(f"{what} path is empty")
    if p.is_dir():
        raise InputError(f"{what} path '{p}' is a directory")
    parent = p.parent
    if not parent.exists():
        raise InputError(f"{what} directory '{parent}' does not exist")
    if not parent.is_dir():
        raise InputError(f"{what} path '{p}': '{parent}' is not a directory")
    if p.exists():
        if not os.access(p, os.W_OK):
            raise InputError(f"{what} file '{p}' is not writable")
        if not p.is_file():
            return  # device or pipe: written directly
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {what} '{p}': directory '{parent}' is not writable")


def check_not_inputs(outputs: Mapping[str, str | os.PathLike | None], inputs: Iterable[str | os.PathLike | None]) -> None:
    """Raise InputError if an output (option name -> path) is one of the inputs: the input would be
    replaced by the output (or a model directory written into it). Only existing regular files and
    directories can be the same; stdout, stdin and devices are skipped."""
    ins = [os.fspath(i) for i in inputs if i and not is_stdout(i) and os.path.exists(i)]
    for option, out in outputs.items():
        if not out or is_stdout(out) or not (os.path.isfile(out) or os.path.isdir(out)):
            continue
        for i in ins:
            if os.path.samefile(i, out):
                raise InputError(f"{option} '{os.fspath(out)}' would overwrite the input '{i}'")


def _write_error(name: str, e: OSError) -> ResourceError:
    return ResourceError(f"cannot write {name}: {e.strerror or e}")


class _Sink(io.FileIO):
    """The file under an output's buffers: a failed write (a full disk) becomes one line naming the
    output, wherever the buffer is flushed (in the caller's block or at commit)."""

    def __init__(self, file: int | str | os.PathLike, mode: str, name: str):
        super().__init__(file, mode)
        self.output_name = name

    def write(self, b) -> int:  # type: ignore[override]
        try:
            return super().write(b)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise _write_error(self.output_name, e) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Pending:
    """One output being written: where it goes, its handle, how to commit or discard it."""

    def __init__(self, path: str | os.PathLike | None, mode: str, encoding: str, newline: str | None):
        if mode not in ("w", "wb"):
            raise ValueError(f"atomic output mode must be 'w' or 'wb', not {mode!r}")
        self.binary = mode == "wb"
        self.path = None if is_stdout(path) else Path(path)  # type: ignore[arg-type]
        self.name = "standard output" if self.path is None else str(self.path)
        if self.path is not None and self.path.is_symlink():
            self.path = Path(os.path.realpath(self.path))  # renaming over the link would replace the link
        self.tmp: str | None = None
        if self.path is None:
            fd, name = tempfile.mkstemp()
            os.unlink(name)  # anonymous: nothing to clean up
            raw: IO[bytes] = io.BufferedRandom(_Sink(fd, "r+", self.name))
        else:
            check_writable(self.path)
            if self.path.exists() and not self.path.is_file():  # /dev/null, a pipe: written directly
                try:
                    raw = io.BufferedWriter(_Sink(self.path, "w", self.name))
                except OSError as e:
                    raise InputError(f"cannot write output '{self.path}': {e.strerror or e}") from None
            else:
                try:
                    fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
                except OSError as e:
                    raise InputError(f"cannot write output '{self.path}': {e.strerror or e}") from None
                os.fchmod(fd, 0o666 & ~_umask())
                raw = io.BufferedRandom(_Sink(fd, "r+", self.name))
        self.raw = raw
        self.handle: IO[Any] = raw if self.binary else io.TextIOWrapper(raw, encoding=encoding, newline=newline)

    def finish(self) -> None:
        """Flush; for stdout, copy the buffered bytes out. Does not rename yet."""
        self.handle.flush()
        if self.path is None:
            self.raw.seek(0)
            out = sys.stdout
            target = getattr(out, "buffer", None)
            try:
                if target is not None:
                    out.flush()
                    shutil.copyfileobj(self.raw, target, 1 << 20)
                    target.flush()
                else:  # a text-only stand-in for stdout (some test harnesses)
                    text = io.TextIOWrapper(self.raw, encoding="utf-8", newline="")
                    shutil.copyfileobj(text, out, 1 << 20)
                    text.detach()
                out.flush()
            except BrokenPipeError:
                raise
            except OSError as e:
                raise _write_error(self.name, e) from None
            self._close()
        elif self.tmp is not None:
            try:
                os.fsync(self.raw.fileno())
            except OSError as e:
                raise _write_error(self.name, e) from None
            self._close()

    def commit(self) -> None:
        if self.tmp is not None and self.path is not None:
            try:
                os.replace(self.tmp, self.path)
            except OSError as e:
                raise _write_error(self.name, e) from None
            self.tmp = None
        self._close()

    def discard(self) -> None:
        self._close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)
            self.tmp = None

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self.handle.close()
        with contextlib.suppress(Exception):
            self.raw.close()


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike | None, mode: str = "w", *, encoding: str = "utf-8", newline: str | None = "\n"
) -> Iterator[IO[Any]]:
    """Yield a handle whose content reaches `path` (None/'-' = stdout) only if the block succeeds."""
    with atomic_outputs({"out": path}, mode, encoding=encoding, newline=newline, keep_none=True) as handles:
        yield handles["out"]


@contextlib.contextmanager
def atomic_outputs(
    paths: Mapping[str, str | os.PathLike | None],
    mode: str | Mapping[str, str] = "w",
    *,
    encoding: str = "utf-8",
    newline: str | None = "\n",
    keep_none: bool = False,
) -> Iterator[dict[str, IO[Any]]]:
    """Several outputs committed together: yield {key: handle} for every key whose path is not None.

    '-' means stdout (at most one output may use it). `mode` is 'w' (text, default) or 'wb', or a
    mapping from key to mode. Everything is renamed into place only after the whole block has
    succeeded; on any exception nothing is written and no temporary file remains.
    With keep_none=True, a None path means stdout instead of "not requested".
    """
    wanted = {k: ("-" if p is None else p) for k, p in paths.items() if p is not None or keep_none}
    stdout_keys = [k for k, p in wanted.items() if is_stdout(p)]
    if len(stdout_keys) > 1:
        raise InputError(f"only one output can go to standard output, not {len(stdout_keys)} ({', '.join(stdout_keys)})")
    seen: dict[str, str] = {}
    for k, p in wanted.items():
        if is_stdout(p):
            continue
        real = os.path.realpath(os.fspath(p))
        special = os.path.exists(real) and not os.path.isfile(real)  # /dev/null may take several
        if real in seen and not special:
            raise InputError(f"outputs '{seen[real]}' and '{k}' would both write '{p}'")
        seen[real] = k
    pending: dict[str, _Pending] = {}
    try:
        for k, p in wanted.items():
            m = mode if isinstance(mode, str) else mode.get(k, "w")
            pending[k] = _Pending(p, m, encoding, newline)
        yield {k: v.handle for k, v in pending.items()}
        # the block succeeded: flush everything first, then rename (files before stdout)
        for v in pending.values():
            if v.path is not None:
                v.finish()
        for v in pending.values():
            if v.path is not None:
                v.commit()
        for v in pending.values():
            if v.path is None:
                v.finish()
    except BaseException:
        for v in pending.values():
            v.discard()
        raise
    finally:
        for v in pending.values():
            v.discard()
