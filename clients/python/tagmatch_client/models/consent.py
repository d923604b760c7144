from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Consent")


@_attrs_define
class Consent:
    """
    Attributes:
        push (bool | Unset): may receive push messages Default: False.
    """

    push: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        push = self.push

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if push is not UNSET:
            field_dict["push"] = push

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        push = d.pop("push", UNSET)

        consent = cls(
            push=push,
        )

        return consent
