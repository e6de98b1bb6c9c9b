"""Settings, read once from ``TICKETS_*`` environment variables into frozen objects.

Nothing else in the project reads ``os.environ``: every knob is here, with its
default, so the README's configuration table and the code cannot drift apart.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from stream.inference.language import DEFAULT_LANGUAGES, parse_languages

PREFIX = "TICKETS_"
#: Default bound of an encoded dead letter (``stream.kafka.dlq.DEFAULT_MAX_DEAD_LETTER_BYTES``, not imported:
#: config stays free of the rest of the package; a test keeps the two equal).
DEFAULT_DLQ_MAX_BYTES = 512 * 1024
MIN_DLQ_MAX_BYTES = 16 * 1024
MAX_DLQ_MAX_BYTES = 1024 * 1024 - 16 * 1024
SECRET_MARKERS = ("PASSWORD", "TOKEN", "SECRET", "PRIVATE_KEY")
# A marker anywhere in the name, except "token" in "tokens" (embed_max_tokens is a count).
_SECRET_NAME = re.compile("|".join(m.lower() for m in SECRET_MARKERS).replace("token", "token(?!s)") + "|pwd")


def _is_secret(key: str) -> bool:
    return bool(_SECRET_NAME.search(key.lower()))


class ConfigError(ValueError):
    """A setting has a value the program cannot use."""


class _Env:
    """Typed reads of prefixed variables from one environment mapping."""

    def __init__(self, environ: Mapping[str, str]):
        self._env = environ

    def str(self, name: str, default: str = "") -> str:
        return self._env.get(PREFIX + name, default)

    def int(self, name: str, default: int) -> int:
        raw = self._env.get(PREFIX + name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name}={raw!r} is not an integer") from None

    def float(self, name: str, default: float) -> float:
        raw = self._env.get(PREFIX + name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name}={raw!r} is not a number") from None

    def bool(self, name: str, default: bool) -> bool:
        raw = self._env.get(PREFIX + name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not a boolean (use true/false)")

    def json(self, name: str, default):
        raw = self._env.get(PREFIX + name)
        if not raw:
            return default
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{PREFIX}{name} is not valid JSON: {exc}") from None


def _languages(raw: str) -> tuple[str, ...]:
    try:
        return parse_languages(raw)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}LANGUAGES={raw!r}: {exc}") from None


def _default_embedder_dir() -> str:
    return str(Path(os.path.expanduser("~/.cache/ticket-classifier/embedders")))


@dataclass(frozen=True)
class KafkaSettings:
    """Where the broker is and how to authenticate to it."""

    bootstrap: str = "kafka://127.0.0.1:9092"  # TICKETS_KAFKA_BOOTSTRAP (comma-separated host:port list)
    security_protocol: str = "PLAINTEXT"      # TICKETS_KAFKA_SECURITY_PROTOCOL: PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL
    sasl_mechanism: str = ""                  # TICKETS_KAFKA_SASL_MECHANISM: PLAIN|SCRAM-SHA-256|SCRAM-SHA-512
    sasl_username: str = ""                   # TICKETS_KAFKA_SASL_USERNAME
    sasl_password: str = field(default="", repr=False)  # TICKETS_KAFKA_SASL_PASSWORD
    ssl_cafile: str = ""                      # TICKETS_KAFKA_SSL_CAFILE
    topic_raw: str = "tickets.raw"            # TICKETS_TOPIC_RAW
    topic_classified: str = "tickets.classified"  # TICKETS_TOPIC_CLASSIFIED
    topic_feedback: str = "tickets.feedback"  # TICKETS_TOPIC_FEEDBACK
    topic_dlq: str = "tickets.dlq"            # TICKETS_TOPIC_DLQ
    partitions: int = 4                       # TICKETS_TOPIC_PARTITIONS
    replication: int = 1                      # TICKETS_TOPIC_REPLICATION
    # Tansu (and most brokers) hold group joins for half the session timeout;
    # 6 s keeps rebalances quick while still tolerating a slow batch.
    session_timeout_s: float = 6.0            # TICKETS_KAFKA_SESSION_TIMEOUT_S
    heartbeat_s: float = 1.0                  # TICKETS_KAFKA_HEARTBEAT_S


@dataclass(frozen=True)
class Settings:
    """Every setting of every process (worker, notifier, sink, demo)."""

    kafka: KafkaSettings
    app_id: str = "ticket-classifier"        # TICKETS_APP_ID (Faust app id = consumer group)
    web_host: str = "127.0.0.1"              # TICKETS_WEB_HOST
    web_port: int = 6066                     # TICKETS_WEB_PORT
    max_batch: int = 64                      # TICKETS_MAX_BATCH
    max_wait_s: float = 0.1                  # TICKETS_MAX_WAIT_S
    max_payload_bytes: int = 256 * 1024      # TICKETS_MAX_PAYLOAD_BYTES
    # Bound of one encoded dead letter (the payload is cut to fit); keep it under the
    # producer's max request size (1 MiB) and the broker's message.max.bytes.
    dlq_max_bytes: int = DEFAULT_DLQ_MAX_BYTES  # TICKETS_DLQ_MAX_BYTES
    inference_retries: int = 2               # TICKETS_INFERENCE_RETRIES
    model_poll_s: float = 10.0               # TICKETS_MODEL_POLL_S
    registry_dir: str = "artifacts/registry"  # TICKETS_REGISTRY_DIR
    embedder_dir: str = field(default_factory=_default_embedder_dir)  # TICKETS_EMBEDDER_DIR
    embed_variant: str = "int8"              # TICKETS_EMBED_VARIANT: int8|fp32
    embed_max_tokens: int = 512              # TICKETS_EMBED_MAX_TOKENS
    embed_threads: int = 0                   # TICKETS_EMBED_THREADS (0 = onnxruntime's default)
    embed_provider: str = "auto"             # TICKETS_EMBED_PROVIDER: auto|cpu|cuda
    # Languages the detector may answer (comma-separated ISO 639-1 codes); others count as "other".
    languages: tuple[str, ...] = DEFAULT_LANGUAGES  # TICKETS_LANGUAGES
    log_level: str = "INFO"                  # TICKETS_LOG_LEVEL
    log_format: str = "auto"                 # TICKETS_LOG_FORMAT: auto|json|text (auto: text on a TTY)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = _Env(os.environ if environ is None else environ)
        kd = KafkaSettings()
        kafka = KafkaSettings(
            bootstrap=env.str("KAFKA_BOOTSTRAP", kd.bootstrap),
            security_protocol=env.str("KAFKA_SECURITY_PROTOCOL", kd.security_protocol).upper(),
            sasl_mechanism=env.str("KAFKA_SASL_MECHANISM", kd.sasl_mechanism).upper(),
            sasl_username=env.str("KAFKA_SASL_USERNAME"),
            sasl_password=env.str("KAFKA_SASL_PASSWORD"),
            ssl_cafile=env.str("KAFKA_SSL_CAFILE"),
            topic_raw=env.str("TOPIC_RAW", kd.topic_raw),
            topic_classified=env.str("TOPIC_CLASSIFIED", kd.topic_classified),
            topic_feedback=env.str("TOPIC_FEEDBACK", kd.topic_feedback),
            topic_dlq=env.str("TOPIC_DLQ", kd.topic_dlq),
            partitions=env.int("TOPIC_PARTITIONS", kd.partitions),
            replication=env.int("TOPIC_REPLICATION", kd.replication),
            session_timeout_s=env.float("KAFKA_SESSION_TIMEOUT_S", kd.session_timeout_s),
            heartbeat_s=env.float("KAFKA_HEARTBEAT_S", kd.heartbeat_s),
        )
        d = cls(kafka=kafka)
        settings = cls(
            kafka=kafka,
            app_id=env.str("APP_ID", d.app_id),
            web_host=env.str("WEB_HOST", d.web_host),
            web_port=env.int("WEB_PORT", d.web_port),
            max_batch=env.int("MAX_BATCH", d.max_batch),
            max_wait_s=env.float("MAX_WAIT_S", d.max_wait_s),
            max_payload_bytes=env.int("MAX_PAYLOAD_BYTES", d.max_payload_bytes),
            dlq_max_bytes=env.int("DLQ_MAX_BYTES", d.dlq_max_bytes),
            inference_retries=env.int("INFERENCE_RETRIES", d.inference_retries),
            model_poll_s=env.float("MODEL_POLL_S", d.model_poll_s),
            registry_dir=env.str("REGISTRY_DIR", d.registry_dir),
            embedder_dir=env.str("EMBEDDER_DIR", d.embedder_dir),
            embed_variant=env.str("EMBED_VARIANT", d.embed_variant),
            embed_max_tokens=env.int("EMBED_MAX_TOKENS", d.embed_max_tokens),
            embed_threads=env.int("EMBED_THREADS", d.embed_threads),
            embed_provider=env.str("EMBED_PROVIDER", d.embed_provider).lower(),
            languages=_languages(env.str("LANGUAGES", ",".join(d.languages))),
            log_level=env.str("LOG_LEVEL", d.log_level).upper(),
            log_format=env.str("LOG_FORMAT", d.log_format).lower(),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.max_batch < 1:
            raise ConfigError("TICKETS_MAX_BATCH must be at least 1")
        if self.max_payload_bytes < 1024:
            raise ConfigError("TICKETS_MAX_PAYLOAD_BYTES must be at least 1024")
        if not MIN_DLQ_MAX_BYTES <= self.dlq_max_bytes <= MAX_DLQ_MAX_BYTES:
            raise ConfigError(f"TICKETS_DLQ_MAX_BYTES must be between {MIN_DLQ_MAX_BYTES} (a dead letter's reason "
                              f"and context, fully escaped) and {MAX_DLQ_MAX_BYTES} (the producer's max request "
                              f"size, less room for the key and headers)")
        if self.embed_variant not in ("int8", "fp32"):
            raise ConfigError("TICKETS_EMBED_VARIANT must be int8 or fp32")
        if self.embed_provider not in ("auto", "cpu", "cuda"):
            raise ConfigError("TICKETS_EMBED_PROVIDER must be auto, cpu or cuda")
        if self.kafka.security_protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ConfigError("TICKETS_KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
        if self.kafka.sasl_mechanism not in ("", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise ConfigError("TICKETS_KAFKA_SASL_MECHANISM must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")

    def redacted(self) -> dict:
        """The settings as a dict with every secret replaced, safe for logs and /readyz."""
        def scrub(obj):
            out = {}
            for key, value in obj.items():
                if isinstance(value, dict):
                    out[key] = scrub(value)
                elif _is_secret(key) and value:
                    out[key] = "***"
                else:
                    out[key] = value
            return out
        return scrub(dataclasses.asdict(self))
