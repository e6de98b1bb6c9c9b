"""The model card of a multi-label version (the single-label one is training/card.py)."""
from __future__ import annotations

from pathlib import Path

from ..card import _language_limit, _languages_line, _pct


def write_model_card(path: Path, manifest: dict) -> None:
    m = manifest.get("metrics") or {}
    data = manifest["data"]
    emb = manifest.get("embedder") or {}
    rare = data.get("rare_labels") or {}
    thresholds = manifest["thresholds"]
    lines = [
        f"# Model card — {manifest['version']} (multi-label)",
        "",
        f"**Task**: give each IT-service ticket the set of its labels among {len(manifest['labels'])}; a label "
        "is in the set when its probability reaches its own threshold. The top label of the set is the "
        "ticket's `category`; an empty set means `needs_human`.",
        "",
        "## Model",
        f"- Feature blocks: {', '.join(manifest['feature_blocks'])}; one binary LightGBM booster per label "
        f"(median best iteration {data.get('best_iteration')}).",
        f"- Embedder: {emb.get('id', 'none')}" + (f" (sha256 {emb['sha256'][:12]}…)" if emb else ""),
        f"- Preprocessing v{manifest['preprocessing_version']}; code {manifest['code_version']}; "
        f"created {manifest['created_at']}.",
        "",
        "## Data",
        f"- Source `{data['source']}`, fingerprint `{data['fingerprint'][:16]}…`: {data['rows_read']} rows read, "
        f"{data['rows_kept']} kept, {data['rows_used']} used ({data['rows_train']} train, {data['rows_test']} test); "
        f"{data['labels_per_ticket']:.2f} labels per ticket (separator `{manifest['label_separator']}`).",
        "- Dropped rows: " + ", ".join(f"{k} {v}" for k, v in data["drop_reasons"].items()) + ".",
        "- Labels: " + ", ".join(f"{k} ({v})" for k, v in data["label_counts"].items()) + ".",
        *_languages_line(data.get("languages")),
    ]
    if rare.get("labels_dropped"):
        lines.append(f"- **Not learned** ({rare['labels_dropped']} labels under {rare['min_class_count']} examples, "
                     f"never predicted; {rare['rows_left_without_label']} rows left with no label): "
                     + ", ".join(f"{k} ({v})" for k, v in sorted(rare["dropped"].items(), key=lambda kv: -kv[1]))
                     + ".")
    lines += [
        "",
        "## Test metrics",
        f"- Micro-F1 {_pct(m.get('micro_f1'))} (precision {_pct(m.get('micro_precision'))}, recall "
        f"{_pct(m.get('micro_recall'))}), macro-F1 {_pct(m.get('macro_f1'))}.",
        f"- Hamming loss {m.get('hamming_loss', float('nan')):.4f}, subset accuracy {_pct(m.get('subset_accuracy'))}, "
        f"precision@1/2/3 {_pct(m.get('precision_at_1'))} / {_pct(m.get('precision_at_2'))} / "
        f"{_pct(m.get('precision_at_3'))}; empty sets (needs a human) {_pct(m.get('empty_sets'))}.",
        f"- Per-label thresholds for a validation precision of {thresholds['target_precision']} "
        "(per_label.png, reliability.png, slices.json).",
        "",
        "| label | threshold | val precision | val recall | test precision | test recall | test F1 | test support |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    per_label = m.get("per_label") or {}
    for row in thresholds["per_label"]:
        test = per_label.get(row["label"]) or {}
        lines.append(f"| {row['label']} | {row['threshold']:.3f}{'' if row['reached_target'] else ' (target missed)'} | "
                     f"{_pct(row['precision'])} | {_pct(row['recall'])} | {_pct(test.get('precision'))} | "
                     f"{_pct(test.get('recall'))} | {_pct(test.get('f1'))} | {test.get('support', 'n/a')} |")
    lines += [
        "",
        "## Limits",
        _language_limit(data.get("languages")),
        "- Label probabilities are LightGBM outputs per label, not calibrated guarantees (see reliability.png).",
        "- Thresholds were chosen on a validation split; precision on live traffic drifts with the ticket mix.",
        "",
    ]
    path.write_text("\n".join(lines))
