"""Rare categories are set aside (or folded into a fallback label) and reported, never a failed run."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from training.cli import main
from training.config import load_config
from training.exceptions import ConfigError
from training.rare import handle_rare

from .synthetic import synthetic_frame


def long_tail() -> pd.DataFrame:
    """Three learnable categories of 40, one of 4 tickets and one singleton."""
    frame = synthetic_frame(per_label=40)
    tail = [{"ticket_id": f"t{i}", "text": f"printer toner jam tray {i}", "label": "printing"} for i in range(4)]
    tail.append({"ticket_id": "s0", "text": "badge door access office", "label": "facilities"})
    return pd.concat([frame, pd.DataFrame(tail)], ignore_index=True)


def test_rare_categories_are_set_aside_with_counts():
    frame, report = handle_rare(long_tail(), min_count=10)
    assert set(frame["label"]) == {"billing", "returns", "shipping"} and len(frame) == 120
    assert report.set_aside == {"facilities": 1, "printing": 4} and report.rows_set_aside == 5
    assert "facilities (1)" in report.summary() and "printing (4)" in report.summary()


def test_fallback_label_collects_rare_categories():
    frame, report = handle_rare(long_tail(), min_count=5, fallback="other")
    assert (frame["label"] == "other").sum() == 5 and not report.set_aside
    assert report.mapped == {"facilities": 1, "printing": 4}
    # A fallback bucket that is itself too small is set aside like any rare category.
    frame, report = handle_rare(long_tail(), min_count=10, fallback="other")
    assert "other" not in set(frame["label"]) and report.set_aside == {"other": 5}


def test_nothing_rare_changes_nothing():
    frame = synthetic_frame(per_label=12)
    kept, report = handle_rare(frame, min_count=10)
    assert kept.equals(frame) and report.summary() is None and report.as_dict()["rows_set_aside"] == 0


def test_minimum_count_below_what_a_split_needs_is_refused():
    with pytest.raises(ConfigError, match="min_class_count"):
        load_config().replace(data={"min_class_count": 2})


@pytest.mark.parametrize("fallback", [None, "other"])
def test_train_cli_with_a_one_example_category(tmp_path, capsys, fallback):
    """Training on a label set with a 1-example category succeeds and says what it did with it."""
    data = tmp_path / "tickets.csv"
    long_tail().rename(columns={"text": "body", "label": "team"}).to_csv(data, index=False)
    config = tmp_path / "train.yaml"
    config.write_text("feature_blocks: [lexical]\nlightgbm:\n  num_threads: 1\n")
    args = ["train", "--data", str(data), "--text-col", "body", "--label-col", "team", "--config", str(config),
            "--out", str(tmp_path / "reg"), "--no-progress", "--min-class-count", "5"]
    assert main(args + (["--rare-label", fallback] if fallback else [])) == 0
    out = capsys.readouterr().out
    version = next((tmp_path / "reg").glob("2*"))
    manifest = json.loads((version / "manifest.json").read_text())
    rare = manifest["data"]["rare_classes"]
    card = (version / "model_card.md").read_text()
    assert rare["min_class_count"] == 5 and "rare categories:" in out and "facilities (1)" in out
    if fallback:
        assert manifest["labels"] == ["billing", "other", "returns", "shipping"]
        assert rare["mapped_to_fallback"] == {"facilities": 1, "printing": 4} and rare["set_aside"] == {}
        assert "Mapped to `other`" in card
    else:
        assert manifest["labels"] == ["billing", "returns", "shipping"]
        assert rare["set_aside"] == {"facilities": 1, "printing": 4} and rare["rows_set_aside"] == 5
        assert "Not learned" in card and "facilities (1)" in card
        assert manifest["data"]["rows_used"] == 120
