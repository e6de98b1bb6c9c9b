"""A fine-tuned embedder end to end: fine-tune → export → train a version on it → a worker serves it."""
from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from stream.devtools.replay import load_rows, ticket_event
from tests.fixtures.models import ONE_THREAD, SHIPPED_DATA, train_into
from tests.fixtures.worker import worker_env
from tests.fixtures.kafka_io import produce, read_topic
from training.cli import main
from training.train import stratified_sample

pytestmark = pytest.mark.slow

NAME = "e5-tuned-test"


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, e5_embedder_dir, shipped_tickets):
    """(embedder dir holding the default and NAME, the tickets it was tuned on): a few steps on 240 tickets."""
    root = tmp_path_factory.mktemp("embedders")
    (root / e5_embedder_dir.name).symlink_to(e5_embedder_dir)
    tickets = stratified_sample(shipped_tickets.rename(columns={"Topic_group": "label"}), 240, 0)
    data = root.parent / "tune.csv"
    tickets.rename(columns={"label": "Topic_group"}).to_csv(data, index=False)
    code = main(["fine-tune-embedder", "--data", str(data), "--text-col", "Document", "--label-col", "Topic_group",
                 "--base", e5_embedder_dir.name, "--name", NAME, "--embedder-dir", str(root), "--max-steps", "2",
                 "--batch-size", "8", "--max-seq-length", "32", "--threads", "1", "--device", "cpu",
                 "--work-dir", str(root.parent / "work"), "--no-progress"])
    assert code == 0
    return root, tickets


def test_the_export_names_its_parent_data_and_parameters(tuned, e5_embedder_dir):
    root, _ = tuned
    manifest = json.loads((root / NAME / "manifest.json").read_text())
    parent = json.loads((e5_embedder_dir / "manifest.json").read_text())
    ft = manifest["fine_tune"]
    assert manifest["name"] == NAME
    assert manifest["files"]["onnx/model.int8.onnx"] != parent["files"]["onnx/model.int8.onnx"]
    assert ft["parent"] == {"name": e5_embedder_dir.name, "onnx_sha256": parent["files"]["onnx/model.onnx"],
                            "int8_sha256": parent["files"]["onnx/model.int8.onnx"],
                            "source_sha256": parent["source_sha256"]}
    assert len(ft["data"]["fingerprint"]) == 64 and ft["params"]["max_steps"] == 2 and ft["complete"]
    assert manifest["parity"]["fp32_vs_torch_min_cosine"] >= 0.999 and manifest["max_tokens"] == parent["max_tokens"]
    keys = np.load(root / NAME / "fine_tune" / "train_keys.npy")
    assert len(keys) == ft["data"]["rows_train"] and 200 < ft["data"]["rows_train"] + ft["data"]["rows_held_out"] <= 240


def test_a_version_trained_on_it_is_served_by_the_worker(tuned, tmp_path, kafka_bootstrap, kafka_topics,
                                                         kafka_group_id, start_worker):
    root, tickets = tuned
    frame = tickets.rename(columns={"Document": "text"})
    outcome = train_into(tmp_path / "registry", frame, embedder_dir=root, promote=True, lightgbm=ONE_THREAD,
                         embedder={"name": NAME, "cache_dir": str(tmp_path / "cache")})
    manifest = json.loads((outcome.path / "manifest.json").read_text())
    tuned_manifest = json.loads((root / NAME / "manifest.json").read_text())
    assert manifest["embedder"]["name"] == NAME
    assert manifest["embedder"]["sha256"] == tuned_manifest["files"]["onnx/model.int8-token.onnx"]

    topics = kafka_topics(partitions=1)
    rows = load_rows(SHIPPED_DATA, limit=20, skip=1000)
    events = [ticket_event(i, text, "tuned") for i, text in zip(rows.indices, rows.texts)]
    asyncio.run(produce(kafka_bootstrap, topics.raw, [(e["ticket_id"].encode(), json.dumps(e).encode())
                                                      for e in events]))
    env = worker_env(kafka_bootstrap, topics, tmp_path / "registry", kafka_group_id("tuned"),
                     TICKETS_EMBEDDER_DIR=str(root))
    start_worker(env).wait_ready(120)
    want = {e["ticket_id"] for e in events}
    records = asyncio.run(read_topic(kafka_bootstrap, topics.classified,
                                     lambda recs: want <= {json.loads(r.value)["ticket_id"] for r in recs}, 180))
    classified = [json.loads(r.value) for r in records]
    assert want <= {c["ticket_id"] for c in classified}
    assert {c["model_version"] for c in classified} == {outcome.version}
    assert {c["embedder_id"] for c in classified} == {manifest["embedder"]["id"]}
    assert manifest["embedder"]["id"].startswith(NAME)
