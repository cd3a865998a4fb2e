"""Device choice, CPU threads, dtype, and batched inference with automatic batch size and OOM back-off.

torch is imported lazily so that commands that run no model (`genannot models list`) start fast.

`batched_predict(fn, items, device=..., batch_size=...)` calls `fn(batch)` on consecutive slices of
`items` and returns one result per item, in order, each item scored exactly once:
  - batch_size N: slices of N.
  - batch_size 'auto' on CPU: min(64, len(items)).
  - batch_size 'auto' on CUDA: a probe batch of 8 is run, the peak memory it allocated per item is
    measured, and the batch size is set so that a batch fills ~70% of the free device memory
    (capped at 4096).
  - on out-of-memory (torch.OutOfMemoryError, or a RuntimeError saying 'out of memory'): the cache is
    emptied, the failed batch's size halved and the same items retried (the smaller size is kept for
    the rest); still out of memory at batch size 1 -> DeviceError. This applies on every device.
`fn` is called under torch.inference_mode(); it must return a sequence with one entry per item
(list, numpy array or tensor rows). Return CPU/numpy results so that GPU batches can be freed.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

from genannot.errors import DeviceError

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger("genannot.runtime")

T = TypeVar("T")

CPU_BATCH = 64  # 'auto' batch size on CPU: as fast as 256 for the prokaryotic classifiers (2 cores), whose
# attention scores at 256 windows of 171 tokens held 120 MB more at the peak (E. coli end to end)
MAX_BATCH = 4096  # cap for 'auto' on CUDA
PROBE_BATCH = 8  # items in the CUDA probe batch
MEMORY_FRACTION = 0.7  # share of free device memory a batch may use

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")
_THREADS: int | None = None


# ---------------------------------------------------------------- threads


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def set_threads(n: int) -> int:
    """Use n CPU threads for torch (0 = all available cores); returns the number set.

    If torch is not imported yet, OMP_NUM_THREADS / MKL_NUM_THREADS are set so that it starts with
    that many; otherwise torch.set_num_threads is called directly.
    """
    global _THREADS
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise DeviceError(f"--threads must be 0 (all cores) or a positive integer, not {n!r}")
    count = n or available_cores()
    _THREADS = count
    os.environ["OMP_NUM_THREADS"] = str(count)
    os.environ["MKL_NUM_THREADS"] = str(count)
    if "torch" in sys.modules:
        _apply_threads()
    return count


def cpu_threads() -> int:
    """CPU threads set by set_threads (all available cores before it is called)."""
    return _THREADS or available_cores()


def _apply_threads() -> None:
    import torch

    if _THREADS is not None and torch.get_num_threads() != _THREADS:
        torch.set_num_threads(_THREADS)


# ---------------------------------------------------------------- device and dtype


def select_device(spec: "str | torch.device" = "auto") -> "torch.device":
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> torch.device; DeviceError if unavailable or malformed."""
    import torch

    _apply_threads()
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = str(spec).strip().lower()
    m = _DEVICE_RE.match(text)
    if not m or (m.group(2) is not None and m.group(1) != "cuda"):
        raise DeviceError(f"unknown device '{spec}': use auto, cpu, cuda or cuda:N")
    kind, index = m.group(1), m.group(2)
    if kind == "cpu":
        return torch.device("cpu")
    has_cuda = torch.cuda.is_available()
    if kind == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if has_cuda else torch.device("cpu")
    if not has_cuda:
        why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise DeviceError(f"device '{spec}' requested but {why}; use --device cpu")
    count = torch.cuda.device_count()
    i = int(index) if index is not None else torch.cuda.current_device()
    if i >= count:
        raise DeviceError(f"device '{spec}' does not exist: {count} CUDA device(s), cuda:0..cuda:{count - 1}")
    return torch.device("cuda", i)


def autocast_dtype(device: "str | torch.device") -> "torch.dtype":
    """bfloat16 on a CUDA device that supports it, else float32 (CPU inference stays in fp32)."""
    import torch

    dev = torch.device(device) if isinstance(device, str) else device
    if dev.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


# ---------------------------------------------------------------- batching


def is_oom(exc: BaseException) -> bool:
    """True for a device out-of-memory error worth retrying with a smaller batch."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class _CudaMemory:
    """Peak-memory probe on one CUDA device (swapped for a fake in tests)."""

    def __init__(self, device: "torch.device") -> None:
        self.device = device
        self.base = 0

    def start(self) -> None:
        import torch

        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        self.base = torch.cuda.memory_allocated(self.device)

    def per_item(self, n: int) -> float:
        import torch

        torch.cuda.synchronize(self.device)
        return max((torch.cuda.max_memory_allocated(self.device) - self.base) / max(n, 1), 1.0)

    def available(self) -> int:
        import torch

        free, _total = torch.cuda.mem_get_info(self.device)
        # memory the caching allocator holds but does not use is free for torch too
        reusable = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
        return int(free + max(reusable, 0))

    def clear(self) -> None:
        import torch

        torch.cuda.empty_cache()


def _split(out: Any, n: int) -> list[Any]:
    try:
        rows = list(out)
    except TypeError:
        raise TypeError(f"batch function returned {type(out).__name__}, expected one result per item") from None
    if len(rows) != n:
        raise ValueError(f"batch function returned {len(rows)} results for a batch of {n} items")
    return rows


def _progress(total: int, desc: str | None, show: bool | None):
    from tqdm import tqdm

    if show is None:
        show = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="item", file=sys.stderr, disable=not show, dynamic_ncols=True)


def iter_predict(
    fn: Callable[[Sequence[T]], Any],
    items: Sequence[T],
    *,
    device: "str | torch.device" = "cpu",
    batch_size: int | str = "auto",
    desc: str | None = None,
    progress: bool | None = None,
    max_batch: int = MAX_BATCH,
    memory_fraction: float = MEMORY_FRACTION,
    probe_batch: int = PROBE_BATCH,
    cpu_batch: int = CPU_BATCH,
    _memory: Any = None,
) -> Iterator[Any]:
    """Like `batched_predict`, but yields the results one by one as batches finish."""
    import torch

    dev = select_device(device)
    if not isinstance(items, Sequence):
        items = list(items)
    n = len(items)
    if n == 0:
        return
    memory = _memory if _memory is not None else (_CudaMemory(dev) if dev.type == "cuda" else None)

    probing = False
    if batch_size == "auto":
        if memory is None:
            bs = cpu_batch
        else:
            bs, probing = probe_batch, True
    else:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DeviceError(f"batch size must be 'auto' or a positive integer, not {batch_size!r}")
        bs = batch_size
    bs = max(1, min(bs, n))

    with _progress(n, desc, progress) as bar:
        i = 0
        while i < n:
            batch = items[i : i + bs]
            if probing:
                memory.start()
            failed = False
            try:
                with torch.inference_mode():
                    out = fn(batch)
            except Exception as e:  # noqa: BLE001 - only OOM is handled, the rest re-raised
                if not is_oom(e):
                    raise
                failed = True
            if failed:  # outside the except block: the exception and its frames are released
                out = None
                if memory is not None:
                    memory.clear()
                if len(batch) == 1:
                    raise DeviceError(
                        f"out of {dev.type.upper()} memory even with batch size 1; use a smaller model, "
                        "a device with more memory, or --device cpu"
                    )
                bs = max(1, len(batch) // 2)
                log.warning("out of memory: retrying with batch size %d", bs)
                continue
            results = _split(out, len(batch))
            del out
            i += len(batch)
            bar.update(len(batch))
            if probing:
                probing = False
                per_item = memory.per_item(len(batch))
                fit = int(memory.available() * memory_fraction // per_item)
                bs = max(1, min(fit, max_batch))
                log.info("batch size %d (%.1f MiB per item measured on a probe of %d)", bs, per_item / 2**20, len(batch))
            yield from results


def batched_predict(fn: Callable[[Sequence[T]], Any], items: Sequence[T], **options: Any) -> list[Any]:
    """Score `items` with `fn(batch)` in batches; one result per item, in input order (options: `iter_predict`)."""
    return list(iter_predict(fn, items, **options))
