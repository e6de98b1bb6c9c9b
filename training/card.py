"""The short model card written next to every trained version."""
from __future__ import annotations

from pathlib import Path


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _languages_line(languages: dict | None) -> list[str]:
    if not languages:
        return []
    how = {"column": "from the data's language column", "detected": "detected on the cleaned text",
           "column+detected": "from the language column, detected where it was empty"}[languages["source"]]
    counts = ", ".join(f"{lang} ({n})" for lang, n in languages["counts"].items())
    return [f"- Languages of the training rows ({how}; `und`: too short or unsure): {counts}."]


def _language_limit(languages: dict | None) -> str:
    """Say which languages the model has seen; the per-language slices say how it does on each."""
    counts = {k: v for k, v in ((languages or {}).get("counts") or {}).items() if k != "und"}
    total = sum(counts.values())
    if not total:
        return "- Training languages unknown; check the per-language slices (slices.json) before trusting others."
    seen = [lang for lang, n in counts.items() if n / total >= 0.05]
    return (f"- Trained mostly on {', '.join(seen)} helpdesk text; languages with few or no training rows "
            "are out of distribution (see the `language:` slices in slices.json).")


def _rare_lines(rare: dict | None) -> list[str]:
    """The categories set aside or folded into the fallback label for having too few examples."""
    if not rare or not (rare.get("set_aside") or rare.get("mapped_to_fallback")):
        return []
    lines = []
    if rare.get("mapped_to_fallback"):
        lines.append(f"- Mapped to `{rare['fallback_label']}` (under {rare['min_class_count']} examples): "
                     + ", ".join(f"{k} ({v})" for k, v in rare["mapped_to_fallback"].items()) + ".")
    if rare.get("set_aside"):
        lines.append(f"- **Not learned** (under {rare['min_class_count']} examples, {rare['rows_set_aside']} rows "
                     "set aside; never predicted): " + ", ".join(f"{k} ({v})" for k, v in rare["set_aside"].items())
                     + ".")
    return lines


def write_model_card(path: Path, manifest: dict) -> None:
    m = manifest.get("metrics") or {}
    data = manifest["data"]
    emb = manifest.get("embedder") or {}
    lines = [
        f"# Model card — {manifest['version']}",
        "",
        "**Task**: route IT-service tickets (chat or email) to one of "
        f"{len(manifest['labels'])} categories; abstain (`needs_human`) below per-class thresholds.",
        "",
        "## Model",
        f"- Feature blocks: {', '.join(manifest['feature_blocks'])}; final classifier LightGBM "
        f"(best iteration {data.get('best_iteration')}).",
        f"- Embedder: {emb.get('id', 'none')}" + (f" (sha256 {emb['sha256'][:12]}…)" if emb else ""),
        f"- Preprocessing v{manifest['preprocessing_version']}; code {manifest['code_version']}; "
        f"created {manifest['created_at']}.",
        "",
        "## Data",
        f"- Source `{data['source']}`, fingerprint `{data['fingerprint'][:16]}…`: {data['rows_read']} rows read, "
        f"{data['rows_kept']} kept, {data['rows_used']} used ({data['rows_train']} train, {data['rows_test']} test).",
        f"- Dropped: " + ", ".join(f"{k} {v}" for k, v in data["drop_reasons"].items()) + ".",
        f"- Labels: " + ", ".join(f"{k} ({v})" for k, v in data["label_counts"].items()) + ".",
        *_languages_line(data.get("languages")),
        *_rare_lines(data.get("rare_classes")),
        "",
        "## Test metrics",
        f"- Accuracy {_pct(m.get('accuracy'))}, macro-F1 {_pct(m.get('macro_f1'))}, "
        f"precision@2 {_pct(m.get('precision_at_2'))}.",
        f"- Coverage {_pct(m.get('coverage'))} at per-class thresholds (target precision "
        f"{manifest['thresholds']['target_precision']}), precision when not abstained "
        f"{_pct(m.get('precision_when_not_abstained'))}.",
        *_shortcut_lines(manifest.get("shortcut")),
        "",
        "| category | threshold | val precision | val coverage | test F1 |",
        "| --- | --- | --- | --- | --- |",
    ]
    per_class = m.get("per_class") or {}
    for row in manifest["thresholds"]["per_class"]:
        f1 = (per_class.get(row["category"]) or {}).get("f1")
        lines.append(f"| {row['category']} | {row['threshold']:.3f} | {_pct(row['precision'])} | "
                     f"{_pct(row['coverage'])} | {_pct(f1)} |")
    lines += [
        "",
        "## Limits",
        _language_limit(data.get("languages")),
        "- Probabilities are LightGBM outputs, not calibrated guarantees (see reliability.png).",
        "- Thresholds were chosen on a validation split; precision on live traffic drifts with the ticket mix.",
        "",
    ]
    path.write_text("\n".join(lines))


def _shortcut_lines(shortcut: dict | None) -> list[str]:
    """How many tickets the lexical model answers without the embedder (stream/inference/shortcut.py)."""
    if not shortcut:
        return ["- Lexical shortcut: none; every ticket is embedded."]
    v = shortcut.get("validation") or {}
    return [f"- Lexical shortcut at confidence {shortcut['min_confidence']:.2f}: {_pct(v.get('skipped'))} of "
            f"validation tickets skip the embedder (answers agree with the full model on "
            f"{_pct(v.get('agreement'))}; accuracy {_pct(v.get('accuracy'))} vs {_pct(v.get('accuracy_full'))} "
            f"with every ticket embedded). Those tickets show no nearest past tickets."]
