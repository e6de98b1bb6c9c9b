"""``POST /classify`` and ``/healthz`` over real HTTP: the worker's own aiohttp app, served in this process.

The API reads requests by the topic's rules (same decoder, same size limit, same
validation) and answers 4xx with the reason for every client error, never 5xx;
``/healthz`` answers while a batch is being classified.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from aiohttp import ClientSession, ClientTimeout
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st

from schemas import validate_json_schema
from stream.worker.app import create_worker_app
from stream.config import Settings
from stream.worker.live_model import ModelHolder, load_predictor
from tests.fixtures.hostile_tickets import cases, encode, raw_records, ticket

MAX_PAYLOAD = 64 * 1024


def _settings(registry, embedders, **env):
    return Settings.from_env({"TICKETS_REGISTRY_DIR": str(registry), "TICKETS_EMBEDDER_DIR": str(embedders),
                              "TICKETS_EMBED_MAX_TOKENS": "128", "TICKETS_MAX_PAYLOAD_BYTES": str(MAX_PAYLOAD),
                              **env})


class SlowPredictor:
    """The real predictor, sleeping ``seconds`` in the inference thread before each prediction."""

    def __init__(self, real, seconds):
        self.real, self.seconds = real, seconds
        self.version, self.embedder_id = real.version, real.embedder_id
        self.predicting = threading.Event()

    def assemble(self, tickets):
        return self.real.assemble(tickets)

    def predict(self, texts):
        self.predicting.set()
        time.sleep(self.seconds)
        return self.real.predict(texts)


class Api:
    """The worker's web app on a loopback port, driven from one event loop in a background thread."""

    def __init__(self, worker):
        self.worker = worker
        self.loop = asyncio.new_event_loop()
        self.server = TestServer(worker.app.web.web_app, host="127.0.0.1")
        self.loop.run_until_complete(self.server.start_server())

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    async def request(self, method, path, body=None, timeout=60.0):
        async with ClientSession(timeout=ClientTimeout(total=timeout)) as session:
            async with session.request(method, self.server.make_url(path), data=body) as response:
                return response.status, await response.read()

    def post(self, body: bytes):
        return self.run(self.request("POST", "/classify", body))

    def close(self):
        self.run(self.server.close())
        self.loop.close()
        self.worker.executor.shutdown()


def _api(settings, loader=load_predictor) -> Api:
    holder = ModelHolder(settings, loader=loader)
    holder.load_promoted()
    return Api(create_worker_app(settings, holder=holder))


@pytest.fixture(scope="module")
def api(trained_registry, e5_embedders_root):
    registry, _ = trained_registry
    served = _api(_settings(registry, e5_embedders_root))
    yield served
    served.close()


def _error(status_and_body):
    status, body = status_and_body
    document = json.loads(body)
    return status, document["error"], document["detail"]


@pytest.mark.parametrize(("name", "status", "code", "names"), [
    ("surrogate_subject", 422, "schema_violation", "subject"),
    ("year_one", 422, "schema_violation", "created_at"),
    ("deep_nesting", 400, "invalid_json", "nested too deeply"),
    ("deep_object", 400, "invalid_json", "nested too deeply"),
    ("utf16", 400, "invalid_json", "UTF-8"),
    ("utf8_bom", 400, "invalid_json", "BOM"),
    ("control_bytes", 413, "payload_too_large", "TICKETS_MAX_PAYLOAD_BYTES"),
])
def test_what_the_topic_dead_letters_the_api_refuses_with_the_same_reason(api, name, status, code, names):
    got = _error(api.post(cases("api")[name]))
    assert got[:2] == (status, code) and names in got[2], got


def test_a_ticket_over_the_topic_s_size_limit_is_413_alone_or_in_a_list(api):
    big = ticket("big", "word " * (MAX_PAYLOAD // 4))
    assert _error(api.post(encode(big)))[:2] == (413, "payload_too_large")
    status, code, detail = _error(api.post(encode([ticket("small"), big])))
    assert (status, code) == (413, "payload_too_large") and detail.startswith("[1] ")
    megabyte = encode(ticket("mb", "x" * 1_000_000))
    assert _error(api.post(megabyte))[:2] == (413, "payload_too_large")


def test_a_good_ticket_still_gets_its_classified_event(api):
    status, body = api.post(encode(ticket("fine", "cannot log in to the vpn, password expired")))
    assert status == 200, body
    validate_json_schema("classified_event", json.loads(body))
    status, body = api.post(encode([ticket("a"), ticket("b", "printer jammed on floor 3")]))
    assert status == 200 and [e["ticket_id"] for e in json.loads(body)] == ["a", "b"]


_bodies = (raw_records
           | st.lists(raw_records, min_size=1, max_size=3).map(lambda items: b"[" + b",".join(items) + b"]")
           | st.binary(max_size=200).map(lambda tail: b'{"text": ' + tail))


@given(_bodies)
def test_no_request_body_gets_a_5xx(api, body):
    status, answer = api.post(body)
    assert status < 500, (status, answer)
    document = json.loads(answer)
    if status == 200:
        for event in document if isinstance(document, list) else [document]:
            validate_json_schema("classified_event", event)
    else:
        assert 400 <= status < 500 and document["error"] and document["detail"].strip()


def test_healthz_answers_while_a_batch_is_being_classified(trained_registry, e5_embedders_root):
    registry, _ = trained_registry
    slow = 3.0
    slow_predictors: list[SlowPredictor] = []

    def load_slow(path, settings, current):
        slow_predictors.append(SlowPredictor(load_predictor(path, settings, current), slow))
        return slow_predictors[-1]

    served = _api(_settings(registry, e5_embedders_root), loader=load_slow)

    async def scenario():
        classify = asyncio.ensure_future(served.request("POST", "/classify", encode(ticket("slow"))))
        # wait until the batch is sleeping in the inference thread
        assert await asyncio.to_thread(slow_predictors[-1].predicting.wait, 10), "the batch never reached the model"
        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            status, body = await served.request("GET", "/healthz", timeout=2.0)
            latencies.append(time.perf_counter() - started)
            assert (status, json.loads(body)) == (200, {"status": "ok"})
            await asyncio.sleep(0.2)
        assert not classify.done(), "the batch finished too early to prove anything"
        status, _ = await classify
        return latencies, status

    try:
        latencies, status = served.run(scenario())
    finally:
        served.close()
    assert status == 200
    assert max(latencies) < 0.5, latencies


def test_readyz_is_ready_to_serve_without_owning_a_partition(api):
    """A replica beyond the partition count serves /classify: ready, with ``consuming`` false and the gauge at 0."""
    status, body = api.run(api.request("GET", "/readyz"))
    document = json.loads(body)
    assert status == 200 and document["ready"] is True and document["model_loaded"] is True
    assert document["consuming"] is False and document["assigned_partitions"] == []
    status, body = api.post(encode(ticket("no-partition")))
    assert status == 200 and json.loads(body)["ticket_id"] == "no-partition"
    status, body = api.run(api.request("GET", "/metrics"))
    assert b"tickets_assigned_partitions 0.0" in body
    assert b"process_cpu_seconds_total" in body and b"python_gc_objects_collected_total" in body


def test_readyz_is_503_without_a_model(trained_registry, e5_embedders_root):
    registry, _ = trained_registry
    served = Api(create_worker_app(_settings(registry, e5_embedders_root)))  # nothing loaded yet
    try:
        status, body = served.run(served.request("GET", "/readyz"))
    finally:
        served.close()
    assert status == 503 and json.loads(body)["ready"] is False
