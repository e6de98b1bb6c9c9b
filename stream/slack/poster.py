"""Posting to Slack with rate-limit handling, and telling permanent errors from passing ones.

slack-sdk retries a 429 only when a ``RateLimitErrorRetryHandler`` is installed
(it then sleeps for ``Retry-After``; a 429 means nothing was posted, so that
retry is safe). Whatever else fails is sorted here: an ``ok: false`` answer with
HTTP 200 (``channel_not_found``, ``not_in_channel``, ``is_archived``,
``invalid_blocks``…) will fail the same way next time, so it is permanent and
that ticket is dead-lettered. A refused token (``invalid_auth``,
``token_revoked``…) is permanent too, but it is not the ticket's fault: every
ticket would fail alike, so it stops the notifier uncommitted instead (fix the
token, restart, nothing is lost). 5xx answers, timeouts and dropped connections are worth another try
but are *ambiguous*: Slack may have posted before failing. We therefore do not
let slack-sdk retry them blindly; before each retry we look for the message by
the event id in its metadata.
"""
from __future__ import annotations

import asyncio
import logging
import time

import aiohttp

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from stream.downstream.settings import SlackSettings
from stream.slack.exceptions import SlackPermanentError, SlackUnavailable
from stream.slack.metrics import SlackMetrics

log = logging.getLogger(__name__)

# ok:false codes Slack documents as temporary; every other ok:false is permanent
TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout", "team_added_to_org"})


# ok:false codes that refuse our token or app rather than this message: SlackUnavailable, not a dead letter
CREDENTIAL_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                               "missing_scope", "not_allowed_token_type", "ekm_access_denied",
                               "team_access_not_granted", "org_login_required"})


def make_client(settings: SlackSettings) -> AsyncWebClient:
    return AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_url,
        timeout=15,
        # only 429s: other failures may hide a successful post, see SlackPoster.post
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=settings.rate_limit_retries)],
    )


def _error_code(exc: SlackApiError) -> str:
    response = exc.response
    return str((response.data or {}).get("error") if isinstance(response.data, dict) else "") or f"http_{response.status_code}"


class SlackPoster:
    """``chat.postMessage`` with back-off on passing errors; raises on the rest."""

    def __init__(self, client: AsyncWebClient, settings: SlackSettings, metrics: SlackMetrics):
        self._client = client
        self._settings = settings
        self._metrics = metrics
        self._channel_ids: dict[str, str] = {}

    async def post(self, message: dict) -> str:
        """Post ``message`` (chat.postMessage kwargs, metadata carrying the event id); returns its ``ts``."""
        delay = self._settings.backoff_s
        channel = message["channel"]
        event_id = ((message.get("metadata") or {}).get("event_payload") or {}).get("event_id")
        started = time.time()
        attempt = 0
        while True:  # ends by returning the ts or raising: permanent error, or unavailable after max_attempts
            attempt += 1
            try:
                response = await self._client.chat_postMessage(**message)
                return str(response["ts"])
            except SlackApiError as exc:
                error = _error_code(exc)
                self._metrics.errors.labels(error).inc()
                if exc.response.status_code == 200 and error in CREDENTIAL_ERRORS:
                    raise SlackUnavailable(f"Slack refused the bot token posting to {channel} ({error}): fix "
                                           f"TICKETS_SLACK_BOT_TOKEN or the app's scopes and restart; nothing "
                                           f"was committed") from exc
                if exc.response.status_code == 200 and error not in TRANSIENT_ERRORS:
                    raise SlackPermanentError(error, channel) from exc
                reason, ambiguous = error, error != "ratelimited"
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                self._metrics.errors.labels("connection").inc()
                reason, ambiguous = f"{type(exc).__name__}: {exc}", True
            if attempt == self._settings.max_attempts:
                raise SlackUnavailable(f"posting to {channel} failed {attempt} times, last: {reason}")
            log.warning("posting failed, retrying", extra={"channel": channel, "reason": reason, "attempt": attempt,
                                                         "max_attempts": self._settings.max_attempts,
                                                         "retry_in_s": delay})
            await asyncio.sleep(delay)
            delay *= 2
            if ambiguous and event_id and (ts := await self._posted_meanwhile(channel, event_id, started)):
                log.info("the failed post had gone through; not posting again", extra={"channel": channel, "ts": ts})
                return ts

    async def check_auth(self) -> None:
        """Raise unless Slack answers ``auth.test`` for our token (the notifier's readiness)."""
        await self._client.auth_test()

    async def _posted_meanwhile(self, channel: str, event_id: str, since: float) -> str | None:
        try:
            return await self.find_posted(channel, event_id, since - 5.0)
        except (SlackApiError, aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            log.warning("could not check the channel for the failed post; retrying it", extra={"channel": channel,
                                                                                          "error": str(exc)})
            return None

    async def find_posted(self, channel: str, event_id: str, oldest: float) -> str | None:
        """The ``ts`` of a message in ``channel`` since ``oldest`` whose metadata carries ``event_id``."""
        channel_id = await self._channel_id(channel)
        if channel_id is None:
            return None
        cursor = None
        while True:
            response = await self._client.conversations_history(
                channel=channel_id, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200, cursor=cursor)
            for msg in response.get("messages", []):
                payload = (msg.get("metadata") or {}).get("event_payload") or {}
                if payload.get("event_id") == event_id:
                    return str(msg["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    async def _channel_id(self, channel: str) -> str | None:
        """Channel ids pass through; ``#name`` is looked up once (history needs the id)."""
        if not channel.startswith("#"):
            return channel
        if channel not in self._channel_ids:
            cursor = None
            while True:
                response = await self._client.conversations_list(
                    types="public_channel,private_channel", exclude_archived=True, limit=1000, cursor=cursor)
                for ch in response.get("channels", []):
                    self._channel_ids["#" + ch["name"]] = ch["id"]
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        return self._channel_ids.get(channel)

    async def close(self) -> None:
        session = getattr(self._client, "session", None)
        if session is not None and not session.closed:
            await session.close()
