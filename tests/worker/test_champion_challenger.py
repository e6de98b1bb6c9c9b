"""Champion and challenger on the real model, in this process: shadow scoring, split traffic, the embedding shared."""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from schemas import parse_event, validate_json_schema
from stream.config import Settings
from stream.devtools.replay import load_rows, ticket_event
from stream.worker.arms import arm_of, bucket
from stream.worker.live_model import load_predictor
from tests.fixtures.challenger import clone_version
from tests.fixtures.inprocess_worker import handle, in_process_worker
from tests.fixtures.kafka_io import REPO

CHALLENGER = "29990101T000000Z-chall1"


@pytest.fixture(scope="module")
def arms(trained_registry, e5_embedders_root, tmp_path_factory):
    """(champion, challenger, settings): the challenger predicts the same categories but abstains on everything."""
    source, version = trained_registry
    registry = tmp_path_factory.mktemp("cc") / "registry"
    shutil.copytree(source, registry)
    clone_version(registry, version, CHALLENGER, threshold=1.0)
    settings = Settings.from_env({"TICKETS_REGISTRY_DIR": str(registry), "TICKETS_EMBEDDER_DIR": str(e5_embedders_root),
                                  "TICKETS_EMBED_MAX_TOKENS": "128"})
    champion = load_predictor(registry / version, settings)
    challenger = load_predictor(registry / CHALLENGER, settings, champion)
    return champion, challenger, settings


@pytest.fixture(scope="module")
def tickets():
    rows = load_rows(REPO / "data/it-service-tickets/tickets.csv.gz", limit=24)
    return [ticket_event(i, text, "cc") for i, text in zip(rows.indices, rows.texts)]


def _values(tickets):
    return [json.dumps(t).encode() for t in tickets]


def _count_embeds(monkeypatch, embedder) -> list[int]:
    calls: list[int] = []
    real = embedder.embed
    monkeypatch.setattr(embedder, "embed", lambda texts: calls.append(len(texts)) or real(texts))
    return calls


def _sample(worker, name, **labels):
    return worker.metrics.registry.get_sample_value(name, labels) or 0.0


def test_shadow_mode_publishes_the_champion_and_shadows_the_challenger_embedding_once(arms, tickets, monkeypatch):
    champion, challenger, _ = arms
    assert challenger.embedder is champion.embedder  # same sha256, variant, token cap: one ONNX session
    calls = _count_embeds(monkeypatch, champion.embedder)
    with ThreadPoolExecutor(1) as executor:
        worker = in_process_worker(champion, executor, challenger=challenger, TICKETS_CHALLENGER_MODE="shadow")
        stream = handle(worker, _values(tickets))
    n = len(tickets)
    assert len(stream.acked) == n and not worker.topics.dlq.records
    assert sum(calls) == n, "the challenger must reuse the champion's embeddings"

    served = [parse_event("classified_event", json.loads(v)) for _, v in worker.topics.classified.records]
    shadow = [json.loads(v) for _, v in worker.topics.shadow.records]
    assert {e.ticket_id for e in served} == {t["ticket_id"] for t in tickets} == {s["ticket_id"] for s in shadow}
    assert {(e.arm, e.model_version, e.schema_version) for e in served} == {("champion", champion.version, "4")}
    by_ticket = {e.ticket_id: e for e in served}
    direct = {t["ticket_id"]: p for t, p in zip(tickets, challenger.classify_tickets(tickets))}
    for document in shadow:
        validate_json_schema("shadow_classified_event", document)
        event = parse_event("shadow_classified_event", document)
        assert (event.arm, event.model_version, event.champion_version) == ("challenger", CHALLENGER, champion.version)
        assert event.champion_category == by_ticket[event.ticket_id].category
        # the shared embeddings give what the challenger computes on its own
        assert event.category == direct[event.ticket_id].category
        assert event.confidence == pytest.approx(direct[event.ticket_id].confidence, abs=1e-6)
        assert event.needs_human and event.event_id != by_ticket[event.ticket_id].event_id

    assert _sample(worker, "tickets_arm_predictions_total", arm="champion", traffic="served") == n
    assert _sample(worker, "tickets_arm_predictions_total", arm="challenger", traffic="shadow") == n
    assert _sample(worker, "tickets_arm_abstained_total", arm="challenger", traffic="shadow") == n
    assert _sample(worker, "tickets_arm_abstained_total", arm="champion", traffic="served") == \
        sum(e.needs_human for e in served) < n
    agreed = sum(s["category"] == by_ticket[s["ticket_id"]].category for s in shadow)
    assert _sample(worker, "tickets_arm_agreement_total", outcome="agree") == agreed == n
    assert _sample(worker, "tickets_arm_inference_seconds_count", arm="challenger") == 1


def test_a_challenger_with_another_embedder_embeds_for_itself(arms, tickets, monkeypatch):
    champion, _, settings = arms
    own = load_predictor(Path(settings.registry_dir) / CHALLENGER, settings)  # no current: its own session
    assert own.embedder is not champion.embedder
    # Each embeds what it does not answer by its lexical shortcut: the tickets it shows neighbours for.
    embedded = {p: sum(bool(x.evidence.neighbours) for x in p.classify_tickets(tickets[:6])) for p in (champion, own)}
    assert embedded[own] >= 1
    champion_calls, own_calls = _count_embeds(monkeypatch, champion.embedder), _count_embeds(monkeypatch, own.embedder)
    with ThreadPoolExecutor(1) as executor:
        worker = in_process_worker(champion, executor, challenger=own, TICKETS_CHALLENGER_MODE="shadow")
        handle(worker, _values(tickets[:6]))
    assert sum(champion_calls) == embedded[champion] and sum(own_calls) == embedded[own]
    assert len(worker.topics.shadow.records) == 6


def test_a_failing_challenger_never_costs_a_served_ticket(arms, tickets, monkeypatch):
    champion, challenger, _ = arms
    broken = copy.copy(challenger)
    monkeypatch.setattr(broken, "predict", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("challenger down")))
    with ThreadPoolExecutor(1) as executor:
        worker = in_process_worker(champion, executor, challenger=broken, TICKETS_CHALLENGER_MODE="shadow")
        stream = handle(worker, _values(tickets[:8]))
    assert len(stream.acked) == 8 and len(worker.topics.classified.records) == 8
    assert not worker.topics.shadow.records and not worker.topics.dlq.records
    assert _sample(worker, "tickets_arm_failures_total", arm="challenger", traffic="shadow") == 8


def test_split_mode_sends_a_stable_share_to_the_challenger(arms, tickets):
    champion, challenger, _ = arms
    with ThreadPoolExecutor(1) as executor:
        worker = in_process_worker(champion, executor, challenger=challenger, TICKETS_CHALLENGER_MODE="split",
                                   TICKETS_CHALLENGER_FRACTION="0.5")
        handle(worker, _values(tickets))
        handle(worker, _values(list(reversed(tickets))))  # redelivered in another order, other batch mates
    events = [parse_event("classified_event", json.loads(v)) for _, v in worker.topics.classified.records]
    assert len(events) == 2 * len(tickets) and not worker.topics.shadow.records
    arms_seen = {}
    for event in events:
        expected = arm_of(event.ticket_id, 0.5)
        assert event.arm == expected
        assert event.model_version == (CHALLENGER if expected == "challenger" else champion.version)
        assert event.needs_human or expected == "champion"  # the challenger abstains on everything
        assert arms_seen.setdefault(event.ticket_id, event.arm) == event.arm  # the same ticket, the same arm
    n_challenger = sum(a == "challenger" for a in arms_seen.values())
    assert 0 < n_challenger < len(tickets)
    assert _sample(worker, "tickets_arm_predictions_total", arm="challenger", traffic="served") == 2 * n_challenger


def test_without_a_challenger_every_mode_serves_the_champion_alone(arms, tickets):
    champion, _, _ = arms
    for mode in ("shadow", "split"):
        with ThreadPoolExecutor(1) as executor:
            worker = in_process_worker(champion, executor, TICKETS_CHALLENGER_MODE=mode,
                                       TICKETS_CHALLENGER_FRACTION="1.0")
            handle(worker, _values(tickets[:4]))
        arms_of = {json.loads(v)["arm"] for _, v in worker.topics.classified.records}
        assert arms_of == {"champion"} and not worker.topics.shadow.records


def test_the_arm_of_a_ticket_is_the_same_in_every_process_and_grows_with_the_fraction():
    ids = [f"INC-{i:05d}" for i in range(2000)]
    code = ("import json, sys; from stream.worker.arms import arm_of; "
            "print(json.dumps([arm_of(t, 0.2) for t in json.load(sys.stdin)]))")
    answers = []
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], input=json.dumps(ids), capture_output=True, text=True,
                             timeout=60, env={**os.environ, "PYTHONHASHSEED": seed})
        assert out.returncode == 0, out.stderr
        answers.append(json.loads(out.stdout))
    assert answers[0] == answers[1] == [arm_of(t, 0.2) for t in ids]
    share = answers[0].count("challenger") / len(ids)
    assert 0.17 < share < 0.23
    # raising the fraction only adds tickets to the challenger: none moves back
    assert all(arm_of(t, 0.3) == "challenger" for t in ids if arm_of(t, 0.2) == "challenger")
    assert {arm_of(t, 0.0) for t in ids} == {"champion"} and {arm_of(t, 1.0) for t in ids} == {"challenger"}
    assert all(0.0 <= bucket(t) < 1.0 for t in ids)


@pytest.mark.slow
def test_a_worker_in_shadow_mode_publishes_both_arms_on_the_broker(kafka_bootstrap, kafka_topics, kafka_group_id,
                                                                   trained_registry, e5_embedders_root, tmp_path,
                                                                   start_worker, tickets):
    import asyncio

    from stream.inference.registry import Registry
    from tests.fixtures.kafka_io import produce, read_topic
    from tests.fixtures.worker import worker_env

    source, version = trained_registry
    registry_dir = tmp_path / "registry"
    shutil.copytree(source, registry_dir)
    clone_version(registry_dir, version, CHALLENGER, threshold=1.0)
    Registry(registry_dir, embedder_dir=e5_embedders_root).set_alias("challenger", CHALLENGER, reason="shadow test")
    topics = kafka_topics(partitions=2)
    worker = start_worker(worker_env(kafka_bootstrap, topics, registry_dir, kafka_group_id("shadow"),
                                     TICKETS_EMBEDDER_DIR=str(e5_embedders_root), TICKETS_CHALLENGER_MODE="shadow"))
    ready = worker.wait_ready(90)
    assert (ready["model_version"], ready["challenger_version"], ready["challenger_mode"]) == \
        (version, CHALLENGER, "shadow")

    asyncio.run(produce(kafka_bootstrap, topics.raw, [(t["ticket_id"].encode(), json.dumps(t).encode())
                                                     for t in tickets]))
    want = {t["ticket_id"] for t in tickets}
    parse = lambda r: json.loads(r.value)
    got = lambda recs: want <= {r["ticket_id"] for r in recs}
    served = [parse(r) for r in asyncio.run(read_topic(kafka_bootstrap, topics.classified, got, 90, parse=parse))]
    shadow = [parse(r) for r in asyncio.run(read_topic(kafka_bootstrap, topics.shadow_topic, got, 60, parse=parse))]
    assert {e["ticket_id"] for e in served} == want == {e["ticket_id"] for e in shadow}
    assert {(e["arm"], e["model_version"]) for e in served} == {("champion", version)}
    assert {(e["arm"], e["model_version"], e["champion_version"]) for e in shadow} == {("challenger", CHALLENGER, version)}
    for document in shadow:
        validate_json_schema("shadow_classified_event", document)
