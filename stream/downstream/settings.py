"""Settings of the downstream consumers: the Slack notifier and the Snowflake sink.

Read once from ``TICKETS_SLACK_*`` / ``TICKETS_SNOWFLAKE_*`` / ``TICKETS_SINK_*``
variables with the same typed reader as :mod:`stream.config`, into frozen
objects. Without a Slack token the notifier runs dry (logs what it would
post); without a Snowflake account the sink talks to the local emulation
started by ``python -m stream snowflake-local``.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Mapping

from stream.config import SECRET_MARKERS, ConfigError, _Env

LOCAL_ACCOUNT = "fakesnow"  # the account name that means "the local emulation"


def _frozen_map(value) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError('TICKETS_SLACK_CHANNEL_MAP must be a JSON object of category -> channel, e.g. {"Access": "#it-access"}')
    return dict(value)


@dataclass(frozen=True)
class SlackSettings:
    """Where classified tickets are posted and how Slack calls us back."""

    bot_token: str = field(default="", repr=False)       # TICKETS_SLACK_BOT_TOKEN (empty: dry run, log only)
    signing_secret: str = field(default="", repr=False)  # TICKETS_SLACK_SIGNING_SECRET (interactivity endpoint)
    api_url: str = "https://slack.com/api/"               # TICKETS_SLACK_API_URL (a test double points here)
    channel_map: dict[str, str] = field(default_factory=dict)  # TICKETS_SLACK_CHANNEL_MAP: JSON {category: channel}
    default_channel: str = "#it-tickets"                  # TICKETS_SLACK_DEFAULT_CHANNEL
    triage_channel: str = "#it-triage"                    # TICKETS_SLACK_TRIAGE_CHANNEL (needs_human tickets)
    ticket_url_template: str = "https://helpdesk.example.com/tickets/{ticket_id}"  # TICKETS_SLACK_TICKET_URL_TEMPLATE
    labels: tuple[str, ...] = ()                          # TICKETS_SLACK_LABELS: JSON list (empty: from the promoted model)
    excerpt_chars: int = 200                              # TICKETS_SLACK_EXCERPT_CHARS
    dedupe_path: str = "artifacts/slack-posted.sqlite"    # TICKETS_SLACK_DEDUPE_PATH
    group_id: str = "ticket-classifier-notifier"         # TICKETS_SLACK_GROUP_ID
    rate_limit_retries: int = 5                           # TICKETS_SLACK_RATE_LIMIT_RETRIES (429s honoured via Retry-After)
    max_attempts: int = 5                                 # TICKETS_SLACK_MAX_ATTEMPTS (5xx, network; then the notifier exits uncommitted)
    backoff_s: float = 1.0                                # TICKETS_SLACK_BACKOFF_S (first back-off, doubles)
    interactivity_host: str = "0.0.0.0"                   # TICKETS_SLACK_INTERACTIVITY_HOST
    interactivity_port: int = 3000                        # TICKETS_SLACK_INTERACTIVITY_PORT
    replay_window_s: int = 300                            # TICKETS_SLACK_REPLAY_WINDOW_S (Slack's 5 minutes)
    metrics_port: int = 9102                              # TICKETS_SLACK_METRICS_PORT (notifier's /metrics; 0: off)

    @property
    def dry_run(self) -> bool:
        return not self.bot_token

    def channel_for(self, category: str, needs_human: bool) -> str:
        if needs_human:
            return self.triage_channel
        return self.channel_map.get(category, self.default_channel)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SlackSettings":
        env = _Env(os.environ if environ is None else environ)
        d = cls()
        labels = env.json("SLACK_LABELS", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ConfigError('TICKETS_SLACK_LABELS must be a JSON list of category names, e.g. ["Access", "Hardware"]')
        settings = cls(
            bot_token=env.str("SLACK_BOT_TOKEN"),
            signing_secret=env.str("SLACK_SIGNING_SECRET"),
            api_url=env.str("SLACK_API_URL", d.api_url),
            channel_map=_frozen_map(env.json("SLACK_CHANNEL_MAP", {})),
            default_channel=env.str("SLACK_DEFAULT_CHANNEL", d.default_channel),
            triage_channel=env.str("SLACK_TRIAGE_CHANNEL", d.triage_channel),
            ticket_url_template=env.str("SLACK_TICKET_URL_TEMPLATE", d.ticket_url_template),
            labels=tuple(labels),
            excerpt_chars=env.int("SLACK_EXCERPT_CHARS", d.excerpt_chars),
            dedupe_path=env.str("SLACK_DEDUPE_PATH", d.dedupe_path),
            group_id=env.str("SLACK_GROUP_ID", d.group_id),
            rate_limit_retries=env.int("SLACK_RATE_LIMIT_RETRIES", d.rate_limit_retries),
            max_attempts=env.int("SLACK_MAX_ATTEMPTS", d.max_attempts),
            backoff_s=env.float("SLACK_BACKOFF_S", d.backoff_s),
            interactivity_host=env.str("SLACK_INTERACTIVITY_HOST", d.interactivity_host),
            interactivity_port=env.int("SLACK_INTERACTIVITY_PORT", d.interactivity_port),
            replay_window_s=env.int("SLACK_REPLAY_WINDOW_S", d.replay_window_s),
            metrics_port=env.int("SLACK_METRICS_PORT", d.metrics_port),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if "{ticket_id}" not in self.ticket_url_template:
            raise ConfigError("TICKETS_SLACK_TICKET_URL_TEMPLATE must contain {ticket_id}")
        if not 20 <= self.excerpt_chars <= 2900:
            raise ConfigError("TICKETS_SLACK_EXCERPT_CHARS must be between 20 and 2900 (Slack's text block limit)")
        if self.max_attempts < 1:
            raise ConfigError("TICKETS_SLACK_MAX_ATTEMPTS must be at least 1")

    def redacted(self) -> dict:
        return redact(self)


@dataclass(frozen=True)
class SnowflakeSettings:
    """How the sink reaches Snowflake (or the local emulation) and how it batches."""

    account: str = LOCAL_ACCOUNT                 # TICKETS_SNOWFLAKE_ACCOUNT ("fakesnow": the local emulation)
    user: str = "fake"                           # TICKETS_SNOWFLAKE_USER
    password: str = field(default="snow", repr=False)  # TICKETS_SNOWFLAKE_PASSWORD
    private_key_file: str = ""                   # TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE (PEM, key-pair auth; wins over password)
    private_key_file_pwd: str = field(default="", repr=False)  # TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE_PWD
    warehouse: str = ""                          # TICKETS_SNOWFLAKE_WAREHOUSE
    database: str = "TICKETS"                    # TICKETS_SNOWFLAKE_DATABASE
    schema: str = "PUBLIC"                       # TICKETS_SNOWFLAKE_SCHEMA
    role: str = ""                               # TICKETS_SNOWFLAKE_ROLE
    host: str = ""                               # TICKETS_SNOWFLAKE_HOST (emulation: 127.0.0.1)
    port: int = 0                                # TICKETS_SNOWFLAKE_PORT (emulation: 8085)
    protocol: str = ""                           # TICKETS_SNOWFLAKE_PROTOCOL (emulation: http)
    local_db_path: str = "artifacts/snowflake"   # TICKETS_SNOWFLAKE_LOCAL_DB_PATH (emulation's DuckDB files)
    table_classified: str = "CLASSIFIED_TICKETS"  # TICKETS_SINK_TABLE_CLASSIFIED
    table_feedback: str = "TICKET_FEEDBACK"      # TICKETS_SINK_TABLE_FEEDBACK
    batch_size: int = 500                        # TICKETS_SINK_BATCH_SIZE (flush at this many rows…)
    batch_interval_s: float = 5.0                # TICKETS_SINK_BATCH_INTERVAL_S (…or this long after the first)
    max_attempts: int = 5                        # TICKETS_SINK_MAX_ATTEMPTS (transient errors; then the sink exits)
    backoff_s: float = 1.0                       # TICKETS_SINK_BACKOFF_S (first back-off, doubles)
    group_id: str = "ticket-classifier-sink"     # TICKETS_SINK_GROUP_ID
    metrics_port: int = 9103                     # TICKETS_SINK_METRICS_PORT (sink's /metrics; 0: off)

    @property
    def is_local(self) -> bool:
        return self.account == LOCAL_ACCOUNT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SnowflakeSettings":
        env = _Env(os.environ if environ is None else environ)
        d = cls()
        account = env.str("SNOWFLAKE_ACCOUNT", d.account)
        local = account == LOCAL_ACCOUNT
        settings = cls(
            account=account,
            user=env.str("SNOWFLAKE_USER", d.user if local else ""),
            password=env.str("SNOWFLAKE_PASSWORD", d.password if local else ""),
            private_key_file=env.str("SNOWFLAKE_PRIVATE_KEY_FILE"),
            private_key_file_pwd=env.str("SNOWFLAKE_PRIVATE_KEY_FILE_PWD"),
            warehouse=env.str("SNOWFLAKE_WAREHOUSE"),
            database=env.str("SNOWFLAKE_DATABASE", d.database),
            schema=env.str("SNOWFLAKE_SCHEMA", d.schema),
            role=env.str("SNOWFLAKE_ROLE"),
            host=env.str("SNOWFLAKE_HOST", "127.0.0.1" if local else ""),
            port=env.int("SNOWFLAKE_PORT", 8085 if local else 0),
            protocol=env.str("SNOWFLAKE_PROTOCOL", "http" if local else "").lower(),
            local_db_path=env.str("SNOWFLAKE_LOCAL_DB_PATH", d.local_db_path),
            table_classified=env.str("SINK_TABLE_CLASSIFIED", d.table_classified),
            table_feedback=env.str("SINK_TABLE_FEEDBACK", d.table_feedback),
            batch_size=env.int("SINK_BATCH_SIZE", d.batch_size),
            batch_interval_s=env.float("SINK_BATCH_INTERVAL_S", d.batch_interval_s),
            max_attempts=env.int("SINK_MAX_ATTEMPTS", d.max_attempts),
            backoff_s=env.float("SINK_BACKOFF_S", d.backoff_s),
            group_id=env.str("SINK_GROUP_ID", d.group_id),
            metrics_port=env.int("SINK_METRICS_PORT", d.metrics_port),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.user:
            raise ConfigError("TICKETS_SNOWFLAKE_USER is required with a real TICKETS_SNOWFLAKE_ACCOUNT")
        if not (self.password or self.private_key_file):
            raise ConfigError("set TICKETS_SNOWFLAKE_PASSWORD or TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE")
        for name in ("database", "schema", "table_classified", "table_feedback"):
            value = getattr(self, name)
            if not value.replace("_", "").isalnum():
                raise ConfigError(f"Snowflake {name} {value!r} must be a plain identifier (letters, digits, _)")
        if self.protocol not in ("", "http", "https"):
            raise ConfigError("TICKETS_SNOWFLAKE_PROTOCOL must be http or https")
        if self.batch_size < 1 or self.batch_interval_s <= 0:
            raise ConfigError("TICKETS_SINK_BATCH_SIZE must be >= 1 and TICKETS_SINK_BATCH_INTERVAL_S > 0")
        if self.max_attempts < 1:
            raise ConfigError("TICKETS_SINK_MAX_ATTEMPTS must be at least 1")

    def redacted(self) -> dict:
        return redact(self)


def redact(settings) -> dict:
    """A settings dataclass as a dict with every secret replaced, safe for logs."""
    out = {}
    for key, value in dataclasses.asdict(settings).items():
        secret = any(m.lower() in key.lower() for m in SECRET_MARKERS)
        out[key] = "***" if secret and value else value
    return out
