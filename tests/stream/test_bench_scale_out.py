"""The scale-out benchmark's arguments and group checks (bench/scale_out.py); the runs themselves are benchmarks."""
from __future__ import annotations

import pytest

from bench import stream as bench_stream
from bench.scale_out import parse_counts, partitions_for, settled, threads_per_worker


def test_worker_counts_are_parsed_in_order_and_bad_lists_are_refused():
    assert parse_counts("1,2,4") == [1, 2, 4]
    assert parse_counts(" 4, 1 ") == [4, 1]
    for bad in ("", "1,x", "0,2", "2,2", "-1"):
        with pytest.raises(ValueError):
            parse_counts(bad)


def test_partitions_cover_the_largest_group_and_never_fewer():
    assert partitions_for([1, 2]) == 4                  # Tansu's and the chart's default
    assert partitions_for([1, 2, 8]) == 8
    assert partitions_for([1, 2], requested=6) == 6
    with pytest.raises(ValueError, match="cannot feed 8 consumers"):
        partitions_for([1, 8], requested=4)


def test_onnx_threads_split_the_cores_without_oversubscribing():
    assert [threads_per_worker(2, n) for n in (1, 2, 4)] == [2, 1, 1]
    assert [threads_per_worker(16, n) for n in (1, 2, 4)] == [16, 8, 4]


def test_a_group_has_settled_only_when_every_worker_owns_disjoint_partitions_covering_all():
    assert settled([[0, 1, 2, 3]], 4)
    assert settled([[1, 3], [0, 2]], 4)
    assert not settled([[0, 1, 2, 3], []], 4)          # the second member has not joined yet
    assert not settled([[0, 1], None], 4)              # or does not answer
    assert not settled([[0, 1, 2], [2, 3]], 4)         # mid-rebalance: a partition owned twice
    assert not settled([[0], [1]], 4)                  # partitions nobody consumes


def test_the_cli_refuses_counts_it_cannot_run_before_starting_anything(capsys):
    for argv in (["--scale-out", "1,x"], ["--scale-out", "1,8", "--partitions", "4"]):
        with pytest.raises(SystemExit) as exit_info:
            bench_stream.main(argv)
        assert exit_info.value.code == 2
    assert "cannot feed 8 consumers" in capsys.readouterr().err
