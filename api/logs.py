"""Logging: one JSON object per record for machines, a readable line for a terminal; both
carry the request id and a record's extra fields. Libraries' start-up chatter (alembic's
context lines, faiss's CPU-feature loader) is demoted to DEBUG."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# LogRecord attributes that are plumbing, not context worth printing.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # An explicit extra={"request_id": ...} wins: the 500 handler runs outside the
        # middleware, after the context variable was reset.
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    if getattr(record, "request_id", None):
        fields["request_id"] = record.request_id  # type: ignore[attr-defined]
    fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    return fields


class _DemoteLibraryChatter(logging.Filter):
    """INFO lines of libraries that say nothing an operator acts on become DEBUG: shown only
    when TAGMATCH_LOG_LEVEL=DEBUG. Alembic's "Running upgrade ..." lines stay INFO."""

    CHATTY = ("alembic", "faiss")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith(self.CHATTY):
            return True
        if record.name.startswith("alembic") and record.getMessage().startswith("Running "):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return json.dumps(fields, ensure_ascii=False, default=str)


class TerminalFormatter(logging.Formatter):
    """`08:01:02 INFO  tagmatch.train  snapshot read  users=200 items=50`: time, level,
    logger and message first, then the record's extra fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        head = f"{clock} {record.levelname:<7} {record.name}  {fields.pop('msg')}"
        for key in ("ts", "level", "logger"):
            fields.pop(key)
        extra = " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        line = f"{head}  {extra}" if extra else head
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _kv(value: Any) -> str:
    text = str(value)
    return (
        json.dumps(text, ensure_ascii=False) if (not text or " " in text or "=" in text) else text
    )


_HANDLER_NAME = "tagmatch"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at emit time, so redirections (pytest's capture,
    a supervisor swapping streams) are followed instead of a stale stream kept forever."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def resolve_log_format(fmt: str) -> str:
    """ "auto" is "text" when stderr is a terminal, "json" otherwise (a file, a collector)."""
    if fmt != "auto":
        return fmt
    isatty = getattr(sys.stderr, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Install one handler on the root logger; calling again just reconfigures it."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(_RequestIdFilter())
        handler.addFilter(_DemoteLibraryChatter())
        root.addHandler(handler)
    text = resolve_log_format(fmt) == "text"
    handler.setFormatter(TerminalFormatter() if text else JsonFormatter())
    root.setLevel(level)
    # Our middleware writes one access line per request with the request id; uvicorn's
    # own access log would repeat it without.
    logging.getLogger("uvicorn.access").disabled = True
