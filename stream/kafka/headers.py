"""Kafka record headers: what every record we write says about itself, and what we read on input.

A generic consumer (a schema registry browser, a CloudEvents router, an
operator with ``kcat``) should know what a record is without parsing its
value. Every record the system writes therefore carries, in CloudEvents 1.0
Kafka *binary* mode (the value stays the plain event JSON):

- ``content-type``: ``application/json`` (CloudEvents' ``datacontenttype``);
- ``schema_name`` / ``schema_version``: the contract in ``schemas/json``
  (``classified_event`` / the event's own ``schema_version``), and
  ``ce_dataschema``: that file's ``$id``;
- ``ce_specversion`` (``1.0``), ``ce_id`` (the event's deterministic id, so a
  re-sent record carries the same id), ``ce_type``, ``ce_source`` (which
  process wrote it), ``ce_time`` (when the event happened) and ``ce_subject``
  (the ticket id, when the event has one).

On input the headers are read when present and never required: producers
that send none keep working. A ``content-type`` that is not JSON is the one
header that can refuse a record (:class:`UnsupportedContentType`, dead-lettered
like any unreadable record).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime

from stream.exceptions import StreamError

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
#: ``ce_type`` is this prefix + the schema name, e.g. ``ticket-classifier.classified_event``.
TYPE_PREFIX = "ticket-classifier."
#: ``ce_source`` is this prefix + the writing component, e.g. ``/ticket-classifier/worker``.
SOURCE_PREFIX = "/ticket-classifier/"
#: ``ce_time`` of each event: its own moment (what happened when), never the moment of sending.
TIME_FIELDS = {"ticket_event": "created_at", "classified_event": "processed_at",
               "shadow_classified_event": "processed_at", "feedback_event": "at", "dead_letter_event": "failed_at"}
#: The names every record we write carries (a test reads them back from the broker).
STANDARD_NAMES = ("content-type", "schema_name", "schema_version", "ce_specversion", "ce_id", "ce_type",
                  "ce_source", "ce_time", "ce_dataschema")

Headers = list[tuple[str, bytes]]


class UnsupportedContentType(StreamError):
    """A record's ``content-type`` header says its value is not JSON; ``error_code``/``reason`` for its dead letter."""

    error_code = "unsupported_content_type"

    def __init__(self, content_type: str):
        self.content_type = content_type
        self.reason = (f"content-type {content_type[:200]!r} is not JSON: send application/json "
                       f"(UTF-8), or no content-type header")
        super().__init__(self.reason)


def schema_id(schema_name: str, version: str) -> str:
    """The ``$id`` of a contract's JSON Schema file (``schemas/json/<name>.v<version>.json``)."""
    return f"urn:ticket-classifier:schemas:{schema_name}:v{version}"


def content_id(value: bytes) -> str:
    """A deterministic id for an event that carries none: the SHA-256 of its bytes (hex 32, like our event ids)."""
    return hashlib.sha256(value).hexdigest()[:32]


def _rfc3339(moment: datetime | str) -> str:
    if isinstance(moment, str):
        return moment
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def record_headers(schema_name: str, version: str, *, event_id: str, time: datetime | str, component: str,
                   subject: str | None = None) -> Headers:
    """The headers of one record holding a ``schema_name`` event at ``version``."""
    headers = [
        ("content-type", CONTENT_TYPE),
        ("schema_name", schema_name),
        ("schema_version", str(version)),
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", event_id),
        ("ce_type", TYPE_PREFIX + schema_name),
        ("ce_source", SOURCE_PREFIX + component),
        ("ce_time", _rfc3339(time)),
        ("ce_dataschema", schema_id(schema_name, version)),
    ]
    if subject:
        headers.append(("ce_subject", subject))
    # Header values are bytes; a lone surrogate (never in a valid event) must not stop a send.
    return [(name, text.encode("utf-8", "replace")) for name, text in headers]


def event_headers(event, value: bytes, *, component: str, event_id: str | None = None) -> Headers:
    """The headers of the record whose value is ``value``, the JSON of ``event`` (any model of ``schemas``).

    ``ce_id`` is the event's own ``event_id`` when it has one, else ``event_id``,
    else the SHA-256 of ``value``: the same event always carries the same id.
    """
    from schemas.models import MODELS

    # The exact class: ShadowClassifiedEvent is a ClassifiedEvent too, with its own contract.
    schema_name = next(name for name, model in MODELS.items() if type(event) is model)
    moment = getattr(event, TIME_FIELDS[schema_name])
    return record_headers(schema_name, event.schema_version,
                          event_id=getattr(event, "event_id", None) or event_id or content_id(value),
                          time=moment, component=component, subject=getattr(event, "ticket_id", None))


def as_list(headers) -> Headers:
    """Headers as a client hands them over (a list of pairs, a mapping, or None) → a list of (str, bytes)."""
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for name, value in items:
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        out.append((str(name), value.encode("utf-8") if isinstance(value, str) else value))
    return out


def header_value(headers, name: str) -> str | None:
    """The last value of header ``name`` (case-insensitive) as text, or None when absent."""
    found = None
    for key, value in as_list(headers):
        if key.lower() == name.lower():
            found = "" if value is None else bytes(value).decode("utf-8", "replace")
    return found


def is_json(content_type: str) -> bool:
    """``application/json`` (or a ``+json`` type), with no charset but UTF-8."""
    media, *params = [part.strip().lower() for part in content_type.split(";")]
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        return False
    if media == "application/cloudevents+json":  # structured mode: the value would be an envelope, not our event
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            return False
    return True


def check_input(headers) -> str | None:
    """Validate an input record's headers; return its ``ce_id`` (None without one).

    Raises :class:`UnsupportedContentType` when a ``content-type`` header names
    anything but JSON; every header is optional.
    """
    content_type = header_value(headers, "content-type")
    if content_type is not None and not is_json(content_type):
        raise UnsupportedContentType(content_type)
    return header_value(headers, "ce_id")


def describe(headers: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """Headers as a readable dict (for logs and tests): last value wins."""
    return {name: (value or b"").decode("utf-8", "replace") for name, value in as_list(list(headers))}
