"""Event contracts: JSON Schemas (draft 2020-12, in ``json/``) and the pydantic models of the same."""
from schemas.models import (
    Evidence,
    NeighbourTicket,
    CLASSIFIED_SCHEMA_VERSION,
    DEAD_LETTER_SCHEMA_VERSION,
    FEEDBACK_SCHEMA_VERSION,
    SCHEMA_VERSION,
    ClassifiedEvent,
    DeadLetterEvent,
    FeedbackEvent,
    LabelScore,
    Message,
    ShadowClassifiedEvent,
    TicketEvent,
    TopCategory,
)
from schemas.validate import SchemaViolation, load_schema, parse_event, validate_json_schema

__all__ = [
    "CLASSIFIED_SCHEMA_VERSION",
    "DEAD_LETTER_SCHEMA_VERSION",
    "FEEDBACK_SCHEMA_VERSION",
    "SCHEMA_VERSION",
    "ClassifiedEvent",
    "DeadLetterEvent",
    "Evidence",
    "NeighbourTicket",
    "FeedbackEvent",
    "LabelScore",
    "Message",
    "ShadowClassifiedEvent",
    "TicketEvent",
    "TopCategory",
    "SchemaViolation",
    "load_schema",
    "parse_event",
    "validate_json_schema",
]
