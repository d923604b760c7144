from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.consent import Consent
    from ..models.user_out_attributes import UserOutAttributes
    from ..models.user_out_tags import UserOutTags


T = TypeVar("T", bound="UserOut")


@_attrs_define
class UserOut:
    """
    Attributes:
        attributes (UserOutAttributes):
        consent (Consent):
        created_at (datetime.datetime):
        id (str):
        tags (UserOutTags):
        updated_at (datetime.datetime):
    """

    attributes: UserOutAttributes
    consent: Consent
    created_at: datetime.datetime
    id: str
    tags: UserOutTags
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attributes = self.attributes.to_dict()

        consent = self.consent.to_dict()

        created_at = self.created_at.isoformat()

        id = self.id

        tags = self.tags.to_dict()

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attributes": attributes,
                "consent": consent,
                "created_at": created_at,
                "id": id,
                "tags": tags,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.consent import Consent  # noqa: PLC0415
        from ..models.user_out_attributes import UserOutAttributes  # noqa: PLC0415
        from ..models.user_out_tags import UserOutTags  # noqa: PLC0415

        d = dict(src_dict)
        attributes = UserOutAttributes.from_dict(d.pop("attributes"))

        consent = Consent.from_dict(d.pop("consent"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        id = d.pop("id")

        tags = UserOutTags.from_dict(d.pop("tags"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        user_out = cls(
            attributes=attributes,
            consent=consent,
            created_at=created_at,
            id=id,
            tags=tags,
            updated_at=updated_at,
        )

        user_out.additional_properties = d
        return user_out

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
