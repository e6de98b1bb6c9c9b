"""The Faust application of the worker and everything its agents and views share.

:func:`create_worker_app` builds the app from :class:`Settings` without
starting anything; ``python -m stream worker`` then creates the topics, loads
the model and runs it. Nothing happens at import time.
"""
from __future__ import annotations

import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import faust
from mode.supervisors import CrashingSupervisor

from stream.worker import metrics as metrics_module
from stream.config import Settings
from stream.inference import language
from stream.kafka.client import faust_broker_urls, faust_credentials
from stream.worker.live_model import ModelHolder
from stream.worker.classify import Classifier
from stream.worker.drift.metrics import DriftMetrics
from stream.worker.drift.monitor import DriftMonitor
from stream.kafka.topics import Topics, declare_topics
from stream.worker.transport import Transport

log = logging.getLogger(__name__)


@dataclass
class WorkerApp:
    """The app plus the state its agents, timers and views share."""

    app: faust.App
    settings: Settings
    metrics: metrics_module.WorkerMetrics
    holder: ModelHolder
    classifier: Classifier
    topics: Topics
    executor: ThreadPoolExecutor
    #: Next offset to process per raw-topic partition (for lag): what this worker knows.
    next_offsets: dict = field(default_factory=dict)
    #: (topic, partition) label sets of the lag gauge currently exported.
    lag_labels: set = field(default_factory=set)
    #: Drift of the served traffic against the serving version's reference (None: not measured).
    drift: DriftMonitor | None = None

    def raw_assignment(self) -> list:
        """Raw-topic partitions assigned to this worker (empty before the first rebalance)."""
        try:
            assigned = self.app.consumer.assignment()
        except Exception:  # noqa: BLE001 - consumer not started yet
            return []
        return sorted((tp for tp in assigned if tp.topic == self.settings.kafka.topic_raw), key=lambda tp: tp.partition)


class _ShortFetchApp(faust.App):
    """A Faust app on our short-fetch-wait variant of the kafka:// transport (``TICKETS_KAFKA_SHORT_FETCH_WAIT``)."""

    def _new_transport(self):
        return Transport(self.conf.broker_consumer, self)


def faust_settings(settings: Settings) -> dict:
    """Keyword arguments of :class:`faust.App` for these settings."""
    kafka = settings.kafka
    return dict(
        broker=faust_broker_urls(kafka),
        broker_credentials=faust_credentials(kafka),
        # Tansu holds group joins for half the session timeout: keep it short.
        broker_session_timeout=kafka.session_timeout_s,
        broker_heartbeat_interval=kafka.heartbeat_s,
        consumer_auto_offset_reset="earliest",
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication,
        producer_acks=-1,
        # An agent that cannot publish must take the worker down (unacked events
        # are then re-read after restart); a silently restarted agent would
        # leave them unacked and block commits on their partitions forever.
        agent_supervisor=CrashingSupervisor,
        web_enabled=True,
        web_bind=settings.web_host,       # Faust binds 0.0.0.0 unless told
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        store="memory://",
        autodiscover=False,
        datadir=str(Path(tempfile.gettempdir()) / f"faust-{settings.app_id}"),
        logging_config=None,
    )


def create_worker_app(settings: Settings, *, metrics=None, holder: ModelHolder | None = None) -> WorkerApp:
    """Build (not start) the Faust app with its topics, agent, timers and views."""
    from stream.worker import agents, views

    metrics = metrics or metrics_module.create()
    holder = holder or ModelHolder(settings, metrics)
    language.configure(settings.languages)  # loads the detector now, not on the first ticket
    app_class = _ShortFetchApp if settings.kafka.short_fetch_wait else faust.App
    app = app_class(settings.app_id, **faust_settings(settings))
    # One thread: ONNX Runtime already spreads one batch over every core.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
    worker = WorkerApp(
        app=app,
        settings=settings,
        metrics=metrics,
        holder=holder,
        classifier=Classifier(holder, executor, retries=settings.inference_retries,
                              mode=settings.challenger_mode, fraction=settings.challenger_fraction),
        topics=declare_topics(app, settings.kafka),
        executor=executor,
        drift=DriftMonitor(DriftMetrics.create(metrics.registry), settings.registry_dir),
    )
    agents.register(worker)
    views.register(worker)
    return worker
