"""Pydantic models of the worker's HTTP bodies that are not events: the OpenAPI document is generated from them.

The views build these bodies by hand (Faust's ``View.json``); a test checks that
what they answer validates against these models, so the document cannot lie.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.models import TICKET_ID_MAX_CHARS, SUBJECT_MAX_CHARS, MESSAGE_TEXT_MAX_CHARS, Source

#: Most tickets one ``POST /classify`` request may carry; they are classified in TICKETS_MAX_BATCH chunks.
MAX_TICKETS_PER_REQUEST = 256
#: What ``POST /classify`` answers per error code (the dead-letter codes of the topic, and ``not_ready``).
#: Every per-ticket error is the client's (the topic dead-letters the same ticket); 5xx is kept for our
#: own failures (no model loaded, a bug), never for what a client sent.
ERROR_STATUS = {"invalid_json": 400, "payload_too_large": 413, "schema_violation": 422, "empty_text": 422,
                "inference_failed": 422, "processing_failed": 422, "not_ready": 503}


class TextTicket(BaseModel):
    """The short form of a ticket: just its text (the other fields default: an ``adhoc-…`` id, chat, now)."""

    model_config = ConfigDict(extra="ignore", title="TextTicket")

    text: Annotated[str, Field(max_length=MESSAGE_TEXT_MAX_CHARS, description="The requester's message.")]
    ticket_id: Annotated[str | None, Field(max_length=TICKET_ID_MAX_CHARS,
                                           description="Default: adhoc- and a hash of the text.")] = None
    source: Source = "chat"
    subject: Annotated[str | None, Field(max_length=SUBJECT_MAX_CHARS)] = None
    created_at: AwareDatetime | None = Field(None, description="RFC 3339; default: the time of the request.")


class ApiError(BaseModel):
    """Every error answer: the dead-letter error code the topic would use, and the reason."""

    model_config = ConfigDict(title="ApiError")

    error: Literal[tuple(ERROR_STATUS)]  # type: ignore[valid-type]
    detail: Annotated[str, Field(max_length=2000, description="What is wrong, naming the field where there is one.")]


class Health(BaseModel):
    """Liveness: the process and its event loop answer."""

    model_config = ConfigDict(title="Health")

    status: Literal["ok"]


class Readiness(BaseModel):
    """Readiness and what the worker runs with (secrets as ``***``)."""

    model_config = ConfigDict(extra="allow", title="Readiness")

    ready: bool
    model_loaded: bool
    model_version: str | None
    embedder_id: str | None
    assigned_partitions: list[int]
    kafka: dict = Field(description="Broker and security settings in use (no secrets).")
    settings: dict = Field(description="The resolved TICKETS_* settings, secrets redacted.")
