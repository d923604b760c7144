from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.model_version_out_counts import ModelVersionOutCounts
    from ..models.model_version_out_metrics import ModelVersionOutMetrics


T = TypeVar("T", bound="ModelVersionOut")


@_attrs_define
class ModelVersionOut:
    """
    Attributes:
        active (bool):
        config_digest (str):
        counts (ModelVersionOutCounts):
        created_at (datetime.datetime):
        metrics (ModelVersionOutMetrics):
        note (None | str):
        snapshot_at (datetime.datetime):
        status (str):
        version (str):
    """

    active: bool
    config_digest: str
    counts: ModelVersionOutCounts
    created_at: datetime.datetime
    metrics: ModelVersionOutMetrics
    note: None | str
    snapshot_at: datetime.datetime
    status: str
    version: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        active = self.active

        config_digest = self.config_digest

        counts = self.counts.to_dict()

        created_at = self.created_at.isoformat()

        metrics = self.metrics.to_dict()

        note: None | str
        note = self.note

        snapshot_at = self.snapshot_at.isoformat()

        status = self.status

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "active": active,
                "config_digest": config_digest,
                "counts": counts,
                "created_at": created_at,
                "metrics": metrics,
                "note": note,
                "snapshot_at": snapshot_at,
                "status": status,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_version_out_counts import ModelVersionOutCounts  # noqa: PLC0415
        from ..models.model_version_out_metrics import ModelVersionOutMetrics  # noqa: PLC0415

        d = dict(src_dict)
        active = d.pop("active")

        config_digest = d.pop("config_digest")

        counts = ModelVersionOutCounts.from_dict(d.pop("counts"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        metrics = ModelVersionOutMetrics.from_dict(d.pop("metrics"))

        def _parse_note(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        note = _parse_note(d.pop("note"))

        snapshot_at = datetime.datetime.fromisoformat(d.pop("snapshot_at"))

        status = d.pop("status")

        version = d.pop("version")

        model_version_out = cls(
            active=active,
            config_digest=config_digest,
            counts=counts,
            created_at=created_at,
            metrics=metrics,
            note=note,
            snapshot_at=snapshot_at,
            status=status,
            version=version,
        )

        model_version_out.additional_properties = d
        return model_version_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
