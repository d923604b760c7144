"""`tagmatch import users|items|events FILE` and `tagmatch segment export NAME`, on SQLite and
PostgreSQL: rows validated by the API's schemas, bad rows named by line, nothing half-written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app
from api.store import segments as segment_store
from api.store.db import SessionFactory, session_scope
from api.store.events import count_events
from api.store.items import get_item
from api.store.users import get_user

runner = CliRunner()


@pytest.fixture(autouse=True)
def store(migrated_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", migrated_url)
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_users_items_and_events_from_csv_and_json_lines(
    tmp_path: Path, session_factory: SessionFactory
) -> None:
    users = _csv(
        tmp_path / "users.csv",
        ["id", "attributes", "tags", "consent"],
        [
            ["u1", '{"age": 29, "region": "上海"}', '["kw:瑜伽"]', '{"push": true}'],
            ["u2", "", '{"genre:Comedy": 0.5}', ""],
        ],
    )
    items = tmp_path / "items.jsonl"
    items.write_text(
        json.dumps({"id": "i1", "title": "晨间瑜伽", "tags": ["cat:sports"], "category": "sports"})
        + "\n\n"
        + json.dumps({"id": "i2", "title": "Bread", "published_at": "2026-01-01T00:00:00Z"})
        + "\n",
        encoding="utf-8",
    )
    events = _csv(
        tmp_path / "events.csv",
        ["id", "user_id", "item_id", "type", "value", "ts"],
        [
            ["e1", "u1", "i1", "click", "", "2026-11-01T08:00:00Z"],
            ["e2", "u2", "i2", "purchase", "39.9", "2026-11-01T09:00:00+08:00"],
        ],
    )
    assert "users: 2 rows, 2 written" in _ok(["import", "users", str(users)])
    assert "items: 2 rows, 2 written" in _ok(["import", "items", str(items)])
    assert "events: 2 rows, 2 written, 0 already stored" in _ok(["import", "events", str(events)])
    again = _ok(["import", "events", str(events), "--batch", "1"])
    assert "0 written, 2 already stored" in again
    with session_scope(session_factory) as session:
        u1, u2 = get_user(session, "u1"), get_user(session, "u2")
        assert u1 is not None and u1.attributes == {"age": 29, "region": "上海"} and u1.push_consent
        assert u2 is not None and u2.tags == {"genre:Comedy": 0.5} and not u2.push_consent
        item = get_item(session, "i1")
        assert item is not None and item.category == "sports"
        assert item.keywords  # extracted, as PUT /v1/items does
        assert count_events(session) == 2
        if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
            # a bulk load leaves the planner statistics it needs (refresh_planner_statistics)
            analyzed = session.execute(
                text(
                    "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables"
                    " WHERE relname = 'events' AND schemaname = current_schema()"
                )
            ).scalar_one()
            assert analyzed


def test_a_file_with_bad_rows_names_them_and_writes_nothing(
    tmp_path: Path, session_factory: SessionFactory
) -> None:
    events = _csv(
        tmp_path / "events.csv",
        ["id", "user_id", "item_id", "type", "ts"],
        [
            ["e1", "u1", "i1", "click", "2026-11-01T08:00:00Z"],
            ["e2", "u1", "i1", "clik", "2026-11-01T08:00:00Z"],  # line 3: unknown type
            ["e3", "u1", "i1", "view", "2026-11-01T08:00:00"],  # line 4: no zone
            ["e4", "u1", "i1", "view", "2026-11-01T08:00:00Z"],
        ],
    )
    result = runner.invoke(app, ["import", "events", str(events), "--batch", "1"])
    assert result.exit_code == 1
    assert "line 3: type: unknown event type 'clik'" in result.output
    assert "line 4: ts:" in result.output
    assert "2 of 4 rows are invalid" in result.output and "nothing written" in result.output
    with session_scope(session_factory) as session:
        assert count_events(session) == 0 and get_user(session, "u1") is None

    jsonl = tmp_path / "users.jsonl"
    jsonl.write_text('{"id": "ok"}\n{"id": "x", "colour": "red"}\nnot json\n', encoding="utf-8")
    result = runner.invoke(app, ["import", "users", str(jsonl)])
    assert result.exit_code == 1
    assert "line 2: colour: Extra inputs are not permitted" in result.output
    assert "line 3: row: not JSON" in result.output
    with session_scope(session_factory) as session:
        assert get_user(session, "ok") is None


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.xml"
    path.write_text("<users/>", encoding="utf-8")
    result = runner.invoke(app, ["import", "users", str(path)])
    assert result.exit_code == 2 and "--format csv or jsonl" in result.output


def test_segment_members_export_as_csv(session_factory: SessionFactory) -> None:
    with session_scope(session_factory) as session:
        from api.store.users import upsert_users

        upsert_users(session, [{"id": f"u{i:05d}"} for i in range(12_345)])
        segment_store.put_segment(session, "everyone", "life = 'new'")
        segment_store.replace_members(
            session, "everyone", [f"u{i:05d}" for i in range(0, 12_345, 2)], model_version="v1"
        )
    output = _ok(["segment", "export", "everyone"])
    rows = list(csv.reader(io.StringIO(output)))
    assert rows[0] == ["user_id"]
    assert [r[0] for r in rows[1:]] == [f"u{i:05d}" for i in range(0, 12_345, 2)]
    missing = runner.invoke(app, ["segment", "export", "nobody"])
    assert missing.exit_code == 2 and "no segment 'nobody'" in missing.output


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output
