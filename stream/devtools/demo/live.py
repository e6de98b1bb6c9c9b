"""Read the demo's output topics and show each classified ticket as it arrives."""
from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass, field

from stream.config import Settings
from stream.kafka.client import aiokafka_client_config

GREEN, RED, YELLOW, DIM, RESET = "\033[32m", "\033[31m", "\033[33m", "\033[2m", "\033[0m"


@dataclass
class Observed:
    """What came out of the system during the demo."""

    classified: dict[str, dict] = field(default_factory=dict)   # ticket id → first ClassifiedEvent
    duplicates: int = 0
    dead_letters: list[dict] = field(default_factory=list)


def format_line(event: dict, truth: str | None, color: bool, width: int) -> str:
    """One terminal line: verdict, ticket, language, category, confidence, excerpt."""
    if truth is None:
        mark, tint = "·", ""
    elif event["category"] == truth:
        mark, tint = "✓", GREEN
    else:
        mark, tint = "✗", RED
    if event.get("needs_human"):
        mark, tint = ("?" if truth is None or event["category"] != truth else mark), YELLOW
    verdict = (f"{mark} {event['ticket_id']:<16} {event.get('language') or '-':<3} {event['category'][:21]:<21} "
               f"{event['confidence']:.2f}")
    if truth is not None and event["category"] != truth:
        verdict += f"  (is {truth})"
    if event.get("needs_human"):
        verdict += "  needs a human"
    room = max(10, width - len(verdict) - 4)
    excerpt = event.get("excerpt", "").replace("\n", " ")
    excerpt = excerpt if len(excerpt) <= room else excerpt[: room - 1] + "…"
    if color:
        return f"{tint}{verdict}{RESET}  {DIM}{excerpt}{RESET}"
    return f"{verdict}  {excerpt}"


async def watch(settings: Settings, truth: dict[str, str], expected: int, observed: Observed,
                stop: asyncio.Event, color: bool, quiet: bool = False) -> None:
    """Consume classified + dead-letter topics from the start until ``expected`` tickets are accounted for."""
    from aiokafka import AIOKafkaConsumer

    width = shutil.get_terminal_size((120, 20)).columns
    consumer = AIOKafkaConsumer(
        settings.kafka.topic_classified, settings.kafka.topic_dlq,
        auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
        **aiokafka_client_config(settings.kafka, client_id="ticket-demo-watch"),
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=250)
            for tp, records in batches.items():
                for record in records:
                    event = json.loads(record.value)
                    if tp.topic == settings.kafka.topic_dlq:
                        observed.dead_letters.append(event)
                        if not quiet:
                            print(f"☠ dead letter: {event.get('error_code')}: {event.get('reason')}", flush=True)
                        continue
                    ticket = event["ticket_id"]
                    if ticket in observed.classified:
                        observed.duplicates += 1
                        continue
                    observed.classified[ticket] = event
                    if not quiet:
                        print(format_line(event, truth.get(ticket), color, width), flush=True)
            if len(observed.classified) + len(observed.dead_letters) >= expected:
                return
    finally:
        await consumer.stop()
