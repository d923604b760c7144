from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.model_version_detail_config_type_0 import ModelVersionDetailConfigType0
    from ..models.model_version_detail_counts import ModelVersionDetailCounts
    from ..models.model_version_detail_metrics import ModelVersionDetailMetrics
    from ..models.model_version_detail_search_type_0 import ModelVersionDetailSearchType0


T = TypeVar("T", bound="ModelVersionDetail")


@_attrs_define
class ModelVersionDetail:
    """One version in full: the settings that built it and its model search.

    Attributes:
        active (bool):
        config (ModelVersionDetailConfigType0 | None): the hyperparameters the version was fitted with (chosen by the
            search); null when its artifact is gone
        config_digest (str):
        counts (ModelVersionDetailCounts):
        created_at (datetime.datetime):
        metrics (ModelVersionDetailMetrics):
        note (None | str):
        search (ModelVersionDetailSearchType0 | None): the model search of its training run: chosen settings, ranking
            weights, every trial with its validation score
        snapshot_at (datetime.datetime):
        status (str):
        version (str):
    """

    active: bool
    config: ModelVersionDetailConfigType0 | None
    config_digest: str
    counts: ModelVersionDetailCounts
    created_at: datetime.datetime
    metrics: ModelVersionDetailMetrics
    note: None | str
    search: ModelVersionDetailSearchType0 | None
    snapshot_at: datetime.datetime
    status: str
    version: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.model_version_detail_config_type_0 import ModelVersionDetailConfigType0  # noqa: PLC0415
        from ..models.model_version_detail_search_type_0 import ModelVersionDetailSearchType0  # noqa: PLC0415

        active = self.active

        config: dict[str, Any] | None
        if isinstance(self.config, ModelVersionDetailConfigType0):
            config = self.config.to_dict()
        else:
            config = self.config

        config_digest = self.config_digest

        counts = self.counts.to_dict()

        created_at = self.created_at.isoformat()

        metrics = self.metrics.to_dict()

        note: None | str
        note = self.note

        search: dict[str, Any] | None
        if isinstance(self.search, ModelVersionDetailSearchType0):
            search = self.search.to_dict()
        else:
            search = self.search

        snapshot_at = self.snapshot_at.isoformat()

        status = self.status

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "active": active,
                "config": config,
                "config_digest": config_digest,
                "counts": counts,
                "created_at": created_at,
                "metrics": metrics,
                "note": note,
                "search": search,
                "snapshot_at": snapshot_at,
                "status": status,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_version_detail_config_type_0 import ModelVersionDetailConfigType0  # noqa: PLC0415
        from ..models.model_version_detail_counts import ModelVersionDetailCounts  # noqa: PLC0415
        from ..models.model_version_detail_metrics import ModelVersionDetailMetrics  # noqa: PLC0415
        from ..models.model_version_detail_search_type_0 import ModelVersionDetailSearchType0  # noqa: PLC0415

        d = dict(src_dict)
        active = d.pop("active")

        def _parse_config(data: object) -> ModelVersionDetailConfigType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                config_type_0 = ModelVersionDetailConfigType0.from_dict(data)

                return config_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ModelVersionDetailConfigType0 | None, data)

        config = _parse_config(d.pop("config"))

        config_digest = d.pop("config_digest")

        counts = ModelVersionDetailCounts.from_dict(d.pop("counts"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        metrics = ModelVersionDetailMetrics.from_dict(d.pop("metrics"))

        def _parse_note(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        note = _parse_note(d.pop("note"))

        def _parse_search(data: object) -> ModelVersionDetailSearchType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                search_type_0 = ModelVersionDetailSearchType0.from_dict(data)

                return search_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ModelVersionDetailSearchType0 | None, data)

        search = _parse_search(d.pop("search"))

        snapshot_at = datetime.datetime.fromisoformat(d.pop("snapshot_at"))

        status = d.pop("status")

        version = d.pop("version")

        model_version_detail = cls(
            active=active,
            config=config,
            config_digest=config_digest,
            counts=counts,
            created_at=created_at,
            metrics=metrics,
            note=note,
            search=search,
            snapshot_at=snapshot_at,
            status=status,
            version=version,
        )

        model_version_detail.additional_properties = d
        return model_version_detail

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
