"""Engine and sessions. SQLite is tuned for a service (WAL, foreign keys, busy timeout);
PostgreSQL goes through psycopg 3.

Timeouts (StoreTimeouts, the API's engine): a database that accepts TCP and never answers
must not hang a request. Connecting is bounded by libpq's connect_timeout, a statement by the
server's statement_timeout and, should the server itself be stalled, by a client-side
StallGuard that shuts the socket down when a statement (or the check-out ping) overruns; a
full pool answers after pool_timeout. Each failure is an OperationalError or a pool
TimeoutError, which the API answers 503.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.store.stall_guard import StallGuard

SessionFactory = sessionmaker[Session]
# Execution option: this connection's transactions only read (SQLite begins them deferred).
READ_ONLY = "tagmatch_read_only"


def normalise_url(url: str) -> str:
    """Route plain postgresql:// URLs to psycopg 3, the driver this project installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


@dataclass(frozen=True, slots=True)
class StoreTimeouts:
    """Bounds for a serving process; batch work (training, the CLI) runs without them."""

    connect_seconds: float = 2.0
    statement_seconds: float = 4.0
    pool_seconds: float = 1.0


def create_db_engine(
    url: str,
    *,
    pool_size: int = 5,
    busy_timeout_ms: int = 10_000,
    timeouts: StoreTimeouts | None = None,
    **kwargs: Any,
) -> Engine:
    url = normalise_url(url)
    # Statement parameters hold personal data (user ids, attributes): never in a log line
    # or an error message, where an erased person would live on.
    kwargs.setdefault("hide_parameters", True)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _tune_sqlite(engine, busy_timeout_ms)
        return engine
    if timeouts is None:
        return create_engine(
            url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True, **kwargs
        )
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_timeout=timeouts.pool_seconds,
        connect_args={"connect_timeout": max(1, round(timeouts.connect_seconds))},
        **kwargs,
    )
    _bound_postgres(engine, timeouts)
    return engine


def _bound_postgres(engine: Engine, timeouts: StoreTimeouts) -> None:
    guard = StallGuard()
    statement_ms = int(timeouts.statement_seconds * 1000)
    # The server cancels first; the guard only acts when the server cannot even do that.
    stall_seconds = timeouts.statement_seconds + 0.5

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {statement_ms}")
        dbapi_connection.commit()

    @event.listens_for(engine, "checkout")
    def ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        """SQLAlchemy's pessimistic recipe (pool_pre_ping cannot be bounded): a dead or
        stalled pooled connection is discarded and the pool connects anew."""
        try:
            with guard.watching(dbapi_connection, timeouts.connect_seconds):
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                dbapi_connection.rollback()
        except Exception as error:
            raise exc.DisconnectionError(f"pooled connection unusable: {error}") from error

    @event.listens_for(engine, "before_cursor_execute")
    def arm(connection: Any, *_args: Any) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        connection.info["stall_watch"] = guard.arm(dbapi_connection, stall_seconds)

    @event.listens_for(engine, "after_cursor_execute")
    def disarm(connection: Any, *_args: Any) -> None:
        guard.disarm(connection.info.pop("stall_watch", None))

    @event.listens_for(engine, "handle_error")
    def disarm_on_error(context: Any) -> None:
        if context.connection is not None:
            guard.disarm(context.connection.info.pop("stall_watch", None))


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite, which would otherwise leave SELECTs outside
        # the transaction (an inconsistent snapshot) - SQLAlchemy's documented recipe.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough under WAL, much faster
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # Writers take the write lock when they begin, so they queue on busy_timeout. A
        # deferred transaction that reads and then writes gets SQLITE_BUSY at once, without
        # waiting, whenever another writer committed in between (it cannot upgrade its
        # snapshot): that is what turned concurrent ingest + push lists into 503s.
        # Read-only work (READ_ONLY) begins deferred and never blocks.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_sqlite(session_or_engine: Session | Engine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "sqlite"


def make_session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: SessionFactory, *, read_only: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception. `read_only`: it
    will not write, so on SQLite it does not wait for (or hold) the write lock."""
    session = factory()
    if read_only:
        session.connection(execution_options={READ_ONLY: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def snapshot_session(engine: Engine) -> Iterator[Session]:
    """A read-only session whose queries all see one consistent state of the store.

    SQLite gets this from its single transaction; PostgreSQL needs REPEATABLE READ, since
    the default READ COMMITTED lets each query see rows committed meanwhile.
    """
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with Session(engine.execution_options(**options)) as session:
        try:
            yield session
        finally:
            session.rollback()


def ping(engine: Engine) -> bool:
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
