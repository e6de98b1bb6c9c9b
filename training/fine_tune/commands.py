"""CLI command ``fine-tune-embedder``."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    from ..commands import _add_columns
    from .losses import LOSSES
    from .run import FineTuneParams

    d = FineTuneParams()
    p = subparsers.add_parser(
        "fine-tune-embedder", help="fine-tune a built embedder on labelled tickets and export it under a new name",
        description="Supervised fine-tuning (sentence-transformers, same-label positives) of a built embedder "
                    "on the text exactly as serving assembles it; writes <embedder dir>/NAME (ONNX fp32 + int8) "
                    "that `train --embedder NAME` uses. Stops cleanly at --max-minutes; rerun to resume.")
    p.add_argument("--data", help="CSV / CSV.gz / Parquet file (or data.source: snowflake in --config)")
    p.add_argument("--config", help="YAML training config (columns, cleaning, data.min_class_count)")
    p.add_argument("--base", default="multilingual-e5-small",
                   help="built embedder to start from (needs its hf/ folder)")
    p.add_argument("--name", required=True, help="name of the new embedder (its folder under the embedder dir)")
    p.add_argument("--max-minutes", type=float, help="time budget: checkpoint, export and stop when reached")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="torch device (default auto)")
    p.add_argument("--loss", choices=LOSSES, default=d.loss, help=f"default {d.loss}")
    p.add_argument("--epochs", type=float, default=d.epochs, help=f"planned passes over the data (default {d.epochs})")
    p.add_argument("--max-steps", type=int, help="planned steps (overrides --epochs)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--per-label", type=int, default=d.per_label, help="tickets per label in a batch (mnrl: 2)")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--max-seq-length", type=int, default=d.max_seq_length, help="token crop while training")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--checkpoint-minutes", type=float, default=5.0, help="checkpoint interval (default 5)")
    p.add_argument("--restart", action="store_true", help="discard an existing checkpoint instead of resuming")
    p.add_argument("--work-dir", help="checkpoints (default ~/.cache/ticket-classifier/fine-tune/NAME)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    _add_columns(p)
    p.set_defaults(handler=_fine_tune)


def _fine_tune(args) -> int:
    from stream.config import Settings
    from stream.inference.exceptions import InferenceError
    from training.embedders.exceptions import EmbedderBuildError

    from ..commands import _config_from_args
    from ..exceptions import TrainingError
    from .run import FineTuneParams, fine_tune_embedder

    params = FineTuneParams(loss=args.loss, epochs=args.epochs, max_steps=args.max_steps,
                            batch_size=args.batch_size, per_label=args.per_label,
                            learning_rate=args.learning_rate, max_seq_length=args.max_seq_length, seed=args.seed)
    try:
        config = _config_from_args(args)
        outcome = fine_tune_embedder(
            config, args.embedder_dir or Settings.from_env().embedder_dir, base=args.base, name=args.name,
            params=params, max_minutes=args.max_minutes, device=args.device, work_dir=args.work_dir,
            restart=args.restart, checkpoint_minutes=args.checkpoint_minutes, threads=args.threads,
            progress=not args.no_progress)
    except (TrainingError, InferenceError, EmbedderBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ft = outcome.manifest["fine_tune"]
    knn = ft["held_out_knn_accuracy"]
    state = "complete" if ft["complete"] else "stopped by the time budget; rerun the same command to resume"
    print(f"embedder {args.name} written to {outcome.folder} ({ft['steps_done']}/{ft['steps_planned']} steps, {state})")
    print(f"held-out kNN accuracy {knn['before']:.4f} → {knn['after']:.4f} on {ft['data']['rows_held_out']} tickets; "
          f"parity int8 vs fp32 min cosine {outcome.manifest['parity'].get('int8_vs_fp32_min_cosine')}")
    print(f"use it: python -m training train --embedder {args.name} …")
    return 0
