"""Encode frames on a second core while the first renders the next ones.

An env step here is mostly rendering (Mesa's llvmpipe, one core at 64x64) and a frozen
encoder's forward pass costs a third to a half of it. Done in series, as SB3's vec envs and a
lock-step evaluation loop would, the agent runs at ~0.6 of the bare env's rate on 2 cores while
the second core idles. :class:`OverlappedEncoder` takes the frames of a batch of envs one at a
time as they are made, and as soon as a chunk of them is complete it encodes that chunk on a
worker thread (torch releases the GIL inside its kernels; the GL calls release it too), so only
the last chunk's encoding is left on the critical path.

Chunks are fixed slices of the env indices and are always encoded as one batch each, so a
frame's latent never depends on timing, on which envs ended an episode, or on a resume.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

Encode = Callable[[np.ndarray], np.ndarray]

DEFAULT_CHUNK = 2  # frames per background batch: small enough to leave little on the critical path


def chunk_bounds(n: int, chunk: int) -> list[tuple[int, int]]:
    """The fixed ``[start, stop)`` slices that ``n`` frames are encoded in."""
    return [(start, min(start + chunk, n)) for start in range(0, n, chunk)]


class OverlappedEncoder:
    """Collect ``n`` frames by index; encode each full chunk in the background.

    Use: ``put(i, frame)`` for every index of a step (any order), then ``result()`` gives the
    ``[n, D]`` codes in index order. A chunk is encoded as soon as its last frame arrives; a
    chunk still missing frames at ``result()`` is encoded there with whatever its rows hold.

    Args:
        encode: frames ``[k, H, W, 3]`` uint8 -> codes ``[k, D]``.
        n: how many frames make one step (the number of envs).
        frame_shape: ``(H, W, 3)``.
        chunk: frames per background batch.
    """

    def __init__(
        self, encode: Encode, n: int, frame_shape: tuple[int, ...], chunk: int = DEFAULT_CHUNK
    ) -> None:
        if n < 1 or chunk < 1:
            raise ValueError(f"need n >= 1 and chunk >= 1, got n={n}, chunk={chunk}")
        self._encode = encode
        self._frames = np.zeros((n, *frame_shape), dtype=np.uint8)
        self._bounds = chunk_bounds(n, chunk)
        self._chunk = chunk
        self._missing = [stop - start for start, stop in self._bounds]
        self._seen = np.zeros(n, dtype=bool)
        self._futures: dict[int, Future] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="darla-encode")

    @property
    def frames(self) -> np.ndarray:
        """Every row's newest frame ``[n, H, W, 3]`` (read-only use)."""
        return self._frames

    def put(self, index: int, frame: np.ndarray) -> None:
        """Hand over env ``index``'s newest frame (copied: the caller may reuse its buffer)."""
        which = index // self._chunk
        if self._seen[index]:  # a newer frame before result(): that chunk starts over
            self._restart(which)
        self._frames[index] = frame
        self._seen[index] = True
        self._missing[which] -= 1
        if self._missing[which] == 0:
            start, stop = self._bounds[which]
            self._futures[which] = self._pool.submit(self._encode, self._frames[start:stop])

    def _restart(self, which: int) -> None:
        future = self._futures.pop(which, None)
        if future is not None:
            future.result()  # it reads those rows: let it finish before they change
        start, stop = self._bounds[which]
        self._seen[start:stop] = False
        self._missing[which] = stop - start

    def result(self) -> np.ndarray:
        """Codes ``[n, D]`` of every row's newest frame, in index order; starts the next step."""
        parts = []
        for which, (start, stop) in enumerate(self._bounds):
            future = self._futures.pop(which, None)
            parts.append(future.result() if future else self._encode(self._frames[start:stop]))
            self._restart(which)
        return np.concatenate(parts)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
