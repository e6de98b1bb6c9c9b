"""HTTP endpoints on Faust's web server: health, readiness, metrics, on-demand classification.

``POST /classify`` goes through the same :class:`~stream.pipeline.Classifier`
(same thread, same model) as the stream, so it gives the same answer for the
same ticket. Errors come back as JSON ``{"error": code, "detail": ...}``.
"""
from __future__ import annotations

import json
import logging

from aiohttp import web
from faust.web import View

from stream.exceptions import BadTicket
from stream.kafka_config import describe
from stream.metrics import CONTENT_TYPE_LATEST
from stream.pipeline import parse_ticket, text_ticket

log = logging.getLogger(__name__)

#: Most tickets one request may carry; they are classified in max_batch chunks.
MAX_TICKETS_PER_REQUEST = 256

_STATUS = {"invalid_json": 400, "payload_too_large": 413, "schema_violation": 422,
           "empty_text": 422, "inference_failed": 500}


def parse_request(body: bytes, max_bytes: int) -> tuple[list, bool]:
    """Request body → (tickets, was_a_list); BadTicket errors name the item and field."""
    if len(body) > max_bytes:
        raise BadTicket("payload_too_large", f"request body is {len(body)} bytes, over {max_bytes}")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadTicket("invalid_json", f"body is not valid JSON: {exc}") from None
    many = isinstance(document, list)
    items = document if many else [document]
    if not items:
        raise BadTicket("schema_violation", "empty list: send at least one ticket")
    if len(items) > MAX_TICKETS_PER_REQUEST:
        raise BadTicket("payload_too_large", f"{len(items)} tickets, over {MAX_TICKETS_PER_REQUEST} per request")
    tickets = []
    for i, item in enumerate(items):
        where = f"[{i}] " if many else ""
        try:
            if not isinstance(item, dict):
                raise BadTicket("schema_violation", "expected a TicketEvent object or {\"text\": ...}")
            tickets.append(parse_ticket(text_ticket(item) if "messages" not in item and "text" in item else item))
        except BadTicket as bad:
            raise BadTicket(bad.error_code, where + bad.reason) from None
    return tickets, many


def register(worker) -> None:
    """Add the views to ``worker.app``."""
    app, settings = worker.app, worker.settings

    def error(view: View, code: str, detail: str, status: int | None = None):
        return view.json({"error": code, "detail": detail}, status=status or _STATUS.get(code, 400))

    @app.page("/healthz")
    class Healthz(View):
        """Liveness: the process and its event loop answer."""

        async def get(self, request):
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Readyz(View):
        """Readiness: a model is loaded and raw-topic partitions are assigned."""

        async def get(self, request):
            partitions = [tp.partition for tp in worker.raw_assignment()]
            ready = worker.holder.ready and bool(partitions)
            predictor = worker.holder.predictor
            body = {
                "ready": ready,
                "model_loaded": worker.holder.ready,
                "model_version": worker.holder.version,
                "embedder_id": getattr(predictor, "embedder_id", None),
                "assigned_partitions": partitions,
                "kafka": describe(settings.kafka),
                "settings": settings.redacted(),
            }
            return self.json(body, status=200 if ready else 503)

    @app.page("/metrics")
    class Metrics(View):
        """Prometheus text exposition of the worker's own registry."""

        async def get(self, request):
            # aiohttp refuses a charset inside content_type=, and Prometheus wants
            # the exact exposition content type, so set the header ourselves.
            return web.Response(body=worker.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/classify")
    class Classify(View):
        """Classify one ticket, a list of tickets, or {"text": ...}; returns ClassifiedEvent(s)."""

        async def post(self, request):
            if not worker.holder.ready:
                return error(self, "not_ready", "no model loaded yet", 503)
            body = await self.read_request_content(request)
            limit = settings.max_payload_bytes * min(MAX_TICKETS_PER_REQUEST, max(1, settings.max_batch))
            try:
                tickets, many = parse_request(body, limit)
            except BadTicket as bad:
                return error(self, bad.error_code, bad.reason)
            results = []
            step = max(1, settings.max_batch)
            for start in range(0, len(tickets), step):
                chunk, _ = await worker.classifier.classify(tickets[start:start + step])
                results.extend(chunk)
            bad = [(i, r) for i, r in enumerate(results) if isinstance(r, BadTicket)]
            if bad:
                i, first = bad[0]
                return error(self, first.error_code, (f"[{i}] " if many else "") + first.reason)
            documents = [r.model_dump(mode="json") for r in results]
            return self.json(documents if many else documents[0])
