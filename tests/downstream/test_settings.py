"""Settings of the notifier and the sink: defaults, validation, redaction."""
from __future__ import annotations

import json

import pytest

from stream.config import ConfigError
from stream.downstream.settings import SlackSettings, SnowflakeSettings


def test_defaults_are_the_embedded_ones():
    slack, snowflake = SlackSettings.from_env({}), SnowflakeSettings.from_env({})
    assert slack.dry_run
    assert snowflake.is_local and (snowflake.host, snowflake.port, snowflake.protocol) == ("127.0.0.1", 8085, "http")


def test_routing_by_category_with_default_and_triage():
    slack = SlackSettings.from_env({"TICKETS_SLACK_CHANNEL_MAP": json.dumps({"Access": "#acc"}),
                                    "TICKETS_SLACK_DEFAULT_CHANNEL": "#all", "TICKETS_SLACK_TRIAGE_CHANNEL": "#tri"})
    assert slack.channel_for("Access", needs_human=False) == "#acc"
    assert slack.channel_for("Other", needs_human=False) == "#all"
    assert slack.channel_for("Access", needs_human=True) == "#tri"


def test_a_label_set_goes_to_each_matching_channel_once():
    slack = SlackSettings.from_env({"TICKETS_SLACK_CHANNEL_MAP": json.dumps(
        {"Access": "#acc", "Hardware": "#hw", "Printer": "#hw"}),
        "TICKETS_SLACK_DEFAULT_CHANNEL": "#all", "TICKETS_SLACK_TRIAGE_CHANNEL": "#tri"})
    assert slack.channels_for("Hardware", False, ["Hardware", "Access", "Printer", "Other", "Misc"]) \
        == ["#hw", "#acc", "#all"]  # label order; Printer shares #hw, Other and Misc share the default
    assert slack.channels_for("Hardware", True, ["Hardware"]) == ["#tri"]
    assert slack.channels_for("Access", False) == ["#acc"]  # a single-label event: its category's channel


@pytest.mark.parametrize("env, message", [
    ({"TICKETS_SLACK_CHANNEL_MAP": "[1, 2]"}, "CHANNEL_MAP"),
    ({"TICKETS_SLACK_CHANNEL_MAP": "{not json"}, "CHANNEL_MAP"),
    ({"TICKETS_SLACK_LABELS": '{"a": 1}'}, "LABELS"),
    ({"TICKETS_SLACK_TICKET_URL_TEMPLATE": "https://x/"}, "{ticket_id}"),
])
def test_bad_slack_settings_say_which_variable(env, message):
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        SlackSettings.from_env(env)


@pytest.mark.parametrize("env, message", [
    ({"TICKETS_SNOWFLAKE_ACCOUNT": "xy12345"}, "USER"),
    ({"TICKETS_SNOWFLAKE_ACCOUNT": "xy12345", "TICKETS_SNOWFLAKE_USER": "u"}, "PASSWORD"),
    ({"TICKETS_SINK_TABLE_CLASSIFIED": "x; DROP TABLE y"}, "plain identifier"),
    ({"TICKETS_SINK_BATCH_SIZE": "0"}, "BATCH_SIZE"),
])
def test_bad_snowflake_settings_say_what_is_missing(env, message):
    with pytest.raises(ConfigError, match=message):
        SnowflakeSettings.from_env(env)


def test_real_account_has_no_emulation_defaults_and_secrets_are_redacted():
    snowflake = SnowflakeSettings.from_env({"TICKETS_SNOWFLAKE_ACCOUNT": "xy12345", "TICKETS_SNOWFLAKE_USER": "svc",
                                            "TICKETS_SNOWFLAKE_PASSWORD": "hunter2-secret"})
    assert (snowflake.host, snowflake.port, snowflake.protocol) == ("", 0, "")
    slack = SlackSettings.from_env({"TICKETS_SLACK_BOT_TOKEN": "xoxb-1", "TICKETS_SLACK_SIGNING_SECRET": "sig-2"})
    shown = json.dumps(snowflake.redacted()) + json.dumps(slack.redacted()) + repr(snowflake) + repr(slack)
    for secret in ("hunter2-secret", "xoxb-1", "sig-2"):
        assert secret not in shown
    assert snowflake.redacted()["password"] == "***" and slack.redacted()["bot_token"] == "***"
