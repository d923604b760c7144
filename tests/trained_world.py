"""A small synthetic store with a trained model, shared by the serving, push-list, segment,
model and crash tests: 200 users, 80 items, 3 000 events in planted taste clusters (Chinese and
English tags), dated up to now so lifecycle stages and item windows mean what they say today.

build_world() goes through the real paths: migrations, the ingest writer, and the `tagmatch
train` command (snapshot, train, evaluate, gate, activate, segment refresh).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.ingest import write_catalogue
from api.jobs.runner import train_command
from api.settings import Settings
from api.store.db import create_db_engine, make_session_factory, session_scope
from api.store.migrate import upgrade_to_head
from api.store.models import active_model_version
from matching.datasets import Catalogue
from matching.synthetic import SyntheticTruth, generate_with_truth

PROBLEM = "application/problem+json"
WORLD_SIZE = {"n_users": 200, "n_items": 80, "n_events": 3000, "seed": 1}
# Small and quick: the planted clusters are easy to find and the suite stays fast (no model
# search: the settings as given; tests of the search set their own budget).
SMALL_MODEL: dict[str, Any] = {
    "als": {"factors": 16, "iterations": 5, "regularization": 1.0},
    "search": {"trials": 0},
}
DAY = 86_400.0
CLUSTER_ITEMS: dict[int, dict[str, Any]] = {  # a new item per planted cluster: tags, no events
    0: {"title": "瑜伽入门", "tags": {"kw:瑜伽": 1.0, "kw:yoga": 0.9, "topic:fitness": 1.0}},
    1: {"title": "烘焙食谱", "tags": {"kw:美食": 1.0, "kw:烘焙": 0.9, "topic:food": 1.0}},
    2: {"title": "编程入门", "tags": {"kw:编程": 1.0, "kw:科技": 0.9, "topic:tech": 1.0}},
    3: {"title": "旅行攻略", "tags": {"kw:旅行": 1.0, "kw:酒店": 0.9, "topic:travel": 1.0}},
}


@dataclass
class World:
    settings: Settings
    catalogue: Catalogue
    truth: SyntheticTruth
    version: str
    user_cluster: dict[str, int] = field(default_factory=dict)
    item_cluster: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        users, items = self.catalogue.users, self.catalogue.items
        user_cluster, item_cluster = self.truth.user_cluster, self.truth.item_cluster
        self.user_cluster = {u.id: int(c) for u, c in zip(users, user_cluster, strict=True)}
        self.item_cluster = {i.id: int(c) for i, c in zip(items, item_cluster, strict=True)}

    def users_in_stage(self, stage: str, now: float) -> set[str]:
        """Lifecycle stage recomputed from the raw events, user by user, with LifecycleConfig's
        default thresholds: new within 7 days of the first event, churned after 60 days
        without one, silent after 14, else active."""
        events, found = self.catalogue.events, set()
        for row, user in enumerate(self.catalogue.users):
            times = events.ts[events.user == row]
            if not len(times) or (now - times.min()) / DAY <= 7:
                judged = "new"
            elif (now - times.max()) / DAY > 60:
                judged = "churned"
            else:
                judged = "silent" if (now - times.max()) / DAY > 14 else "active"
            if judged == stage:
                found.add(user.id)
        return found

    def event_counts(self) -> dict[str, int]:
        counts = np.bincount(self.catalogue.events.user, minlength=len(self.catalogue.users))
        return {u.id: int(n) for u, n in zip(self.catalogue.users, counts, strict=True)}

    def warm_users(self, minimum: int = 15) -> list[str]:
        """Users with at least `minimum` events, most active first."""
        counts = self.event_counts()
        return sorted((u for u, n in counts.items() if n >= minimum), key=lambda u: -counts[u])

    def items_of_user(self, user_id: str) -> set[str]:
        row = [u.id for u in self.catalogue.users].index(user_id)
        events = self.catalogue.events
        return {self.catalogue.items[int(i)].id for i in events.item[events.user == row]}


def write_model_config(directory: Path, config: dict[str, Any] | None = None) -> Path:
    path = directory / f"model-config-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(SMALL_MODEL if config is None else config), "utf-8")
    return path


def active_version(settings: Settings) -> str | None:
    engine = create_db_engine(settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            row = active_model_version(session)
            return None if row is None else row.version
    finally:
        engine.dispose()


def train_now(settings: Settings, *, force: bool = False) -> str:
    """One run of the real `tagmatch train` command; the active version afterwards."""
    assert train_command(settings, force=force, if_no_model=False, job_id=None) == 0
    version = active_version(settings)
    assert version is not None
    return version


def build_world(url: str, directory: Path, *, trained: bool = True) -> World:
    """Migrate, load the synthetic catalogue, and (when `trained`) train the first model."""
    engine = create_db_engine(url)
    try:
        upgrade_to_head(engine)
        catalogue, truth = generate_with_truth(**WORLD_SIZE, now=time.time())
        write_catalogue(make_session_factory(engine), catalogue)
    finally:
        engine.dispose()
    settings = Settings(
        database_url=url,
        model_dir=directory / "models",
        model_config_file=write_model_config(directory),
        log_level="WARNING",
    )
    version = train_now(settings) if trained else ""
    return World(settings, catalogue, truth, version)


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """A problem+json answer with this status; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    return body
