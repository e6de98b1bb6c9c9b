"""The OpenAPI 3.1 document of the worker's HTTP API, generated from the pydantic models.

Served at ``/openapi.json`` and committed as ``docs/api/openapi.json``
(``python -m stream api-docs --write``; a test fails when the two differ), so
clients can generate code and validate answers against the same contract the
worker validates with. OpenAPI 3.1 speaks JSON Schema 2020-12, the dialect
of ``schemas/json`` and of pydantic's output, so the models go in unchanged.
"""
from __future__ import annotations

from schemas.components import REF, component_schemas, contract_versions
from schemas.models import ClassifiedEvent, TicketEvent
from stream.worker.api_models import ERROR_STATUS, MAX_TICKETS_PER_REQUEST, ApiError, Health, Readiness, TextTicket


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict:
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_STATUS[code], []).append(code)
    ref = {"$ref": REF.format(model="ApiError")}
    return {str(status): _json(ref, "error: " + ", ".join(f"`{c}`" for c in names))
            for status, names in sorted(by_status.items())}


def openapi_document() -> dict:
    """The whole document (deterministic: the same code gives the same bytes)."""
    refs, schemas = component_schemas([TicketEvent, TextTicket, ClassifiedEvent, ApiError, Health, Readiness])
    # anyOf: a body with both "messages" and "text" is read as a TicketEvent
    ticket = {"anyOf": [refs[TicketEvent], refs[TextTicket]]}
    classified = refs[ClassifiedEvent]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ticket-classifier worker",
            "version": contract_versions(),
            "description": (
                "The classifier worker's HTTP API (`python -m stream worker`, port `TICKETS_WEB_PORT`). "
                "`POST /classify` reads requests by the rules of the `tickets.raw` topic (UTF-8 JSON, at most "
                "`TICKETS_MAX_PAYLOAD_BYTES` per ticket, the TicketEvent contract): what the topic would "
                "dead-letter is a 4xx with the same error code and reason; 5xx only for the worker's own "
                "failures (no model loaded)."),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "http://127.0.0.1:6066", "description": "a local worker (TICKETS_WEB_PORT)"}],
        "paths": {
            "/classify": {"post": {
                "operationId": "classify",
                "summary": "Classify one ticket, {\"text\": …}, or a list of either",
                "description": (f"A list holds at most {MAX_TICKETS_PER_REQUEST} tickets and is answered with "
                                "a list in the same order; the first ticket that fails fails the request, "
                                "its index in the detail (`[3] subject: …`)."),
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"anyOf": [
                    *ticket["anyOf"], {"type": "array", "items": ticket, "minItems": 1,
                                       "maxItems": MAX_TICKETS_PER_REQUEST}]}}}},
                "responses": {
                    "200": _json({"oneOf": [classified, {"type": "array", "items": classified}]},
                                 "the ClassifiedEvent of each ticket, as on the tickets.classified topic"),
                    **_errors(*ERROR_STATUS),
                },
            }},
            "/healthz": {"get": {"operationId": "healthz", "summary": "Liveness",
                                 "responses": {"200": _json(refs[Health], "the process answers")}}},
            "/readyz": {"get": {"operationId": "readyz", "summary": "Readiness, model and settings in use",
                                "responses": {
                                    "200": _json(refs[Readiness], "ready"),
                                    "503": _json(refs[Readiness], "not ready (yet)")}}},
            "/metrics": {"get": {"operationId": "metrics", "summary": "Prometheus metrics (docs/metrics.md)",
                                 "responses": {"200": {"description": "Prometheus text exposition format 0.0.4",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                      "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
        },
        "components": {"schemas": schemas},
    }
