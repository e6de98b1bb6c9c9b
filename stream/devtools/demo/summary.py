"""The demo's closing figures, computed from what actually came out of the system."""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

from stream.devtools.demo.live import Observed


@dataclass
class Summary:
    sent: int
    processed: int
    missing: int
    accuracy: float | None
    precision_at_2: float | None
    needs_human: int
    precision_when_not_abstained: float | None
    throughput_per_s: float
    p50_end_to_end_ms: float | None
    p99_end_to_end_ms: float | None
    dead_letters: int
    sink_rows: int | None
    slack_messages: int | None
    model_version: str | None
    languages: dict[str, dict] = field(default_factory=dict)  # language → {"n", "judged", "accuracy"}

    def as_dict(self) -> dict:
        return asdict(self)

    def render(self) -> str:
        def pct(value):
            return "n/a" if value is None else f"{value:.1%}"

        def ms(value):
            return "n/a" if value is None else f"{value:.0f} ms"

        rows = [
            ("tickets sent / processed", f"{self.sent} / {self.processed} ({self.missing} missing)"),
            ("accuracy", pct(self.accuracy)),
            ("precision@2 (right among top two)", pct(self.precision_at_2)),
            ("needs a human (abstained)", f"{self.needs_human} ({pct(self.needs_human / self.processed if self.processed else None)})"),
            ("precision when not abstained", pct(self.precision_when_not_abstained)),
            ("throughput (first created → last published)", f"{self.throughput_per_s:.1f} tickets/s"),
            ("end-to-end latency p50 / p99", f"{ms(self.p50_end_to_end_ms)} / {ms(self.p99_end_to_end_ms)}"),
            ("dead letters", str(self.dead_letters)),
            ("rows in the Snowflake sink", "n/a" if self.sink_rows is None else str(self.sink_rows)),
            ("Slack messages (dry run)", "n/a" if self.slack_messages is None else str(self.slack_messages)),
            ("model version", self.model_version or "n/a"),
        ]
        for language, row in self.languages.items():
            accuracy = f", accuracy {pct(row['accuracy'])}" if row["judged"] else ""
            rows.append((f"  language {language}", f"{row['n']} ticket{'' if row['n'] == 1 else 's'}{accuracy}"))
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def busy_seconds(events: list[dict]) -> float:
    """From the first ticket's creation to the last publication: the span the system was working."""
    from datetime import datetime

    if not events:
        return 0.0
    first = min(datetime.fromisoformat(e["created_at"]) for e in events)
    last = max(datetime.fromisoformat(e["processed_at"]) for e in events)
    return max((last - first).total_seconds(), 1e-3)


def by_language(events: list[dict], truth: dict[str, str]) -> dict[str, dict]:
    """Tickets and accuracy (where labelled) per ``language`` of the events, most tickets first."""
    groups: dict[str, list[dict]] = {}
    for event in events:
        groups.setdefault(event.get("language") or "-", []).append(event)
    out = {}
    for language, group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        judged = [e for e in group if e["ticket_id"] in truth]
        right = sum(1 for e in judged if e["category"] == truth[e["ticket_id"]])
        out[language] = {"n": len(group), "judged": len(judged),
                         "accuracy": right / len(judged) if judged else None}
    return out


def summarize(observed: Observed, truth: dict[str, str], sent: int,
              sink_rows: int | None, slack_messages: int | None) -> Summary:
    events = list(observed.classified.values())
    judged = [e for e in events if e["ticket_id"] in truth]
    right = [e for e in judged if e["category"] == truth[e["ticket_id"]]]
    top2 = [e for e in judged if truth[e["ticket_id"]] in [t["category"] for t in e["top_k"][:2]]]
    confident = [e for e in judged if not e["needs_human"]]
    confident_right = [e for e in confident if e["category"] == truth[e["ticket_id"]]]
    latencies = sorted(float(e["end_to_end_ms"]) for e in events)
    versions = sorted({e["model_version"] for e in events})
    return Summary(
        sent=sent,
        processed=len(events),
        missing=max(0, sent - len(events) - len(observed.dead_letters)),
        accuracy=len(right) / len(judged) if judged else None,
        precision_at_2=len(top2) / len(judged) if judged else None,
        needs_human=sum(1 for e in events if e["needs_human"]),
        precision_when_not_abstained=len(confident_right) / len(confident) if confident else None,
        throughput_per_s=len(events) / busy_seconds(events) if events else 0.0,
        p50_end_to_end_ms=quantile(latencies, 0.50),
        p99_end_to_end_ms=quantile(latencies, 0.99),
        dead_letters=len(observed.dead_letters),
        sink_rows=sink_rows,
        slack_messages=slack_messages,
        model_version=", ".join(versions) or None,
        languages=by_language(events, truth),
    )
