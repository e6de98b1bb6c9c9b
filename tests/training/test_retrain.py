"""``python -m training retrain``: tiny lexical models, a golden file, the sink's tables in fakesnow.

One registry lives through the whole lifecycle: the first version becomes
champion, a candidate trained on shuffled labels is refused, a sound one becomes
challenger, stays on trial while no one labelled anything, and is promoted once
seeded human labels show it better (retired when they show it worse; held for
a person's approval in ``approval`` mode).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from stream.inference.drift import DRIFT_REFERENCE, FEATURES
from stream.inference.registry import CHALLENGER, CHAMPION, Registry
from stream.sink.snowflake import SnowflakeTables
from tests.fixtures.lifecycle import seed_live, split_shipped, with_shuffled_labels, write_config
from training.retrain import retrain

pytestmark = pytest.mark.slow


@pytest.fixture
def files(tmp_path, shipped_tickets):
    train, golden = split_shipped(shipped_tickets, 200, 60)
    paths = {name: tmp_path / f"{name}.csv" for name in ("train", "shuffled", "golden")}
    train.to_csv(paths["train"], index=False)
    with_shuffled_labels(train).to_csv(paths["shuffled"], index=False)
    golden.to_csv(paths["golden"], index=False)
    return paths


@pytest.fixture
def sink_env(snowflake_env, snowflake_connection, snowflake_settings):
    """The sink's settings, its tables created as the running sink creates them."""
    SnowflakeTables(snowflake_connection, snowflake_settings.table_classified,
                    snowflake_settings.table_feedback).ensure()
    return snowflake_env


def _run(config, registry, sink_env, **kwargs) -> dict:
    return retrain(config, registry_dir=registry, progress=False, sink_env=sink_env, **kwargs)


def _history(registry, action):
    return [e for e in Registry(registry).history() if e["action"] == action]


def test_lifecycle_champion_refused_challenger_trial_promoted(tmp_path, files, sink_env, snowflake_connection,
                                                           snowflake_settings):
    registry = tmp_path / "registry"
    good = write_config(tmp_path / "good.yaml", files["train"], files["golden"], min_labelled=30)
    bad = write_config(tmp_path / "bad.yaml", files["shuffled"], files["golden"])

    first = _run(good, registry, sink_env)
    [decision] = first["decisions"]
    champion = Registry(registry).alias_version(CHAMPION)
    assert decision["action"] == "champion" and decision["candidate"] == champion
    reference = json.loads((registry / champion / DRIFT_REFERENCE).read_text())
    assert set(reference["label_prior"]) == {"Hardware", "Access", "Miscellaneous"}
    assert reference["n"] > 0 and sum(reference["bins"]["length"]) == pytest.approx(1)

    refused = _run(bad, registry, sink_env)
    [decision] = refused["decisions"]
    assert decision["action"] == "refused", decision["gate"]
    overall = next(c for c in decision["gate"]["checks"] if c["name"] == "overall")
    assert not overall["passed"] and overall["numbers"]["candidate_accuracy"] < overall["numbers"]["champion_accuracy"]
    assert Registry(registry).aliases() == {CHAMPION: champion}
    [entry] = _history(registry, "gate_refused")
    assert entry["details"]["candidate"] == decision["candidate"] and entry["details"]["gate"]["passed"] is False
    assert set(entry["details"]["drift"]) >= {"version", "n"}  # recorded even with no traffic stored yet

    passed = _run(good, registry, sink_env)
    [decision] = passed["decisions"]
    challenger = decision["candidate"]
    assert decision["action"] == "challenger" and decision["gate"]["passed"]
    assert Registry(registry).aliases() == {CHAMPION: champion, CHALLENGER: challenger}

    # no human label yet: the challenger stays on trial and nothing new is trained
    trial = _run(good, registry, sink_env)
    assert [d["action"] for d in trial["decisions"]] == ["on_trial"]
    assert Registry(registry).versions() == sorted([champion, challenger, refused["decisions"][0]["candidate"]])

    # shadow traffic with labels since it became challenger: it is right far more often
    now = datetime.now(timezone.utc)
    seed_live(snowflake_connection, snowflake_settings, champion, challenger, lambda i: i % 2 == 0,
              lambda i: i % 10 != 0, 60, now)
    promoted = _run(good, registry, sink_env, skip_training=True, now=now + timedelta(minutes=2))
    [decision] = promoted["decisions"]
    assert decision["action"] == "promoted" and decision["verdict"] == "better"
    assert decision["paired"]["n"] == 60
    assert Registry(registry).aliases() == {CHAMPION: challenger}
    [entry] = [e for e in _history(registry, "promote") if e["version"] == challenger]
    assert entry["by"] == "retrain" and entry["details"]["verdict"] == "better"


def test_a_worse_challenger_is_retired_and_approval_mode_waits_for_a_person(tmp_path, files, sink_env,
                                                                           snowflake_connection, snowflake_settings):
    registry = tmp_path / "registry"
    config = write_config(tmp_path / "good.yaml", files["train"], files["golden"], promotion="approval")
    champion = _run(config, registry, sink_env)["decisions"][0]["candidate"]
    challenger = _run(config, registry, sink_env)["decisions"][0]["candidate"]
    now = datetime.now(timezone.utc)
    seed_live(snowflake_connection, snowflake_settings, champion, challenger, lambda i: i % 10 != 0,
              lambda i: i % 2 == 0, 60, now)
    retired = _run(config, registry, sink_env, skip_training=True, now=now + timedelta(minutes=2))
    assert [d["action"] for d in retired["decisions"]] == ["retired"]
    assert Registry(registry).aliases() == {CHAMPION: champion}

    Registry(registry).set_alias(CHALLENGER, challenger, reason="test: back on trial")
    later = datetime.now(timezone.utc) + timedelta(minutes=3)
    seed_live(snowflake_connection, snowflake_settings, champion, challenger, lambda i: i % 2 == 0,
              lambda i: i % 10 != 0, 60, later)
    waiting = _run(config, registry, sink_env, skip_training=True, now=later + timedelta(minutes=2))
    assert [d["action"] for d in waiting["decisions"]] == ["awaiting_approval"]
    approved = _run(config, registry, sink_env, skip_training=True, approve=challenger,
                    now=later + timedelta(minutes=2))
    assert [d["action"] for d in approved["decisions"]] == ["promoted"]
    assert Registry(registry).aliases() == {CHAMPION: challenger}


def test_drift_reference_has_every_figure(tmp_path, files, sink_env):
    registry = tmp_path / "registry"
    version = _run(write_config(tmp_path / "c.yaml", files["train"], files["golden"]), registry,
                   sink_env)["decisions"][0]["candidate"]
    reference = json.loads((registry / version / DRIFT_REFERENCE).read_text())
    assert set(reference["means"]) == {"length", "confidence", "nn_similarity", "abstention"}
    assert reference["bins"]["nn_similarity"] is None  # a lexical-only version has no kNN block
    assert set(FEATURES) >= {"length", "language", "category", "confidence"}


def test_retrain_without_an_evaluation_set_is_a_clear_error_before_any_training(tmp_path, files, capsys):
    import yaml

    from training.cli import main

    config = tmp_path / "no-golden.yaml"
    config.write_text(yaml.safe_dump({"feature_blocks": ["lexical"], "data": {"path": str(files["train"])}}))
    assert main(["retrain", "--config", str(config), "--registry", str(tmp_path / "reg")]) == 2
    assert "lifecycle.golden_path" in capsys.readouterr().err
    assert not (tmp_path / "reg").exists() or not Registry(tmp_path / "reg").versions()
