"""Pydantic models of the event contracts, mirroring ``schemas/json/*.json`` (each event's newest version).

The JSON Schema files are the language-neutral contract; these models are how
Python code builds and checks the same events. ``tests/schemas`` keeps the two
in agreement by validating every example (and every broken example) with both.
Types are strict where JSON Schema is (no "1" for 1, no 0 for false), so an
event one accepts the other accepts too.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

SCHEMA_VERSION = "1"
#: ClassifiedEvent is at version 2 (``language``); every other event is at version 1.
CLASSIFIED_SCHEMA_VERSION = "2"


def _rfc3339_only(value):
    """Refuse epoch numbers, which pydantic would otherwise read as datetimes."""
    if isinstance(value, (str, datetime)):
        return value
    raise ValueError("must be an RFC 3339 date-time string, e.g. 2026-11-24T09:15:00Z")


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]
Probability = Annotated[StrictFloat | StrictInt, Field(ge=0, le=1)]
Source = Literal["chat", "email"]
Role = Literal["requester", "agent", "system", "bot"]
ErrorCode = Literal[
    "invalid_json",
    "schema_violation",
    "empty_text",
    "payload_too_large",
    "inference_failed",
    "slack_permanent_error",
    "sink_rejected",
    "processing_failed",
]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _Event(BaseModel):
    # Unknown fields are ignored, as the JSON Schemas allow them: producers can
    # add fields without breaking version-1 consumers.
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Literal["1"] = SCHEMA_VERSION

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


class Message(BaseModel):
    """One turn of the conversation."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Role
    text: StrictStr
    sent_at: Timestamp | None = None
    # How ``text`` is written; None: cleaning sniffs it (HTML is parsed only when it is HTML).
    content_type: Literal["text/plain", "text/html"] | None = None


class TicketEvent(_Event):
    """A ticket entering the classifier (topic ``tickets.raw``)."""

    ticket_id: Annotated[StrictStr, Field(min_length=1, max_length=256, pattern=r"\S")]
    source: Source
    subject: StrictStr | None = None
    messages: Annotated[list[Message], Field(min_length=1)]
    triage: dict[str, StrictStr] | None = None
    language: StrictStr | None = None
    created_at: Timestamp


class TopCategory(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    category: NonEmptyStr
    probability: Probability


class ClassifiedEvent(_Event):
    """The classifier's decision for one ticket (topic ``tickets.classified``).

    Version 2 added ``language``; version-1 events (without it) stay valid.
    """

    schema_version: Literal["1", "2"] = CLASSIFIED_SCHEMA_VERSION
    event_id: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$")]
    ticket_id: NonEmptyStr
    category: NonEmptyStr
    confidence: Probability
    top_k: Annotated[list[TopCategory], Field(min_length=1)]
    needs_human: StrictBool
    model_version: NonEmptyStr
    embedder_id: NonEmptyStr
    excerpt: Annotated[StrictStr, Field(max_length=280)]
    subject: StrictStr | None = None
    source: Source
    language: Annotated[StrictStr | None, Field(pattern=r"^[a-z]{2,3}$", validate_default=True)] = None
    created_at: Timestamp
    processed_at: Timestamp
    inference_ms: Annotated[StrictFloat | StrictInt, Field(ge=0)]
    end_to_end_ms: StrictFloat | StrictInt

    @field_validator("language")
    @classmethod
    def _language_from_version_2(cls, value, info: ValidationInfo):
        if value is None and info.data.get("schema_version", CLASSIFIED_SCHEMA_VERSION) != "1":
            raise ValueError("required from schema_version 2 on (a language code such as 'en', or 'und')")
        return value


class FeedbackEvent(_Event):
    """A person's correction of a classification (topic ``tickets.feedback``)."""

    # derived from the click itself (action, message, user, action time), so a replayed click is the same event
    event_id: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$")] | None = None
    ticket_id: NonEmptyStr
    corrected_category: NonEmptyStr
    previous_category: StrictStr | None = None
    model_version: StrictStr | None = None
    user: NonEmptyStr
    channel: NonEmptyStr
    source: Literal["slack", "api"]
    at: Timestamp


class DeadLetterEvent(_Event):
    """An input that could not be processed (topic ``tickets.dlq``)."""

    error_code: ErrorCode
    reason: NonEmptyStr
    component: NonEmptyStr
    payload: StrictStr
    payload_bytes: Annotated[StrictInt, Field(ge=0)] | None = None
    payload_sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    payload_truncated: StrictBool = False
    topic: NonEmptyStr
    partition: Annotated[StrictInt, Field(ge=0)]
    offset: Annotated[StrictInt, Field(ge=0)]
    failed_at: Timestamp


#: Event name (as in the JSON Schema file names) → model.
MODELS: dict[str, type[_Event]] = {
    "ticket_event": TicketEvent,
    "classified_event": ClassifiedEvent,
    "feedback_event": FeedbackEvent,
    "dead_letter_event": DeadLetterEvent,
}
