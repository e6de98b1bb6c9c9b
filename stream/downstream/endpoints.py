"""The HTTP side of a downstream process: ``/metrics``, ``/healthz`` and ``/readyz`` on its metrics port.

One small aiohttp app on the loop the consumer runs on, so a probe answered
here proves that loop still turns; both answer JSON with the reasons, 200 or 503.
"""
from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from stream.downstream.health import ConsumerHealth


def create_app(health: ConsumerHealth, registry: CollectorRegistry) -> web.Application:
    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_request: web.Request) -> web.Response:
        ok, body = health.alive()
        return web.json_response(body, status=200 if ok else 503)

    async def readyz(_request: web.Request) -> web.Response:
        ok, body = await health.ready()
        return web.json_response(body, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def serve(health: ConsumerHealth, registry: CollectorRegistry, host: str, port: int) -> web.AppRunner:
    """Start the endpoints; the caller cleans the returned runner up."""
    runner = web.AppRunner(create_app(health, registry), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
