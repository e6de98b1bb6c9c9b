"""A second, synthetic label set (not IT categories) to prove nothing assumes the shipped labels."""
from __future__ import annotations

import random

import pandas as pd

VOCAB = {
    "billing": ["invoice", "refund", "charged", "twice", "payment", "card", "receipt", "vat", "billing", "credit"],
    "shipping": ["parcel", "courier", "delivery", "tracking", "late", "address", "package", "shipped", "lost", "depot"],
    "returns": ["return", "label", "broken", "exchange", "size", "wrong", "item", "send", "back", "damaged"],
}
COMMON = ["hello", "please", "help", "order", "thanks", "today", "my", "the", "is", "need"]


def synthetic_frame(per_label: int = 40, labels=None, seed: int = 0) -> pd.DataFrame:
    """Rows of ``text``/``label``: label-specific words mixed with common filler."""
    rng = random.Random(seed)
    rows = []
    for label in labels or sorted(VOCAB):
        for i in range(per_label):
            words = rng.sample(VOCAB[label], 4) + rng.sample(COMMON, 4)
            rng.shuffle(words)
            rows.append({"ticket_id": f"{label}-{i}", "text": " ".join(words), "label": label})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
