"""The worker serves its OpenAPI document, and its real answers match what the document promises."""
from __future__ import annotations

import json

import pytest

from stream.commands.api_docs import documents
from tests.api.documents import check_response
from tests.fixtures.hostile_tickets import cases, encode, ticket
from tests.worker.test_views import Api, _settings
from stream.worker.app import create_worker_app
from stream.worker.live_model import ModelHolder


@pytest.fixture(scope="module")
def api(trained_registry, e5_embedders_root, worker_predictor):
    registry, _ = trained_registry
    settings = _settings(registry, e5_embedders_root)
    holder = ModelHolder(settings, loader=lambda *_: worker_predictor)
    holder.load_promoted()
    served = Api(create_worker_app(settings, holder=holder))
    yield served
    served.close()


def test_openapi_json_is_the_committed_document(api):
    status, body = api.run(api.request("GET", "/openapi.json"))
    assert status == 200 and json.loads(body) == json.loads(documents()["openapi.json"])


def test_answers_match_the_document(api):
    status, body = api.run(api.request("GET", "/healthz"))
    check_response("/healthz", "get", status, body)
    status, body = api.run(api.request("GET", "/readyz"))  # no partitions in this process: 503, same shape
    check_response("/readyz", "get", status, body)
    for request in (encode(ticket("one", "cannot log in to the vpn")),
                    encode([ticket("a"), ticket("b", "printer jammed on floor 3")]),
                    json.dumps({"text": "my laptop screen is broken"}).encode()):
        status, body = api.post(request)
        assert status == 200, body
        check_response("/classify", "post", status, body)
    for name in ("deep_nesting", "surrogate_subject", "control_bytes"):
        status, body = api.post(cases("api")[name])
        assert status in (400, 413, 422)
        check_response("/classify", "post", status, body)


def test_an_answer_the_document_does_not_allow_is_caught():
    from jsonschema import ValidationError

    with pytest.raises(ValidationError):
        check_response("/classify", "post", 422, json.dumps({"error": "teapot", "detail": "x"}).encode())
    with pytest.raises(ValidationError):
        check_response("/healthz", "get", 200, b'{"status": "fine"}')
