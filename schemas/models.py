"""Pydantic models of the event contracts, mirroring ``schemas/json/*.json`` (each event's newest version).

The JSON Schema files are the language-neutral contract; these models are how
Python code builds and checks the same events. ``tests/schemas`` keeps the two
in agreement by validating every example (and every broken example) with both.
Types are strict where JSON Schema is (no "1" for 1, no 0 for false), so an
event one accepts the other accepts too.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
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
#: ClassifiedEvent is at version 4 (2: ``language``, 3: ``evidence``, 4: ``arm`` and ``labels``);
#: FeedbackEvent at version 2 (``labels_added``, ``labels_removed``); DeadLetterEvent at version 2 (the
#: original record kept exactly: ``payload_base64``, ``headers``); every other event is at version 1.
CLASSIFIED_SCHEMA_VERSION = "4"
FEEDBACK_SCHEMA_VERSION = "2"
DEAD_LETTER_SCHEMA_VERSION = "2"
#: The registry aliases a worker serves from (``stream.inference.registry``).
Arm = Literal["champion", "challenger"]


#: RFC 3339 date-times only, with an offset no larger than ±23:59 (one regex for both validators).
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
#: Years a date-time may carry, as written (before its offset is applied). With any offset the
#: instant then lies between 1969-12-31 and 2200-01-01 UTC, which every consumer can convert:
#: Python in any timezone (year 1 and 9999 overflow there), Snowflake TIMESTAMP columns, pandas'
#: datetime64[ns] (1677-2262) and epoch seconds (≥ -86,400). No real ticket falls outside.
MIN_YEAR, MAX_YEAR = 1970, 2199
#: The JSON Schema spelling of the same year range (a ``pattern`` on date-time strings).
YEAR_PATTERN = "^(19[7-9][0-9]|2[01][0-9]{2})-"

#: Limits of a TicketEvent's fields. They bound what one ticket costs to clean and embed, and keep
#: every ClassifiedEvent small (ticket id, subject and a 280-char excerpt are all it copies: under
#: 10 kB even with every character JSON-escaped), far below a broker's 1 MiB message size.
TICKET_ID_MAX_CHARS = 256
SUBJECT_MAX_CHARS = 1_000
MESSAGES_MAX = 500
MESSAGE_TEXT_MAX_CHARS = 100_000   # ~15,000 words; the embedder reads the first 512 tokens anyway
TRIAGE_MAX_KEYS = 32
TRIAGE_KEY_MAX_CHARS = 64
TRIAGE_VALUE_MAX_CHARS = 1_000
LANGUAGE_MAX_CHARS = 35            # the longest BCP 47 tag RFC 5646 asks implementations to support
EVIDENCE_MAX_ITEMS = 10            # neighbours and terms of a ClassifiedEvent (serving sends 3 and 5)
LABELS_MAX_ITEMS = 100             # a label set (ClassifiedEvent.labels, a FeedbackEvent's label edit)


def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 date-time string → aware datetime; ``ValueError`` naming what is wrong."""
    if not RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with offset, e.g. 2026-11-24T09:15:00Z")
    parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
    _check_year(parsed)
    return parsed


def _check_year(value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return value


def _rfc3339_only(value):
    """Strings are parsed by :func:`parse_rfc3339` (as the JSON Schema check does); epoch numbers are refused."""
    if isinstance(value, str):
        return parse_rfc3339(value)
    if isinstance(value, datetime):
        return value
    raise ValueError("must be an RFC 3339 date-time string, e.g. 2026-11-24T09:15:00Z")


def _utf8_encodable(value: str) -> str:
    """Refuse lone surrogates (``"\\ud800"`` in JSON): they decode but can never be encoded again."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains a lone surrogate (U+{ord(value[exc.start]):04X}) at index {exc.start}: "
                         f"text must be valid Unicode") from None
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only), AfterValidator(_check_year)]
#: Text that can be written back as UTF-8 (the only way a Python str can fail to encode is a lone surrogate).
Text = Annotated[StrictStr, AfterValidator(_utf8_encodable)]
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
    "unsupported_content_type",
]


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
    text: Annotated[Text, Field(max_length=MESSAGE_TEXT_MAX_CHARS)]
    sent_at: Timestamp | None = None
    # How ``text`` is written; None: cleaning sniffs it (HTML is parsed only when it is HTML).
    content_type: Literal["text/plain", "text/html"] | None = None


class TicketEvent(_Event):
    """A ticket entering the classifier (topic ``tickets.raw``)."""

    # "\S" would differ between Python's re and pydantic's Rust regex (U+001C-U+001F): spelled out.
    ticket_id: Annotated[Text, Field(min_length=1, max_length=TICKET_ID_MAX_CHARS, pattern=r"[^\s\x1c-\x1f]")]
    source: Source
    subject: Annotated[Text, Field(max_length=SUBJECT_MAX_CHARS)] | None = None
    messages: Annotated[list[Message], Field(min_length=1, max_length=MESSAGES_MAX)]
    triage: Annotated[
        dict[Annotated[Text, Field(min_length=1, max_length=TRIAGE_KEY_MAX_CHARS)],
             Annotated[Text, Field(max_length=TRIAGE_VALUE_MAX_CHARS)]],
        Field(max_length=TRIAGE_MAX_KEYS),
    ] | None = None
    language: Annotated[Text, Field(max_length=LANGUAGE_MAX_CHARS)] | None = None
    created_at: Timestamp


class TopCategory(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    category: NonEmptyStr
    probability: Probability


class NeighbourTicket(BaseModel):
    """A training ticket close to this one in e5 space, and the label it was trained with."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ticket_id: Annotated[StrictStr, Field(min_length=1, max_length=TICKET_ID_MAX_CHARS)]
    label: NonEmptyStr
    similarity: Annotated[StrictFloat | StrictInt, Field(ge=-1, le=1)]
    excerpt: Annotated[StrictStr, Field(max_length=280)] | None = None


class Evidence(BaseModel):
    """Why the model decided: nearest past tickets and the terms that pushed the predicted category."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    neighbours: Annotated[list[NeighbourTicket], Field(max_length=EVIDENCE_MAX_ITEMS)] = []
    terms: Annotated[list[Annotated[StrictStr, Field(min_length=1, max_length=64)]],
                     Field(max_length=EVIDENCE_MAX_ITEMS)] = []


class LabelScore(BaseModel):
    """One label of a multi-label answer and its own (one-vs-rest) probability."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    label: NonEmptyStr
    probability: Probability


LabelSet = Annotated[list[NonEmptyStr], Field(max_length=LABELS_MAX_ITEMS)]


class ClassifiedEvent(_Event):
    """The classifier's decision for one ticket (topic ``tickets.classified``).

    Version 2 added ``language``, version 3 the optional ``evidence``, version 4 the optional
    ``arm`` (which alias served it) and ``labels`` (multi-label versions: the predicted set); older
    events stay valid.
    """

    schema_version: Literal["1", "2", "3", "4"] = CLASSIFIED_SCHEMA_VERSION
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
    evidence: Evidence | None = None
    arm: Arm | None = None
    # None: a single-label version (category is the answer); a list, maybe empty: a multi-label
    # version's predicted set, most probable first (category stays the most probable label)
    labels: Annotated[list[LabelScore], Field(max_length=LABELS_MAX_ITEMS)] | None = None
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

    @property
    def label_names(self) -> list[str]:
        """The predicted label set, most probable first; ``[]`` for a single-label version."""
        return [item.label for item in self.labels or ()]


class ShadowClassifiedEvent(ClassifiedEvent):
    """The challenger's decision for a ticket the champion served (topic ``tickets.classified.shadow``).

    Never acted on: it is there so that the two versions can be compared on live traffic.
    """

    schema_version: Literal["1"] = "1"
    arm: Literal["challenger"] = "challenger"
    champion_version: NonEmptyStr
    champion_category: StrictStr | None = None

    @field_validator("language")
    @classmethod
    def _language_from_version_2(cls, value, info: ValidationInfo):
        if value is None:
            raise ValueError("required (a language code such as 'en', or 'und')")
        return value


class FeedbackEvent(_Event):
    """A person's correction of a classification (topic ``tickets.feedback``).

    Version 2 adds the optional ``labels_added``/``labels_removed``: a label edit of a
    multi-label ticket, which leaves the category as it was (``corrected_category`` repeats
    ``previous_category``). Version-1 events stay valid.
    """

    schema_version: Literal["1", "2"] = FEEDBACK_SCHEMA_VERSION
    # derived from the click itself (action, message, user, action time), so a replayed click is the same event
    event_id: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$")] | None = None
    ticket_id: NonEmptyStr
    corrected_category: NonEmptyStr
    previous_category: StrictStr | None = None
    model_version: StrictStr | None = None
    labels_added: LabelSet | None = None
    labels_removed: LabelSet | None = None
    user: NonEmptyStr
    channel: NonEmptyStr
    source: Literal["slack", "api"]
    at: Timestamp

    @property
    def is_label_edit(self) -> bool:
        """True for a label edit (labels added or removed), which corrects no category."""
        return bool(self.labels_added or self.labels_removed)


class OriginalHeader(BaseModel):
    """One header of the dead-lettered record, its value as base64 (header values are bytes)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    key: StrictStr
    value_base64: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9+/]*={0,2}$")] | None = None


class DeadLetterEvent(_Event):
    """An input that could not be processed (topic ``tickets.dlq``).

    Version 2 keeps the original record exactly (``payload_base64`` and ``headers``) whenever it fits the
    dead letter's size bound, so it can be replayed byte for byte; version-1 letters stay valid.
    """

    schema_version: Literal["1", "2"] = DEAD_LETTER_SCHEMA_VERSION
    error_code: ErrorCode
    reason: NonEmptyStr
    component: NonEmptyStr
    payload: StrictStr
    payload_bytes: Annotated[StrictInt, Field(ge=0)] | None = None
    payload_sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    payload_truncated: StrictBool = False
    # the exact original value (base64) and headers; null when they did not fit the bound (or no value)
    payload_base64: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9+/]*={0,2}$")] | None = None
    headers: list[OriginalHeader] | None = None
    topic: NonEmptyStr
    partition: Annotated[StrictInt, Field(ge=0)]
    offset: Annotated[StrictInt, Field(ge=0)]
    failed_at: Timestamp


#: Event name (as in the JSON Schema file names) → model.
MODELS: dict[str, type[_Event]] = {
    "ticket_event": TicketEvent,
    "classified_event": ClassifiedEvent,
    "shadow_classified_event": ShadowClassifiedEvent,
    "feedback_event": FeedbackEvent,
    "dead_letter_event": DeadLetterEvent,
}
