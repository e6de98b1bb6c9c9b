"""The committed API documents match the code, are valid, and describe what the system really sends."""
from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from schemas.models import MODELS
from stream.commands.api_docs import documents
from tests.api.documents import API_DIR, document, validator

EXAMPLES = Path(str(resources.files("schemas"))) / "examples"
MESSAGES = {name: model.__name__ for name, model in MODELS.items()}


def test_the_committed_documents_are_generated_from_the_code():
    for name, text in documents().items():
        assert (API_DIR / name).read_text(encoding="utf-8") == text, (
            f"docs/api/{name} is stale: python -m stream api-docs --write")


def test_the_openapi_document_is_valid_openapi_3_1():
    doc = document("openapi")
    assert doc["openapi"] == "3.1.0"
    validate_openapi(doc)  # openapi-spec-validator: the 3.1 meta-schema and every $ref


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(doc: dict, ref: str):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_the_asyncapi_document_is_consistent():
    doc = document("asyncapi")
    assert doc["asyncapi"] == "3.0.0"
    for ref in _refs(doc):  # every reference resolves
        _resolve(doc, ref)
    for name, operation in doc["operations"].items():
        assert operation["action"] in ("send", "receive"), name
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    for name, message in doc["components"]["messages"].items():
        Draft202012Validator.check_schema(message["headers"])
        assert message["contentType"] == "application/json" and message["bindings"]["kafka"]["key"]
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == {"tickets.raw", "tickets.classified", "tickets.classified.shadow", "tickets.feedback",
                         "tickets.dlq"}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_example_matches_its_asyncapi_payload(path):
    doc = document("asyncapi")
    message = doc["components"]["messages"][MESSAGES[path.parent.name]]
    validator(doc, message["payload"]).validate(json.loads(path.read_text()))


def test_both_documents_state_the_current_contract_versions():
    from schemas.models import CLASSIFIED_SCHEMA_VERSION, DEAD_LETTER_SCHEMA_VERSION

    for name in ("openapi", "asyncapi"):
        version = document(name)["info"]["version"]
        assert f"classified_event v{CLASSIFIED_SCHEMA_VERSION}" in version
        assert f"dead_letter_event v{DEAD_LETTER_SCHEMA_VERSION}" in version
    schema_version = document("openapi")["components"]["schemas"]["ClassifiedEvent"]["properties"]["schema_version"]
    assert schema_version["default"] == CLASSIFIED_SCHEMA_VERSION


def test_the_api_docs_command_reports_drift(tmp_path):
    from stream.cli import main

    assert main(["api-docs", "--write", "--dir", str(tmp_path)]) == 0
    assert main(["api-docs", "--check", "--dir", str(tmp_path)]) == 0
    stale = tmp_path / "openapi.json"
    stale.write_text(re.sub(r'"3\.1\.0"', '"3.0.0"', stale.read_text()))
    assert main(["api-docs", "--check", "--dir", str(tmp_path)]) == 1
