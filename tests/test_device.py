"""Runtime: device selection, threads, dtype, and batched inference with OOM back-off."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter

import pytest
import torch

from genannot.errors import DeviceError
from genannot.runtime import device as rt
from genannot.runtime.device import (
    autocast_dtype,
    available_cores,
    batched_predict,
    is_oom,
    iter_predict,
    select_device,
    set_threads,
)

# ---------------------------------------------------------------- device selection


def test_cpu_and_auto_without_gpu(monkeypatch):
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(" CPU ") == torch.device("cpu")
    assert select_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "CUDA:1"])
def test_cuda_without_gpu_is_an_error(monkeypatch, spec):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="requested but"):
        select_device(spec)


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert select_device("cuda:0") == torch.device("cuda", 0)
    assert select_device("cuda") == torch.device("cuda", 0)
    with pytest.raises(DeviceError, match=r"does not exist: 1 CUDA device\(s\), cuda:0\.\.cuda:0"):
        select_device("cuda:1")


@pytest.mark.parametrize("spec", ["gpu", "cpu:1", "auto:0", "cuda:x", "cuda:", "", "mps", "cuda:-1"])
def test_junk_device_specs(spec):
    with pytest.raises(DeviceError, match="unknown device"):
        select_device(spec)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_gpu_selection():
    assert select_device("auto").type == "cuda"
    assert select_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(DeviceError):
        select_device(f"cuda:{torch.cuda.device_count()}")


def test_autocast_dtype_on_cpu():
    assert autocast_dtype("cpu") == torch.float32
    assert autocast_dtype(torch.device("cpu")) == torch.float32


# ---------------------------------------------------------------- threads


@pytest.fixture
def restore_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", ""))
    monkeypatch.setenv("MKL_NUM_THREADS", os.environ.get("MKL_NUM_THREADS", ""))
    monkeypatch.setattr(rt, "_THREADS", rt._THREADS)
    yield
    torch.set_num_threads(before)


def test_set_threads(restore_threads):
    assert set_threads(1) == 1 and torch.get_num_threads() == 1
    assert set_threads(0) == available_cores() and torch.get_num_threads() == available_cores()
    assert os.environ["OMP_NUM_THREADS"] == str(available_cores())
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(DeviceError):
            set_threads(bad)


def test_set_threads_before_torch_is_imported():
    code = (
        "import sys; from genannot.runtime.device import set_threads; set_threads(1); "
        "assert 'torch' not in sys.modules; import torch; print(torch.get_num_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


# ---------------------------------------------------------------- batching


def square(batch):
    return [x * x for x in batch]


def test_fixed_batch_size_keeps_order():
    calls = []

    def fn(batch):
        calls.append(len(batch))
        return square(batch)

    assert batched_predict(fn, list(range(10)), batch_size=4) == [x * x for x in range(10)]
    assert calls == [4, 4, 2]


def test_auto_on_cpu_is_fixed_and_capped():
    calls = []

    def fn(batch):
        calls.append(len(batch))
        return square(batch)

    batched_predict(fn, list(range(150)), batch_size="auto")
    assert calls == [64, 64, 22]
    calls.clear()
    batched_predict(fn, list(range(10)), batch_size="auto")
    assert calls == [10]
    assert batched_predict(fn, [], batch_size="auto") == []


def test_results_are_rows_of_arrays_and_tensors():
    out = batched_predict(lambda b: torch.tensor(b, dtype=torch.float32)[:, None] * 2, [1, 2, 3], batch_size=2)
    assert [r.tolist() for r in out] == [[2.0], [4.0], [6.0]]


def test_wrong_number_of_results_is_an_error():
    with pytest.raises(ValueError, match="returned 1 results for a batch of 3"):
        batched_predict(lambda b: [0], [1, 2, 3], batch_size=3)


@pytest.mark.parametrize("bad", [0, -2, "big", 2.5, True])
def test_bad_batch_size(bad):
    with pytest.raises(DeviceError, match="batch size"):
        batched_predict(square, [1, 2], batch_size=bad)


def test_other_errors_propagate():
    def fn(batch):
        raise KeyError("not an OOM")

    with pytest.raises(KeyError):
        batched_predict(fn, [1, 2, 3], batch_size=2)


def test_is_oom():
    assert is_oom(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_oom(RuntimeError("CUDA error: out of memory"))
    assert not is_oom(RuntimeError("shape mismatch"))
    assert not is_oom(MemoryError())


class Scorer:
    """A fake model that runs out of memory above `limit` items per batch."""

    def __init__(self, limit: int, error=torch.OutOfMemoryError):
        self.limit = limit
        self.error = error
        self.calls: list[int] = []
        self.scored: Counter = Counter()

    def __call__(self, batch):
        self.calls.append(len(batch))
        if len(batch) > self.limit:
            # a partially built big tensor, as a real model would hold when allocation fails
            _activations = torch.zeros(len(batch), 16)
            raise self.error("CUDA out of memory. Tried to allocate 20.00 GiB")
        self.scored.update(batch)
        return [x * 10 for x in batch]


class FakeMemory:
    """Stands in for _CudaMemory so the CUDA code path runs without a GPU."""

    def __init__(self, per_item: float = 1000.0, available: int = 10**6):
        self._per_item, self._available = per_item, available
        self.cleared = 0
        self.started = 0

    def start(self):
        self.started += 1

    def per_item(self, n):
        return self._per_item

    def available(self):
        return self._available

    def clear(self):
        self.cleared += 1


@pytest.mark.parametrize("error", [torch.OutOfMemoryError, RuntimeError])
def test_oom_backoff_scores_every_item_exactly_once(error):
    items = list(range(100))
    fn = Scorer(limit=5, error=error)
    memory = FakeMemory()
    out = batched_predict(fn, items, batch_size=64, _memory=memory)
    assert out == [x * 10 for x in items]  # all, in order
    assert fn.scored == Counter(items)  # each scored exactly once
    assert all(c == 1 for c in fn.scored.values())
    assert fn.calls[:5] == [64, 32, 16, 8, 4]  # halved after each OOM, same items retried
    assert set(fn.calls[5:]) == {4}  # the smaller size is kept
    assert memory.cleared == 4


def test_oom_backoff_on_cpu_path_too():
    fn = Scorer(limit=3)
    assert batched_predict(fn, list(range(20)), batch_size=16) == [x * 10 for x in range(20)]
    assert fn.scored == Counter(range(20))


def test_oom_at_batch_size_one_is_a_device_error():
    fn = Scorer(limit=0)
    with pytest.raises(DeviceError, match="even with batch size 1"):
        batched_predict(fn, [1, 2, 3], batch_size=4)
    assert fn.calls == [3, 1]  # 4 capped to 3 items, halved to 1


def test_intermittent_oom_never_loses_or_duplicates():
    rng = random.Random(7)
    for trial in range(50):
        n = rng.randint(1, 300)
        items = [f"item{i}" for i in range(n)]
        fails = {rng.randint(0, 40) for _ in range(5)}  # these call numbers fail whatever their size
        calls = Counter()
        scored = Counter()

        def fn(batch):
            k = sum(calls.values())
            calls[len(batch)] += 1
            if k in fails and len(batch) > 1:
                raise torch.OutOfMemoryError("CUDA out of memory")
            scored.update(batch)
            return [s.upper() for s in batch]

        out = batched_predict(fn, items, batch_size=rng.choice([1, 7, 64, "auto"]), _memory=FakeMemory(available=rng.randint(10**4, 10**6)))
        assert out == [s.upper() for s in items], trial
        assert scored == Counter(items), trial


def test_auto_on_cuda_path_sizes_from_the_probe():
    fn = Scorer(limit=10**9)
    memory = FakeMemory(per_item=1000.0, available=10**6)  # 0.7 * 1e6 / 1000 = 700
    out = batched_predict(fn, list(range(2000)), batch_size="auto", _memory=memory)
    assert out == [x * 10 for x in range(2000)]
    assert fn.calls[0] == rt.PROBE_BATCH
    assert fn.calls[1:] == [700, 700, 592]
    assert memory.started == 1


def test_auto_on_cuda_path_is_capped_and_backs_off():
    fn = Scorer(limit=10**9)
    batched_predict(fn, list(range(10000)), batch_size="auto", _memory=FakeMemory(per_item=1.0, available=10**12))
    assert max(fn.calls) == rt.MAX_BATCH
    # the estimate is too optimistic: the model fails above 50 items -> halving from the estimate
    fn = Scorer(limit=50)
    out = batched_predict(fn, list(range(1000)), batch_size="auto", _memory=FakeMemory(per_item=1.0, available=10**5))
    assert out == [x * 10 for x in range(1000)] and fn.scored == Counter(range(1000))
    assert fn.calls[:7] == [8, 992, 496, 248, 124, 62, 31]  # halving starts from the real batch length
    # an OOM during the probe itself halves the probe
    fn = Scorer(limit=2)
    memory = FakeMemory(per_item=100.0, available=10**4)
    assert batched_predict(fn, list(range(30)), batch_size="auto", _memory=memory) == [x * 10 for x in range(30)]
    assert fn.calls[:3] == [8, 4, 2] and memory.started == 3


def test_iter_predict_streams():
    seen = []

    def fn(batch):
        seen.append(list(batch))
        return square(batch)

    it = iter_predict(fn, range(10), batch_size=3)  # any iterable
    assert next(it) == 0 and seen == [[0, 1, 2]]
    assert list(it) == [x * x for x in range(1, 10)]
    assert not torch.is_inference_mode_enabled()


def test_fn_runs_without_grad():
    def fn(batch):
        assert not torch.is_grad_enabled()
        return batch

    batched_predict(fn, [1, 2], batch_size=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_cuda_oom_backoff():
    """A model whose activations need ~8 GiB per item more than the GPU has above some batch size."""
    free, _ = torch.cuda.mem_get_info()
    per_item = max(free // 6, 1 << 20)  # > 6 items cannot fit

    def fn(batch):
        x = torch.empty(len(batch), per_item // 4, device="cuda")  # float32
        return [float(v) for v in x[:, 0].fill_(1.0).cpu()]

    items = list(range(40))
    out = batched_predict(fn, items, device="cuda", batch_size=32)
    assert out == [1.0] * 40
    out = batched_predict(fn, items, device="cuda", batch_size="auto")
    assert out == [1.0] * 40
