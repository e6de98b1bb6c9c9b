"""The batch: due by size or by age, and it covers every offset it saw (rows or not)."""
from __future__ import annotations

from stream.downstream.batching import Batch


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_due_by_size_first():
    batch = Batch(max_rows=3, max_age_s=60, clock=Clock())
    for offset in range(2):
        batch.add("T", (offset,), "p0", offset)
    assert not batch.due()
    batch.add("T", (2,), "p0", 2)
    assert batch.due()


def test_due_by_age_counted_from_the_first_record():
    clock = Clock()
    batch = Batch(max_rows=100, max_age_s=5, clock=clock)
    assert not batch.due() and batch.seconds_left() == 5  # empty: never due
    batch.add("T", ("a",), "p0", 0)
    clock.now += 4
    batch.add("T", ("b",), "p0", 1)
    assert not batch.due() and abs(batch.seconds_left() - 1) < 1e-9
    clock.now += 1
    assert batch.due()


def test_drain_returns_rows_per_table_and_next_offsets_then_empties():
    batch = Batch(max_rows=100, max_age_s=5, clock=Clock())
    batch.add("A", (1,), "p0", 7)
    batch.add("B", (2,), "p1", 3)
    batch.mark("p1", 4)        # a record that went to the DLQ: no row, offset still covered
    batch.add("A", (3,), "p0", 5)  # out of order within a partition cannot lower the offset
    drained = batch.drain()
    assert drained.rows == {"A": [(1,), (3,)], "B": [(2,)]}
    assert drained.offsets == {"p0": 8, "p1": 5}
    assert drained.row_count == 3
    assert batch.empty and len(batch) == 0 and not batch.due()


def test_a_batch_of_only_rejected_records_is_still_due_so_its_offsets_commit():
    clock = Clock()
    batch = Batch(max_rows=10, max_age_s=1, clock=clock)
    batch.mark("p0", 0)
    clock.now += 2
    assert batch.due() and batch.drain().offsets == {"p0": 1}
