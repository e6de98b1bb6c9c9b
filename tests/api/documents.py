"""Validate bodies and records against the committed API documents (OpenAPI, AsyncAPI)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

from stream.kafka.headers import describe

API_DIR = Path(__file__).resolve().parents[2] / "docs" / "api"


@lru_cache(maxsize=None)
def document(name: str) -> dict:
    return json.loads((API_DIR / f"{name}.json").read_text(encoding="utf-8"))


def validator(doc: dict, schema: dict) -> Draft202012Validator:
    """A validator of ``schema`` whose ``#/components/...`` references resolve inside ``doc``."""
    return Draft202012Validator({**schema, "components": doc["components"]})


def check_response(path: str, method: str, status: int, body: bytes) -> None:
    """Raise unless ``body`` matches what the OpenAPI document promises for this path, method and status."""
    doc = document("openapi")
    response = doc["paths"][path][method]["responses"][str(status)]
    validator(doc, response["content"]["application/json"]["schema"]).validate(json.loads(body))


def check_record(message: str, record) -> None:
    """Raise unless a record read from the broker matches the AsyncAPI message (headers and JSON payload)."""
    doc = document("asyncapi")
    spec = doc["components"]["messages"][message]
    validator(doc, spec["headers"]).validate(describe(record.headers))
    validator(doc, spec["payload"]).validate(json.loads(record.value))
