"""Log lines: readable in a terminal, JSON for machines, libraries' chatter at DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from api.logs import configure_logging, resolve_log_format


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], io.StringIO]]:
    """Call it in the test body: pytest's capture resets sys.stderr between set-up and call."""

    def attach() -> io.StringIO:
        stream = _Terminal()
        monkeypatch.setattr("sys.stderr", stream)
        return stream

    yield attach
    configure_logging("INFO", "json")


def test_auto_is_text_on_a_terminal_and_json_elsewhere(
    terminal: Callable[[], io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal()
    assert resolve_log_format("auto") == "text"
    assert resolve_log_format("json") == "json"
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert resolve_log_format("auto") == "json"
    assert resolve_log_format("text") == "text"


def test_terminal_lines_put_level_logger_and_message_first(
    terminal: Callable[[], io.StringIO],
) -> None:
    stderr = terminal()
    configure_logging("INFO", "auto")
    logging.getLogger("tagmatch.train").info("snapshot read", extra={"users": 200})
    line = stderr.getvalue().splitlines()[-1]
    assert "INFO    tagmatch.train  snapshot read  users=200" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_library_chatter_is_debug(terminal: Callable[[], io.StringIO]) -> None:
    stderr = terminal()
    configure_logging("INFO", "json")
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("faiss.loader").info("Loading faiss with AVX512 support.")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade 0001 -> 0002")
    logging.getLogger("tagmatch.app").info("started")
    messages = [json.loads(line)["msg"] for line in stderr.getvalue().splitlines()]
    assert messages == ["Running upgrade 0001 -> 0002", "started"]

    configure_logging("DEBUG", "json")
    logging.getLogger("faiss.loader").info("Loading faiss with AVX512 support.")
    record = json.loads(stderr.getvalue().splitlines()[-1])
    assert record["msg"] == "Loading faiss with AVX512 support." and record["level"] == "debug"
