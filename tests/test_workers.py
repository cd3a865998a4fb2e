"""genannot.runtime.workers: ordered results, errors passed on, worker count bounded by memory."""

from __future__ import annotations

import math

import pytest

from genannot.runtime import workers
from genannot.runtime.workers import OrderedPool, worker_count


def _decode_lowercase(task):
    from genannot.euk.decode import decode_records

    (records, params), kw = task
    return decode_records(records, params, **kw)


@pytest.mark.parametrize("n", [1, 2])
def test_results_come_back_in_input_order(n, monkeypatch):
    monkeypatch.setattr(workers, "IN_FLIGHT", 1)  # results are yielded while later ones are still submitted
    xs = [float(x) for x in range(40, 0, -1)]
    with OrderedPool(n) as pool:
        out = list(pool.imap(math.sqrt, ((x, f"ctx{x}") for x in xs)))
    assert out == [(f"ctx{x}", math.sqrt(x)) for x in xs]


def test_a_worker_error_reaches_the_caller():
    with OrderedPool(2) as pool, pytest.raises(ValueError):
        list(pool.imap(math.sqrt, [(4.0, 0), (-1.0, 1), (9.0, 2)]))


def _die(code: int) -> None:
    import os

    os._exit(code)  # as the out-of-memory killer would end a worker: no exception, no clean-up


def test_a_worker_that_dies_is_a_one_line_error():
    from genannot.errors import ResourceError

    with OrderedPool(2) as pool, pytest.raises(ResourceError, match="fewer --threads"):
        list(pool.imap(_die, [(9, 0), (9, 1)]))


def test_worker_count_is_bounded_by_memory(monkeypatch):
    monkeypatch.setattr(workers, "available_memory", lambda: 3 * workers.WORKER_BYTES + 1)
    assert worker_count(8) == 3 and worker_count(2) == 2 and worker_count(0) == 1
    monkeypatch.setattr(workers, "available_memory", lambda: 10)
    assert worker_count(8) == 1
    monkeypatch.setattr(workers, "available_memory", lambda: None)
    assert worker_count(8) == 8


@pytest.mark.parametrize("quiet", [False, True])
def test_worker_warnings_read_like_the_parents(quiet, capfd):
    """A warning logged in a worker reaches stderr in the command line's format, and -q silences it there too."""
    from genannot.cli import _setup_logging
    from genannot.euk.genemodel import GeneModelParams
    from genannot.models.registry import resolve_model

    import logging

    from genannot.runtime import logs

    params = GeneModelParams.load(resolve_model(None, "euk-seg").path)
    root = logging.getLogger("genannot")
    saved = root.handlers[:], root.level, root.propagate, logs._SETTINGS
    _setup_logging(0, quiet)
    try:
        with OrderedPool(2) as pool:
            tasks = [((([(f"r{i}", "acgt" * 500)], params), {}), i) for i in range(2)]
            list(pool.imap(_decode_lowercase, tasks))
    finally:
        root.handlers[:], root.level, root.propagate, logs._SETTINGS = saved
    err = capfd.readouterr().err
    assert ("genannot: r0 is 100% lowercase" in err) != quiet, err
