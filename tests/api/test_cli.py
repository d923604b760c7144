"""The tagmatch command against a real database file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from trained_world import World
from typer.testing import CliRunner

from api.cli import app
from api.store.db import create_db_engine, make_session_factory, session_scope
from api.store.events import count_events
from api.store.users import get_user
from bench.ml100k import ml100k_path

runner = CliRunner()


def test_db_upgrade_then_demo_then_demo_if_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", url)
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")

    refused = runner.invoke(app, ["demo", "--users", "5", "--items", "4", "--events", "10"])
    assert refused.exit_code == 2 and "tagmatch db upgrade" in refused.output

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    args = ["demo", "--users", "30", "--items", "12", "--events", "200", "--if-empty"]
    loaded = runner.invoke(app, args)
    assert loaded.exit_code == 0, loaded.output
    assert "users: 30" in loaded.output
    skipped = runner.invoke(app, args)
    assert "already has users" in skipped.output

    engine = create_db_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        assert count_events(session) > 0
    engine.dispose()


def test_openapi_command_prints_sorted_json() -> None:
    result = runner.invoke(app, ["openapi"])
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert "/v1/events" in document["paths"]
    assert (
        result.output == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


@pytest.mark.skipif(ml100k_path() is None, reason="MovieLens 100K not present")
def test_import_movielens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'ml.db'}"
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", url)
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["import", "movielens", str(ml100k_path())])
    assert result.exit_code == 0, result.output
    assert "users: 943" in result.output and "events: 100000 new" in result.output
    engine = create_db_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        user = get_user(session, "1")
        assert user is not None and user.attributes.get("occupation") == "technician"
    engine.dispose()


def test_train_shows_stages_and_a_table_beside_the_active_model(
    fresh_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = fresh_world.settings
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TAGMATCH_MODEL_DIR", str(settings.model_dir))
    monkeypatch.setenv("TAGMATCH_MODEL_CONFIG_FILE", str(settings.model_config_file))
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")
    result = runner.invoke(app, ["train", "--force"])
    assert result.exit_code == 0, result.output
    # Not a terminal: plain progress lines, one a stage, then the verdict and the table.
    stages = [
        line.split()[1] for line in result.output.splitlines() if line.startswith("training:")
    ]
    assert stages == [
        "snapshot", "evaluate", "fit", "index", "precompute", "save", "gate", "segments", "done",
    ]  # fmt: skip
    header = next(line for line in result.output.splitlines() if "metric " in line)
    assert "new" in header and "active before" in header
    ndcg = next(line for line in result.output.splitlines() if "│ ndcg@10" in line)
    assert len(re.findall(r"\d\.\d{4}", ndcg)) == 2  # the new run's and the active model's


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"als": {"factros": 8}}, "als.factros"),
        ({"search": {"trials": -1}}, "search.trials"),
        ({"events": {"half_life_days": 0}}, "events.half_life_days"),
        ({"als": {"weighting": "sqrt"}}, "als.weighting"),
    ],
)
def test_train_refuses_a_bad_model_config_naming_the_field_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: dict[str, object], field: str
) -> None:
    database = tmp_path / "never-opened.db"
    path = tmp_path / "model.json"
    path.write_text(json.dumps(config), "utf-8")
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("TAGMATCH_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TAGMATCH_MODEL_CONFIG_FILE", str(path))
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")
    for command in (["train"], ["evaluate"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 78, result.output
        assert field in result.output and "invalid model config" in result.output
    assert not database.exists() and not (tmp_path / "models").exists()


def test_train_prints_the_search_it_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.json"
    small = {"als": {"factors": 8, "iterations": 3}, "search": {"trials": 2, "seconds": 0}}
    path.write_text(json.dumps(small), "utf-8")
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TAGMATCH_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TAGMATCH_MODEL_CONFIG_FILE", str(path))
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    demo = ["demo", "--users", "120", "--items", "40", "--events", "2400"]
    assert runner.invoke(app, demo).exit_code == 0
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 0, result.output
    assert "model search: 2 trials" in result.output
    assert "trial   0:" in result.output and "trial   1:" in result.output
    assert (
        "chosen als.factors = " in result.output and "holdout nDCG, most popular" in result.output
    )
