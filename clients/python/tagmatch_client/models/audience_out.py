from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.scored_user import ScoredUser


T = TypeVar("T", bound="AudienceOut")


@_attrs_define
class AudienceOut:
    """
    Attributes:
        item_id (str):
        model_version (str):
        users (list[ScoredUser]):
    """

    item_id: str
    model_version: str
    users: list[ScoredUser]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        item_id = self.item_id

        model_version = self.model_version

        users = []
        for users_item_data in self.users:
            users_item = users_item_data.to_dict()
            users.append(users_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "item_id": item_id,
                "model_version": model_version,
                "users": users,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.scored_user import ScoredUser  # noqa: PLC0415

        d = dict(src_dict)
        item_id = d.pop("item_id")

        model_version = d.pop("model_version")

        users = []
        _users = d.pop("users")
        for users_item_data in _users:
            users_item = ScoredUser.from_dict(users_item_data)

            users.append(users_item)

        audience_out = cls(
            item_id=item_id,
            model_version=model_version,
            users=users,
        )

        audience_out.additional_properties = d
        return audience_out

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
