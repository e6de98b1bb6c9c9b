"""A batch of handled records waiting for their side effect, and the offsets it will let us commit.

The shape is quix-streams' ``BatchingSink``: records are *added* as they are
consumed, the batch is *flushed* when it is full or old enough, and only a
confirmed flush lets the consumer commit the offsets the batch covers. A
record that yields no row (posted at once, or sent to the DLQ) still moves
its partition's offset forward, so it is covered by the next commit too.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Hashable


@dataclass
class DrainedBatch:
    """What one flush must write, and the offsets to commit once it has."""

    rows: dict[str, list[tuple]]
    offsets: dict[Hashable, int]  # partition -> next offset to read (last seen + 1)

    @property
    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())


@dataclass
class Batch:
    """Rows per table plus the highest offset seen per partition."""

    max_rows: int
    max_age_s: float
    clock: Callable[[], float] = time.monotonic
    _rows: dict[str, list[tuple]] = field(default_factory=dict)
    _offsets: dict[Hashable, int] = field(default_factory=dict)
    _started: float | None = None

    def add(self, table: str, row: tuple, partition: Hashable, offset: int) -> None:
        self._rows.setdefault(table, []).append(row)
        self.mark(partition, offset)

    def mark(self, partition: Hashable, offset: int) -> None:
        """Record that ``offset`` was handled (with or without a row)."""
        if self._started is None:
            self._started = self.clock()
        self._offsets[partition] = max(self._offsets.get(partition, -1), offset + 1)

    def __len__(self) -> int:
        return sum(len(r) for r in self._rows.values())

    @property
    def empty(self) -> bool:
        return not self._offsets

    def seconds_left(self) -> float:
        """Time until the batch is due by age (``max_age_s`` when empty)."""
        if self._started is None:
            return self.max_age_s
        return max(0.0, self._started + self.max_age_s - self.clock())

    def due(self) -> bool:
        return not self.empty and (len(self) >= self.max_rows or self.seconds_left() <= 0)

    def drain(self) -> DrainedBatch:
        drained = DrainedBatch(rows=self._rows, offsets=self._offsets)
        self.clear()
        return drained

    def clear(self) -> None:
        """Forget everything (after a rebalance: uncommitted records are read again)."""
        self._rows, self._offsets, self._started = {}, {}, None
