"""A fixed train / held-out split of the shipped dataset, so the demo only replays unseen tickets."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSplit:
    train: Path
    holdout: Path


def make_split(data: Path, out_dir: Path, text_col: str, label_col: str,
               holdout: int, seed: int = 7) -> DemoSplit:
    """Write ``train.csv.gz`` and ``holdout.csv.gz`` once (stratified); reuse them afterwards.

    The split is deterministic (fixed seed) and keyed on the source file's size
    and name, so re-running the demo never moves tickets between the halves.
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{data.name}-{data.stat().st_size}-{holdout}-{seed}"
    split = DemoSplit(out_dir / "train.csv.gz", out_dir / "holdout.csv.gz")
    stamp = out_dir / "split.tag"
    if split.train.is_file() and split.holdout.is_file() and stamp.is_file() and stamp.read_text() == tag:
        return split
    frame = pd.read_csv(data, usecols=[text_col, label_col], dtype=str, keep_default_na=False)
    train, held = train_test_split(frame, test_size=holdout, stratify=frame[label_col], random_state=seed)
    train.to_csv(split.train, index=False)
    held.reset_index(drop=True).to_csv(split.holdout, index=False)
    stamp.write_text(tag)
    log.info("demo split written", extra={"train": len(train), "holdout": len(held)})
    return split
