from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.item_in_tags_type_1 import ItemInTagsType1


T = TypeVar("T", bound="ItemIn")


@_attrs_define
class ItemIn:
    """Fields you send replace the stored ones; fields you leave out keep their value.

    Attributes:
        id (str): client-chosen id, 1-128 characters, no control characters, no '/'
        category (None | str | Unset):
        expires_at (datetime.datetime | None | Unset): not recommended from this moment on
        published_at (datetime.datetime | None | Unset):
        tags (ItemInTagsType1 | list[str] | Unset): tags: ["genre:Comedy", ...] (weight 1 each) or {"genre:Comedy": 0.8}
        text (str | Unset):  Default: ''.
        title (str | Unset):  Default: ''.
    """

    id: str
    category: None | str | Unset = UNSET
    expires_at: datetime.datetime | None | Unset = UNSET
    published_at: datetime.datetime | None | Unset = UNSET
    tags: ItemInTagsType1 | list[str] | Unset = UNSET
    text: str | Unset = ""
    title: str | Unset = ""

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        category: None | str | Unset
        if isinstance(self.category, Unset):
            category = UNSET
        else:
            category = self.category

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        published_at: None | str | Unset
        if isinstance(self.published_at, Unset):
            published_at = UNSET
        elif isinstance(self.published_at, datetime.datetime):
            published_at = self.published_at.isoformat()
        else:
            published_at = self.published_at

        tags: dict[str, Any] | list[str] | Unset
        if isinstance(self.tags, Unset):
            tags = UNSET
        elif isinstance(self.tags, list):
            tags = self.tags

        else:
            tags = self.tags.to_dict()

        text = self.text

        title = self.title

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
            }
        )
        if category is not UNSET:
            field_dict["category"] = category
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if published_at is not UNSET:
            field_dict["published_at"] = published_at
        if tags is not UNSET:
            field_dict["tags"] = tags
        if text is not UNSET:
            field_dict["text"] = text
        if title is not UNSET:
            field_dict["title"] = title

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.item_in_tags_type_1 import ItemInTagsType1  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        def _parse_category(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        category = _parse_category(d.pop("category", UNSET))

        def _parse_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))

        def _parse_published_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                published_at_type_0 = datetime.datetime.fromisoformat(data)

                return published_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        published_at = _parse_published_at(d.pop("published_at", UNSET))

        def _parse_tags(data: object) -> ItemInTagsType1 | list[str] | Unset:
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
            tags_type_1 = ItemInTagsType1.from_dict(data)

            return tags_type_1

        tags = _parse_tags(d.pop("tags", UNSET))

        text = d.pop("text", UNSET)

        title = d.pop("title", UNSET)

        item_in = cls(
            id=id,
            category=category,
            expires_at=expires_at,
            published_at=published_at,
            tags=tags,
            text=text,
            title=title,
        )

        return item_in
