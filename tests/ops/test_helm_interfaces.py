"""The chart's health checks, Slack Ingress, lag autoscaling, dedupe volume and metadata.

Ingress, PersistentVolumeClaim and probes are validated against Kubernetes'
OpenAPI schemas with the rest (``test_helm.py``). kubernetes-validate knows no
CRDs, so KEDA's ScaledObject is checked here against the fields of KEDA's
``keda.sh_scaledobjects`` CRD the chart uses (types and required fields as
the CRD declares them), not against the CRD file itself.
"""
from __future__ import annotations

import helm_python as helm
import jsonschema
import pytest

from tests.fixtures.helm import CHART, by_kind, notes, pod_specs, render, scenario_values

SLACK = {"slack": {"existingSecret": "tickets-slack"}}
NOTIFIER = {"notifier": {"enabled": True}} | SLACK
KEDA = {"worker": {"keda": {"enabled": True, "serverAddress": "http://prometheus.monitoring:9090"}}}

_INT32 = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
#: The ScaledObject fields the chart writes, typed as KEDA's CRD types them.
SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                                   "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                                  "name": {"type": "string"}, "envSourceContainerName": {"type": "string"}}},
                "minReplicaCount": _INT32, "maxReplicaCount": _INT32, "pollingInterval": _INT32,
                "cooldownPeriod": _INT32,
                "advanced": {"type": "object", "additionalProperties": False, "properties": {
                    "horizontalPodAutoscalerConfig": {"type": "object", "properties": {"behavior": {"type": "object"}}},
                    "restoreToOriginalReplicaCount": {"type": "boolean"}}},
                "triggers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["type", "metadata"], "additionalProperties": False,
                    "properties": {"type": {"type": "string"}, "name": {"type": "string"},
                                   "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                                   "authenticationRef": {"type": "object", "required": ["name"],
                                                         "properties": {"name": {"type": "string"}}}}}},
            },
        },
    },
}


@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def _containers(docs):
    return {(name, c["name"]): c for name, spec in pod_specs(docs) for c in spec["containers"]}


def test_chart_metadata_names_home_sources_and_maintainers(chart):
    meta = chart.metadata
    assert meta["home"].startswith("https://")
    assert meta["sources"] and all(s.startswith("https://") for s in meta["sources"])
    assert meta["maintainers"] and all(m["name"] and "@" in m["email"] for m in meta["maintainers"])


def test_every_long_running_container_has_http_liveness_and_readiness_on_a_port_it_serves(chart):
    docs = render(chart, scenario_values("full"))
    expected = {"worker": ("/healthz", "/readyz"), "notifier": ("/healthz", "/readyz"),
                "interactivity": ("/healthz", "/healthz"), "sink": ("/healthz", "/readyz")}
    deployments = {c["name"]: c for (name, _), c in _containers(by_kind(docs, "Deployment")).items()}
    assert set(deployments) == set(expected)
    for role, (live, ready) in expected.items():
        container = deployments[role]
        ports = {p["name"] for p in container["ports"]}
        for probe, path in (("livenessProbe", live), ("readinessProbe", ready)):
            assert container[probe]["httpGet"]["path"] == path, (role, probe)
            assert container[probe]["httpGet"]["port"] in ports, (role, probe)


def test_the_interactivity_container_can_update_the_clicked_message(chart):
    docs = render(chart, NOTIFIER)
    container = next(c for (_, n), c in _containers(docs).items() if n == "interactivity")
    token = next(e for e in container["env"] if e["name"] == "TICKETS_SLACK_BOT_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "tickets-slack", "key": "bot-token"}


def test_the_dedupe_store_is_on_a_claim_that_outlives_the_pod_by_default(chart):
    docs = render(chart, NOTIFIER)
    notifier = next(d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-notifier"))
    state = next(v for v in notifier["spec"]["template"]["spec"]["volumes"] if v["name"] == "state")
    claim = next(c for c in by_kind(docs, "PersistentVolumeClaim") if c["metadata"]["name"].endswith("notifier-state"))
    assert state["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert notifier["spec"]["strategy"] == {"type": "Recreate"}, "a RWO claim cannot be held by two pods"
    config = by_kind(docs, "ConfigMap")[0]["data"]
    mount = next(m for m in notifier["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] if m["name"] == "state")
    assert config["TICKETS_SLACK_DEDUPE_PATH"].startswith(mount["mountPath"] + "/")
    assert "survives pod replacement" in notes(chart, NOTIFIER)

    existing = render(chart, scenario_values("keda"))
    notifier = next(d for d in by_kind(existing, "Deployment") if d["metadata"]["name"].endswith("-notifier"))
    state = next(v for v in notifier["spec"]["template"]["spec"]["volumes"] if v["name"] == "state")
    assert state["persistentVolumeClaim"]["claimName"] == "tickets-notifier-state"
    assert not [c for c in by_kind(existing, "PersistentVolumeClaim") if "notifier" in c["metadata"]["name"]]

    off = render(chart, NOTIFIER | {"notifier": {"enabled": True, "persistence": {"enabled": False}}})
    notifier = next(d for d in by_kind(off, "Deployment") if d["metadata"]["name"].endswith("-notifier"))
    assert next(v for v in notifier["spec"]["template"]["spec"]["volumes"] if v["name"] == "state") == \
        {"name": "state", "emptyDir": {}}
    assert "strategy" not in notifier["spec"]


def test_one_notifier_at_most(chart):
    with pytest.raises(helm.HelmError, match="replicaCount"):
        render(chart, {"notifier": {"enabled": True, "replicaCount": 2}} | SLACK)


def test_the_ingress_routes_only_slack_s_path_over_tls(chart):
    docs = render(chart, scenario_values("keda"))
    ingress = by_kind(docs, "Ingress")[0]
    service = next(s for s in by_kind(docs, "Service") if s["metadata"]["name"].endswith("-notifier"))
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["tickets-slack.example.com"], "secretName": "tickets-slack-tls"}]
    [rule] = spec["rules"]
    assert rule["host"] == "tickets-slack.example.com"
    [path] = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/slack/interactivity", "Exact")
    backend = path["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert "https://tickets-slack.example.com/slack/interactivity" in notes(chart, scenario_values("keda"))
    assert not by_kind(render(chart, NOTIFIER), "Ingress"), "off by default"


@pytest.mark.parametrize("ingress, complaint", [
    ({"enabled": True, "host": "slack.example.com"}, "secretName"),
    ({"enabled": True, "tls": {"secretName": "x"}}, "host"),
    ({"enabled": True, "host": "not a host", "tls": {"secretName": "x"}}, "host"),
])
def test_an_ingress_without_host_or_certificate_is_refused(chart, ingress, complaint):
    values = {"notifier": {"enabled": True, "interactivity": {"ingress": ingress}}} | SLACK
    with pytest.raises(helm.HelmError, match=complaint):
        render(chart, values)


def test_keda_scales_the_workers_on_their_own_lag_instead_of_the_hpa(chart):
    docs = render(chart, scenario_values("keda"))
    [scaled] = by_kind(docs, "ScaledObject")
    jsonschema.validate(scaled, SCALED_OBJECT)
    worker = next(d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-worker"))
    service = next(s for s in by_kind(docs, "Service") if s["metadata"]["name"].endswith("-worker"))
    assert "replicas" not in worker["spec"], "KEDA owns the replica count"
    assert not by_kind(docs, "HorizontalPodAutoscaler")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": worker["metadata"]["name"]}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 6)
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    [trigger] = spec["triggers"]
    assert trigger["type"] == "prometheus" and trigger["authenticationRef"] == {"name": "prometheus-auth"}
    query = trigger["metadata"]["query"]
    assert query == f'sum(tickets_consumer_lag{{namespace="tickets",service="{service["metadata"]["name"]}"}})'
    assert trigger["metadata"]["threshold"] == "200"
    assert "by consumer lag (KEDA)" in notes(chart, scenario_values("keda"))


def test_keda_and_the_cpu_hpa_are_mutually_exclusive_and_keda_needs_prometheus(chart):
    both = {"worker": {"autoscaling": {"enabled": True}, "keda": KEDA["worker"]["keda"]}}
    with pytest.raises(helm.HelmError, match="/worker/keda/enabled"):
        render(chart, both)
    with pytest.raises(helm.HelmError, match="serverAddress"):
        render(chart, {"worker": {"keda": {"enabled": True}}})
    custom = render(chart, {"worker": {"keda": KEDA["worker"]["keda"] | {"query": "sum(my_lag)"}}})
    assert by_kind(custom, "ScaledObject")[0]["spec"]["triggers"][0]["metadata"]["query"] == "sum(my_lag)"
    assert not by_kind(render(chart), "ScaledObject"), "off by default"
