"""The worker's Prometheus metrics, in one typed container.

Built by :func:`create` on a registry we own (never the global default one),
so tests get a fresh registry and ``/metrics`` shows exactly our series.
``docs/metrics.md`` is the catalogue of these names; a test keeps it in sync.
"""
from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the /metrics view)

from stream.prometheus import MetricsContainer, registry_or_new

from stream.inference.language import metric_label

PREFIX = "tickets_"

# Batch sizes are whole tickets bounded by TICKETS_MAX_BATCH (64 by default):
# powers of two show whether batches fill up or run on the max_wait timeout.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# One batch through clean + int8 e5 + LightGBM takes ~10 ms (1 short ticket)
# to a few seconds (256 long e-mails on 2 cores); finer at the low end where
# the SLO lives.
INFERENCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# End-to-end latency targets p99 < 1 s; buckets bracket 1 s finely and reach
# minutes so a backlog after an outage still lands in a finite bucket.
END_TO_END_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: The (arm, traffic) pairs that exist: the champion is never a shadow.
ARM_TRAFFIC = (("champion", "served"), ("challenger", "served"), ("challenger", "shadow"))
AGREEMENT_OUTCOMES = ("agree", "disagree")
# A multi-label ticket carries 0 (abstained) to a few labels; the shipped synthetic data has at most
# eight tags per ticket, so every size up to four gets a bucket of its own and eight ends the scale.
LABEL_SET_BUCKETS = (0, 1, 2, 3, 4, 6, 8)


@dataclass(frozen=True)
class WorkerMetrics(MetricsContainer):
    registry: CollectorRegistry
    consumed: Counter
    classified: Counter
    classified_by_language: Counter
    dead_lettered: Counter
    abstained: Counter
    batch_size: Histogram
    inference_seconds: Histogram
    end_to_end_seconds: Histogram
    model_info: Gauge
    model_ready: Gauge
    model_load_failures: Counter
    consumer_lag: Gauge
    assigned_partitions: Gauge
    stage_cpu_seconds: Counter
    arm_predictions: Counter
    arm_abstained: Counter
    arm_failures: Counter
    arm_inference_seconds: Histogram
    arm_agreement: Counter
    arm_info: Gauge
    labels_predicted: Counter
    label_set_size: Histogram

    def set_model(self, version: str, embedder: str) -> None:
        """Point the info gauge at the loaded version (one series at a time)."""
        self.model_info.clear()
        self.model_info.labels(version=version, embedder=embedder).set(1)
        self.model_ready.set(1)

    def set_arms(self, mode: str, versions: dict[str, str]) -> None:
        """Point the arm info gauge at the versions serving each arm now (one series per arm)."""
        self.arm_info.clear()
        for arm, version in versions.items():
            self.arm_info.labels(arm=arm, version=version, mode=mode).set(1)

    def count_language(self, language: str | None) -> None:
        """One classified ticket of ``language``, folded to a bounded label (configured, ``other``, ``und``)."""
        self.classified_by_language.labels(language=metric_label(language)).inc()

    def count_labels(self, labels: list[str] | None) -> None:
        """A multi-label ticket's predicted set (None: a single-label answer, counted by category only).

        Label values are the served version's manifest labels, so the series stay as few as its labels."""
        if labels is None:
            return
        self.label_set_size.observe(len(labels))
        for label in labels:
            self.labels_predicted.labels(label=label).inc()


def create(registry: CollectorRegistry | None = None, prefix: str = PREFIX) -> WorkerMetrics:
    """Register every worker metric on ``registry`` (a new one when omitted)."""
    registry = registry_or_new(registry)
    p = prefix
    metrics = WorkerMetrics(
        registry=registry,
        consumed=Counter(f"{p}consumed_total", "Raw ticket events read from the input topic.", registry=registry),
        classified=Counter(
            f"{p}classified_total", "Tickets classified and published, by predicted category.",
            ["category"], registry=registry,
        ),
        classified_by_language=Counter(
            f"{p}classified_by_language_total",
            "Tickets classified and published, by language (TICKETS_LANGUAGES, 'other' or 'und').",
            ["language"], registry=registry,
        ),
        dead_lettered=Counter(
            f"{p}dead_lettered_total", "Events sent to the dead-letter topic, by error code.",
            ["reason"], registry=registry,
        ),
        abstained=Counter(
            f"{p}abstained_total", "Tickets published with needs_human=true, by most probable category.",
            ["category"], registry=registry,
        ),
        batch_size=Histogram(
            f"{p}batch_size", "Tickets per inference batch.", buckets=BATCH_SIZE_BUCKETS, registry=registry,
        ),
        inference_seconds=Histogram(
            f"{p}inference_seconds", "Wall time of one batch's clean + embed + predict.",
            buckets=INFERENCE_BUCKETS, registry=registry,
        ),
        end_to_end_seconds=Histogram(
            f"{p}end_to_end_seconds", "From the ticket's created_at to its ClassifiedEvent being published.",
            buckets=END_TO_END_BUCKETS, registry=registry,
        ),
        model_info=Gauge(
            f"{p}model_info", "The model version being served (value 1).", ["version", "embedder"],
            registry=registry,
        ),
        model_ready=Gauge(f"{p}model_ready", "1 when a model is loaded and serving, else 0.", registry=registry),
        model_load_failures=Counter(
            f"{p}model_load_failures_total", "Promoted versions that failed to load (the old one keeps serving).",
            registry=registry,
        ),
        consumer_lag=Gauge(
            f"{p}consumer_lag", "Messages behind the partition's high watermark (highwater - next offset to process).",
            ["topic", "partition"], registry=registry,
        ),
        assigned_partitions=Gauge(
            f"{p}assigned_partitions", "Raw-topic partitions assigned to this worker (0: serving /classify only).",
            registry=registry,
        ),
        # A counter, not a histogram: per-ticket cost is rate(stage) / rate(consumed), and ten
        # stages x buckets would be a lot of series for one division.
        stage_cpu_seconds=Counter(
            f"{p}stage_cpu_seconds_total", "CPU seconds spent per pipeline stage (clean, tokenize, embed, "
            "lexical, knn, booster, blend, decode, serialise, publish).", ["stage"], registry=registry,
        ),
        # Per arm, not per version: versions change with every retraining and would pile up series;
        # tickets_arm_info says which version each arm is. traffic: served (published to
        # tickets.classified) or shadow (scored beside the champion, published to the shadow topic).
        arm_predictions=Counter(
            f"{p}arm_predictions_total", "Tickets classified per arm (champion, challenger) and traffic "
            "(served, shadow).", ["arm", "traffic"], registry=registry,
        ),
        arm_abstained=Counter(
            f"{p}arm_abstained_total", "Tickets an arm answered with needs_human=true, by arm and traffic.",
            ["arm", "traffic"], registry=registry,
        ),
        arm_failures=Counter(
            f"{p}arm_failures_total", "Tickets an arm could not classify or publish, by arm and traffic "
            "(served ones are dead-lettered; shadow ones only counted).", ["arm", "traffic"], registry=registry,
        ),
        arm_inference_seconds=Histogram(
            f"{p}arm_inference_seconds", "Wall time of one arm's share of a batch (clean + embed + predict; a "
            "shadow challenger that reuses the champion's embeddings skips the embed).", ["arm"],
            buckets=INFERENCE_BUCKETS, registry=registry,
        ),
        arm_agreement=Counter(
            f"{p}arm_agreement_total", "Tickets both arms classified in shadow mode, by whether their categories "
            "agree (outcome: agree, disagree).", ["outcome"], registry=registry,
        ),
        arm_info=Gauge(
            f"{p}arm_info", "The version each arm serves now, and the challenger mode (value 1; no challenger "
            "series when none is loaded).", ["arm", "version", "mode"], registry=registry,
        ),
        labels_predicted=Counter(
            f"{p}labels_predicted_total", "Labels in the predicted sets of multi-label tickets, by label "
            "(the served version's manifest labels).", ["label"], registry=registry,
        ),
        label_set_size=Histogram(
            f"{p}label_set_size", "Labels predicted per multi-label ticket (0: none reached its threshold).",
            buckets=LABEL_SET_BUCKETS, registry=registry,
        ),
    )
    # Every per-arm series from the start, at 0: a rate over a series that appears with its first
    # failure (or first shadow ticket) misses that event, and panels stay empty until then.
    for counter in (metrics.arm_predictions, metrics.arm_abstained, metrics.arm_failures):
        for arm, traffic in ARM_TRAFFIC:
            counter.labels(arm=arm, traffic=traffic)
    for outcome in AGREEMENT_OUTCOMES:
        metrics.arm_agreement.labels(outcome=outcome)
    return metrics
