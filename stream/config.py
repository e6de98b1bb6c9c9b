"""Settings, read once per process from ``TICKETS_*`` environment variables into frozen objects.

Every setting is a typed pydantic field whose description is its documentation:
``docs/configuration.md`` is generated from these classes
(``python -m stream config --markdown``) and a test keeps the page current.
Secrets are ``SecretStr``: that is the one redaction rule (``redacted()``,
``repr``, ``/readyz``). Nothing else in the project reads ``os.environ``.
"""
from __future__ import annotations

import contextvars
import functools
import json
import os
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict, SettingsError
from typing_extensions import Annotated

from stream.exceptions import ConfigError
from stream.inference.language import DEFAULT_LANGUAGES, parse_languages

PREFIX = "TICKETS_"
#: Default bound of an encoded dead letter (``stream.kafka.dlq.DEFAULT_MAX_DEAD_LETTER_BYTES``, not imported:
#: config stays free of the rest of the package; a test keeps the two equal).
DEFAULT_DLQ_MAX_BYTES = 512 * 1024
MIN_DLQ_MAX_BYTES = 16 * 1024
MAX_DLQ_MAX_BYTES = 1024 * 1024 - 16 * 1024
DEFAULT_EMBEDDER_DIR = "~/.cache/ticket-classifier/embedders"

# The mapping a from_env(environ) call reads; None: os.environ.
_ENVIRON: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("tickets_environ", default=None)

__all__ = ["ConfigError", "KafkaSettings", "Settings", "TicketsSettings", "PREFIX"]


class _EnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading the mapping given to ``from_env`` when there is one."""

    def _load_env_vars(self):
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        return {k.lower(): v for k, v in environ.items() if v != ""}


class TicketsSettings(BaseSettings):
    """Base of every settings group: ``TICKETS_*`` variables, frozen, secrets as ``SecretStr``."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore", populate_by_name=True,
                                      hide_input_in_errors=True, env_ignore_empty=True)
    #: Heading of this group in docs/configuration.md.
    doc_title: ClassVar[str] = ""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return init_settings, _EnvSource(settings_cls)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None):
        """The settings from ``environ``; without one, from the process environment, resolved once."""
        if environ is None:
            return _from_process_env(cls)
        token = _ENVIRON.set(dict(environ))
        try:
            nested = {name: field.annotation.from_env(environ) for name, field in cls.model_fields.items()
                      if _is_group(field.annotation)}
            return cls(**nested)
        except ValidationError as exc:
            raise ConfigError(_describe(cls, exc)) from None
        except SettingsError as exc:
            raise ConfigError(str(exc)) from None
        finally:
            _ENVIRON.reset(token)

    @classmethod
    def env_name(cls, name: str) -> str:
        """The variable that sets field ``name``."""
        alias = cls.model_fields[name].validation_alias
        return alias if isinstance(alias, str) else cls.model_config["env_prefix"] + name.upper()

    @classmethod
    def variables(cls) -> dict[str, tuple[type["TicketsSettings"], str]]:
        """Every variable this group (and its nested groups) reads → (group, field name)."""
        out: dict[str, tuple[type[TicketsSettings], str]] = {}
        for name, field in cls.model_fields.items():
            if _is_group(field.annotation):
                out.update(field.annotation.variables())
            else:
                out[cls.env_name(name)] = (cls, name)
        return out

    def redacted(self) -> dict:
        """The settings as a dict, every set secret shown as ``***``: safe for logs and ``/readyz``."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, TicketsSettings):
                out[name] = value.redacted()
            elif isinstance(value, SecretStr):
                out[name] = "***" if value.get_secret_value() else ""
            elif isinstance(value, BaseModel):
                out[name] = value.model_dump(mode="json")
            else:
                out[name] = json.loads(json.dumps(value, default=str))
        return out


def _is_group(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, TicketsSettings)


@functools.cache
def _from_process_env(cls):
    return cls.from_env(dict(os.environ))


def clear_cache() -> None:
    """Forget the process-wide settings (tests that change the environment call this)."""
    _from_process_env.cache_clear()


def _describe(cls: type[TicketsSettings], exc: ValidationError) -> str:
    """One line per problem, each naming the variable (and its value unless it is a secret)."""
    problems = []
    by_alias = {cls.env_name(name).lower(): name for name in cls.model_fields}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        field = by_alias.get(field.lower(), field)
        message = error["msg"].removeprefix("Value error, ")
        if field in cls.model_fields:
            value = error.get("input")
            secret = cls.model_fields[field].annotation is SecretStr
            shown = "" if secret or isinstance(value, dict) else f"={value!r}"
            problems.append(f"{cls.env_name(field)}{shown}: {message}")
        else:
            problems.append(message)
    return "; ".join(problems)


def _upper(value):
    return value.upper() if isinstance(value, str) else value


def _lower(value):
    return value.lower() if isinstance(value, str) else value


class KafkaSettings(TicketsSettings):
    """Where the broker is, how to authenticate to it, and the topics."""

    doc_title: ClassVar[str] = "Broker and topics"
    model_config = SettingsConfigDict(env_prefix=PREFIX + "KAFKA_")

    bootstrap: str = Field("kafka://127.0.0.1:9092", description=(
        "broker list, `host:port[,host:port…]` (a `kafka://` prefix is accepted); the demo starts an "
        "embedded broker when unset"))
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`")
    sasl_mechanism: Literal["", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "", description="`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512` (SASL protocols; default PLAIN)")
    sasl_username: str = Field("", description="SASL user")
    sasl_password: SecretStr = Field(SecretStr(""), description="SASL password")
    ssl_cafile: str = Field("", description="PEM bundle of extra CAs for TLS (system CAs are always trusted)")
    topic_raw: str = Field("tickets.raw", validation_alias="TICKETS_TOPIC_RAW",
                           description="input topic of `TicketEvent`s")
    topic_classified: str = Field("tickets.classified", validation_alias="TICKETS_TOPIC_CLASSIFIED",
                                  description="output topic of `ClassifiedEvent`s")
    topic_feedback: str = Field("tickets.feedback", validation_alias="TICKETS_TOPIC_FEEDBACK",
                                description="`FeedbackEvent`s from Slack buttons")
    topic_dlq: str = Field("tickets.dlq", validation_alias="TICKETS_TOPIC_DLQ",
                           description="dead letters (`DeadLetterEvent`) with the reason and the exact original record "
                                       "(`python -m stream replay-dlq`)")
    topic_classified_shadow: str = Field(
        "tickets.classified.shadow", validation_alias="TICKETS_TOPIC_CLASSIFIED_SHADOW",
        description="the challenger's `ShadowClassifiedEvent`s in shadow mode (read by the sink only)")
    partitions: int = Field(4, ge=1, validation_alias="TICKETS_TOPIC_PARTITIONS",
                            description="partitions of topics the worker creates at start-up")
    replication: int = Field(1, ge=1, validation_alias="TICKETS_TOPIC_REPLICATION",
                             description="replication factor of those topics")
    # Tansu (and most brokers) hold group joins for half the session timeout;
    # 6 s keeps rebalances quick while still tolerating a slow batch.
    session_timeout_s: float = Field(6.0, gt=0, description="consumer-group session timeout (joins wait half of it)")
    heartbeat_s: float = Field(1.0, gt=0, description="consumer heartbeat interval")
    short_fetch_wait: bool = Field(False, description=(
        "the worker's consumer waits at most 100 ms for data instead of Faust's 1.5 s: for brokers such as "
        "Tansu that hold every fetch for the full wait (the demo and the tests turn it on)"))

    _upper_protocol = field_validator("security_protocol", "sasl_mechanism", mode="before")(_upper)


class Settings(TicketsSettings):
    """The worker's settings (and the shared ones every process reads: broker, registry, logs)."""

    doc_title: ClassVar[str] = "Worker, model and logs"

    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="broker and topics")
    app_id: str = Field("ticket-classifier", description="Faust app id, i.e. the worker's consumer group")
    web_host: str = Field("127.0.0.1", description=(
        "HTTP bind address of the worker (`/healthz`, `/readyz`, `/metrics`, `/classify`)"))
    web_port: int = Field(6066, ge=0, le=65535, description="HTTP port of the worker")
    max_batch: int = Field(64, ge=1, description="micro-batch size limit (`stream.take`)")
    max_wait_s: float = Field(0.1, gt=0, description=(
        "longest wait to fill a micro-batch: under load batches fill to `TICKETS_MAX_BATCH` anyway, so this "
        "only adds latency when traffic is light (0.25 → 0.1 cut p99 from 946 to 609 ms at 40 tickets/s)"))
    max_payload_bytes: int = Field(256 * 1024, ge=1024, description=(
        "larger events are dead-lettered as `payload_too_large`; `POST /classify` answers 413 for the same "
        "tickets"))
    dlq_max_bytes: int = Field(DEFAULT_DLQ_MAX_BYTES, ge=MIN_DLQ_MAX_BYTES, le=MAX_DLQ_MAX_BYTES, description=(
        "bound of one encoded dead letter (16 KiB–1008 KiB: a reason fully escaped, and the producer's max "
        "request size less room for key and headers): the exact original (base64, a third larger) is kept "
        "whenever it fits, the readable copy of the payload is cut first; an original too large for the bound "
        "keeps only its head, length and SHA-256 and cannot be replayed (default: originals up to ~380 KiB "
        "replay exactly); keep it under the broker's `message.max.bytes`"))
    inference_retries: int = Field(2, ge=0, description="retries of a failed batch before its tickets are dead-lettered")
    model_poll_s: float = Field(10.0, gt=0, description=(
        "how often the worker checks the registry's aliases (`PROMOTED` = champion, `CHALLENGER`)"))
    registry_dir: str = Field("artifacts/registry", description=(
        "model registry (version folders + alias pointers `PROMOTED`/`CHALLENGER` + `HISTORY`)"))
    challenger_mode: Literal["off", "shadow", "split"] = Field("off", description=(
        "what the worker does with the registry's `challenger` version: `off` (ignore it), `shadow` (score "
        "every ticket with it too and publish that to the shadow topic; only the champion's answer is acted "
        "on) or `split` (the challenger serves `TICKETS_CHALLENGER_FRACTION` of tickets, picked by a hash of "
        "the ticket id); without a challenger every mode serves the champion alone "
        "([docs/operations.md](operations.md#lifecycle-champion-and-challenger))"))
    challenger_fraction: float = Field(0.1, ge=0.0, le=1.0, description=(
        "in `split` mode, the share of tickets the challenger serves (the same ticket id always gets the "
        "same arm)"))
    embedder_dir: str = Field(DEFAULT_EMBEDDER_DIR, description="built ONNX embedders, one folder each")
    embed_variant: Literal["int8-token", "int8", "fp32"] = Field("int8-token", description=(
        "the demo's embedder (a trained version serves with the variant it was trained with): `int8-token` "
        "(default: int8 with per-token scales, the same vector in any batch), `int8` (per-call scales) or `fp32`"))
    embed_max_tokens: int = Field(512, ge=8, description="truncation length of the embedder")
    embed_threads: int = Field(0, ge=0, description="onnxruntime intra-op threads (`0`: its default)")
    embed_batch_tokens: int = Field(256, ge=1, description=(
        "padded tokens per onnxruntime call: 256 takes ~25% less CPU than 1,024 (`bench/stages.py`); a version "
        "trained on the older `int8` variant moves more with its batch mates at 256 (docs/training.md, "
        "\"Serving cost\")"))
    shortcut: bool = Field(True, description=(
        "answer tickets the version's lexical model is sure of without the embedder (about 4x less CPU per "
        "ticket on the shipped data; those tickets show no nearest past tickets); `false` embeds every ticket "
        "([docs/training.md](training.md#features-and-model))"))
    embed_provider: Literal["auto", "cpu", "cuda"] = Field("auto", description=(
        "`auto` (CUDA when onnxruntime-gpu sees a GPU, else CPU), `cpu` or `cuda`"))
    languages: Annotated[tuple[str, ...], NoDecode] = Field(DEFAULT_LANGUAGES, description=(
        "languages the ticket-language detector may answer (ISO 639-1, comma-separated); a ticket the "
        "detector cannot place among them confidently is `und`; a producer-sent language outside them is "
        "kept in the event and counted as `other` in `tickets_classified_by_language_total` "
        "([docs/training.md](training.md#languages-streaminferencelanguagepy-traininglanguagespy))"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field("INFO", description="log level")
    log_format: Literal["auto", "json", "text"] = Field("auto", description=(
        "`auto` (readable on a TTY, JSON otherwise), `json` or `text`"))
    profile: bool = Field(False, description=(
        "log each batch's CPU ms per stage (the stages are always counted in `tickets_stage_cpu_seconds_total`)"))

    _upper_level = field_validator("log_level", mode="before")(_upper)
    _lower_choices = field_validator("embed_variant", "embed_provider", "log_format", "challenger_mode",
                                     mode="before")(_lower)

    @field_validator("embedder_dir")
    @classmethod
    def _expand(cls, value: str) -> str:
        return str(Path(value).expanduser())

    @field_validator("languages", mode="before")
    @classmethod
    def _languages(cls, value):
        return parse_languages(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _heartbeat_within_session(self):
        if self.kafka.heartbeat_s >= self.kafka.session_timeout_s:
            raise ValueError("TICKETS_KAFKA_HEARTBEAT_S must be shorter than TICKETS_KAFKA_SESSION_TIMEOUT_S")
        return self
