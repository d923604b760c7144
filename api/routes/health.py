"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import authenticate
from api.errors import problem_response
from api.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    """On the event loop, touching nothing: it answers while every worker thread waits on
    a stalled database."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready to serve: every readiness check passes (store reachable, ...)",
    response_model=None,
    responses={503: {"description": "a check failed", "content": {"application/problem+json": {}}}},
)
def readyz(request: Request) -> Response | dict[str, object]:
    checks = dict(check() for check in request.app.state.readiness_checks)
    if all(checks.values()):
        return {"status": "ready", "checks": checks}
    failing = ", ".join(name for name, ok in checks.items() if not ok)
    return problem_response(
        request, 503, "Not ready", f"failing: {failing}", extra={"checks": checks}
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Every worker's samples in multiprocess mode (PROMETHEUS_MULTIPROC_DIR), plus the
    newest training job's outcome and stage times from the store."""
    state = request.app.state
    if state.settings.protect_operations:
        authenticate(request, "admin")
    text = exposition(state.metrics_registry, getattr(state, "session_factory", None))
    return Response(text, media_type=CONTENT_TYPE_LATEST)
