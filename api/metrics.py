"""Prometheus metrics: HTTP, the model served, ingest outcomes, store latency, training.

Multiprocess: with PROMETHEUS_MULTIPROC_DIR set (`tagmatch serve --workers N` sets and clears
one), every worker writes its samples into that directory and /metrics merges them, so one
scrape sees all N workers. prometheus_client picks its storage when first imported, which is
why `tagmatch serve` sets the variable before anything imports it.

Training runs in other processes (the API's child, a cron job): what /metrics reports of
them is read from the store at scrape time (the newest training job), so it is the same
whichever worker answers and whoever started the run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.engine import Engine

from api.store import jobs
from api.store.db import SessionFactory, session_scope

log = logging.getLogger("tagmatch.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's variable (api.cli sets it)
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class ServiceMetrics:
    """The domain metrics of one app, on its registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.model_info = Gauge(
            "tagmatch_model_info",
            "1 for the model version this process serves",
            ("version",),
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.model_created = Gauge(
            "tagmatch_model_created_timestamp_seconds",
            "when the served model was trained (its age is time() minus this)",
            registry=registry,
            multiprocess_mode="livemin",  # the oldest model any worker still serves
        )
        self.events = Counter(
            "tagmatch_events",
            "events received, by outcome: accepted, duplicate, rejected",
            ("outcome",),
            registry=registry,
        )
        self.store_seconds = Histogram(
            "tagmatch_store_seconds",
            "store statement latency, by statement kind",
            ("operation",),
            registry=registry,
            buckets=_SECONDS,
        )
        self.answers = Counter(
            "tagmatch_answers",
            "answers served, by endpoint and strategy (personal, cold_start, popular; audience)",
            ("endpoint", "strategy"),
            registry=registry,
        )
        self.answer_size = Histogram(
            "tagmatch_answer_size",
            "users or items in an answer, by endpoint (audience, push_list, recommend)",
            ("endpoint",),
            registry=registry,
            buckets=(0, 1, 10, 100, 1_000, 10_000, 100_000),
        )
        self._served: str | None = None

    def answered(self, endpoint: str, strategy: str, size: int) -> None:
        self.answers.labels(endpoint, strategy).inc()
        self.answer_size.labels(endpoint).observe(size)

    def model_served(self, version: str | None, created_at: float | None) -> None:
        """Call after a swap: the info gauge moves from the old version to the new one."""
        if version == self._served:
            return
        if self._served is not None:
            self.model_info.labels(self._served).set(0)
        if version is not None:
            self.model_info.labels(version).set(1)
            if created_at is not None:
                self.model_created.set(created_at)
        self._served = version

    def events_received(self, accepted: int, duplicates: int, rejected: int = 0) -> None:
        for outcome, n in (
            ("accepted", accepted),
            ("duplicate", duplicates),
            ("rejected", rejected),
        ):
            if n:
                self.events.labels(outcome).inc(n)

    def time_store(self, engine: Engine) -> None:
        """Observe every statement's latency on `engine`."""

        @event.listens_for(engine, "before_cursor_execute")
        def started(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info.setdefault("tagmatch_started", []).append(time.perf_counter())

        @event.listens_for(engine, "after_cursor_execute")
        def finished(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            stack = conn.info.get("tagmatch_started")
            if stack:
                elapsed = time.perf_counter() - stack.pop()
                self.store_seconds.labels(_operation(statement)).observe(elapsed)


def _operation(statement: str) -> str:
    word = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else ""
    return word if word in ("select", "insert", "update", "delete", "with") else "other"


class TrainingCollector(Collector):
    """The newest training job in the store: its outcome, when it ended, each stage's time."""

    def __init__(self, factory: SessionFactory) -> None:
        self.factory = factory

    def collect(self) -> Iterator[Metric]:
        try:
            with session_scope(self.factory) as session:
                newest = next(
                    (j for j in jobs.list_jobs(session, kind="train", limit=20) if j.finished_at),
                    None,
                )
                if newest is None:
                    return
                finished = newest.finished_at
                succeeded = newest.status == "succeeded"
                stages = list((newest.result or {}).get("stages") or [])
        except Exception:  # a scrape must not fail because the store is down
            log.warning("training metrics unavailable", exc_info=True)
            return
        outcome = GaugeMetricFamily(
            "tagmatch_training_last_success", "1 when the newest finished training job succeeded"
        )
        outcome.add_metric([], 1.0 if succeeded else 0.0)
        yield outcome
        ended = GaugeMetricFamily(
            "tagmatch_training_last_finished_timestamp_seconds",
            "when the newest training job finished",
        )
        ended.add_metric([], finished.timestamp() if finished else 0.0)
        yield ended
        durations = GaugeMetricFamily(
            "tagmatch_training_last_stage_seconds",
            "seconds each stage of the newest successful-or-not training job took",
            labels=["stage"],
        )
        for stage in stages:
            if isinstance(stage, dict) and "stage" in stage and "seconds" in stage:
                durations.add_metric([str(stage["stage"])], float(stage["seconds"]))
        yield durations


def exposition(app_registry: CollectorRegistry, factory: SessionFactory | None) -> bytes:
    """The text of /metrics: this process's registry, or every worker's in multiprocess mode,
    plus the training collector."""
    if multiprocess_dir() is None:
        registry = app_registry
    else:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    text = generate_latest(registry)
    if factory is not None:
        training = CollectorRegistry()  # per scrape: concurrent scrapes never share it
        training.register(TrainingCollector(factory))
        text += generate_latest(training)
    return text


def process_exiting() -> None:
    """A worker's live gauges leave the merged view when it stops."""
    if multiprocess_dir() is not None:
        mark_process_dead(os.getpid())
