"""The worker's metric container: names from the contract, labels, buckets, fresh registries."""
from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from stream.worker.metrics import create

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
CONTRACT = {  # docs/architecture.md, "Metrics"
    "tickets_consumed_total": ("counter", set()),
    "tickets_classified_total": ("counter", {"category"}),
    "tickets_classified_by_language_total": ("counter", {"language"}),
    "tickets_dead_lettered_total": ("counter", {"reason"}),
    "tickets_abstained_total": ("counter", {"category"}),
    "tickets_batch_size": ("histogram", set()),
    "tickets_inference_seconds": ("histogram", set()),
    "tickets_end_to_end_seconds": ("histogram", set()),
    "tickets_model_info": ("gauge", {"version", "embedder"}),
    "tickets_model_ready": ("gauge", set()),
    "tickets_model_load_failures_total": ("counter", set()),
    "tickets_consumer_lag": ("gauge", {"topic", "partition"}),
    "tickets_stage_cpu_seconds_total": ("counter", {"stage"}),
    "tickets_assigned_partitions": ("gauge", set()),
    "tickets_arm_predictions_total": ("counter", {"arm", "traffic"}),
    "tickets_arm_abstained_total": ("counter", {"arm", "traffic"}),
    "tickets_arm_failures_total": ("counter", {"arm", "traffic"}),
    "tickets_arm_inference_seconds": ("histogram", {"arm"}),
    "tickets_arm_agreement_total": ("counter", {"outcome"}),
    "tickets_arm_info": ("gauge", {"arm", "version", "mode"}),
    "tickets_labels_predicted_total": ("counter", {"label"}),
    "tickets_label_set_size": ("histogram", set()),
}


def _exported(metrics) -> dict[str, tuple[str, set]]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        if family.name.endswith("_created"):  # prometheus-client's creation timestamps
            continue
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {k for s in family.samples for k in s.labels if k != "le"}
        out[name] = (family.type, labels)
    return out


def _touch_everything(metrics):
    metrics.consumed.inc()
    metrics.classified.labels(category="Access").inc()
    metrics.count_language("de")
    metrics.dead_lettered.labels(reason="invalid_json").inc()
    metrics.abstained.labels(category="Access").inc()
    metrics.batch_size.observe(3)
    metrics.inference_seconds.observe(0.02)
    metrics.end_to_end_seconds.observe(0.3)
    metrics.set_model("v1", "e5@abc-int8")
    metrics.model_load_failures.inc()
    metrics.consumer_lag.labels(topic="tickets.raw", partition="0").set(5)
    metrics.stage_cpu_seconds.labels(stage="embed").inc(0.01)
    metrics.assigned_partitions.set(2)
    metrics.arm_predictions.labels(arm="challenger", traffic="shadow").inc()
    metrics.arm_abstained.labels(arm="champion", traffic="served").inc()
    metrics.arm_failures.labels(arm="challenger", traffic="shadow").inc()
    metrics.arm_inference_seconds.labels(arm="champion").observe(0.02)
    metrics.arm_agreement.labels(outcome="agree").inc()
    metrics.set_arms("shadow", {"champion": "v1", "challenger": "v2"})
    metrics.count_labels(["Hardware", "Access"])


def test_every_contract_metric_is_exported_with_its_type_and_labels():
    metrics = create(CollectorRegistry())
    _touch_everything(metrics)
    assert _exported(metrics) == CONTRACT


def test_a_process_registry_carries_the_runtime_collectors_and_a_given_one_does_not():
    own = create().render().decode()
    assert "process_cpu_seconds_total" in own and "python_info" in own and "python_gc_collections_total" in own
    given = create(CollectorRegistry()).render().decode()
    assert "process_cpu_seconds_total" not in given and "python_info" not in given


def test_each_container_has_its_own_registry():
    first, second = create(), create()
    first.consumed.inc(5)
    assert "tickets_consumed_total 0.0" in second.render().decode()


def test_model_info_shows_only_the_current_version():
    metrics = create()
    metrics.set_model("v1", "e")
    metrics.set_model("v2", "e")
    samples = [s for f in text_string_to_metric_families(metrics.render().decode())
               if f.name == "tickets_model_info" for s in f.samples]
    assert [(s.labels["version"], s.value) for s in samples] == [("v2", 1.0)]


def test_latency_buckets_bracket_the_one_second_target():
    metrics = create()
    bounds = [float(b) for b in metrics.end_to_end_seconds._upper_bounds]
    assert 1.0 in bounds and sum(b < 1.0 for b in bounds) >= 4 and bounds[-2] >= 60


def test_catalogue_lists_every_worker_metric_with_its_type_and_labels():
    rows = {}
    for line in CATALOGUE.read_text().splitlines():
        match = re.match(r"\|\s*`(tickets_\w+)`\s*\|\s*(\w+)\s*\|([^|]*)\|", line)
        if match:
            rows[match.group(1)] = (match.group(2), set(re.findall(r"`(\w+)`", match.group(3))))
    for name, (kind, labels) in CONTRACT.items():
        assert rows.get(name) == (kind, labels), name


def test_language_label_is_bounded_to_the_configured_set_other_and_und():
    metrics = create(CollectorRegistry())
    for lang in ["de", "de", "en", "ja", "zh", "und", None, "xx"]:
        metrics.count_language(lang)
    samples = {s.labels["language"]: s.value for family in text_string_to_metric_families(metrics.render().decode())
               if family.name == "tickets_classified_by_language" for s in family.samples
               if s.name.endswith("_total")}
    assert samples == {"de": 2, "en": 1, "other": 3, "und": 2}


def test_arm_info_has_one_series_per_arm_and_drops_a_removed_challenger():
    metrics = create()
    metrics.set_arms("shadow", {"champion": "v1", "challenger": "v2"})
    metrics.set_arms("shadow", {"champion": "v2"})
    samples = [s for f in text_string_to_metric_families(metrics.render().decode())
               if f.name == "tickets_arm_info" for s in f.samples]
    assert [(s.labels["arm"], s.labels["version"], s.labels["mode"]) for s in samples] == [("champion", "v2", "shadow")]


def test_a_label_set_counts_each_label_and_its_size_and_a_single_label_answer_counts_none():
    metrics = create()
    metrics.count_labels(["Hardware", "Access"])
    metrics.count_labels([])         # a multi-label ticket where no label reached its threshold
    metrics.count_labels(None)       # a single-label version's answer
    value = metrics.registry.get_sample_value
    assert value("tickets_labels_predicted_total", {"label": "Hardware"}) == 1
    assert value("tickets_labels_predicted_total", {"label": "Access"}) == 1
    assert value("tickets_label_set_size_count") == 2 and value("tickets_label_set_size_sum") == 2
    assert value("tickets_label_set_size_bucket", {"le": "0.0"}) == 1
