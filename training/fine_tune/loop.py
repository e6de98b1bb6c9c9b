"""The training loop: time budget, atomic checkpoints, resumption, progress with an ETA.

A checkpoint holds the trainable weights, the optimiser and scheduler state, the step and
the loss history, plus ``meta.json`` (data fingerprint, base model, parameters). A run whose
meta matches resumes at the checkpoint's step; batches depend only on (seed, step), so the
resumed run sees exactly the batches the uninterrupted one would have.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..exceptions import TrainingError
from .batches import balanced_batch, group_by_label
from .losses import loss_function

log = logging.getLogger(__name__)

STATE = "state.pt"
META = "meta.json"


@dataclass
class LoopSettings:
    loss: str
    steps: int
    batch_size: int
    per_label: int
    learning_rate: float
    warmup_fraction: float
    seed: int
    max_minutes: float | None
    checkpoint_minutes: float


@dataclass
class LoopResult:
    steps_done: int
    steps_planned: int
    complete: bool
    resumed_from: int
    seconds: float
    losses: list[float] = field(default_factory=list)  # mean loss per 10 steps


def embed(model, texts: list[str]):
    """Normalised embeddings (torch, on the model's device) of ``texts``; gradients flow."""
    prepare = getattr(model, "preprocess", None) or model.tokenize  # sentence-transformers ≥ 5 renamed it
    features = prepare(texts)
    features = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in features.items()}
    return model(features)["sentence_embedding"]


def trainable_state(model) -> dict:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if k in names}


def save_checkpoint(folder: Path, model, optimizer, scheduler, step: int, losses: list[float], meta: dict) -> None:
    """Write to a sibling folder, then swap: a checkpoint is whole or absent."""
    import torch

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save({"model": trainable_state(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "step": step, "losses": losses}, tmp / STATE)
    (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    log.info("checkpoint", extra={"step": step, "folder": str(folder)})


def load_checkpoint(folder: Path, meta: dict, model, optimizer, scheduler) -> tuple[int, list[float]]:
    """Resume from ``folder`` when it was written for the same data, base and parameters (else step 0)."""
    import torch

    if not (folder / STATE).is_file():
        return 0, []
    saved = json.loads((folder / META).read_text())
    if saved != json.loads(json.dumps(meta, sort_keys=True)):
        differ = sorted(k for k in set(saved) | set(meta) if saved.get(k) != meta.get(k))
        raise TrainingError(f"the checkpoint in {folder} was made with other {', '.join(differ)}; "
                            f"rerun with the same settings to resume, or pass --restart to start over")
    state = torch.load(folder / STATE, map_location=model.device, weights_only=False)
    model.load_state_dict(state["model"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return int(state["step"]), list(state["losses"])


def train_loop(model, texts: list[str], y: np.ndarray, settings: LoopSettings, checkpoint: Path, meta: dict,
               progress: bool = True) -> LoopResult:
    """Train until ``settings.steps`` or the time budget, checkpointing on the way and at the end.

    The budget is checked after each step, so every run makes progress.
    """
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.01)
    warmup = max(1, int(settings.steps * settings.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (settings.steps - s) / max(1, settings.steps - warmup))))
    start, losses = load_checkpoint(checkpoint, meta, model, optimizer, scheduler)
    if start:
        log.info("resuming", extra={"step": start, "steps": settings.steps})
    by_label = group_by_label(y)
    loss_fn = loss_function(settings.loss)
    began = last_checkpoint = time.monotonic()
    deadline = None if settings.max_minutes is None else began + 60 * settings.max_minutes
    model.train()
    step, window = start, []
    with tqdm(total=settings.steps, initial=start, desc=f"fine-tuning ({settings.loss})", unit="step",
              disable=not progress) as bar:
        while step < settings.steps:
            torch.manual_seed(settings.seed * 1_000_003 + step)  # dropout too is a function of the step
            rows, labels = balanced_batch(by_label, settings.batch_size, settings.per_label, settings.seed, step)
            emb = embed(model, [texts[i] for i in rows])
            loss = loss_fn(emb, torch.as_tensor(labels, device=emb.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            window.append(float(loss.detach()))
            if len(window) == 10:
                losses.append(float(np.mean(window)))
                window = []
            bar.update(1)
            bar.set_postfix(loss=f"{window[-1] if window else losses[-1]:.4f}")
            if time.monotonic() - last_checkpoint >= 60 * settings.checkpoint_minutes:
                save_checkpoint(checkpoint, model, optimizer, scheduler, step, losses, meta)
                last_checkpoint = time.monotonic()
            if deadline is not None and time.monotonic() >= deadline and step < settings.steps:
                log.info("time budget reached", extra={"max_minutes": settings.max_minutes, "step": step,
                                                       "steps": settings.steps})
                break
    if window:
        losses.append(float(np.mean(window)))
    if step > start:
        save_checkpoint(checkpoint, model, optimizer, scheduler, step, losses, meta)
    model.eval()
    return LoopResult(steps_done=step, steps_planned=settings.steps, complete=step >= settings.steps,
                      resumed_from=start, seconds=time.monotonic() - began, losses=losses)
