"""Training survives any stored row (issue 13): rows the pipeline cannot use, written
straight into the store past the API's validation, are skipped and counted in the job result;
the run still trains and activates a model.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from trained_world import World

from api.jobs.runner import train_command
from api.store.db import create_db_engine, make_session_factory, session_scope
from api.store.jobs import create_job, get_job
from api.store.models import active_model_version

BIG = 5_000_000  # characters: far past every limit, small enough to keep the test quick


def _write_unusable_rows(url: str) -> dict[str, int]:
    """Writes rows the API would refuse; returns the skips training must report."""
    engine = create_db_engine(url)
    postgres = engine.dialect.name == "postgresql"
    # SQLite holds SQLAlchemy's text form, compared as text: write exactly that form.
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f" + ("+00:00" if postgres else ""))
    users: list[dict[str, Any]] = [
        {"id": "huge-age", "attributes": json.dumps({"age": 10**400}), "tags": "{}"},
        {"id": "huge-bio", "attributes": json.dumps({"bio": "x" * BIG}), "tags": "{}"},
        {"id": "word-weight", "attributes": "{}", "tags": json.dumps({"kw:x": "heavy"})},
        {"id": "listed", "attributes": "[1, 2]", "tags": "{}"},
    ]
    items: list[dict[str, Any]] = [
        {"id": "huge-text", "text": "word " * (BIG // 5), "tags": "{}", "published": None},
        {"id": "minus-tag", "text": "", "tags": json.dumps({"kw:x": -1}), "published": None},
        {"id": "year-one", "text": "", "tags": "{}", "published": "0001-01-01 00:00:00"},
    ]
    # Year 1 with a positive offset is 1 BC in UTC: PostgreSQL stores it, Python cannot read it.
    year_one = "0001-01-01T00:00:00+01:00" if postgres else "0001-01-01 00:00:00.000000"
    timestamp = "CAST(:ts AS TIMESTAMPTZ)" if postgres else ":ts"
    with engine.begin() as connection:
        user_id, item_id = connection.execute(
            text("SELECT user_id, item_id FROM events LIMIT 1")
        ).one()
        for user in users:
            connection.execute(
                text(
                    "INSERT INTO users (id, attributes, tags, push_consent, created_at, "
                    "updated_at, consent_changed_at) VALUES (:id, :attributes, :tags, false, "
                    f"{timestamp}, {timestamp}, {timestamp})"
                ),
                user | {"ts": now},
            )
        for item in items:
            published = "CAST(:published AS TIMESTAMPTZ)" if postgres else ":published"
            connection.execute(
                text(
                    "INSERT INTO items (id, title, text, tags, deleted, published_at, "
                    "created_at, updated_at, window_changed_at) VALUES (:id, '', :text, "
                    f":tags, false, {published}, {timestamp}, {timestamp}, {timestamp})"
                ),
                item | {"ts": now},
            )
        for event_id, value, ts in [("e-year-one", 1.0, year_one), ("e-huge", 1e300, now)]:
            connection.execute(
                text(
                    "INSERT INTO events (event_id, user_id, item_id, type, value, ts, ingested_at)"
                    f" VALUES (:event_id, :user_id, :item_id, 'view', :value, "
                    f"{timestamp.replace(':ts', ':event_ts')}, {timestamp})"
                ),
                {
                    "event_id": event_id,
                    "user_id": user_id,
                    "item_id": item_id,
                    "value": value,
                    "event_ts": ts,
                    "ts": now,
                },
            )
    engine.dispose()
    return {
        "users.attributes": 3,
        "users.tags": 1,
        "items.text": 1,
        "items.tags": 1,
        "items.dates": 1,
        "events.ts": 1,
        "events.value": 1,
    }


def test_training_skips_and_counts_unusable_rows(untrained_world: World) -> None:
    settings = untrained_world.settings
    expected = _write_unusable_rows(settings.database_url)
    engine = create_db_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            job_id = create_job(session, "train").id
        assert train_command(settings, force=False, if_no_model=False, job_id=job_id) == 0
        with session_scope(factory) as session:
            job = get_job(session, job_id)
            assert job is not None and job.status == "succeeded", job and job.error
            assert job.result is not None and job.result["skipped_rows"] == expected
            active = active_model_version(session)
            assert active is not None and active.version == job.result["version"]
    finally:
        engine.dispose()
