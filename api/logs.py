"""Structured logging: one JSON object (or key=value line) per record, with the request id."""

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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return json.dumps(fields, ensure_ascii=False, default=str)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = " ".join(f"{k}={_kv(v)}" for k, v in _fields(record).items())
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


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Install one structured handler on the root logger; calling again just reconfigures it."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(_RequestIdFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root.setLevel(level)
    # Our middleware writes one access line per request with the request id; uvicorn's
    # own access log would repeat it without.
    logging.getLogger("uvicorn.access").disabled = True
