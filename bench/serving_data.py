"""Prepared data for bench/serving_bench.py: a synthetic store, migrated, filled and trained.

Preparing 100 000 users x 20 000 items x 2M events takes minutes, so the result is cached in
a directory keyed by the sizes, seed and backend (default bench/.cache/, ignored by git);
a rerun with the same key reuses it. SQLite lives in the cache directory; PostgreSQL gets a
schema of its own in the given database, named by the key, kept for reuse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.engine import make_url

from api.ingest import write_catalogue
from api.jobs.train import run_training
from api.settings import Settings
from api.store.db import create_db_engine, make_session_factory
from api.store.migrate import upgrade_to_head
from api.store.tables import Event
from matching.data import SECONDS_PER_DAY
from matching.synthetic import generate_catalogue

MARKER = "prepared.json"
ID_SAMPLE = 10_000  # ids the load generator draws from, per kind


@dataclass(frozen=True, slots=True)
class Sizes:
    users: int
    items: int
    events: int
    seed: int = 0

    def key(self, backend: str) -> str:
        return f"serving-{backend}-u{self.users}-i{self.items}-e{self.events}-s{self.seed}"


@dataclass(frozen=True, slots=True)
class Prepared:
    directory: Path
    database_url: str
    model_dir: Path
    user_ids_file: Path  # URL-quoted ids, one a line
    item_ids_file: Path
    info: dict[str, object]  # how it was made: timings, counts, model version


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'tagmatch.db'}"


def postgres_schema_url(admin_url: str, schema: str, *, recreate: bool) -> str:
    admin = create_engine(admin_url, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            if recreate:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        admin.dispose()
    scoped = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False)


def schema_name(sizes: Sizes, directory: Path) -> str:
    """The PostgreSQL schema of one cache directory: two checkouts benchmarking at once (the
    bench changes the store: bulk item updates, retraining) never share a schema."""
    owner = hashlib.sha1(str(directory).encode()).hexdigest()[:8]
    return f"{sizes.key('postgresql')}-{owner}".replace("-", "_")


def _write_ids(path: Path, ids: list[str], seed: int) -> None:
    sample = random.Random(seed).sample(ids, min(ID_SAMPLE, len(ids)))
    path.write_text("".join(quote(i, safe="") + "\n" for i in sample), "utf-8")


def _load(directory: Path, max_age_days: float) -> Prepared | None:
    marker = directory / MARKER
    if not marker.is_file():
        return None
    info = json.loads(marker.read_text("utf-8"))
    if time.time() - float(info["prepared_at"]) > max_age_days * SECONDS_PER_DAY:
        # Synthetic events are dated relative to preparation; old data ages lifecycles and
        # item windows away from what a live service would hold.
        return None
    url = str(info["database_url"])
    if url.startswith("sqlite"):
        url = sqlite_url(directory)  # the directory may have been moved or copied
    return Prepared(
        directory,
        url,
        directory / "models",
        directory / "user_ids.txt",
        directory / "item_ids.txt",
        info,
    )


def _migrate(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()


def _as_if_ingested_live(url: str) -> None:
    """Stamp each event as received when it happened, as in a store fed live. A bulk load
    stamps them all `now`, inside the margin serving re-reads after a snapshot
    (api.store.events.SNAPSHOT_MARGIN), so every request would read an item's whole history,
    which is not what a service in steady state does."""
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            # only rows not stamped so yet: a reused store has few (2M row updates take minutes)
            connection.execute(
                update(Event).where(Event.ingested_at != Event.ts).values(ingested_at=Event.ts)
            )
    finally:
        engine.dispose()


def _forget_mixed_ingest(url: str) -> None:
    """Delete the events earlier mixed phases posted (ids `bench-...`, serving_ingest.lua): kept,
    they pile up run after run beyond the model's snapshot, and every worker's first read at
    start-up reads them all (150 000 after a few runs at 10k users)."""
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(delete(Event).where(Event.event_id.like("bench-%")))
    finally:
        engine.dispose()


def prepare(
    sizes: Sizes,
    cache_root: Path,
    *,
    backend: str = "sqlite",
    postgres_url: str | None = None,
    max_age_days: float = 7.0,
    rebuild: bool = False,
) -> Prepared:
    """Return the cached store for these sizes, building it first when missing or stale."""
    directory = (cache_root / sizes.key(backend)).resolve()
    if not rebuild and (found := _load(directory, max_age_days)) is not None:
        print(f"prepared data: reusing {directory}", flush=True)
        _migrate(found.database_url)  # migrations added since (new indexes) apply to the cache
        _forget_mixed_ingest(found.database_url)
        _as_if_ingested_live(found.database_url)
        return found
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    if backend == "sqlite":
        url = sqlite_url(directory)
    else:
        if postgres_url is None:
            raise ValueError("postgresql backend needs a URL")
        url = postgres_schema_url(postgres_url, schema_name(sizes, directory), recreate=True)
    # Training logs progress at INFO; a benchmark run wants only its own lines.
    logging.getLogger("tagmatch").setLevel(logging.WARNING)

    timings: dict[str, float] = {}
    began = time.perf_counter()
    now = time.time()
    catalogue = generate_catalogue(
        n_users=sizes.users, n_items=sizes.items, n_events=sizes.events, seed=sizes.seed, now=now
    )
    timings["generate_s"] = time.perf_counter() - began
    print(f"prepared data: generated in {timings['generate_s']:.1f} s", flush=True)

    began = time.perf_counter()
    engine = create_db_engine(url)
    try:
        upgrade_to_head(engine)
        written = write_catalogue(make_session_factory(engine), catalogue)
    finally:
        engine.dispose()
    _as_if_ingested_live(url)
    timings["write_s"] = time.perf_counter() - began
    print(f"prepared data: stored in {timings['write_s']:.1f} s ({written})", flush=True)

    began = time.perf_counter()
    model_dir = directory / "models"
    outcome = run_training(Settings(database_url=url, model_dir=model_dir))
    timings["train_s"] = time.perf_counter() - began
    if not outcome.activated:
        raise RuntimeError(f"training did not activate a model: {outcome.reason}")
    print(f"prepared data: trained in {timings['train_s']:.1f} s", flush=True)

    _write_ids(directory / "user_ids.txt", [u.id for u in catalogue.users], sizes.seed)
    _write_ids(directory / "item_ids.txt", [i.id for i in catalogue.items], sizes.seed + 1)
    info: dict[str, object] = {
        "prepared_at": now,
        "database_url": url,
        "users": written.users,
        "items": written.items,
        "events": written.events_accepted,
        "model_version": outcome.version,
        **{k: round(v, 1) for k, v in timings.items()},
    }
    (directory / MARKER).write_text(json.dumps(info, indent=1), "utf-8")
    return Prepared(
        directory,
        url,
        model_dir,
        directory / "user_ids.txt",
        directory / "item_ids.txt",
        info,
    )
