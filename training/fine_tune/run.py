"""Fine-tune a built embedder on labelled tickets and export it as a new embedder folder.

Data goes through the training pipeline (same cleaning and assembly as serving), rare
categories are set aside, and a stratified held-out part measures the space before and after
(leave-one-out kNN accuracy among the held-out tickets). The tuned model is exported through
the ordinary export path (ONNX fp32 + int8, parity figures), with the parent's tokenizer, and
its manifest gains a ``fine_tune`` section: parent (name, sha256s), data fingerprint,
parameters, steps, held-out figures. ``fine_tune/train_keys.npy`` lists the text keys it
learned from, so a benchmark never tests on them.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..config import TrainConfig
from ..embed import text_key
from ..exceptions import NotEnoughDataError, TrainingError
from ..prepare import PreparedData
from ..rare import handle_rare
from ..split import stratified_split
from ..train import load_data, stratified_sample
from .loop import LoopSettings, train_loop

log = logging.getLogger(__name__)

TRAIN_KEYS = Path("fine_tune") / "train_keys.npy"


@dataclass(frozen=True)
class FineTuneParams:
    """What defines a fine-tune (a checkpoint resumes only under the same values)."""

    loss: str = "supcon"
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 32
    per_label: int = 4
    learning_rate: float = 3e-5
    warmup_fraction: float = 0.1
    max_seq_length: int = 128
    holdout_fraction: float = 0.1
    max_holdout: int = 1000
    freeze_token_embeddings: bool = True
    seed: int = 42


@dataclass
class FineTuneOutcome:
    folder: Path
    manifest: dict


def default_work_dir(name: str) -> Path:
    return Path("~/.cache/ticket-classifier/fine-tune").expanduser() / name


def knn_accuracy(vectors: np.ndarray, y: np.ndarray, k: int = 10) -> float:
    """Leave-one-out accuracy of a similarity-weighted k-nearest-neighbour vote among ``vectors``."""
    sim = vectors @ vectors.T
    np.fill_diagonal(sim, -np.inf)
    k = min(k, len(y) - 1)
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    votes = np.zeros((len(y), int(y.max()) + 1))
    for j in range(k):
        np.add.at(votes, (np.arange(len(y)), y[top[:, j]]), np.exp(10 * (sim[np.arange(len(y)), top[:, j]] - 1)))
    return float((votes.argmax(axis=1) == y).mean())


def _encode(model, texts: list[str], batch_size: int = 32) -> np.ndarray:
    import torch

    from .loop import embed

    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            out.append(embed(model, texts[start:start + batch_size]).cpu().numpy())
    return np.concatenate(out)


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda: torch sees no CUDA device here (this build may be CPU-only); "
                            "use --device cpu or auto")
    return device


def fine_tune_embedder(config: TrainConfig, embedder_dir, *, base: str, name: str, params: FineTuneParams,
                       max_minutes: float | None = None, device: str = "auto", work_dir=None,
                       restart: bool = False, checkpoint_minutes: float = 5.0, threads: int | None = None,
                       prepared: PreparedData | None = None, progress: bool = True) -> FineTuneOutcome:
    """Fine-tune ``embedder_dir/base`` on the configured data; write ``embedder_dir/name``."""
    import shutil

    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from training.embedders import manifest as manifest_mod
    from training.embedders.export import export_embedder

    embedder_dir = Path(embedder_dir).expanduser()
    base_dir, out_dir = embedder_dir / base, embedder_dir / name
    if name == base:
        raise TrainingError("--name must differ from --base: the parent embedder stays as it is")
    parent = manifest_mod.read_manifest(base_dir)
    if parent is None or not (base_dir / "hf" / "modules.json").is_file():
        raise TrainingError(f"{base_dir} is not a built embedder with its hf/ folder "
                            f"(build the default with `python -m training build-embedder`)")
    if threads:
        torch.set_num_threads(threads)
    prepared = prepared or load_data(config, progress)
    frame = stratified_sample(prepared.frame, config.data.sample, params.seed)
    frame, rare = handle_rare(frame, config.data.min_class_count, config.data.rare_label)
    labels = sorted(frame["label"].unique())
    if len(labels) < 2:
        raise NotEnoughDataError(f"fine-tuning needs at least two categories, got {labels}")
    y_all = np.array([labels.index(v) for v in frame["label"]])
    n_held = min(params.max_holdout, max(len(labels), int(len(frame) * params.holdout_fraction)))
    train_idx, held_idx = stratified_split(len(frame), y_all, n_held, params.seed)
    texts = frame["text"].tolist()
    prefix = parent.get("prefix", "")
    train_texts = [prefix + texts[i] for i in train_idx]
    held_texts = [prefix + texts[i] for i in held_idx]
    y_train, y_held = y_all[train_idx], y_all[held_idx]
    steps = params.max_steps or max(1, int(np.ceil(params.epochs * len(train_idx) / params.batch_size)))

    device = _resolve_device(device)
    model = SentenceTransformer(str(base_dir / "hf"), device=device, local_files_only=True)
    full_length = model.max_seq_length
    model.max_seq_length = min(params.max_seq_length, full_length)
    if params.freeze_token_embeddings:
        # The 250K-token table is most of the weights: frozen, unseen languages' tokens keep their
        # place (cross-lingual transfer) and the optimiser state stays small.
        model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
    model.eval()
    before = knn_accuracy(_encode(model, held_texts), y_held)
    log.info("held-out kNN accuracy before fine-tuning: %.4f", before)

    work = Path(work_dir).expanduser() if work_dir else default_work_dir(name)
    if restart:
        shutil.rmtree(work / "checkpoint", ignore_errors=True)
    fingerprint = PreparedData(frame=frame, rows_read=len(frame)).fingerprint()
    meta = {"data_fingerprint": fingerprint, "base": base, "base_sha256": parent["files"]["onnx/model.onnx"],
            "params": asdict(params), "labels": labels}
    settings = LoopSettings(loss=params.loss, steps=steps, batch_size=params.batch_size,
                            per_label=2 if params.loss == "mnrl" else params.per_label,
                            learning_rate=params.learning_rate, warmup_fraction=params.warmup_fraction,
                            seed=params.seed, max_minutes=max_minutes, checkpoint_minutes=checkpoint_minutes)
    result = train_loop(model, train_texts, y_train, settings, work / "checkpoint", meta, progress)
    after = knn_accuracy(_encode(model, held_texts), y_held)
    log.info("held-out kNN accuracy", extra={"steps": result.steps_done, "accuracy": round(after, 4)})

    model.max_seq_length = full_length  # the export declares the parent's token limit, not the training crop
    hf_dir = work / "hf"
    shutil.rmtree(hf_dir, ignore_errors=True)
    model.save(str(hf_dir))
    tokenizer = Tokenizer.from_file(str(base_dir / "tokenizer.json"))  # exactly what the parent serves with
    export_embedder(hf_dir, out_dir, name=name, prefix=prefix, tokenizer=tokenizer,
                    source_label=f"fine-tuned from {base}", progress=progress)
    fields = manifest_mod.read_manifest(out_dir)
    for generated in ("files", "built_at"):
        fields.pop(generated, None)
    fields["fine_tune"] = {
        "parent": {"name": base, "onnx_sha256": parent["files"]["onnx/model.onnx"],
                   "int8_sha256": parent["files"]["onnx/model.int8.onnx"],
                   "source_sha256": parent.get("source_sha256")},
        "data": {"source": config.data.path or config.data.source, "fingerprint": fingerprint,
                 "rows_train": int(len(train_idx)), "rows_held_out": int(len(held_idx)), "labels": labels,
                 "rare_classes": rare.as_dict()},
        "params": asdict(params), "device": device,
        "steps_done": result.steps_done, "steps_planned": result.steps_planned, "complete": result.complete,
        "resumed_from_step": result.resumed_from, "train_seconds_this_run": round(result.seconds, 1),
        "loss_per_10_steps": [round(v, 5) for v in result.losses],
        "held_out_knn_accuracy": {"before": round(before, 4), "after": round(after, 4)},
    }
    (out_dir / TRAIN_KEYS).parent.mkdir(exist_ok=True)
    np.save(out_dir / TRAIN_KEYS, np.array([text_key(texts[i]) for i in train_idx], dtype="S40"))
    manifest = manifest_mod.write_manifest(out_dir, fields)
    return FineTuneOutcome(folder=out_dir, manifest=manifest)
