"""``python -m stream``: command discovery and the local ``classify`` command on a real model."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from stream.cli import build_parser, discover
from tests.fixtures.kafka_io import REPO


def test_commands_are_discovered_from_their_modules():
    commands = discover()
    assert {"worker", "replay", "broker", "classify"} <= set(commands)
    args = build_parser(commands).parse_args(["replay", "--data", "x.csv", "--rate", "5"])
    assert args.rate == 5.0 and args.text_col == "Document"


def _run(*argv, env=None):
    return subprocess.run([sys.executable, "-m", "stream", *argv], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_classify_prints_the_prediction_of_the_promoted_model(trained_registry, e5_embedders_root):
    registry, version = trained_registry
    env = {"TICKETS_REGISTRY_DIR": str(registry), "TICKETS_EMBEDDER_DIR": str(e5_embedders_root)}
    result = _run("classify", "cannot connect to vpn, my password expired, please reset access", "--json", env=env)
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stdout)
    assert event["model_version"] == version and event["top_k"][0]["category"] == event["category"]

    plain = _run("classify", "cannot connect to vpn, my password expired, please reset access", env=env)
    assert plain.stdout.startswith(event["category"]) and version in plain.stdout


def test_classify_prints_the_label_set_of_a_multi_label_version(multilabel_registry, e5_embedders_root):
    registry, version = multilabel_registry
    env = {"TICKETS_REGISTRY_DIR": str(registry), "TICKETS_EMBEDDER_DIR": str(e5_embedders_root)}
    text = "the printer is jammed and my laptop cannot reach the vpn"
    event = json.loads(_run("classify", text, "--json", env=env).stdout)
    assert event["schema_version"] == "4" and isinstance(event["labels"], list)
    plain = _run("classify", text, env=env).stdout.splitlines()
    expected = ", ".join(f"{i['label']} {i['probability']:.2f}" for i in event["labels"]) or "none above its threshold"
    assert plain[1] == f"labels: {expected}"


def test_classify_without_a_model_says_how_to_train_one(tmp_path):
    result = _run("classify", "vpn down", env={"TICKETS_REGISTRY_DIR": str(tmp_path)})
    assert result.returncode == 2 and "--promote" in result.stderr


def test_each_command_s_help_lists_the_variables_it_reads():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    notifier, worker, sink = (sub[name].format_help() for name in ("notifier", "worker", "sink"))
    assert "TICKETS_SLACK_BOT_TOKEN" in notifier and "TICKETS_SNOWFLAKE_ACCOUNT" not in notifier
    assert "TICKETS_WEB_PORT" in worker and "TICKETS_SLACK_BOT_TOKEN" not in worker
    assert "TICKETS_SINK_BATCH_SIZE" in sink and "TICKETS_KAFKA_BOOTSTRAP" in sink


def test_a_bad_setting_stops_the_cli_with_the_variable_named(monkeypatch, capsys):
    from stream import cli, config

    monkeypatch.setenv("TICKETS_MAX_BATCH", "many")
    config.clear_cache()
    try:
        assert cli.main(["config"]) == 2
    finally:
        config.clear_cache()
    assert "TICKETS_MAX_BATCH='many'" in capsys.readouterr().err
