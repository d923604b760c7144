from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ScoredUser")


@_attrs_define
class ScoredUser:
    """
    Attributes:
        reasons (list[str]):
        score (float):
        user_id (str):
    """

    reasons: list[str]
    score: float
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        reasons = self.reasons

        score = self.score

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "reasons": reasons,
                "score": score,
                "user_id": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        reasons = cast(list[str], d.pop("reasons"))

        score = d.pop("score")

        user_id = d.pop("user_id")

        scored_user = cls(
            reasons=reasons,
            score=score,
            user_id=user_id,
        )

        scored_user.additional_properties = d
        return scored_user

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
