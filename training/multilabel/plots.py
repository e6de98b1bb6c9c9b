"""The per-label figure of a multi-label version: test precision, recall and F1 of every label."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plots import _pyplot


def plot_per_label(per_label: dict, path: Path) -> None:
    plt = _pyplot()
    names = sorted(per_label, key=lambda k: -per_label[k]["support"])
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.28 * len(names) + 1.5)))
    for offset, key in ((-0.27, "precision"), (0.0, "recall"), (0.27, "f1")):
        ax.barh(y + offset, [per_label[n][key] for n in names], height=0.27, label=key)
    ax.set_yticks(y, [f"{n} ({per_label[n]['support']})" for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("test split (support in brackets), at the per-label thresholds")
    ax.set_title("Per-label precision, recall, F1")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
