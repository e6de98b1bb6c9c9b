"""The chart's values: schema, comments, secrets, and settings the code really reads and accepts."""
from __future__ import annotations

import json
import re

import helm_python as helm
import pytest

from tests.fixtures.helm import CHART, SCENARIOS, SECRET_MARKERS, by_kind, pod_specs, render, scenario_values


@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def test_secrets_are_referenced_never_templated(chart):
    docs = render(chart, scenario_values("full"))
    assert not by_kind(docs, "Secret")
    config = by_kind(docs, "ConfigMap")[0]["data"]
    assert not [k for k in config if any(m in k for m in SECRET_MARKERS) and k != "TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE"]
    referenced = set()
    for name, spec in pod_specs(docs):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if any(m in env["name"] for m in SECRET_MARKERS):
                    assert "value" not in env, f"{name}: {env['name']} has a literal value"
                    ref = env["valueFrom"]["secretKeyRef"]
                    referenced.add((env["name"], ref["name"], ref["key"]))
    assert ("TICKETS_SLACK_BOT_TOKEN", "tickets-slack", "bot-token") in referenced
    assert ("TICKETS_SLACK_SIGNING_SECRET", "tickets-slack", "signing-secret") in referenced
    assert ("TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE_PWD", "tickets-snowflake", "private-key-passphrase") in referenced
    assert ("TICKETS_KAFKA_SASL_PASSWORD", "tickets-kafka", "sasl-password") in referenced
    sink = next(spec for name, spec in pod_specs(docs) if name.endswith("-sink"))
    key_volume = next(v for v in sink["volumes"] if v["name"] == "snowflake-key")
    assert key_volume["secret"]["secretName"] == "tickets-snowflake"


@pytest.mark.parametrize("values, message", [
    ({"notifier": {"enabled": True}}, "slack.existingSecret"),
    ({"sink": {"enabled": True}, "snowflake": {"account": "acme", "user": "u"}}, "snowflake.existingSecret"),
    ({"sink": {"enabled": True}, "snowflake": {"existingSecret": "s", "user": "u"}}, "snowflake.account"),
])
def test_components_refuse_to_render_without_their_secrets(chart, values, message):
    with pytest.raises(helm.HelmRenderError, match=message):
        chart.render(values, name="tc")


def test_values_schema_rejects_bad_input_through_helm(chart):
    for bad in ({"worker": {"replicaCount": "two"}},
                {"wroker": {"replicaCount": 2}},
                {"prometheusRule": {"enabled": "yes"}},
                {"config": {"kafkaSecurityProtocol": "TLS"}},
                {"config": {"extra": {"KAFKA_BOOTSTRAP": "x"}}},
                {"image": {"pullPolicy": "Sometimes"}}):
        with pytest.raises(helm.HelmValuesError):
            chart.render(bad, name="tc")
    chart.validate_schema({"worker": {"replicaCount": 3}})


def test_every_value_is_commented_and_in_the_schema():
    """prometheus-community style: a `# --` comment above every value; the schema knows every value."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, str]] = []
    uncommented, unknown = [], []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        node = schema
        for _, parent in stack:
            node = node.get("properties", {}).get(parent, {})
        if "properties" not in node:
            continue  # inside a free-form object (resources, probes, securityContext): Kubernetes' own fields
        path = ".".join([p for _, p in stack] + [key])
        prop = node["properties"].get(key)
        if prop is None:
            unknown.append(path)
        elif "properties" not in prop:
            previous = next((l for l in reversed(lines[:number]) if l.strip()), "")
            if not previous.strip().startswith("# --") and not previous.strip().startswith("#"):
                uncommented.append(path)
        stack.append((indent, key))
    assert not unknown, f"values missing from values.schema.json: {unknown}"
    assert not uncommented, f"values without a comment: {uncommented}"


def _settings_the_code_reads() -> set[str]:
    """Every TICKETS_* variable of the settings classes."""
    from stream.config import Settings
    from stream.downstream.settings import SlackSettings, SnowflakeSettings

    return {name for cls in (Settings, SlackSettings, SnowflakeSettings) for name in cls.variables()}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_settings_are_ones_the_code_reads_and_accepts(chart, scenario):
    from stream.config import Settings
    from stream.downstream.settings import SlackSettings, SnowflakeSettings

    docs = render(chart, scenario_values(scenario))
    known = _settings_the_code_reads()
    environment = dict(next(d for d in by_kind(docs, "ConfigMap") if "TICKETS_APP_ID" in d["data"])["data"])
    for _, spec in pod_specs(docs):
        for container in spec["containers"]:
            environment.update({e["name"]: "placeholder" for e in container.get("env", [])
                                if e["name"].startswith("TICKETS_") and "valueFrom" in e})
            environment.update({e["name"]: e["value"] for e in container.get("env", [])
                                if e["name"].startswith("TICKETS_") and "value" in e})
    unknown = sorted(set(environment) - known)
    assert not unknown, f"the chart sets variables no code reads: {unknown}"
    Settings.from_env(environment)  # raises ConfigError on a value the code cannot use
    if "TICKETS_SLACK_CHANNEL_MAP" in environment:
        SlackSettings.from_env(environment)
    if "TICKETS_SNOWFLAKE_ACCOUNT" in environment:
        SnowflakeSettings.from_env(environment)
