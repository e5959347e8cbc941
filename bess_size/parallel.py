"""One site across many cores: a loop over scenarios split into chunks, run on Dask workers.

``run --workers N`` / ``--scheduler ADDRESS`` open a client with :func:`client` (the local cluster
or the scheduler ``batch`` uses: ``batch_runner.dask_client``); scenario generation and the
held-out replay hand their per-scenario loop to :func:`map_in_order`. Every scenario is computed
exactly as in the serial loop (its random streams depend on its own index only) and results come
back in scenario order, so a parallel run gives the serial run's outputs bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import ExitStack, contextmanager

#: chunks per worker: enough for balance when scenarios differ in cost, few enough that the
#: per-task overhead (pickling the site and design, scheduling) stays small
CHUNKS_PER_WORKER = 4


class ClusterUnavailable(RuntimeError):
    """The Dask cluster could not be reached or started (the message names the address)."""


@contextmanager
def client(workers: int | None = None, scheduler=None):
    """A Dask client for spreading one site's scenarios, or None for the serial loop.

    ``workers`` None or 1 without a scheduler means serial, in this process (nothing to start);
    ``workers`` >= 2 starts a local cluster of that many single-threaded processes; ``scheduler``
    (an address, or a Client the caller owns) uses an existing cluster.
    """
    if scheduler is None and (workers is None or int(workers) <= 1):
        yield None
        return
    from .batch_runner import dask_client

    with ExitStack() as stack:
        try:
            c = stack.enter_context(dask_client(workers, scheduler))
        except (OSError, TimeoutError) as err:
            where = f"the Dask scheduler at {scheduler}" if isinstance(scheduler, str) else "a local Dask cluster"
            raise ClusterUnavailable(f"cannot connect to {where}: {err}") from None
        yield c


def worker_count(dask_client) -> int:
    return max(1, len(dask_client.scheduler_info().get("workers", {})))


def chunks(indices: Sequence[int], dask_client) -> list[list[int]]:
    """Consecutive chunks of ``indices``: one for the serial loop, a few per worker otherwise."""
    indices = list(indices)
    if dask_client is None or not indices:
        return [indices]
    size = max(1, math.ceil(len(indices) / (CHUNKS_PER_WORKER * worker_count(dask_client))))
    return [indices[k:k + size] for k in range(0, len(indices), size)]


def map_in_order(fn: Callable, arg_tuples: Sequence[tuple], dask_client=None,
                 on_done: Callable[[int], None] | None = None) -> list:
    """``[fn(*args) for args in arg_tuples]``, on the client's workers when there is one.

    ``on_done(k)`` is called as task k finishes (in completion order); the results are returned
    in the order of ``arg_tuples``. An exception in a task is raised here, as in the serial loop.
    """
    if dask_client is None:
        out = []
        for k, args in enumerate(arg_tuples):
            out.append(fn(*args))
            if on_done is not None:
                on_done(k)
        return out
    from distributed import as_completed

    futures = [dask_client.submit(fn, *args, pure=False) for args in arg_tuples]
    position = {f.key: k for k, f in enumerate(futures)}
    try:
        for f in as_completed(futures):
            if f.status == "error":
                f.result()  # raises the task's exception
            if on_done is not None:
                on_done(position[f.key])
        return [f.result() for f in futures]
    finally:
        for f in futures:
            f.release()
