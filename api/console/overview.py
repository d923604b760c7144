"""The overview page: what the store holds, which model serves, how versions compare, and
how the last training run went."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console.auth import ConsoleSessionDep
from api.console.charts import lines_over_versions
from api.console.render import page
from api.deps import HolderDep, SessionDep
from api.jobs.launcher import TRAIN_JOB
from api.store import jobs as job_store
from api.store import models as model_store
from api.store.console import data_counts
from api.store.tables import ModelVersion

router = APIRouter(prefix="/console", include_in_schema=False)

VERSIONS_SHOWN = 20
METRICS_CHARTED = 4


def numeric_metrics(row: ModelVersion) -> dict[str, float]:
    """A version's headline figures: the top-level numbers of its metrics (nested detail,
    such as per-seed runs or the gate's comparison, stays out of the chart)."""
    found = {}
    for name, value in (row.metrics or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[name] = float(value)
    return found


def metrics_chart(rows: list[ModelVersion]) -> Any:
    """Oldest version first; quality figures only (rates in [0, 1], not counts or seconds),
    those most versions report first, ranking metrics before the rest."""
    rows = list(reversed(rows))
    per_row = [numeric_metrics(r) for r in rows]
    seen: dict[str, int] = {}
    for figures in per_row:
        for name in figures:
            seen[name] = seen.get(name, 0) + 1
    rates = {n for n in seen if all(0 <= f.get(n, 0) <= 1 for f in per_row)}
    seen = {n: k for n, k in seen.items() if n in rates}
    names = sorted(seen, key=lambda n: (-seen[n], not n.startswith(("ndcg", "recall")), n))
    chosen = names[:METRICS_CHARTED]
    if not chosen:
        return None
    series = {name: [figures.get(name) for figures in per_row] for name in chosen}
    return lines_over_versions([r.version for r in rows], series)


@router.get("", response_class=HTMLResponse)
def overview(
    request: Request, visitor: ConsoleSessionDep, session: SessionDep, holder: HolderDep
) -> HTMLResponse:
    versions = model_store.list_model_versions(session, limit=VERSIONS_SHOWN)
    last_jobs = job_store.list_jobs(session, kind=TRAIN_JOB, limit=1)
    context = {
        "counts": data_counts(session),
        "serving": holder.version,
        "versions": [(r, numeric_metrics(r)) for r in versions],
        "chart": metrics_chart(versions),
        "job": last_jobs[0] if last_jobs else None,
    }
    return page(request, visitor, "overview.html", context)
