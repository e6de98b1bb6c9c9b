"""Settings of the downstream consumers: the Slack notifier and the Snowflake sink.

Read once from ``TICKETS_SLACK_*`` / ``TICKETS_SNOWFLAKE_*`` / ``TICKETS_SINK_*``
variables by the same typed reader as :mod:`stream.config`, into frozen
objects. Without a Slack token the notifier runs dry (logs what it would
post); without a Snowflake account the sink talks to the local emulation
started by ``python -m stream snowflake-local``.
"""
from __future__ import annotations

import json
from typing import ClassVar, Literal, Sequence

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from typing_extensions import Annotated

from stream.config import PREFIX, TicketsSettings

LOCAL_ACCOUNT = "fakesnow"  # the account name that means "the local emulation"
# What an unset variable means when the account is the local emulation.
_LOCAL_DEFAULTS = {"user": "fake", "password": "snow", "host": "127.0.0.1", "port": 8085, "protocol": "http"}


def _json(value, expected: type, example: str):
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc}); expected e.g. {example}") from None
    if not isinstance(value, expected):
        raise ValueError(f"must be a JSON {expected.__name__}, e.g. {example}")
    return value


class SlackSettings(TicketsSettings):
    """Where classified tickets are posted and how Slack calls us back."""

    doc_title: ClassVar[str] = "Slack notifier and interactivity"
    model_config = SettingsConfigDict(env_prefix=PREFIX + "SLACK_")

    bot_token: SecretStr = Field(SecretStr(""), description=(
        "bot token; empty: dry run, log only (interactivity: clicks are recorded, messages not updated)"))
    signing_secret: SecretStr = Field(SecretStr(""), description="signing secret of the interactivity endpoint")
    api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (a test double points here)")
    channel_map: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict, description=(
        'JSON object category → channel, e.g. `{"Access": "#it-access"}`'))
    default_channel: str = Field("#it-tickets", description="channel for categories missing from the map")
    triage_channel: str = Field("#it-triage", description="channel of needs_human tickets")
    ticket_url_template: str = Field("https://helpdesk.example.com/tickets/{ticket_id}",
                                     description="link of a ticket id in messages (must contain `{ticket_id}`)")
    labels: Annotated[tuple[str, ...], NoDecode] = Field((), description=(
        "JSON list of the categories in the \"pick another\" menu (empty: the promoted model's labels)"))
    excerpt_chars: int = Field(200, ge=20, le=2900, description=(
        "length of the excerpt in messages (20–2900: Slack's text block limit)"))
    dedupe_path: str = Field("artifacts/slack-posted.sqlite", description=(
        "SQLite file remembering what was posted (no double posts)"))
    group_id: str = Field("ticket-classifier-notifier", description="consumer group of the notifier")
    rate_limit_retries: int = Field(5, ge=0, description="retries of a 429, honouring Retry-After")
    max_attempts: int = Field(5, ge=1, description="attempts on 5xx and network errors; then the notifier exits uncommitted")
    backoff_s: float = Field(1.0, gt=0, description="first back-off, doubles")
    interactivity_host: str = Field("0.0.0.0", description="bind address of the interactivity endpoint")
    interactivity_port: int = Field(3000, ge=0, le=65535, description="port of the interactivity endpoint")
    replay_window_s: int = Field(300, ge=1, description="how long a signed request stays valid (Slack's 5 minutes)")
    metrics_port: int = Field(9102, ge=0, le=65535, description="notifier's /metrics, /healthz and /readyz; 0: off")

    @field_validator("channel_map", mode="before")
    @classmethod
    def _channel_map(cls, value):
        value = _json(value, dict, '{"Access": "#it-access"}')
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError('must map category names to channel names, e.g. {"Access": "#it-access"}')
        return value

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value):
        value = _json(value, list, '["Access", "Hardware"]') if isinstance(value, str) else value
        if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) for x in value):
            raise ValueError('must be a JSON list of category names, e.g. ["Access", "Hardware"]')
        return tuple(value)

    @field_validator("ticket_url_template")
    @classmethod
    def _has_ticket_id(cls, value: str) -> str:
        if "{ticket_id}" not in value:
            raise ValueError("must contain {ticket_id}")
        return value

    @property
    def dry_run(self) -> bool:
        return not self.bot_token.get_secret_value()

    def channel_for(self, category: str, needs_human: bool) -> str:
        if needs_human:
            return self.triage_channel
        return self.channel_map.get(category, self.default_channel)

    def channels_for(self, category: str, needs_human: bool, labels: Sequence[str] = ()) -> list[str]:
        """Every channel a ticket goes to, each once: its category's, or one per predicted label
        (labels whose channels coincide, or that share the default channel, make one message).
        A ticket that needs a human goes to the triage channel only."""
        if needs_human or not labels:
            return [self.channel_for(category, needs_human)]
        return list(dict.fromkeys(self.channel_for(label, False) for label in labels))


class SnowflakeSettings(TicketsSettings):
    """How the sink reaches Snowflake (or the local emulation) and how it batches."""

    doc_title: ClassVar[str] = "Snowflake sink"
    model_config = SettingsConfigDict(env_prefix=PREFIX + "SNOWFLAKE_")

    account: str = Field(LOCAL_ACCOUNT, description='account identifier; "fakesnow": the local emulation')
    user: str = Field("", description="user (local emulation: `fake`)")
    password: SecretStr = Field(SecretStr(""), description="password (local emulation: `snow`)")
    private_key_file: str = Field("", description="PEM, key-pair auth; wins over the password")
    private_key_file_pwd: SecretStr = Field(SecretStr(""), description="passphrase of that key")
    warehouse: str = Field("", description="warehouse")
    database: str = Field("TICKETS", description="database")
    schema_: str = Field("PUBLIC", validation_alias="TICKETS_SNOWFLAKE_SCHEMA", description="schema")
    role: str = Field("", description="role")
    host: str = Field("", description="host (local emulation: `127.0.0.1`)")
    port: int = Field(0, ge=0, le=65535, description="port (local emulation: `8085`)")
    protocol: Literal["", "http", "https"] = Field("", description="`http` or `https` (local emulation: `http`)")
    local_db_path: str = Field("artifacts/snowflake", description="the local emulation's DuckDB files")
    table_classified: str = Field("CLASSIFIED_TICKETS", validation_alias="TICKETS_SINK_TABLE_CLASSIFIED",
                                  description="table of predictions (MERGE key: ticket id + model version)")
    table_feedback: str = Field("TICKET_FEEDBACK", validation_alias="TICKETS_SINK_TABLE_FEEDBACK",
                                description="table of human corrections")
    batch_size: int = Field(500, ge=1, validation_alias="TICKETS_SINK_BATCH_SIZE",
                            description="flush at this many rows…")
    batch_interval_s: float = Field(5.0, gt=0, validation_alias="TICKETS_SINK_BATCH_INTERVAL_S",
                                    description="…or this long after the first")
    max_attempts: int = Field(5, ge=1, validation_alias="TICKETS_SINK_MAX_ATTEMPTS",
                              description="attempts on transient errors; then the sink exits")
    backoff_s: float = Field(1.0, gt=0, validation_alias="TICKETS_SINK_BACKOFF_S", description="first back-off, doubles")
    group_id: str = Field("ticket-classifier-sink", validation_alias="TICKETS_SINK_GROUP_ID",
                          description="consumer group of the sink")
    metrics_port: int = Field(9103, ge=0, le=65535, validation_alias="TICKETS_SINK_METRICS_PORT",
                              description="sink's /metrics, /healthz and /readyz; 0: off")

    @model_validator(mode="before")
    @classmethod
    def _local_defaults(cls, data):
        if isinstance(data, dict) and data.get("account", LOCAL_ACCOUNT) == LOCAL_ACCOUNT:
            data = {**_LOCAL_DEFAULTS, **data}
        return data

    @field_validator("protocol", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.lower() if isinstance(value, str) else value

    @field_validator("database", "schema_", "table_classified", "table_feedback")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.replace("_", "").isalnum():
            raise ValueError(f"{value!r} must be a plain identifier (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _credentials(self):
        if not self.user:
            raise ValueError("TICKETS_SNOWFLAKE_USER is required with a real TICKETS_SNOWFLAKE_ACCOUNT")
        if not (self.password.get_secret_value() or self.private_key_file):
            raise ValueError("set TICKETS_SNOWFLAKE_PASSWORD or TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE")
        return self

    @property
    def schema(self) -> str:
        """The Snowflake schema (``schema`` is a pydantic name, so the field is ``schema_``)."""
        return self.schema_

    @property
    def is_local(self) -> bool:
        return self.account == LOCAL_ACCOUNT
