"""The AsyncAPI 3.0 document of the four topics, generated from the pydantic models and the header rules.

Committed as ``docs/api/asyncapi.json`` (``python -m stream api-docs
--write``; a test fails when it drifts from the code). It says, for a team
that only meets the system through Kafka, who writes and reads each topic,
the key, the value (the event models, JSON Schema 2020-12 as pydantic writes
them) and the headers every record carries (:mod:`stream.kafka.headers`,
``dlq_*`` on dead letters). Topic names are the defaults; each names its
``TICKETS_TOPIC_*`` setting.
"""
from __future__ import annotations

from schemas.components import component_schemas, contract_versions
from schemas.models import ClassifiedEvent, DeadLetterEvent, FeedbackEvent, ShadowClassifiedEvent, TicketEvent
from stream.config import KafkaSettings
from stream.kafka.headers import CONTENT_TYPE, SOURCE_PREFIX, SPEC_VERSION, TIME_FIELDS, TYPE_PREFIX

KAFKA_BINDING = "0.5.0"


def _string(description: str, **extra) -> dict:
    return {"type": "string", "description": description, **extra}


def standard_headers(schema_name: str, version: str, components: list[str] | None) -> dict:
    """The header schema every record of ``schema_name`` carries (CloudEvents 1.0 Kafka binary mode).

    ``components=None``: a topic other producers write too, where every header is optional.
    """
    properties = {
        "content-type": _string("CloudEvents datacontenttype.", const=CONTENT_TYPE),
        "schema_name": _string("The contract: schemas/json/<schema_name>.v<schema_version>.json.", const=schema_name),
        "schema_version": _string("The event's own schema_version (an older version stays valid).",
                                  examples=[version]),
        "ce_specversion": _string("CloudEvents version.", const=SPEC_VERSION),
        "ce_id": _string("Deterministic: the event's event_id, else the SHA-256 (hex 32) of the value; "
                         "a re-sent event carries the same id.", pattern="^[0-9a-f]{32}$"),
        "ce_type": _string("Event type.", const=TYPE_PREFIX + schema_name),
        "ce_source": _string("The process that wrote the record.",
                             **({"enum": [SOURCE_PREFIX + c for c in components]} if components else {})),
        "ce_time": _string(f"When the event happened: its {TIME_FIELDS[schema_name]} (RFC 3339).",
                           format="date-time"),
        "ce_dataschema": _string("The $id of the JSON Schema file.",
                                 examples=[f"urn:ticket-classifier:schemas:{schema_name}:v{version}"]),
        "ce_subject": _string("The ticket id, when the event has one."),
    }
    if components is None:  # what producers may send: only a JSON content-type is checked
        properties["content-type"] = _string("If present: application/json (charset UTF-8 if any), else the "
                                             "record is dead-lettered as unsupported_content_type.")
        for name in ("schema_name", "ce_type", "ce_id"):
            properties[name] = {key: value for key, value in properties[name].items()
                                if key not in ("const", "pattern")}
    return {"type": "object", "properties": properties,
            "required": [] if components is None else [name for name in properties if name != "ce_subject"],
            "description": "Written on every record the system writes; read when present on input, never required."}


def dead_letter_headers(version: str) -> dict:
    headers = standard_headers("dead_letter_event", version, ["worker", "notifier", "sink"])
    headers["properties"] |= {
        "dlq_error_code": _string("The letter's error_code."),
        "dlq_reason": _string("The reason, cut to 1,000 bytes (the letter keeps it whole)."),
        "dlq_component": _string("Which process gave up.", enum=["worker", "notifier", "sink"]),
        "dlq_topic": _string("Topic of the failed record."),
        "dlq_partition": _string("Its partition.", pattern="^[0-9]+$"),
        "dlq_offset": _string("Its offset.", pattern="^[0-9]+$"),
        "dlq_failed_at": _string("When it failed.", format="date-time"),
        "dlq_replayable": _string("true when the letter holds the exact original (python -m stream replay-dlq).",
                                  enum=["true", "false"]),
        "dlq_key_truncated": _string("Present (true) only when the record key had to be cut to fit.",
                                     const="true"),
    }
    headers["required"] += [name for name in headers["properties"] if name.startswith("dlq_")
                            and name != "dlq_key_truncated"]
    return headers


def asyncapi_document(kafka: KafkaSettings | None = None) -> dict:
    """The whole document (deterministic: the same code gives the same bytes)."""
    kafka = kafka or KafkaSettings.model_construct()  # the defaults, whatever this process's environment says
    refs, schemas = component_schemas([TicketEvent, ClassifiedEvent, ShadowClassifiedEvent, FeedbackEvent,
                                       DeadLetterEvent])

    def version(model) -> str:
        return model.model_fields["schema_version"].default

    def message(name: str, model, schema_name: str, key: str, headers: dict) -> dict:
        return {"name": name, "title": model.__name__, "summary": (model.__doc__ or "").strip().splitlines()[0],
                "contentType": CONTENT_TYPE, "headers": headers, "payload": refs[model],
                "bindings": {"kafka": {"key": {"type": "string", "description": key},
                                       "bindingVersion": KAFKA_BINDING}}}

    messages = {
        "TicketEvent": message("TicketEvent", TicketEvent, "ticket_event", "the ticket id",
                               standard_headers("ticket_event", version(TicketEvent), None)),
        "ClassifiedEvent": message("ClassifiedEvent", ClassifiedEvent, "classified_event", "the ticket id",
                                   standard_headers("classified_event", version(ClassifiedEvent), ["worker"])),
        "ShadowClassifiedEvent": message(
            "ShadowClassifiedEvent", ShadowClassifiedEvent, "shadow_classified_event", "the ticket id",
            standard_headers("shadow_classified_event", version(ShadowClassifiedEvent), ["worker"])),
        "FeedbackEvent": message("FeedbackEvent", FeedbackEvent, "feedback_event", "the ticket id",
                                 standard_headers("feedback_event", version(FeedbackEvent), ["interactivity"])),
        "DeadLetterEvent": message("DeadLetterEvent", DeadLetterEvent, "dead_letter_event",
                                   "the failed record's key, unchanged (cut to 1 KiB only when the broker refused "
                                   "it, header dlq_key_truncated)", dead_letter_headers(version(DeadLetterEvent))),
    }
    topics = [
        ("ticketsRaw", kafka.topic_raw, "TICKETS_TOPIC_RAW", "TicketEvent",
         "Tickets to classify, from ticketing systems (and python -m stream replay / replay-dlq)."),
        ("ticketsClassified", kafka.topic_classified, "TICKETS_TOPIC_CLASSIFIED", "ClassifiedEvent",
         "One decision per ticket and model version; at-least-once: deduplicate on event_id (= ce_id)."),
        ("ticketsClassifiedShadow", kafka.topic_classified_shadow, "TICKETS_TOPIC_CLASSIFIED_SHADOW",
         "ShadowClassifiedEvent", "The challenger's decisions in shadow mode (never acted on; the Snowflake sink "
         "stores them for the live comparison)."),
        ("ticketsFeedback", kafka.topic_feedback, "TICKETS_TOPIC_FEEDBACK", "FeedbackEvent",
         "People's corrections (Slack buttons)."),
        ("ticketsDlq", kafka.topic_dlq, "TICKETS_TOPIC_DLQ", "DeadLetterEvent",
         "Records no consumer could process, with the reason and the exact original (base64) when it fits "
         "TICKETS_DLQ_MAX_BYTES."),
    ]
    channels = {
        channel: {"address": address, "title": address, "description": f"{what} Name: `{setting}`.",
                  "messages": {name: {"$ref": f"#/components/messages/{name}"}},
                  "bindings": {"kafka": {"topic": address, "partitions": kafka.partitions,
                                         "replicas": kafka.replication, "bindingVersion": KAFKA_BINDING}}}
        for channel, address, setting, name, what in topics
    }

    def operation(action: str, channel: str, who: str) -> dict:
        return {"action": action, "channel": {"$ref": f"#/channels/{channel}"}, "summary": who}

    operations = {
        "produceTickets": operation("send", "ticketsRaw", "Producers publish tickets (the replay tools too)."),
        "classifyTickets": operation("receive", "ticketsRaw", "The worker (python -m stream worker)."),
        "publishClassified": operation("send", "ticketsClassified", "The worker."),
        "notifySlack": operation("receive", "ticketsClassified", "The Slack notifier (python -m stream notifier)."),
        "sinkClassified": operation("receive", "ticketsClassified", "The Snowflake sink (python -m stream sink)."),
        "publishShadow": operation("send", "ticketsClassifiedShadow", "The worker, in shadow mode."),
        "sinkShadow": operation("receive", "ticketsClassifiedShadow", "The Snowflake sink."),
        "publishFeedback": operation("send", "ticketsFeedback", "The Slack interactivity endpoint."),
        "sinkFeedback": operation("receive", "ticketsFeedback", "The Snowflake sink."),
        "deadLetter": operation("send", "ticketsDlq", "The worker, the notifier and the sink."),
        "replayDeadLetters": operation("receive", "ticketsDlq", "python -m stream replay-dlq (no consumer group)."),
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ticket-classifier topics",
            "version": contract_versions(),
            "description": "The Kafka topics of the ticket classifier: keys, values (JSON, one contract per "
                           "event in schemas/json) and the headers every record carries (CloudEvents 1.0, "
                           "Kafka binary mode). Generated by python -m stream api-docs.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"kafka": {"host": "localhost:9092", "protocol": "kafka",
                              "description": "Any Kafka-compatible broker: TICKETS_KAFKA_BOOTSTRAP "
                                             "(and TICKETS_KAFKA_SECURITY_PROTOCOL, SASL and TLS settings)."}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
