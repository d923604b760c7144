from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="FrequencyCap")


@_attrs_define
class FrequencyCap:
    """
    Attributes:
        hours (float): window length
        max_ (int): pushes allowed per window
    """

    hours: float
    max_: int

    def to_dict(self) -> dict[str, Any]:
        hours = self.hours

        max_ = self.max_

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "hours": hours,
                "max": max_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        hours = d.pop("hours")

        max_ = d.pop("max")

        frequency_cap = cls(
            hours=hours,
            max_=max_,
        )

        return frequency_cap
