"""Model lifecycle: fail fast without a model, keep serving on a bad promotion, swap a new one in."""
from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest

from stream.config import Settings
from stream.exceptions import NoPromotedModelError
from stream.inference.registry import Registry
from stream.worker.metrics import create
from stream.worker.live_model import ModelHolder
from stream.devtools.replay import load_rows, ticket_event
from tests.fixtures.worker import worker_env
from tests.fixtures.kafka_io import REPO, produce, read_topic


def _settings(registry_dir, embedder_dir=None) -> Settings:
    env = {"TICKETS_REGISTRY_DIR": str(registry_dir)}
    if embedder_dir is not None:
        env["TICKETS_EMBEDDER_DIR"] = str(embedder_dir)
    return Settings.from_env(env)


def _clone_version(registry_dir, version, new_version) -> None:
    """A second, genuinely loadable version: the same artifacts under a new id."""
    shutil.copytree(registry_dir / version, registry_dir / new_version)
    manifest_path = registry_dir / new_version / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["version"] = new_version
    manifest_path.write_text(json.dumps(manifest))


@pytest.fixture
def registry_clone(trained_registry, tmp_path):
    """A private copy of the session's trained registry, which the test may change."""
    source, version = trained_registry
    shutil.copytree(source, tmp_path / "registry")
    return tmp_path / "registry", version


def test_no_promoted_model_names_the_command_that_fixes_it(tmp_path):
    holder = ModelHolder(_settings(tmp_path / "nothing-here"))
    with pytest.raises(NoPromotedModelError) as error:
        holder.load_promoted()
    assert "python -m training train" in str(error.value) and "--promote" in str(error.value)
    assert not holder.ready


def test_a_promoted_version_that_fails_to_load_leaves_the_old_one_serving(registry_clone, e5_embedders_root):
    registry_dir, version = registry_clone
    metrics = create()
    holder = ModelHolder(_settings(registry_dir, e5_embedders_root), metrics)
    holder.load_promoted()
    broken = "29990101T000000Z-broken"
    _clone_version(registry_dir, version, broken)
    (registry_dir / broken / "booster.txt").write_text("not a booster")
    (registry_dir / "PROMOTED").write_text(broken + "\n")  # as a careless operator would

    assert asyncio.run(holder.poll()) is False
    assert holder.version == version
    assert metrics.model_load_failures._value.get() == 1
    assert asyncio.run(holder.poll()) is False  # the same broken version is not retried on every poll
    assert metrics.model_load_failures._value.get() == 1


def test_poll_swaps_in_a_newly_promoted_version(registry_clone, e5_embedders_root):
    registry_dir, version = registry_clone
    metrics = create()
    holder = ModelHolder(_settings(registry_dir, e5_embedders_root), metrics)
    holder.load_promoted()
    serving_embedder = holder.predictor.embedder
    assert asyncio.run(holder.poll()) is False  # nothing new
    newer = "29990101T000000Z-newer1"
    _clone_version(registry_dir, version, newer)
    Registry(registry_dir, embedder_dir=e5_embedders_root).promote(newer)
    assert asyncio.run(holder.poll()) is True
    assert holder.version == newer
    info = {s.labels["version"]: s.value for s in metrics.model_info.collect()[0].samples}
    assert info == {newer: 1.0}
    # Same embedder (sha256, variant, token cap): the ONNX session is shared, not loaded twice.
    assert holder.predictor.embedder is serving_embedder


def test_a_version_with_another_embedder_variant_gets_its_own_session(registry_clone, e5_embedders_root):
    registry_dir, version = registry_clone
    holder = ModelHolder(_settings(registry_dir, e5_embedders_root))
    holder.load_promoted()
    serving_embedder = holder.predictor.embedder
    fp32 = "29990101T000000Z-fp32em"
    _clone_version(registry_dir, version, fp32)
    manifest_path = registry_dir / fp32 / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["embedder"]["variant"] = "fp32"
    manifest["embedder"]["sha256"] = json.loads(
        (e5_embedders_root / manifest["embedder"]["name"] / "manifest.json").read_text())["files"]["onnx/model.onnx"]
    manifest_path.write_text(json.dumps(manifest))
    (registry_dir / "PROMOTED").write_text(fp32 + "\n")
    assert asyncio.run(holder.poll()) is True
    assert holder.predictor.embedder is not serving_embedder
    assert (holder.predictor.embedder.variant, serving_embedder.variant) == ("fp32", "int8-token")


@pytest.mark.slow
def test_worker_swaps_the_model_between_batches(kafka_bootstrap, kafka_topics, kafka_group_id, registry_clone,
                                                e5_embedders_root, start_worker):
    registry_dir, version = registry_clone
    newer = "29990101T000000Z-swap01"
    _clone_version(registry_dir, version, newer)
    topics = kafka_topics(partitions=2)
    worker = start_worker(worker_env(kafka_bootstrap, topics, registry_dir, kafka_group_id("swap"),
                                     TICKETS_EMBEDDER_DIR=str(e5_embedders_root), TICKETS_MODEL_POLL_S="0.5"))
    assert worker.wait_ready(90)["model_version"] == version

    rows = load_rows(REPO / "data/it-service-tickets/tickets.csv.gz", limit=120)
    before = [ticket_event(i, t, "before") for i, t in zip(rows.indices[:60], rows.texts[:60])]
    after = [ticket_event(i, t, "after") for i, t in zip(rows.indices[60:], rows.texts[60:])]
    as_records = lambda events: [(e["ticket_id"].encode(), json.dumps(e).encode()) for e in events]
    parse = lambda r: json.loads(r.value)

    asyncio.run(produce(kafka_bootstrap, topics.raw, as_records(before)))
    want_before = {e["ticket_id"] for e in before}
    asyncio.run(read_topic(kafka_bootstrap, topics.classified,
                           lambda recs: want_before <= {r["ticket_id"] for r in recs}, 90, parse=parse))

    Registry(registry_dir, embedder_dir=e5_embedders_root).promote(newer)
    deadline = time.monotonic() + 60
    while worker.readyz()[1].get("model_version") != newer and time.monotonic() < deadline:
        time.sleep(0.3)
    assert worker.readyz()[1]["model_version"] == newer

    asyncio.run(produce(kafka_bootstrap, topics.raw, as_records(after)))
    want = want_before | {e["ticket_id"] for e in after}
    records = asyncio.run(read_topic(kafka_bootstrap, topics.classified,
                                     lambda recs: want <= {r["ticket_id"] for r in recs}, 90, parse=parse))
    events = [json.loads(r.value) for r in records]
    assert want <= {e["ticket_id"] for e in events}  # nothing dropped around the swap
    assert {e["model_version"] for e in events if e["ticket_id"].startswith("before-")} == {version}
    assert {e["model_version"] for e in events if e["ticket_id"].startswith("after-")} == {newer}
    assert len(events) == len(want)  # nothing classified twice either


def _holder(registry_dir, embedder_dir, mode="shadow", metrics=None) -> ModelHolder:
    env = {"TICKETS_REGISTRY_DIR": str(registry_dir), "TICKETS_EMBEDDER_DIR": str(embedder_dir),
           "TICKETS_CHALLENGER_MODE": mode}
    return ModelHolder(Settings.from_env(env), metrics)


def _arm_info(metrics) -> dict:
    return {s.labels["arm"]: s.labels["version"] for s in metrics.arm_info.collect()[0].samples}


def test_the_challenger_alias_is_loaded_followed_and_promoted_without_a_reload(registry_clone, e5_embedders_root):
    from tests.fixtures.challenger import clone_version

    registry_dir, version = registry_clone
    challenger = clone_version(registry_dir, version, "29990101T000000Z-chall1", threshold=1.0)
    registry = Registry(registry_dir, embedder_dir=e5_embedders_root)
    registry.set_alias("challenger", challenger, reason="test")
    metrics = create()
    holder = _holder(registry_dir, e5_embedders_root, metrics=metrics)
    holder.load_promoted()
    champion, loaded = holder.arms()
    assert (champion.version, loaded.version) == (version, challenger)
    assert loaded.embedder is champion.embedder  # one ONNX session for both arms
    assert _arm_info(metrics) == {"champion": version, "challenger": challenger}
    assert asyncio.run(holder.poll()) is False

    registry.unset_alias("challenger")
    assert asyncio.run(holder.poll()) is True and holder.challenger is None
    assert _arm_info(metrics) == {"champion": version}
    registry.set_alias("challenger", challenger)
    assert asyncio.run(holder.poll()) is True and holder.challenger_version == challenger
    kept = holder.challenger

    registry.promote(challenger, reason="won the comparison")  # the challenger alias still points at it
    assert asyncio.run(holder.poll()) is True
    assert holder.predictor is kept and holder.challenger is None  # promoted: no second load, no self-shadow
    assert _arm_info(metrics) == {"champion": challenger}


def test_a_challenger_is_ignored_when_the_mode_is_off_and_a_broken_one_leaves_the_champion_alone(
        registry_clone, e5_embedders_root):
    from tests.fixtures.challenger import clone_version

    registry_dir, version = registry_clone
    good = clone_version(registry_dir, version, "29990101T000000Z-chall1")
    Registry(registry_dir, embedder_dir=e5_embedders_root).set_alias("challenger", good)
    off = _holder(registry_dir, e5_embedders_root, mode="off")
    off.load_promoted()
    assert off.challenger is None and asyncio.run(off.poll()) is False

    broken = clone_version(registry_dir, version, "29990101T000000Z-broken")
    (registry_dir / broken / "booster.txt").write_text("not a booster")
    (registry_dir / "CHALLENGER").write_text(broken + "\n")  # by hand: the registry would refuse it
    metrics = create()
    holder = _holder(registry_dir, e5_embedders_root, mode="split", metrics=metrics)
    holder.load_promoted()
    assert holder.version == version and holder.challenger is None
    assert metrics.model_load_failures._value.get() == 1
    assert asyncio.run(holder.poll()) is False  # not retried on every poll
    assert metrics.model_load_failures._value.get() == 1
