"""What a version stores about its kNN reference tickets, and the switch that leaves their text out."""
from __future__ import annotations

import gzip
import json

import pytest

from stream.inference.predictor import Predictor
from stream.inference.references import NEIGHBOURS_META
from stream.inference.neighbours import NeighbourVotes
from tests.fixtures.models import ONE_THREAD, SHIPPED_DATA, SMALL_MODEL_ROWS, train_into
from training.config import ConfigError, load_config


def _meta(folder):
    lines = [json.loads(line) for line in gzip.open(folder / NEIGHBOURS_META, "rt", encoding="utf-8")]
    return lines[0], lines[1:]


def test_reference_tickets_are_named_by_source_row_with_label_and_masked_excerpt(trained_registry, shipped_tickets):
    root, version = trained_registry
    folder = root / version
    manifest = json.loads((folder / "manifest.json").read_text())
    assert NEIGHBOURS_META in manifest["files"]  # checked by sha256 at load like every artifact
    header, rows = _meta(folder)
    votes = NeighbourVotes.load(folder / "neighbours.npz")
    assert header["rows"] == len(rows) == len(votes.labels) and header["excerpts"] is True
    assert [r["label"] for r in rows] == [manifest["labels"][i] for i in votes.labels]
    for row in rows[:200]:
        # No id column in the shipped data: the id is the row's position in the source file.
        assert shipped_tickets["Topic_group"].iloc[int(row["id"])] == row["label"]
        assert 0 < len(row["excerpt"]) <= 160
    assert len({r["id"] for r in rows}) == len(rows)


@pytest.fixture(scope="module")
def cached_sample():
    """Cleaned tickets of the fixture model's own sample, so their embeddings are cached."""
    from training.train import load_data, stratified_sample

    config = load_config().replace(data={"path": str(SHIPPED_DATA)})
    frame = stratified_sample(load_data(config, progress=False).frame, SMALL_MODEL_ROWS, 42)
    return frame.iloc[:400].assign(ticket_id=[f"SN-{i:05d}" for i in range(400)])


def test_excerpts_off_keeps_ids_and_labels_only(tmp_path, cached_sample, e5_embedders_root):
    outcome = train_into(tmp_path, cached_sample, embedder_dir=e5_embedders_root, lightgbm=ONE_THREAD,
                         neighbours={"excerpts": False})
    header, rows = _meta(outcome.path)
    assert header["excerpts"] is False and rows and all(set(r) == {"id", "label"} for r in rows)
    assert all(r["id"].startswith("SN-") for r in rows)  # the data's own ids
    assert not any(r["text"][:40] in gzip.open(outcome.path / NEIGHBOURS_META).read().decode()
                   for _, r in cached_sample.iterrows())
    # The full model: a ticket this clear would take the lexical shortcut and show no neighbours at all.
    prediction = Predictor.load(outcome.path, e5_embedders_root, use_shortcut=False).predict(
        ["my laptop screen is broken"])[0]
    assert len(prediction.evidence.neighbours) == 3
    assert all(n.ticket_id.startswith("SN-") and n.excerpt is None for n in prediction.evidence.neighbours)


def test_excerpt_length_is_bounded_by_the_config():
    with pytest.raises(ConfigError, match="excerpt_chars"):
        load_config().replace(neighbours={"excerpt_chars": 5000})
    assert load_config().replace(neighbours={"excerpts": False}).neighbours.excerpts is False
