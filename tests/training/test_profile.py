"""Per-step wall time and peak memory: each step's own peak, the table, the manifest's ``profile``."""
from __future__ import annotations

import json
import time

import numpy as np

from training.profile import StepProfile


def test_each_step_reports_its_own_peak_and_time():
    profile = StepProfile()
    with profile.step("big", rows=10):
        block = np.ones(400 * 2**20 // 8)  # 400 MiB, touched
        del block
    with profile.step("small"):
        time.sleep(0.2)
    big, small = profile.steps
    assert (big.name, big.rows, small.name) == ("big", 10, "small")
    assert small.seconds >= 0.2 and small.cpu_seconds < 0.1  # asleep: wall time, no CPU
    assert big.cpu_seconds > 0.02  # touching 400 MiB costs CPU
    if profile.peak_is_per_step:  # Linux: the high-water mark is reset per step
        assert big.peak_rss_mib > small.peak_rss_mib + 300
    else:
        assert big.peak_rss_mib <= small.peak_rss_mib
    summary = profile.as_dict()
    assert [s["step"] for s in summary["steps"]] == ["big", "small"] and summary["steps"][0]["rows"] == 10
    assert summary["peak_rss_mib"] == round(max(big.peak_rss_mib, small.peak_rss_mib), 1)


def test_a_repeated_step_adds_up_and_the_table_lists_every_step():
    profile = StepProfile()
    for _ in range(2):
        with profile.step("booster"):
            time.sleep(0.05)
    assert len(profile.steps) == 1 and profile.steps[0].seconds >= 0.1
    lines = profile.table().splitlines()
    assert lines[0].split()[:4] == ["step", "seconds", "CPU", "s"] and lines[1].startswith("booster")
    assert lines[-1].startswith("total")


def test_a_failing_step_is_still_recorded():
    profile = StepProfile()
    try:
        with profile.step("clean"):
            raise RuntimeError("bad data")
    except RuntimeError:
        pass
    assert [s.name for s in profile.steps] == ["clean"]


def test_trained_version_records_every_step(trained_registry):
    root, version = trained_registry
    profile = json.loads((root / version / "manifest.json").read_text())["profile"]
    names = [s["step"] for s in profile["steps"]]
    assert names == ["languages", "lexical folds", "embed", "knn folds", "booster", "thresholds",
                     "route booster", "write", "evaluate"]  # "clean" too when train reads the data itself
    assert all(s["seconds"] >= 0 and s["cpu_seconds"] >= 0 and s["peak_rss_mib"] > 0 for s in profile["steps"])
    assert profile["total_cpu_seconds"] > 0
    assert profile["total_seconds"] > 0


def test_train_cli_prints_the_table(tmp_path, capsys):
    from tests.fixtures.models import SHIPPED_DATA
    from training.cli import main

    config = tmp_path / "train.yaml"
    config.write_text("feature_blocks: [lexical]\nlightgbm:\n  num_threads: 1\n")
    code = main(["train", "--data", str(SHIPPED_DATA), "--config", str(config), "--sample", "400",
                 "--out", str(tmp_path / "reg"), "--no-progress", "--profile"])
    out = capsys.readouterr().out
    assert code == 0
    table = out[out.index("step "):].splitlines()
    assert [line.split()[0] for line in table[1:4]] == ["clean", "languages", "lexical"]
    assert table[-1].startswith("total")
