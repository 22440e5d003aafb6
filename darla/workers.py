"""Worker processes for the stages that render: a pool that fails loudly when a worker dies.

``multiprocessing.Pool`` replaces a worker that dies (a segfault in a GL driver, the OOM killer)
and waits forever for the task it held. ``concurrent.futures.ProcessPoolExecutor`` marks itself
broken instead, so the stage stops with an error naming the cause. Workers ignore Ctrl-C: the
parent handles it (it stops handing out work and reports the interruption), so a keypress is
never mistaken for a dead worker.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import envs
from darla.errors import DarlaError


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)


def imap_unordered(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[Any]:
    """``fn(item)`` for every item in ``workers`` rendering processes, yielded as each finishes.

    At most ``2 * workers`` items are in flight, so results are handed on (stored, counted on a
    progress bar) while the rest still run.
    """
    pool = ProcessPoolExecutor(
        workers,
        mp_context=envs.render_process_context(),
        initializer=_start_worker,
        initargs=(initializer, initargs),
    )
    pending: set = set()
    finished = False
    try:
        for item in items:
            pending.add(pool.submit(fn, item))
            while len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
        finished = True
    except BrokenProcessPool as error:
        raise DarlaError(
            f"a worker process died ({error}); rerun with fewer workers (workers=1 runs in this "
            "process), or check the machine's memory"
        ) from error
    finally:
        pool.shutdown(wait=finished, cancel_futures=True)
