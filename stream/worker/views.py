"""HTTP endpoints on Faust's web server: health, readiness, metrics, on-demand classification.

``POST /classify`` goes through the same :class:`~stream.worker.classify.Classifier`
(same thread, same model) as the stream, so it gives the same answer for the
same ticket, and reads requests by the topic's rules (same decoder, same
per-ticket size limit, same validation): what the topic dead-letters, the API
refuses with a 4xx and the same reason. Errors come back as JSON
``{"error": code, "detail": ...}``; 5xx only for our own failures (no model).
"""
from __future__ import annotations

import json
import logging

from aiohttp import web
from faust.web import View

from stream.kafka.dlq import REASON_MAX_CHARS, failure_reason, safe_text
from stream.exceptions import BadTicket
from stream.kafka.client import describe
from stream.worker.metrics import CONTENT_TYPE_LATEST
from stream.worker.decode import check_size, decode_json, parse_ticket, text_ticket

log = logging.getLogger(__name__)

#: Most tickets one request may carry; they are classified in max_batch chunks.
MAX_TICKETS_PER_REQUEST = 256

#: Every per-ticket error is the client's (the topic dead-letters the same ticket); 5xx is kept
#: for our own failures (no model loaded, a bug), never for what a client sent.
_STATUS = {"invalid_json": 400, "payload_too_large": 413, "schema_violation": 422,
           "empty_text": 422, "inference_failed": 422, "processing_failed": 422, "not_ready": 503}


def _compact_size(item) -> int:
    """Bytes of ``item`` as a producer would put it on the topic (compact UTF-8 JSON)."""
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def parse_request(body: bytes, max_payload_bytes: int) -> tuple[list, bool]:
    """Request body → (tickets, was_a_list), by the topic's rules; BadTicket errors name the item and field.

    The same decoder as ``tickets.raw`` (UTF-8 JSON only) and the same per-ticket
    size limit: a lone ticket is measured as sent, each ticket of a list as compact JSON.
    """
    if body.lstrip()[:1] != b"[":
        check_size(len(body), max_payload_bytes, "ticket")
    document = decode_json(body)
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
            if many:
                check_size(_compact_size(item), max_payload_bytes, "ticket")
            tickets.append(parse_ticket(text_ticket(item) if "messages" not in item and "text" in item else item))
        except BadTicket as bad:
            raise BadTicket(bad.error_code, where + bad.reason) from None
        except Exception as exc:  # noqa: BLE001 - whatever the input does, the answer is a 4xx
            code, reason = failure_reason(exc)
            raise BadTicket(code, where + reason) from None
    return tickets, many


async def read_body(request, limit: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes (never read whole into memory)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BadTicket("payload_too_large", f"request body is {declared} bytes, over {limit}")
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise BadTicket("payload_too_large", f"request body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def register(worker) -> None:
    """Add the views to ``worker.app``."""
    app, settings = worker.app, worker.settings

    def error(view: View, code: str, detail: str, status: int | None = None):
        detail = safe_text(detail)[:REASON_MAX_CHARS]
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
                "challenger_mode": settings.challenger_mode,
                "challenger_version": getattr(worker.holder, "challenger_version", None),
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
            limit = settings.max_payload_bytes * min(MAX_TICKETS_PER_REQUEST, max(1, settings.max_batch))
            try:
                tickets, many = parse_request(await read_body(request, limit), settings.max_payload_bytes)
            except BadTicket as bad:
                return error(self, bad.error_code, bad.reason)
            results = []
            step = max(1, settings.max_batch)
            for start in range(0, len(tickets), step):
                chunk, _ = await worker.classifier.classify(tickets[start:start + step])
                results.extend(chunk)
            bodies = []
            for i, result in enumerate(results):
                where = f"[{i}] " if many else ""
                if isinstance(result, BadTicket):
                    return error(self, result.error_code, where + result.reason)
                try:
                    bodies.append(result.to_json_bytes())
                except Exception as exc:  # noqa: BLE001 - as on the topic: this ticket cannot be answered
                    return error(self, "processing_failed", where + failure_reason(exc)[1])
            body = b"[" + b",".join(bodies) + b"]" if many else bodies[0]
            return web.Response(body=body, content_type="application/json")
