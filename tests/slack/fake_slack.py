"""A loopback stand-in for the Slack Web API methods the notifier calls.

Implements ``chat.postMessage``, ``conversations.history`` and
``conversations.list`` over real HTTP (the real ``slack-sdk`` client talks to
it through ``base_url``), records every call, and can be told to answer the
next calls with a 429 + ``Retry-After`` or with an ``ok: false`` error.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Call:
    method: str
    params: dict
    status: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Planned:
    status: int
    error: str | None
    retry_after: int | None
    then_do_it: bool = False  # perform the call, but answer with the error anyway


class FakeSlack:
    """Channels are ``{name: id}``; posting to any other name or id answers ``channel_not_found``."""

    def __init__(self, token: str, channels: dict[str, str]):
        self.token = token
        self.channels = dict(channels)
        self.messages: dict[str, list[dict]] = {cid: [] for cid in self.channels.values()}
        self.calls: list[Call] = []
        self._planned: dict[str, list[_Planned]] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        self._plan(method, [_Planned(429, "ratelimited", retry_after)] * times)

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        self._plan(method, [_Planned(200, error, None)] * times)

    def fail_after_doing_next(self, method: str, status: int = 500, times: int = 1) -> None:
        """Carry out the next calls but answer them with an error (a post that *looks* failed)."""
        self._plan(method, [_Planned(status, "internal_error", None, then_do_it=True)] * times)

    def _plan(self, method: str, items: list[_Planned]) -> None:
        with self._lock:
            self._planned.setdefault(method, []).extend(items)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def posted(self) -> list[dict]:
        """Every message accepted, in order, with its ``channel`` id."""
        with self._lock:
            return sorted((m for msgs in self.messages.values() for m in msgs), key=lambda m: float(m["ts"]))

    def start(self) -> "FakeSlack":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(body or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(body).items()}
                params.update({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})
                self._answer(params)

            def do_GET(self):  # noqa: N802
                self._answer({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})

            def _answer(self, params: dict) -> None:
                method = urlparse(self.path).path.rsplit("/", 1)[-1]
                auth = self.headers.get("Authorization") or ""
                status, headers, payload = fake._dispatch(method, params, auth)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the API -----------------------------------------------------------
    def _dispatch(self, method: str, params: dict, auth: str) -> tuple[int, dict, dict]:
        with self._lock:
            planned = self._planned.get(method)
            plan = planned.pop(0) if planned else None
            if plan is not None:
                if plan.then_do_it:
                    getattr(self, "_" + method.replace(".", "_"))(params)
                self.calls.append(Call(method, params, plan.status))
                headers = {"Retry-After": str(plan.retry_after)} if plan.retry_after is not None else {}
                return plan.status, headers, {"ok": False, "error": plan.error}
            if auth != f"Bearer {self.token}":
                self.calls.append(Call(method, params, 200))
                return 200, {}, {"ok": False, "error": "invalid_auth"}
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            payload = handler(params) if handler else {"ok": False, "error": "unknown_method"}
            self.calls.append(Call(method, params, 200))
            return 200, {}, payload

    def _channel_id(self, channel: str) -> str | None:
        if channel in self.messages:
            return channel
        return self.channels.get(channel.lstrip("#"))

    def _chat_postMessage(self, params: dict) -> dict:  # noqa: N802 - Slack's method name
        channel_id = self._channel_id(params.get("channel", ""))
        if channel_id is None:
            return {"ok": False, "error": "channel_not_found"}
        self._seq += 1
        ts = f"{int(time.time())}.{self._seq:06d}"
        blocks, metadata = params.get("blocks"), params.get("metadata")
        message = {"ts": ts, "channel": channel_id, "text": params.get("text"),
                   "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
                   "metadata": json.loads(metadata) if isinstance(metadata, str) else metadata}
        self.messages[channel_id].append(message)
        return {"ok": True, "channel": channel_id, "ts": ts, "message": message}

    def _conversations_history(self, params: dict) -> dict:
        channel_id = self._channel_id(params.get("channel", ""))
        if channel_id is None:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(params.get("oldest") or 0)
        with_metadata = str(params.get("include_all_metadata")).lower() in ("1", "true")
        found = [dict(m) if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
                 for m in reversed(self.messages[channel_id]) if float(m["ts"]) >= oldest]
        return {"ok": True, "messages": found, "has_more": False}

    def _conversations_list(self, params: dict) -> dict:
        return {"ok": True, "channels": [{"id": cid, "name": name} for name, cid in self.channels.items()],
                "response_metadata": {"next_cursor": ""}}
