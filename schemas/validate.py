"""Validation against the JSON Schemas, with errors that name the offending field.

Both validators here (JSON Schema and pydantic) report failures as
:class:`SchemaViolation` whose message starts with the field's path, e.g.
``messages[0].role: 'customer' is not one of ...``, so a dead letter or an
HTTP 422 tells the producer exactly what to fix.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Sequence

from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from schemas.errors import TicketClassifierError
from schemas.models import (
    CLASSIFIED_SCHEMA_VERSION, DEAD_LETTER_SCHEMA_VERSION, FEEDBACK_SCHEMA_VERSION, MODELS, parse_rfc3339,
)


class SchemaViolation(TicketClassifierError, ValueError):
    """An event does not match its contract; ``field`` is the path of the first problem."""

    def __init__(self, event: str, problems: Sequence[tuple[str, str]]):
        self.event = event
        self.problems = list(problems)
        self.field = self.problems[0][0] if self.problems else ""
        detail = "; ".join(f"{path or '<root>'}: {msg}" for path, msg in self.problems)
        super().__init__(f"{event}: {detail}")


def _is_rfc3339(value: object) -> bool:
    """The same parse (and year range) as the pydantic models' ``Timestamp``."""
    if not isinstance(value, str):
        return True  # formats constrain strings only; "type" catches the rest
    try:
        parse_rfc3339(value)
    except ValueError:
        return False
    return True


def _lone_surrogates(document: Any, path: tuple = ()) -> Iterable[tuple[str, str]]:
    """(path, message) of every string (or key) that cannot be encoded as UTF-8.

    JSON Schema has no way to say "valid Unicode", yet ``"\\ud800"`` is legal JSON
    text that decodes to a string no encoder can write back; the models refuse it too.
    Iterative, so a deeply nested document cannot exhaust the stack.
    """
    stack = [(document, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if not _encodable(node):
                yield _json_path(where), "contains a lone surrogate: text must be valid Unicode"
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and not _encodable(key):
                    yield _json_path(where), "a key contains a lone surrogate: text must be valid Unicode"
                stack.append((value, (*where, key)))
        elif isinstance(node, list):
            stack.extend((item, (*where, i)) for i, item in enumerate(node))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _format_checker() -> FormatChecker:
    # jsonschema checks "date-time" only when rfc3339-validator is installed;
    # we check it ourselves so the contract holds without that extra package.
    checker = FormatChecker()
    checker.checks("date-time")(_is_rfc3339)
    return checker


def schema_names() -> list[str]:
    """Event names with a schema, e.g. ``ticket_event``."""
    return sorted(MODELS)


#: The current schema version of each event (1 unless listed); a newer version's schema
#: accepts every older version's events, so one schema validates them all.
CURRENT_VERSIONS = {"classified_event": int(CLASSIFIED_SCHEMA_VERSION),
                    "feedback_event": int(FEEDBACK_SCHEMA_VERSION),
                    "dead_letter_event": int(DEAD_LETTER_SCHEMA_VERSION)}


@lru_cache(maxsize=None)
def load_schema(event: str, version: int | None = None) -> dict:
    """The JSON Schema of ``event`` (its current version unless ``version``), read from the package data."""
    if event not in MODELS:
        raise KeyError(f"unknown event {event!r}; known: {', '.join(schema_names())}")
    version = version or CURRENT_VERSIONS.get(event, 1)
    text = resources.files("schemas").joinpath("json", f"{event}.v{version}.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=None)
def _validator(event: str) -> Draft202012Validator:
    schema = load_schema(event)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_format_checker())


def _json_path(parts: Iterable[Any]) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def validate_json_schema(event: str, document: Any) -> None:
    """Raise :class:`SchemaViolation` unless ``document`` matches the JSON Schema."""
    errors = sorted(_validator(event).iter_errors(document), key=lambda e: list(e.absolute_path))
    problems = sorted(_lone_surrogates(document))
    if not errors and not problems:
        return
    for error in errors:
        path = _json_path(error.absolute_path)
        if error.validator == "required":
            # The missing field is the offending one, not its parent.
            missing = re.search(r"'([^']+)' is a required property", error.message)
            if missing:
                path = _json_path([*error.absolute_path, missing.group(1)])
        problems.append((path, error.message))
    problems.sort(key=lambda problem: problem[0])
    raise SchemaViolation(event, problems)


def pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) pairs of a pydantic error, in the same path style."""
    return [(_json_path(err["loc"]), err["msg"]) for err in exc.errors()]


def parse_event(event: str, document: Any):
    """Validate ``document`` with the pydantic model of ``event`` and return the model."""
    try:
        return MODELS[event].model_validate(document)
    except ValidationError as exc:
        raise SchemaViolation(event, pydantic_problems(exc)) from None
