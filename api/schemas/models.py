"""Model versions and training jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.store.tables import Job, ModelVersion


class ModelVersionOut(BaseModel):
    version: str
    created_at: datetime
    status: str
    active: bool
    config_digest: str
    snapshot_at: datetime
    counts: dict[str, int]
    metrics: dict[str, Any]
    note: str | None

    @classmethod
    def from_row(cls, row: ModelVersion) -> ModelVersionOut:
        return cls(
            version=row.version,
            created_at=row.created_at,
            status=row.status,
            active=row.is_active,
            config_digest=row.config_digest,
            snapshot_at=row.snapshot_at,
            counts={"users": row.n_users, "items": row.n_items, "events": row.n_events},
            metrics=dict(row.metrics or {}),
            note=row.note,
        )


class ModelVersionDetail(ModelVersionOut):
    """One version in full: the settings that built it and its model search."""

    config: dict[str, Any] | None = Field(
        description="the hyperparameters the version was fitted with (chosen by the search); "
        "null when its artifact is gone"
    )
    search: dict[str, Any] | None = Field(
        description="the model search of its training run: chosen settings, ranking weights, "
        "every trial with its validation score"
    )

    @classmethod
    def from_row_and_config(
        cls, row: ModelVersion, config: dict[str, Any] | None
    ) -> ModelVersionDetail:
        base = ModelVersionOut.from_row(row)
        search = base.metrics.get("search")
        return cls(
            **base.model_dump(),
            config=config,
            search=search if isinstance(search, dict) else None,
        )


class ModelList(BaseModel):
    serving: str | None
    models: list[ModelVersionOut]


class JobList(BaseModel):
    jobs: list[JobOut] = Field(description="newest first")


class JobAccepted(BaseModel):
    job_id: str


class JobOut(BaseModel):
    id: str
    kind: str
    status: str = Field(description="queued, running, succeeded or failed")
    stage: str | None = Field(
        description="what a running job is doing (training: snapshot, evaluate, fit, index, "
        "save, gate, segments); done when it succeeded; where it was when it failed"
    )
    progress: float | None = Field(description="fraction of the job done, 0 to 1")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = Field(
        description="training: version, activated, reason, metrics, seconds per stage"
    )
    error: str | None

    @classmethod
    def from_row(cls, row: Job) -> JobOut:
        return cls(
            id=row.id,
            kind=row.kind,
            status=row.status,
            stage=row.stage,
            progress=row.progress,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            result=row.result,
            error=row.error,
        )
