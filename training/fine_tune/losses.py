"""Three supervised losses on L2-normalised embeddings of a label-balanced batch.

- ``supcon``: supervised contrastive (Khosla et al. 2020): every same-label row is a positive.
- ``triplet``: batch-hard triplet on cosine distance (hardest positive vs hardest negative).
- ``mnrl``: multiple-negatives ranking (sentence-transformers' MultipleNegativesRankingLoss:
  cross-entropy over scaled cosine scores) on one (anchor, same-label positive) pair per label,
  the other labels' positives being the in-batch negatives.
"""
from __future__ import annotations

LOSSES = ("supcon", "triplet", "mnrl")


def supcon(emb, labels, temperature: float = 0.05):
    import torch

    sim = emb @ emb.T / temperature
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    sim = sim.masked_fill(eye, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    per_row = -log_prob.masked_fill(~positive, 0.0).sum(dim=1) / positive.sum(dim=1).clamp(min=1)
    return per_row[positive.any(dim=1)].mean()


def batch_hard_triplet(emb, labels, margin: float = 0.2):
    import torch

    distance = 1.0 - emb @ emb.T
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    hardest_positive = distance.masked_fill(~same | eye, float("-inf")).max(dim=1).values
    hardest_negative = distance.masked_fill(same, float("inf")).min(dim=1).values
    return torch.relu(hardest_positive - hardest_negative + margin).mean()


def mnrl(emb, labels, scale: float = 20.0):
    """Rows come in label groups (balanced_batch): the group's first row is the anchor, its second the positive."""
    import torch

    starts = torch.nonzero(torch.cat([torch.ones(1, dtype=torch.bool, device=emb.device),
                                      labels[1:] != labels[:-1]])).flatten()
    anchors, positives = emb[starts], emb[starts + 1]
    scores = anchors @ positives.T * scale
    return torch.nn.functional.cross_entropy(scores, torch.arange(len(starts), device=emb.device))


def loss_function(name: str):
    return {"supcon": supcon, "triplet": batch_hard_triplet, "mnrl": mnrl}[name]
