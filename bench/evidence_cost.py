"""CPU cost of the evidence step per ticket, measured in-process (``bench/stream.py --evidence-cost``).

The stream bench's end-to-end figures move by more than the evidence costs on
a shared machine, so this times the parts evidence touches directly, with and
without it, interleaved in one process (CPU time of this process, best of a
few repeats): the kNN block (votes alone vs votes + the 3 nearest), the
lexical block (scores alone vs scores + keeping the TF-IDF matrix) and the
step that turns both into :class:`Evidence`. The embedding is computed once,
outside the timing: evidence does not change it.
"""
from __future__ import annotations

import time

from stream.inference.evidence import NEAREST, NEIGHBOURS_SHOWN, TFIDF, lexical_block
from stream.inference.features import lexical_scores


def _cpu_ms(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best * 1000.0


def measure(predictor, texts: list[str], repeats: int = 5, batch: int = 64) -> list[tuple[str, float, float]]:
    """(part, ms per ticket without evidence, ms per ticket with evidence), in batches like the worker's."""
    n = len(texts)
    batches = [texts[i:i + batch] for i in range(0, n, batch)]
    vectors = predictor.embedder.embed(texts) if predictor.embedder is not None else None
    vec_batches = [vectors[i:i + batch] for i in range(0, n, batch)] if vectors is not None else []
    knn, lexical, labels = predictor._neighbours, predictor._lexical, len(predictor.labels)  # noqa: SLF001
    rows = []
    if knn is not None:
        rows.append(("kNN block", _cpu_ms(lambda: [knn.scores(v) for v in vec_batches], repeats) / n,
                     _cpu_ms(lambda: [knn.scores_and_nearest(v, NEIGHBOURS_SHOWN) for v in vec_batches],
                             repeats) / n))
    if lexical is not None:
        rows.append(("lexical block", _cpu_ms(lambda: [lexical_scores(lexical, b, labels) for b in batches],
                                              repeats) / n,
                     _cpu_ms(lambda: [lexical_block(lexical, b, labels) for b in batches], repeats) / n))
    values = []
    for i, b in enumerate(batches):
        v = {}
        if knn is not None:
            v[NEAREST] = knn.scores_and_nearest(vec_batches[i], NEIGHBOURS_SHOWN)[1:]
        if lexical is not None:
            v[TFIDF] = lexical_block(lexical, b, labels)[1]
        values.append(v)
    decided = [predictor.decide(predictor.predict_proba(b)) for b in batches]
    source = predictor._evidence  # noqa: SLF001
    source.attach(decided[0], values[0])  # term names are built once per model, at the first ticket
    rows.append(("evidence assembly (neighbours + terms)", 0.0,
                 _cpu_ms(lambda: [source.attach(d, v) for d, v in zip(decided, values)], repeats) / n))
    return rows


def report(predictor, texts: list[str]) -> str:
    rows = measure(predictor, texts)
    lines = [f"Evidence cost, CPU ms per ticket over {len(texts)} tickets (model {predictor.version}; best of 5, "
             f"batches of 64):", "", "| part | without evidence | with evidence | added |", "| --- | --- | --- | --- |"]
    for part, without, with_ in rows:
        lines.append(f"| {part} | {without:.3f} | {with_:.3f} | {with_ - without:+.3f} |")
    added = sum(w - wo for _, wo, w in rows)
    lines.append(f"| **total added by evidence** | | | **{added:+.3f}** |")
    return "\n".join(lines)
