"""Progress a person can see: a rich progress bar in a terminal, plain lines otherwise (a
pipe, a log file, a container's output), for training, imports and the demo loader.

`show_progress(title, unit)` yields a callback `(stage, fraction)`; `fraction` is of the
whole task, 0..1. Plain mode prints a line when the stage changes or another tenth is done,
so a log stays short.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

ProgressCallback = Callable[[str, float], None]


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


@contextmanager
def show_progress(title: str, stream: TextIO | None = None) -> Iterator[ProgressCallback]:
    """A callback drawing `title`'s progress on `stream` (default stderr, where a bar does not
    mix with a command's output on stdout)."""
    out = stream if stream is not None else sys.stderr
    if is_terminal(out):
        with _bar(title, out) as report:
            yield report
    else:
        yield _PlainLines(title, out)


@contextmanager
def _bar(title: str, out: TextIO) -> Iterator[ProgressCallback]:
    console = Console(file=out)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(title, total=1.0)

        def report(stage: str, fraction: float) -> None:
            bar.update(
                task, completed=min(max(fraction, 0.0), 1.0), description=f"{title}: {stage}"
            )

        yield report


class _PlainLines:
    def __init__(self, title: str, out: TextIO) -> None:
        self.title = title
        self.out = out
        self.stage: str | None = None
        self.tenth = -1

    def __call__(self, stage: str, fraction: float) -> None:
        tenth = int(min(max(fraction, 0.0), 1.0) * 10)
        if stage == self.stage and tenth == self.tenth:
            return
        self.stage, self.tenth = stage, tenth
        print(f"{self.title}: {stage} {fraction:4.0%}", file=self.out, flush=True)


def metrics_table(
    candidate: dict[str, object],
    active: dict[str, object] | None,
    *,
    candidate_label: str,
    active_label: str | None,
) -> Table:
    """The run's metrics beside the model that was serving before it, one metric a row."""
    table = Table(show_lines=False)
    table.add_column("metric")
    table.add_column(candidate_label, justify="right")
    if active is not None:
        table.add_column(active_label or "active", justify="right")
    names = [k for k in candidate if _is_number(candidate[k])]
    names += [k for k in (active or {}) if k not in candidate and _is_number((active or {})[k])]
    for name in names:
        row = [name, _number(candidate.get(name))]
        if active is not None:
            row.append(_number(active.get(name)))
        table.add_row(*row)
    return table


def print_table(table: Table, stream: TextIO | None = None) -> None:
    """A rich table on stdout: boxes and colour in a terminal, plain text in a pipe."""
    Console(file=stream if stream is not None else sys.stdout).print(table)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
