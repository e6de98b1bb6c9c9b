"""docs/metrics.md documents exactly the metrics the code defines: names, types and labels, both ways.

The catalogue is read from its markdown tables (any table whose header has a
metric/name column and a type column); the code's metrics come from every
metrics container, each built on a fresh CollectorRegistry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.ops.metric_containers import build_all

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "metrics.md"
NAME = re.compile(r"\b(tickets_[a-z0-9_]+)(?:\{([^}]*)\})?")
LABEL = re.compile(r"[a-z_][a-z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "info")


@dataclass(frozen=True)
class Documented:
    name: str
    type: str
    labels: tuple[str, ...]
    line: int


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _column(header: list[str], *candidates: str) -> int | None:
    for i, cell in enumerate(header):
        if re.sub(r"[^a-z]", "", cell.lower()) in candidates:
            return i
    return None


def parse_catalogue(text: str) -> dict[str, Documented]:
    """Metric name -> what the markdown tables say about it."""
    documented: dict[str, Documented] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        is_table = (lines[i].lstrip().startswith("|") and i + 1 < len(lines)
                    and re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", lines[i + 1]) and "-" in lines[i + 1])
        if not is_table:
            i += 1
            continue
        header = _cells(lines[i])
        name_col = _column(header, "metric", "name", "metricname")
        type_col = _column(header, "type", "kind")
        label_col = _column(header, "labels", "label")
        i += 2
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            if name_col is not None and type_col is not None:
                cells = _cells(lines[i])
                match = NAME.search(cells[name_col]) if name_col < len(cells) else None
                if match:
                    kind = next((t for t in TYPES if t in cells[type_col].lower()), cells[type_col])
                    inline = LABEL.findall(match.group(2) or "")
                    column = LABEL.findall(re.sub(r"\b(none|n/a)\b", "", cells[label_col].lower())) \
                        if label_col is not None and label_col < len(cells) else []
                    name = match.group(1)
                    if name in documented:
                        raise AssertionError(f"docs/metrics.md documents {name} twice (lines "
                                             f"{documented[name].line} and {i + 1})")
                    documented[name] = Documented(name, kind, tuple(sorted(set(inline) | set(column))), i + 1)
            i += 1
    return documented


def test_the_parser_reads_the_usual_table_shapes():
    text = """
| Metric | Type | Labels | Meaning |
| --- | --- | --- | --- |
| `tickets_a_total` | counter | `category`, `reason` | a |
| `tickets_b_seconds` | Histogram | — | b |

| name | kind | description |
|:--|:--|:--|
| `tickets_c{topic,partition}` | gauge | c |
"""
    parsed = parse_catalogue(text)
    assert parsed["tickets_a_total"].labels == ("category", "reason")
    assert parsed["tickets_b_seconds"].type == "histogram" and parsed["tickets_b_seconds"].labels == ()
    assert parsed["tickets_c"].labels == ("partition", "topic") and parsed["tickets_c"].type == "gauge"


def read_catalogue() -> dict[str, Documented]:
    assert CATALOGUE.is_file(), "docs/metrics.md (the metrics catalogue) is missing"
    parsed = parse_catalogue(CATALOGUE.read_text())
    assert parsed, "docs/metrics.md has no table of tickets_* metrics"
    return parsed


def test_every_metric_in_the_code_is_documented():
    documented = read_catalogue()
    missing = sorted(set(build_all()) - set(documented))
    assert not missing, f"defined in code but not in docs/metrics.md: {missing}"


def test_every_documented_metric_exists_in_the_code():
    documented = read_catalogue()
    unknown = sorted(set(documented) - set(build_all()))
    assert not unknown, f"in docs/metrics.md but defined by no metrics container: {unknown}"


def test_types_and_labels_match():
    documented = read_catalogue()
    mismatches = []
    for name, spec in build_all().items():
        doc = documented.get(name)
        if doc is None:
            continue
        if doc.type != spec.type:
            mismatches.append(f"{name}: type {doc.type!r} in the docs, {spec.type!r} in {spec.module}")
        if doc.labels != tuple(sorted(spec.labels)):
            mismatches.append(f"{name}: labels {list(doc.labels)} in the docs, {sorted(spec.labels)} in {spec.module}")
    assert not mismatches, "\n".join(mismatches)
