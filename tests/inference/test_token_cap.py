"""The token cap and its cut (head or head+tail) are a property of the model version:
training embeds with them, the version's manifest records them, serving reads them back."""
import json
import shutil

import numpy as np
import pytest

from stream.config import Settings
from stream.inference.embedder import TAIL_SHARE, OnnxEmbedder, head_tail
from stream.inference.predictor import read_manifest
from stream.worker.live_model import load_predictor
from tests.fixtures.models import ONE_THREAD, train_into

LONG = ("subject printer on floor three " + "the queue shows paper jam again and again " * 40
        + "question can you please replace the fuser unit")


def test_head_tail_keeps_the_start_and_the_end():
    ids = [0] + list(range(100, 200)) + [2]
    cut = head_tail(ids, 22)
    tail = 20 // TAIL_SHARE
    assert len(cut) == 22 and cut[0] == 0 and cut[-1] == 2
    assert cut[1:1 + 20 - tail] == ids[1:1 + 20 - tail]
    assert cut[-1 - tail:-1] == ids[-1 - tail:-1]
    assert head_tail(ids[:10], 22) == ids[:10]


def test_head_tail_embedder_cuts_the_full_token_sequence(e5_embedder_dir):
    embedder = OnnxEmbedder.load(e5_embedder_dir, max_tokens=48, truncation="head+tail", verify=False)
    full = embedder._tokenizer.encode("query: " + LONG).ids  # noqa: SLF001 - the shipped tokenizer
    assert len(full) > 48
    assert embedder.tokenize([LONG])[0] == head_tail(full, 48)
    head = OnnxEmbedder.load(e5_embedder_dir, max_tokens=48, verify=False)
    assert head.tokenize([LONG])[0][:30] == full[:30] and head.tokenize([LONG])[0] != head_tail(full, 48)
    with pytest.raises(ValueError, match="truncation"):
        OnnxEmbedder.load(e5_embedder_dir, truncation="tail", verify=False)


def test_training_and_serving_cut_tickets_the_same_way(tmp_path, e5_embedders_root):
    from training.config import load_config
    from training.train import open_embedder

    cap = {"max_tokens": 64, "truncation": "head+tail"}
    outcome = train_into(tmp_path / "registry", sample=300, embedder_dir=e5_embedders_root,
                         feature_blocks=["embedding"], embedder=cap, lightgbm=ONE_THREAD)
    spec = read_manifest(outcome.path)["embedder"]
    assert (spec["max_tokens"], spec["truncation"]) == (64, "head+tail")

    served = load_predictor(outcome.path, Settings.from_env({"TICKETS_EMBEDDER_DIR": str(e5_embedders_root)}))
    assert (served.embedder.max_tokens, served.embedder.truncation) == (64, "head+tail")
    trained = open_embedder(load_config().replace(embedder=cap), e5_embedders_root, progress=False)
    assert trained.inner.tokenize([LONG]) == served.embedder.tokenize([LONG])
    # the cache the booster was trained on holds what serving computes (float16 storage)
    cached, fresh = trained.embed([LONG])[0], served.embedder.embed([LONG])[0]
    assert float(cached @ fresh) > 0.999


def test_a_version_from_before_the_cut_was_recorded_is_served_head_first(trained_registry, e5_embedders_root,
                                                                         tmp_path):
    registry, version = trained_registry
    copy = tmp_path / version
    shutil.copytree(registry / version, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["embedder"].pop("truncation", None)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    served = load_predictor(copy, Settings.from_env({"TICKETS_EMBEDDER_DIR": str(e5_embedders_root)}))
    assert served.embedder.truncation == "head"
    assert np.isfinite(served.embedder.embed([LONG])).all()
