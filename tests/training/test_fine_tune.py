"""Fine-tuning pieces: label-balanced batches, the losses, held-out kNN, budget, checkpoint and resume."""
from __future__ import annotations

import numpy as np
import pytest

from training.exceptions import TrainingError
from training.fine_tune.batches import balanced_batch, group_by_label
from training.fine_tune.losses import LOSSES, loss_function
from training.fine_tune.run import knn_accuracy


def clustered(n_labels=4, per_label=4, noise=0.05, seed=0):
    """Label-grouped rows (as balanced_batch orders them) around one random direction per label."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, 16))
    labels = np.repeat(np.arange(n_labels), per_label)
    vectors = centres[labels] + noise * rng.normal(size=(len(labels), 16))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), labels


def test_balanced_batch_is_a_function_of_seed_and_step():
    y = np.array([0] * 50 + [1] * 5 + [2] * 20 + [3] * 1)
    by_label = group_by_label(y)
    rows, labels = balanced_batch(by_label, batch_size=12, per_label=4, seed=7, step=3)
    again, _ = balanced_batch(by_label, batch_size=12, per_label=4, seed=7, step=3)
    other, _ = balanced_batch(by_label, batch_size=12, per_label=4, seed=7, step=4)
    assert np.array_equal(rows, again) and not np.array_equal(rows, other)
    assert np.array_equal(y[rows], labels) and len(set(labels)) == 3 and 3 not in labels  # a singleton has no positive
    assert all((labels == label).sum() == 4 for label in set(labels))


@pytest.mark.parametrize("name", LOSSES)
def test_each_loss_prefers_a_space_that_separates_the_labels(name):
    torch = pytest.importorskip("torch")
    vectors, labels = clustered()
    shuffled = np.random.default_rng(1).permutation(vectors)
    loss = loss_function(name)
    good = float(loss(torch.tensor(vectors, dtype=torch.float32), torch.tensor(labels)))
    bad = float(loss(torch.tensor(shuffled, dtype=torch.float32), torch.tensor(labels)))
    assert good < bad


def test_held_out_knn_accuracy_reads_the_space():
    vectors, labels = clustered(per_label=10)
    assert knn_accuracy(vectors, labels) == 1.0
    mixed = np.random.default_rng(2).permutation(labels)
    assert knn_accuracy(vectors, mixed) < 0.6


@pytest.fixture(scope="module")
def small_model(e5_embedder_dir):
    """Load the default embedder's sentence-transformers folder (a fresh copy per call)."""
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    def load():
        model = SentenceTransformer(str(e5_embedder_dir / "hf"), device="cpu", local_files_only=True)
        model.max_seq_length = 16
        model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
        return model

    return load


def test_budget_stops_at_a_checkpoint_and_resuming_equals_an_uninterrupted_run(small_model, tmp_path):
    import torch

    from tests.training.synthetic import synthetic_frame
    from training.fine_tune.loop import LoopSettings, train_loop, trainable_state

    frame = synthetic_frame(per_label=6)
    texts = ["query: " + t for t in frame["text"]]
    y = np.array([sorted(set(frame["label"])).index(v) for v in frame["label"]])
    meta = {"data_fingerprint": "x", "params": {"loss": "supcon"}}

    def settings(max_minutes):
        return LoopSettings(loss="supcon", steps=3, batch_size=6, per_label=2, learning_rate=1e-4,
                            warmup_fraction=0.1, seed=3, max_minutes=max_minutes, checkpoint_minutes=60)

    torch.set_num_threads(1)
    straight = small_model()
    done = train_loop(straight, texts, y, settings(None), tmp_path / "straight", meta, progress=False)
    assert done.complete and done.steps_done == 3

    interrupted = small_model()
    first = train_loop(interrupted, texts, y, settings(1e-6), tmp_path / "ckpt", meta, progress=False)
    assert (first.steps_done, first.complete) == (1, False) and (tmp_path / "ckpt" / "state.pt").is_file()
    resumed = small_model()  # a new process: only the checkpoint carries the state
    second = train_loop(resumed, texts, y, settings(None), tmp_path / "ckpt", meta, progress=False)
    assert second.resumed_from == 1 and second.complete and second.steps_done == 3
    a, b = trainable_state(straight), trainable_state(resumed)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    query = next(k for k in a if k.endswith("layer.0.attention.self.query.weight"))
    assert not torch.allclose(a[query], trainable_state(small_model())[query])  # it did train

    with pytest.raises(TrainingError, match="--restart"):
        train_loop(small_model(), texts, y, settings(None), tmp_path / "ckpt", {**meta, "data_fingerprint": "y"},
                   progress=False)
