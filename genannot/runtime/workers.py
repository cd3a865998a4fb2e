"""Work spread over CPU cores: an ordered map over worker processes.

Why processes: the eukaryotic decoder's Viterbi loop is Python stepping numpy over positions, bound by
per-call overhead, so threads would queue on the GIL; independent records decode in separate processes.
Why spawned, not forked: the parent may hold torch's thread pools and buffered output files, which a
forked child would inherit (and a child flushing the parent's stdout buffer would write it twice).

`OrderedPool(workers).imap(fn, pairs)` takes (argument, context) pairs, runs `fn(argument)` in the
workers and yields (context, result) in input order: what is written never depends on the number of
workers. At most `IN_FLIGHT` x workers arguments are submitted ahead of the one being yielded, so the
inputs held at once stay bounded. With one worker, or a single argument (a small genome: one group),
everything runs inline, in this process, and no worker is started. Workers set up the 'genannot'
logger as this process did (genannot.runtime.logs).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import itertools
import multiprocessing
from typing import Any, Callable, Iterable, Iterator, TypeVar

from genannot.errors import ResourceError
from genannot.runtime.logs import log_to_stderr
from genannot.runtime.logs import settings as log_settings

A = TypeVar("A")
C = TypeVar("C")
R = TypeVar("R")

IN_FLIGHT = 2  # arguments submitted per worker ahead of the result being yielded
WORKER_BYTES = 1 << 30  # memory one decoding worker may need (the Arabidopsis slice's: 0.6 GB)


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux /proc/meminfo MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def worker_count(threads: int, per_worker: int = WORKER_BYTES) -> int:
    """Processes to use for `threads` CPU threads: fewer where memory would not hold that many."""
    n = max(1, threads)
    mem = available_memory()
    if mem is not None:
        n = min(n, max(1, mem // per_worker))
    return n


class OrderedPool:
    """Context manager: `imap` over `workers` spawned processes (inline when workers <= 1)."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))
        self._executor: cf.ProcessPoolExecutor | None = None

    def __enter__(self) -> "OrderedPool":
        if self.workers > 1:
            log_setup = log_settings()  # workers log as this process does
            self._executor = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=log_to_stderr if log_setup else None, initargs=log_setup or ())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def imap(self, fn: Callable[[A], R], pairs: Iterable[tuple[A, C]]) -> Iterator[tuple[C, R]]:
        it = iter(pairs)
        head = list(itertools.islice(it, 2))
        if self._executor is None or len(head) < 2:  # one task: inline, no process started for it
            for arg, ctx in itertools.chain(head, it):
                yield ctx, fn(arg)
            return
        pending: collections.deque[tuple[C, cf.Future]] = collections.deque()
        ahead = IN_FLIGHT * self.workers
        for arg, ctx in itertools.chain(head, it):
            pending.append((ctx, self._executor.submit(fn, arg)))
            while len(pending) > ahead:
                c, fut = pending.popleft()
                yield c, _result(fut)
        while pending:
            c, fut = pending.popleft()
            yield c, _result(fut)


def _result(fut: cf.Future) -> Any:
    """The future's result; a worker that died (the kernel's out-of-memory killer, a signal) is reported as a
    one-line ResourceError, not as the executor's traceback."""
    try:
        return fut.result()
    except cf.process.BrokenProcessPool:
        raise ResourceError("a worker process ended abruptly (killed, e.g. for lack of memory); "
                            "run again with fewer --threads") from None
