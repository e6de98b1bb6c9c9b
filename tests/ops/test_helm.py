"""The Helm chart lints, renders valid Kubernetes objects in every scenario, and keeps its promises.

Rendering goes through Helm itself (helm-python-sdk embeds Helm's Go SDK), so
the values schema, ``required`` and template errors are Helm's own. Built-in
kinds are checked against Kubernetes' OpenAPI schemas (kubernetes-validate,
strict: unknown fields fail); the Prometheus operator's CRDs, which it cannot
validate, are checked structurally and their rules by promtool.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.fixtures.helm import (
    CHART, CRD_KINDS, KUBERNETES_VERSION, OPERATOR_APIS, ROOT, SCENARIOS,
    by_kind, notes, pod_specs, render, scenario_values,
)


@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def test_every_template_renders_in_some_ci_scenario_and_optional_ones_stay_off_by_default(chart):
    """A template no scenario renders is never linted nor validated; a default install is the worker only."""
    rendered: dict[str, set[str]] = {}
    for scenario in SCENARIOS:
        manifests = chart.render(scenario_values(scenario), name="tc", namespace="tickets")
        rendered[scenario] = {Path(path).name for path, text in manifests.items() if text.strip()}
    templates = {p.name for p in (CHART / "templates").iterdir() if p.suffix in (".yaml", ".txt")}
    never = templates - set().union(*rendered.values())
    assert not never, f"templates no ci/*-values.yaml scenario renders: {sorted(never)}"
    optional = {"notifier-deployment.yaml", "sink-deployment.yaml", "retrain-cronjob.yaml", "promote-job.yaml",
                "retrain-configmap.yaml", "retrain-approve-job.yaml",
                "servicemonitor.yaml", "prometheusrule.yaml", "hpa.yaml", "networkpolicy.yaml",
                "ingress.yaml", "scaledobject.yaml"}
    assert not rendered["default"] & optional, f"on by default: {sorted(rendered['default'] & optional)}"


def test_chart_version_is_bumped_with_every_chart_change_and_app_version_is_the_package_version(chart):
    """appVersion is the image the chart deploys (the package version); version moves with the chart."""
    import subprocess
    import tomllib

    meta = chart.metadata
    package = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert meta["appVersion"] == package, "appVersion must be the ticket-classifier version the image carries"
    git = ["git", "-C", str(ROOT)]
    if subprocess.run(git + ["rev-parse", "--git-dir"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout: no history to compare the chart with")
    bump = subprocess.run(git + ["log", "-1", "--format=%H", "-G^version:", "--", str(CHART / "Chart.yaml")],
                          capture_output=True, text=True, check=True).stdout.strip()
    if not bump:
        pytest.skip("the chart version was never changed in this history (shallow clone?)")
    changed = subprocess.run(git + ["diff", "--name-only", bump, "--", str(CHART)],
                             capture_output=True, text=True, check=True).stdout.split()
    changed = [path for path in changed if not path.endswith("Chart.yaml")]
    assert not changed, f"the chart changed since its version was last bumped ({meta['version']}): {changed}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_is_clean(scenario):
    report = helm.lint(CHART, scenario_values(scenario), strict=True, namespace="tickets")
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # 1 = info ("icon is recommended")
    assert not report["errors"] and not problems, report


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rendered_object_is_valid_kubernetes(chart, scenario):
    docs = render(chart, scenario_values(scenario))
    assert docs
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue  # checked structurally below
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} ({scenario}): {path}: {exc.message}")


def test_default_install_is_a_worker_with_its_service_and_registry(chart):
    kinds = sorted(d["kind"] for d in render(chart))
    assert kinds == ["ConfigMap", "Deployment", "PersistentVolumeClaim", "Service", "ServiceAccount"]


def test_full_scenario_renders_every_feature(chart):
    kinds = {d["kind"] for d in render(chart, scenario_values("full"))}
    assert {"Deployment", "Service", "ConfigMap", "CronJob", "Job", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule",
            "PersistentVolumeClaim", "ServiceAccount"} <= kinds
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]
                   for d in by_kind(render(chart, scenario_values("full")), "Deployment")}
    assert deployments == {"worker", "notifier", "sink"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pods_are_locked_down(chart, scenario):
    for name, spec in pod_specs(render(chart, scenario_values(scenario))):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert ctx["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert ctx["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert "add" not in ctx["capabilities"]
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in tmp_volumes, f"{name}/{container['name']}: no emptyDir on /tmp"
            assert "resources" in container


def test_gpu_scenario_requests_gpus_on_gpu_nodes(chart):
    docs = render(chart, scenario_values("gpu"))
    worker = next(d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-worker"))
    spec = worker["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["image"].endswith(":0.1.0-gpu")
    assert spec["nodeSelector"] == {"pool": "inference", "nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    config = by_kind(docs, "ConfigMap")[0]["data"]
    assert config["TICKETS_EMBED_PROVIDER"] == "cuda" and config["TICKETS_EMBED_VARIANT"] == "fp32"
    cpu = render(chart)
    cpu_container = next(d for d in by_kind(cpu, "Deployment"))["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in cpu_container["resources"].get("limits", {})
    assert by_kind(cpu, "ConfigMap")[0]["data"]["TICKETS_EMBED_PROVIDER"] == "cpu"


def test_model_registry_is_shared_read_only_by_workers_and_writable_by_training(chart):
    docs = render(chart, scenario_values("full"))
    claim = by_kind(docs, "PersistentVolumeClaim")[0]["metadata"]["name"]
    mounts = {}
    for name, spec in pod_specs(docs):
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            for mount in container["volumeMounts"]:
                if mount["name"] == "registry":
                    assert volumes["registry"]["persistentVolumeClaim"]["claimName"] == claim
                    mounts[name] = mount["readOnly"]
    assert mounts == {"tc-ticket-classifier-worker": True, "tc-ticket-classifier-retrain": False,
                      "tc-ticket-classifier-promote": False, "tc-ticket-classifier-approve": False}
    minimal = render(chart, scenario_values("minimal"))
    spec = by_kind(minimal, "Deployment")[0]["spec"]["template"]["spec"]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"registry": "models", "embedder": "embedders"}
    assert not by_kind(minimal, "PersistentVolumeClaim")


def test_retraining_runs_the_lifecycle_and_promotion_by_hand_is_a_separate_job(chart):
    docs = render(chart, scenario_values("full"))
    cron = by_kind(docs, "CronJob")[0]
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = spec["containers"][0]
    args = container["args"]
    assert args == ["python", "-m", "training", "retrain", "--config", "/etc/ticket-classifier/retrain/config.yaml"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    # the config it reads is the chart's retrain.config, mounted from a ConfigMap
    [config_map] = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-retrain")]
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert config["lifecycle"]["promotion"] == "live" and config["lifecycle"]["golden_path"].startswith("/")
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["retrain-config"]["configMap"]["name"] == config_map["metadata"]["name"]
    assert {"name": "retrain-config", "mountPath": "/etc/ticket-classifier/retrain", "readOnly": True} in \
        container["volumeMounts"]
    # it reads the sink's tables with the sink's credentials, by reference
    env = {e["name"]: e for e in container["env"]}
    assert "secretKeyRef" in env["TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE_PWD"]["valueFrom"]
    assert "snowflake-key" in volumes
    [job] = [j for j in by_kind(docs, "Job") if j["metadata"]["name"].endswith("-promote")]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "python", "-m", "stream", "registry", "promote", "20261124T091500Z-3fa2c1"]
    assert not by_kind(render(chart, {"retrain": {"enabled": True}}), "Job"), "no promotion unless asked"
    approve = by_kind(render(chart, {"retrain": {"enabled": True, "approve": "20261124T091500Z-3fa2c1"}}), "Job")
    assert [j["spec"]["template"]["spec"]["containers"][0]["args"][3:] for j in approve] == [
        ["retrain", "--config", "/etc/ticket-classifier/retrain/config.yaml", "--approve", "20261124T091500Z-3fa2c1",
         "--no-train"]]
    text = notes(chart, {"retrain": {"enabled": True}})
    assert "--set promote.version=VERSION" in text and "python -m stream registry promote VERSION" in text


def test_hpa_and_pdb_target_the_worker(chart):
    docs = render(chart, scenario_values("full"))
    worker = next(d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-worker"))
    assert "replicas" not in worker["spec"], "the HPA owns the replica count"
    hpa = by_kind(docs, "HorizontalPodAutoscaler")[0]
    assert hpa["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    pdb = by_kind(docs, "PodDisruptionBudget")[0]
    assert pdb["spec"]["selector"]["matchLabels"] == worker["spec"]["selector"]["matchLabels"]


def test_network_policies_select_each_component(chart):
    docs = render(chart, scenario_values("full"))
    pods = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in by_kind(docs, "Deployment")}
    policies = by_kind(docs, "NetworkPolicy")
    assert len(policies) == len(pods)
    for policy in policies:
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert sum(selector.items() <= labels.items() for labels in pods.values()) == 1
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
        assert {53, 9092} <= egress_ports


def test_service_monitor_scrapes_every_metrics_port(chart):
    docs = render(chart, scenario_values("full"))
    monitor = by_kind(docs, "ServiceMonitor")[0]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selected = [s for s in by_kind(docs, "Service")
                if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
    assert {s["metadata"]["labels"]["app.kubernetes.io/component"] for s in selected} == {"worker", "notifier", "sink"}
    endpoint_ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    for service in selected:
        assert endpoint_ports & {p["name"] for p in service["spec"]["ports"]}, service["metadata"]["name"]
    assert all(e["path"] == "/metrics" for e in monitor["spec"]["endpoints"])


def test_operator_objects_follow_the_cluster_capabilities(chart):
    auto = {"serviceMonitor": {"enabled": "auto"}, "prometheusRule": {"enabled": "auto"}}
    assert not {"ServiceMonitor", "PrometheusRule"} & {d["kind"] for d in render(chart, auto)}
    with_operator = {d["kind"] for d in render(chart, auto, api_versions=OPERATOR_APIS)}
    assert {"ServiceMonitor", "PrometheusRule"} <= with_operator
    off = {"serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False}}
    assert not {"ServiceMonitor", "PrometheusRule"} & {d["kind"] for d in render(chart, off, api_versions=OPERATOR_APIS)}


def test_prometheus_rule_ships_the_tested_rules_file(chart, tmp_path):
    source = yaml.safe_load((CHART / "files" / "alerts.rules.yml").read_text())
    docs = render(chart, scenario_values("full"))
    rule = by_kind(docs, "PrometheusRule")[0]
    shipped = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    expected = {r["alert"]: r for g in source["groups"] for r in g["rules"]}
    assert set(shipped) == set(expected) - {"TicketsSlackRequestsRejected"}  # disabled in full-values
    for name, r in shipped.items():
        assert r["expr"] == expected[name]["expr"]
        assert r["labels"] == {**expected[name]["labels"], "team": "it-ops"}
        assert r["annotations"]["runbook_url"].endswith(f"docs/operations.md#{name.lower()}")
    # What the operator will load must be valid for Prometheus itself.
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_config_map_carries_the_sidecar_label_and_the_dashboard(chart):
    docs = render(chart, scenario_values("full"))
    config_map = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard"))
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Tickets"}
    shipped = json.loads(config_map["data"]["ticket-classifier.json"])
    assert shipped == json.loads((CHART / "files" / "dashboard.json").read_text())


def test_docs_link_to_the_chart_files_as_the_single_source():
    for name in ("alerts.rules.yml", "dashboard.json"):
        link = ROOT / "docs" / "monitoring" / name
        assert link.is_symlink(), f"docs/monitoring/{name} should link to the chart's copy"
        assert link.resolve() == (CHART / "files" / name).resolve()
