from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.consent import Consent
    from ..models.user_in_attributes import UserInAttributes
    from ..models.user_in_tags_type_1 import UserInTagsType1


T = TypeVar("T", bound="UserIn")


@_attrs_define
class UserIn:
    """Fields you send replace the stored ones; fields you leave out keep their value.

    Attributes:
        id (str): client-chosen id, 1-128 characters, no control characters, no '/'
        attributes (UserInAttributes | Unset): e.g. {"age": 31, "gender": "f", "region": "上海"}
        consent (Consent | Unset):
        tags (list[str] | Unset | UserInTagsType1): tags: ["genre:Comedy", ...] (weight 1 each) or {"genre:Comedy": 0.8}
    """

    id: str
    attributes: UserInAttributes | Unset = UNSET
    consent: Consent | Unset = UNSET
    tags: list[str] | Unset | UserInTagsType1 = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        attributes: dict[str, Any] | Unset = UNSET
        if not isinstance(self.attributes, Unset):
            attributes = self.attributes.to_dict()

        consent: dict[str, Any] | Unset = UNSET
        if not isinstance(self.consent, Unset):
            consent = self.consent.to_dict()

        tags: dict[str, Any] | list[str] | Unset
        if isinstance(self.tags, Unset):
            tags = UNSET
        elif isinstance(self.tags, list):
            tags = self.tags

        else:
            tags = self.tags.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
            }
        )
        if attributes is not UNSET:
            field_dict["attributes"] = attributes
        if consent is not UNSET:
            field_dict["consent"] = consent
        if tags is not UNSET:
            field_dict["tags"] = tags

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.consent import Consent  # noqa: PLC0415
        from ..models.user_in_attributes import UserInAttributes  # noqa: PLC0415
        from ..models.user_in_tags_type_1 import UserInTagsType1  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        _attributes = d.pop("attributes", UNSET)
        attributes: UserInAttributes | Unset
        if isinstance(_attributes, Unset):
            attributes = UNSET
        else:
            attributes = UserInAttributes.from_dict(_attributes)

        _consent = d.pop("consent", UNSET)
        consent: Consent | Unset
        if isinstance(_consent, Unset):
            consent = UNSET
        else:
            consent = Consent.from_dict(_consent)

        def _parse_tags(data: object) -> list[str] | Unset | UserInTagsType1:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                tags_type_0 = cast(list[str], data)

                return tags_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            tags_type_1 = UserInTagsType1.from_dict(data)

            return tags_type_1

        tags = _parse_tags(d.pop("tags", UNSET))

        user_in = cls(
            id=id,
            attributes=attributes,
            consent=consent,
            tags=tags,
        )

        return user_in
