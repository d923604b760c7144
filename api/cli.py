"""The `tagmatch` command. One sub-app per group (db, import); add a group with
`app.add_typer(...)` and a command with `@app.command()`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import func, select

from api.cli_keys import keys_app
from api.settings import Settings

if TYPE_CHECKING:
    from api.importing import Kind
    from matching.datasets import Catalogue

app = typer.Typer(
    help="tagmatch: recommendations and audiences in one tag space.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
import_app = typer.Typer(help="Load data sets into the store.", no_args_is_help=True)
models_app = typer.Typer(help="Stored model versions.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")


def _settings() -> Settings:
    from api.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve the HTTP API (settings from TAGMATCH_* environment variables). With several
    workers, their Prometheus metrics are merged through PROMETHEUS_MULTIPROC_DIR (a fresh
    temporary directory unless set; a set one is emptied first, as prometheus_client asks)."""
    with _metrics_directory(workers):
        import uvicorn

        settings = _settings()
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,  # our structured logging, configured by create_app
            log_level=settings.log_level.lower(),
        )


# prometheus_client's own variable. It is read when prometheus_client is first imported, so
# it is set here, before anything imports api.metrics (or prometheus_client).
PROMETHEUS_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    given = os.environ.get(PROMETHEUS_MULTIPROC_ENV)
    if given:
        for stale in Path(given).glob("*.db"):  # samples of an earlier run's processes
            stale.unlink()
        yield
    elif workers == 1:
        yield
    else:
        with tempfile.TemporaryDirectory(prefix="tagmatch-metrics-") as directory:
            os.environ[PROMETHEUS_MULTIPROC_ENV] = directory
            try:
                yield
            finally:
                os.environ.pop(PROMETHEUS_MULTIPROC_ENV, None)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (creates the database on first run)."""
    from api.store.db import create_db_engine
    from api.store.migrate import current_revision, upgrade_to_head

    engine = create_db_engine(_settings().database_url)
    try:
        upgrade_to_head(engine)
        typer.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision and the newest one."""
    from api.store.db import create_db_engine
    from api.store.migrate import current_revision, head_revision

    engine = create_db_engine(_settings().database_url)
    try:
        typer.echo(f"current: {current_revision(engine)}  head: {head_revision()}")
    finally:
        engine.dispose()


@import_app.command("movielens")
def import_movielens(
    path: Annotated[Path, typer.Argument(help="directory with u.user, u.item, u.genre, u.data")],
) -> None:
    """Import MovieLens 100K: users with attributes, movies with genre tags, ratings as events."""
    from matching.datasets import load_movielens_100k

    if not (path / "u.data").is_file():
        raise typer.BadParameter(
            f"{path} has no u.data: not an ml-100k directory", param_hint="PATH"
        )
    _write(load_movielens_100k(path), "import movielens")


FileArgument = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="a .csv or .jsonl file")
]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="csv or jsonl (default: from the file name)")
]
BatchOption = Annotated[int, typer.Option(min=1, max=100_000, help="rows a transaction")]


@import_app.command("users")
def import_users(file: FileArgument, fmt: FormatOption = None, batch: BatchOption = 5_000) -> None:
    """Upsert users from CSV or JSON Lines (fields as in PUT /v1/users)."""
    _import("users", file, fmt, batch)


@import_app.command("items")
def import_items(file: FileArgument, fmt: FormatOption = None, batch: BatchOption = 5_000) -> None:
    """Upsert items from CSV or JSON Lines (fields as in PUT /v1/items)."""
    _import("items", file, fmt, batch)


@import_app.command("events")
def import_events(file: FileArgument, fmt: FormatOption = None, batch: BatchOption = 5_000) -> None:
    """Record events from CSV or JSON Lines (fields as in POST /v1/events)."""
    _import("events", file, fmt, batch)


def _import(kind: Kind, file: Path, fmt: str | None, batch: int) -> None:
    """Every row is validated before anything is written; bad rows are listed by line."""
    from api.app import accepted_event_types
    from api.importing import UnknownFormat, import_file
    from api.progress import show_progress
    from api.store.db import create_db_engine, make_session_factory
    from api.store.migrate import DatabaseNotMigrated, require_head

    settings = _settings()
    engine = create_db_engine(settings.database_url)
    try:
        require_head(engine)
        with show_progress(f"import {kind}") as progress:
            result = import_file(
                make_session_factory(engine),
                kind,
                file,
                event_types=accepted_event_types(settings),
                fmt=fmt,
                batch=batch,
                progress=progress,
            )
    except (DatabaseNotMigrated, UnknownFormat) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if result.errors:
        for error in result.errors:
            typer.echo(str(error), err=True)
        shown = len(result.errors)
        more = f" (the first {shown} problems shown)" if result.bad_rows > shown else ""
        typer.echo(
            f"error: {result.bad_rows} of {result.rows} rows are invalid{more}; nothing written",
            err=True,
        )
        raise typer.Exit(1)
    duplicates = f", {result.duplicates} already stored" if kind == "events" else ""
    typer.echo(f"{kind}: {result.rows} rows, {result.written} written{duplicates}")


@app.command()
def demo(
    users: Annotated[int, typer.Option(min=1, help="synthetic users")] = 1_000,
    items: Annotated[
        int, typer.Option(min=4, help="synthetic items (one per taste cluster at least)")
    ] = 400,
    events: Annotated[int, typer.Option(min=0, help="synthetic events")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    if_empty: Annotated[bool, typer.Option(help="do nothing when the store has users")] = False,
) -> None:
    """Load synthetic users, items (Chinese and English tags) and events."""
    from matching.synthetic import generate_catalogue

    if if_empty and _user_count() > 0:
        typer.echo("store already has users; demo data not loaded")
        return
    # Dated up to now, so lifecycle stages and item windows make sense today.
    _write(
        generate_catalogue(
            n_users=users, n_items=items, n_events=events, seed=seed, now=time.time()
        ),
        "demo data",
    )


def _user_count() -> int:
    from api.store.db import create_db_engine, make_session_factory, session_scope
    from api.store.tables import User

    engine = create_db_engine(_settings().database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return int(session.scalar(select(func.count()).select_from(User)) or 0)
    finally:
        engine.dispose()


def _write(catalogue: Catalogue, title: str) -> None:
    from api.ingest import write_catalogue
    from api.progress import show_progress
    from api.store.db import create_db_engine, make_session_factory
    from api.store.migrate import DatabaseNotMigrated, require_head

    engine = create_db_engine(_settings().database_url)
    try:
        require_head(engine)
        with show_progress(title) as progress:
            written = write_catalogue(make_session_factory(engine), catalogue, progress=progress)
    except DatabaseNotMigrated as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(
        f"users: {written.users}  items: {written.items}  events: {written.events_accepted} "
        f"new, {written.events_duplicate} already stored"
    )


@app.command()
def train(
    force: Annotated[bool, typer.Option(help="activate even if the gate refuses")] = False,
    if_no_model: Annotated[
        bool, typer.Option(help="do nothing when a model is already active")
    ] = False,
    job_id: Annotated[str | None, typer.Option(help="run a queued job (API-started)")] = None,
) -> None:
    """Retrain: snapshot the store, search hyperparameters on a validation split of the
    training part, fit, evaluate on a time holdout through the serving path next to the active
    model's procedure and most-popular, save atomically, activate if the paired gate accepts
    (or --force). Prints the chosen settings and every search trial. A model config file
    (TAGMATCH_MODEL_CONFIG_FILE) with an unknown field or a value out of range exits 78
    naming the field, before any work."""
    from api.jobs.runner import train_command
    from api.progress import show_progress

    settings = _settings()
    with show_progress("training") as display:
        code = train_command(
            settings, force=force, if_no_model=if_no_model, job_id=job_id, display=display
        )
    if code:
        raise typer.Exit(code)


@models_app.command("purge-erased")
def models_purge_erased(
    if_due: Annotated[
        bool, typer.Option("--if-due", help="do nothing unless an erasure is not purged yet")
    ] = False,
) -> None:
    """Delete versions beyond the retention count (TAGMATCH_MODEL_RETENTION) and remove
    erased users from every stored version, the served one included: their id becomes a
    tombstone, their vector zero (serving keeps the files it mapped). Training does the same
    after every run, and serving soon after each erasure; this runs it now. Exits 75 while a
    training run is going."""
    from api.jobs.lock import LOCKED_EXIT, TrainingLocked
    from api.jobs.model_upkeep import purge_erased_command

    try:
        outcome = purge_erased_command(_settings(), if_due=if_due)
    except TrainingLocked as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(LOCKED_EXIT) from None
    typer.echo(json.dumps({"pruned": outcome.pruned, "erased_rows": outcome.erased_rows}))


@app.command()
def evaluate() -> None:
    """Evaluate the current configuration (search included) on the store's data (time
    holdout, through the serving path) and print the metrics, without saving or activating
    anything."""
    from api.jobs.runner import BAD_CONFIG_EXIT, evaluate_command
    from api.jobs.train import BadModelConfig

    try:
        metrics = evaluate_command(_settings())
    except BadModelConfig as exc:
        typer.echo(f"error: invalid model config: {exc}", err=True)
        raise typer.Exit(BAD_CONFIG_EXIT) from None
    typer.echo(json.dumps(metrics, indent=2, sort_keys=True))


segment_app = typer.Typer(help="Segments and persona reports.", no_args_is_help=True)
app.add_typer(segment_app, name="segment")


@segment_app.command("report")
def segment_report(
    name: Annotated[str, typer.Argument(help="segment name, e.g. life-silent")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """Print a segment's persona report (size, attributes, top tags by lift, items)."""
    from api.jobs.runner import segment_report_command
    from matching.persona import format_report_tables

    report = segment_report_command(_settings(), name)
    if report is None:
        typer.echo(f"error: no segment {name!r}, or no active model yet", err=True)
        raise typer.Exit(2)
    typer.echo(
        json.dumps(report, indent=2, ensure_ascii=False)
        if as_json
        else format_report_tables(report)
    )


@segment_app.command("export")
def segment_export(
    name: Annotated[str, typer.Argument(help="segment name, e.g. life-silent")],
) -> None:
    """Print a segment's members as CSV (user_id), as evaluated on the serving model."""
    import csv

    from api.store import segments as segment_store
    from api.store.db import create_db_engine, make_session_factory, session_scope

    engine = create_db_engine(_settings().database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            if segment_store.get_segment(session, name) is None:
                typer.echo(f"error: no segment {name!r}", err=True)
                raise typer.Exit(2)
            writer = csv.writer(sys.stdout)
            writer.writerow(["user_id"])
            cursor: str | None = None
            while True:
                page, cursor = segment_store.page_members(session, name, cursor, 10_000)
                writer.writerows([user_id] for user_id in page)
                if cursor is None:
                    break
    finally:
        engine.dispose()


@app.command()
def openapi() -> None:
    """Print the API's OpenAPI document (sorted keys): `make openapi` stores it."""
    from api.app import create_app

    document = create_app(Settings()).openapi()
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@app.command("config-reference")
def config_reference() -> None:
    """Print the configuration reference (Markdown): `make docs` stores it as
    docs/configuration.md."""
    from api.config_reference import render_configuration_reference

    sys.stdout.write(render_configuration_reference())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
