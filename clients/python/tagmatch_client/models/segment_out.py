from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SegmentOut")


@_attrs_define
class SegmentOut:
    """
    Attributes:
        builtin (bool):
        description (str):
        model_version (None | str):
        name (str):
        refreshed_at (datetime.datetime | None):
        rule (str):
        size (int | None): members at the last refresh; null before any model
    """

    builtin: bool
    description: str
    model_version: None | str
    name: str
    refreshed_at: datetime.datetime | None
    rule: str
    size: int | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        builtin = self.builtin

        description = self.description

        model_version: None | str
        model_version = self.model_version

        name = self.name

        refreshed_at: None | str
        if isinstance(self.refreshed_at, datetime.datetime):
            refreshed_at = self.refreshed_at.isoformat()
        else:
            refreshed_at = self.refreshed_at

        rule = self.rule

        size: int | None
        size = self.size

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "builtin": builtin,
                "description": description,
                "model_version": model_version,
                "name": name,
                "refreshed_at": refreshed_at,
                "rule": rule,
                "size": size,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        builtin = d.pop("builtin")

        description = d.pop("description")

        def _parse_model_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        model_version = _parse_model_version(d.pop("model_version"))

        name = d.pop("name")

        def _parse_refreshed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                refreshed_at_type_0 = datetime.datetime.fromisoformat(data)

                return refreshed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        refreshed_at = _parse_refreshed_at(d.pop("refreshed_at"))

        rule = d.pop("rule")

        def _parse_size(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        size = _parse_size(d.pop("size"))

        segment_out = cls(
            builtin=builtin,
            description=description,
            model_version=model_version,
            name=name,
            refreshed_at=refreshed_at,
            rule=rule,
            size=size,
        )

        segment_out.additional_properties = d
        return segment_out

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
