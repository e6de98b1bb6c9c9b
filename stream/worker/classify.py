"""From TicketEvents to ClassifiedEvents: batch inference off the loop, event building.

Shared by the stream agent and ``POST /classify`` so both give the same answer
for the same ticket. Nothing here knows about Faust: inputs are
tickets, outputs are events or :class:`BadTicket` errors for the dead-letter
topic.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timezone

from schemas import ClassifiedEvent, LabelScore, ShadowClassifiedEvent, TicketEvent, TopCategory
from stream.kafka.dlq import failure_reason
from stream.exceptions import BadTicket
from stream.inference.evidence import evidence_of
from stream.inference.language import ticket_language
from stream.inference.stages import StageClock, stage, thread_stage
from stream.worker.arms import CHALLENGER, CHAMPION, arm_of
from stream.worker.live_model import challenger_shares_embedder

log = logging.getLogger(__name__)

EXCERPT_CHARS = 280


def event_id(ticket_id: str, model_version: str, text: str) -> str:
    """Deterministic id: the same ticket, model and input text always give the same id."""
    text_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return hashlib.sha256(f"{ticket_id}\x1f{model_version}\x1f{text_hash}".encode("utf-8")).hexdigest()[:32]


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The cleaned text cut at a word boundary (masked tokens such as ``[MASKED]`` stay whole)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


@dataclass
class _BatchOutput:
    texts: list[str]
    predictions: dict[int, object]   # ticket index → Prediction
    failures: dict[int, BadTicket]   # ticket index → why it could not be classified
    seconds: float
    stages: StageClock | None = None  # CPU per stage (stream/inference/stages.py)
    embedded: tuple[list[str], object] | None = None  # (texts, their vectors), kept for a shadow challenger


def _run_batch(predictor, tickets: list[TicketEvent], keep_vectors: bool = False,
               reuse: tuple[list[str], object] | None = None) -> _BatchOutput:
    """Clean + embed + predict a whole batch; runs in the inference thread.

    ``keep_vectors`` keeps the embeddings in the output; ``reuse`` takes such embeddings
    from a version with the same embedder, used when this batch's texts are the same."""
    started = time.perf_counter()
    texts: list[str] = []
    failures: dict[int, BadTicket] = {}
    with StageClock().active() as clock:
        with stage("clean"):
            for i, ticket in enumerate(tickets):
                try:
                    text = predictor.assemble([ticket])[0]
                except Exception as exc:  # noqa: BLE001 - one odd ticket must not sink the batch
                    failures[i] = BadTicket("inference_failed", f"cleaning failed: {type(exc).__name__}: {exc}")
                    text = ""
                if not text.strip() and i not in failures:
                    failures[i] = BadTicket("empty_text", "no text left after cleaning (all messages empty, "
                                                          "auto-replies or system/bot turns)")
                texts.append(text)
        todo = [i for i in range(len(tickets)) if i not in failures]
        todo_texts = [texts[i] for i in todo]
        embedded = None
        if reuse is not None and reuse[0] == todo_texts:
            embedded = reuse
        elif keep_vectors and todo:
            embedded = (todo_texts, predictor.embed(todo_texts))
        vectors = embedded[1] if embedded is not None else None
        if todo:
            answers = predictor.predict(todo_texts) if vectors is None else predictor.predict(todo_texts, vectors=vectors)
            predictions = dict(zip(todo, answers))
        else:
            predictions = {}
    return _BatchOutput(texts, predictions, failures, time.perf_counter() - started, clock,
                        embedded if keep_vectors else None)


def _run_one_by_one(predictor, tickets: list[TicketEvent]) -> _BatchOutput:
    """Last resort after the batch kept failing: isolate the ticket(s) that break inference."""
    started = time.perf_counter()
    out = _BatchOutput([], {}, {}, 0.0, StageClock())
    for i, ticket in enumerate(tickets):
        try:
            single = _run_batch(predictor, [ticket])
        except Exception as exc:  # noqa: BLE001
            out.texts.append("")
            out.failures[i] = BadTicket("inference_failed", f"{type(exc).__name__}: {exc}")
            continue
        out.stages.merge(single.stages)
        out.texts.append(single.texts[0])
        if 0 in single.failures:
            out.failures[i] = single.failures[0]
        else:
            out.predictions[i] = single.predictions[0]
    out.seconds = time.perf_counter() - started
    return out


@dataclass
class BatchResults:
    """What one batch gave: the served answer of every ticket and, in shadow mode, the challenger's."""

    served: list  # ClassifiedEvent | BadTicket per ticket, in order; ``arm`` says who answered
    shadow: list = field(default_factory=list)  # ShadowClassifiedEvent | BadTicket per ticket (shadow mode)
    seconds: float = 0.0  # wall time of the whole batch's inference
    arm_seconds: dict = field(default_factory=dict)  # arm → wall time of its share
    arms: list = field(default_factory=list)  # which arm served each ticket (also for the ones that failed)


class Classifier:
    """Classifies batches of tickets with the holder's current model(s) on one dedicated thread.

    One thread, because ONNX Runtime already uses every core for one batch and
    the event loop must stay free for heartbeats, commits, other agents and
    the web server while a batch runs. ``mode`` is ``TICKETS_CHALLENGER_MODE``;
    it only applies while the holder has a challenger loaded.
    """

    def __init__(self, holder, executor: Executor, retries: int = 2, retry_backoff_s: float = 0.2,
                 mode: str = "off", fraction: float = 0.0):
        self.holder = holder
        self.executor = executor
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self.mode = mode
        self.fraction = fraction

    async def classify(self, tickets: list[TicketEvent],
                       clock: StageClock | None = None) -> tuple[list[ClassifiedEvent | BadTicket], float]:
        """One champion result per ticket, in order, and the inference seconds of the batch (``POST /classify``).

        ``clock``, when given, receives the batch's CPU seconds per stage."""
        if not tickets:
            return [], 0.0
        predictor = self.holder.predictor  # read once: a swap applies from the next batch
        if predictor is None:
            raise RuntimeError("no model loaded")
        output = await self._infer(predictor, tickets, clock)
        return self._events(tickets, output, predictor, CHAMPION, clock), output.seconds

    async def classify_batch(self, tickets: list[TicketEvent], clock: StageClock | None = None) -> BatchResults:
        """The stream's batch: by the mode, the champion alone, split between arms, or shadowed by the challenger."""
        if not tickets:
            return BatchResults([])
        arms = getattr(self.holder, "arms", None)
        champion, challenger = arms() if arms else (self.holder.predictor, None)  # read once per batch
        if champion is None:
            raise RuntimeError("no model loaded")
        mode = self.mode if challenger is not None else "off"
        if mode == "split":
            return await self._split(tickets, champion, challenger, clock)
        keep = mode == "shadow" and challenger_shares_embedder(champion, challenger)
        output = await self._infer(champion, tickets, clock, keep_vectors=keep)
        results = BatchResults(self._events(tickets, output, champion, CHAMPION, clock), seconds=output.seconds,
                               arm_seconds={CHAMPION: output.seconds}, arms=[CHAMPION] * len(tickets))
        if mode == "shadow":
            started = time.perf_counter()
            results.shadow = await self._shadow(tickets, output, results.served, champion, challenger, clock)
            results.arm_seconds[CHALLENGER] = time.perf_counter() - started
            results.seconds += results.arm_seconds[CHALLENGER]
        return results

    async def _split(self, tickets, champion, challenger, clock) -> BatchResults:
        served: list = [None] * len(tickets)
        results = BatchResults(served, arms=[arm_of(t.ticket_id, self.fraction) for t in tickets])
        for arm, predictor in ((CHAMPION, champion), (CHALLENGER, challenger)):
            index = [i for i, a in enumerate(results.arms) if a == arm]
            if not index:
                continue
            share = [tickets[i] for i in index]
            output = await self._infer(predictor, share, clock)
            for i, event in zip(index, self._events(share, output, predictor, arm, clock)):
                served[i] = event
            results.arm_seconds[arm] = output.seconds
            results.seconds += output.seconds
        return results

    async def _shadow(self, tickets, champion_output: _BatchOutput, served: list, champion, challenger, clock) -> list:
        """The challenger's events for the same tickets; its failures never touch the served answers."""
        loop = asyncio.get_running_loop()
        try:
            output = await loop.run_in_executor(self.executor, _run_batch, challenger, tickets, False,
                                                champion_output.embedded)
        except Exception as exc:  # noqa: BLE001 - shadow scoring is best effort: the champion served
            log.warning("shadow inference failed", extra={"batch": len(tickets), "version": challenger.version,
                                                          "error": f"{type(exc).__name__}: {exc}"})
            return [BadTicket("inference_failed", f"{type(exc).__name__}: {exc}")] * len(tickets)
        if clock is not None and output.stages is not None:
            clock.merge(output.stages)
        extra = [{"champion_version": champion.version,
                  "champion_category": None if isinstance(s, BadTicket) else s.category} for s in served]
        return self._events(tickets, output, challenger, CHALLENGER, clock, ShadowClassifiedEvent, extra)

    async def _infer(self, predictor, tickets, clock, keep_vectors: bool = False) -> _BatchOutput:
        """Inference of one version on the executor, retried; last resort, ticket by ticket."""
        loop = asyncio.get_running_loop()
        output = None
        for attempt in range(self.retries + 1):
            try:
                output = await loop.run_in_executor(self.executor, _run_batch, predictor, tickets, keep_vectors)
                break
            except Exception as exc:  # noqa: BLE001
                log.warning("batch inference failed", extra={
                    "attempt": attempt + 1, "attempts": self.retries + 1, "batch": len(tickets),
                    "error": f"{type(exc).__name__}: {exc}"})
                if attempt < self.retries:
                    await asyncio.sleep(self.retry_backoff_s * (attempt + 1))
        if output is None:
            output = await loop.run_in_executor(self.executor, _run_one_by_one, predictor, tickets)
        if clock is not None and output.stages is not None:
            clock.merge(output.stages)
        return output

    @staticmethod
    def _events(tickets, output: _BatchOutput, predictor, arm: str, clock, event_type=None, extra=None) -> list:
        processed_at = datetime.now(timezone.utc)
        results: list = []
        with thread_stage(clock, "serialise"):
            for i, ticket in enumerate(tickets):
                if i in output.failures:
                    results.append(output.failures[i])
                    continue
                try:
                    results.append(build_event(ticket, output.texts[i], output.predictions[i], predictor,
                                               output.seconds, processed_at, arm=arm,
                                               event_type=event_type or ClassifiedEvent,
                                               **(extra[i] if extra else {})))
                except Exception as exc:  # noqa: BLE001 - this ticket only: it is dead-lettered
                    results.append(BadTicket("processing_failed",
                                             f"could not build the ClassifiedEvent: {failure_reason(exc)[1]}"))
        return results


def _probability(value) -> float:
    return min(1.0, max(0.0, float(value)))


def label_set(prediction) -> list[LabelScore] | None:
    """A multi-label prediction's set (most probable first) as event items; None for a single-label one."""
    labels = getattr(prediction, "labels", None)
    if labels is None:
        return None
    return [LabelScore(label=label, probability=_probability(p)) for label, p in labels]


def build_event(ticket: TicketEvent, text: str, prediction, predictor, inference_s: float,
                processed_at: datetime, arm: str = CHAMPION, event_type=ClassifiedEvent, **extra) -> ClassifiedEvent:
    """The ClassifiedEvent (or ShadowClassifiedEvent, with ``extra``) of one ticket, answered by ``arm``."""
    return event_type(
        event_id=event_id(ticket.ticket_id, predictor.version, text),
        ticket_id=ticket.ticket_id,
        category=prediction.category,
        confidence=_probability(prediction.confidence),
        top_k=[TopCategory(category=c, probability=_probability(p)) for c, p in prediction.top_k],
        needs_human=bool(prediction.needs_human),
        model_version=predictor.version,
        embedder_id=predictor.embedder_id or "none",
        excerpt=excerpt(text),
        subject=ticket.subject,
        source=ticket.source,
        language=ticket_language(ticket, text),
        evidence=evidence_of(prediction),
        arm=arm,
        labels=label_set(prediction),
        created_at=ticket.created_at,
        processed_at=processed_at,
        inference_ms=_ms(inference_s),
        end_to_end_ms=_ms((processed_at - ticket.created_at).total_seconds()),
        **extra,
    )


def classify_now(predictor, ticket: TicketEvent) -> ClassifiedEvent:
    """Classify one ticket synchronously (CLI); the same steps as a stream batch of one."""
    output = _run_batch(predictor, [ticket])
    if 0 in output.failures:
        raise output.failures[0]
    return build_event(ticket, output.texts[0], output.predictions[0], predictor, output.seconds,
                       datetime.now(timezone.utc))
