from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="SegmentIn")


@_attrs_define
class SegmentIn:
    """
    Attributes:
        rule (str):
        description (str | Unset):  Default: ''.
    """

    rule: str
    description: str | Unset = ""

    def to_dict(self) -> dict[str, Any]:
        rule = self.rule

        description = self.description

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "rule": rule,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        rule = d.pop("rule")

        description = d.pop("description", UNSET)

        segment_in = cls(
            rule=rule,
            description=description,
        )

        return segment_in
