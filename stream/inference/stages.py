"""Per-stage CPU seconds of a batch, so every optimisation is argued from numbers.

A :class:`StageClock` is made active for the current thread while a batch runs
(``with clock.active():``); code on the inference path marks its stages with
``with stage("embed"):`` and pays nothing when no clock is active. A stage
counts the CPU seconds of the whole process (``time.process_time``), not of the
calling thread: onnxruntime's pool threads, BLAS and LightGBM's OpenMP threads
do the work of ``embed``, ``knn`` and ``booster``. When other threads of the
process work at the same time (the worker's event loop), their CPU lands in the
stage that was running, so in the worker the inference stages are an upper
bound; in the in-process bench (``bench/stages.py``) they are exact.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

# Stage names, in pipeline order: the metric's label values and the bench's rows.
INFERENCE_STAGES = ("clean", "tokenize", "embed", "lexical", "knn", "booster", "blend")
LOOP_STAGES = ("decode", "serialise", "publish")
STAGES = INFERENCE_STAGES + LOOP_STAGES

_local = threading.local()


class StageClock:
    """CPU seconds (process-wide) and wall seconds per stage name, summed over its use."""

    def __init__(self):
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}

    @contextmanager
    def active(self) -> Iterator["StageClock"]:
        """Make this clock receive the :func:`stage` marks of the current thread."""
        previous = getattr(_local, "clock", None)
        _local.clock = self
        try:
            yield self
        finally:
            _local.clock = previous

    def add(self, name: str, cpu_s: float, wall_s: float) -> None:
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu_s
        self.wall[name] = self.wall.get(name, 0.0) + wall_s

    def merge(self, other: "StageClock") -> None:
        for name, cpu_s in other.cpu.items():
            self.add(name, cpu_s, other.wall.get(name, 0.0))


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Charge the CPU used inside the block to ``name`` on the thread's active clock, if any."""
    clock = getattr(_local, "clock", None)
    if clock is None:
        yield
        return
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        yield
    finally:
        clock.add(name, time.process_time() - cpu0, time.perf_counter() - wall0)


@contextmanager
def thread_stage(clock: StageClock | None, name: str) -> Iterator[None]:
    """Like :func:`stage` but counts the calling thread only: for event-loop work (decode,
    serialise, publish), which must not absorb the inference thread's CPU running meanwhile."""
    if clock is None:
        yield
        return
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    try:
        yield
    finally:
        clock.add(name, time.thread_time() - cpu0, time.perf_counter() - wall0)
