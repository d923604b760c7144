from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.item_out_tags import ItemOutTags
    from ..models.keyword import Keyword


T = TypeVar("T", bound="ItemOut")


@_attrs_define
class ItemOut:
    """
    Attributes:
        category (None | str):
        created_at (datetime.datetime):
        expires_at (datetime.datetime | None):
        id (str):
        keywords (list[Keyword]): extracted from title and text, best first
        published_at (datetime.datetime | None):
        tags (ItemOutTags):
        text (str):
        title (str):
        updated_at (datetime.datetime):
    """

    category: None | str
    created_at: datetime.datetime
    expires_at: datetime.datetime | None
    id: str
    keywords: list[Keyword]
    published_at: datetime.datetime | None
    tags: ItemOutTags
    text: str
    title: str
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        category: None | str
        category = self.category

        created_at = self.created_at.isoformat()

        expires_at: None | str
        if isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        id = self.id

        keywords = []
        for keywords_item_data in self.keywords:
            keywords_item = keywords_item_data.to_dict()
            keywords.append(keywords_item)

        published_at: None | str
        if isinstance(self.published_at, datetime.datetime):
            published_at = self.published_at.isoformat()
        else:
            published_at = self.published_at

        tags = self.tags.to_dict()

        text = self.text

        title = self.title

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "category": category,
                "created_at": created_at,
                "expires_at": expires_at,
                "id": id,
                "keywords": keywords,
                "published_at": published_at,
                "tags": tags,
                "text": text,
                "title": title,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.item_out_tags import ItemOutTags  # noqa: PLC0415
        from ..models.keyword import Keyword  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_category(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        category = _parse_category(d.pop("category"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_expires_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        expires_at = _parse_expires_at(d.pop("expires_at"))

        id = d.pop("id")

        keywords = []
        _keywords = d.pop("keywords")
        for keywords_item_data in _keywords:
            keywords_item = Keyword.from_dict(keywords_item_data)

            keywords.append(keywords_item)

        def _parse_published_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                published_at_type_0 = datetime.datetime.fromisoformat(data)

                return published_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        published_at = _parse_published_at(d.pop("published_at"))

        tags = ItemOutTags.from_dict(d.pop("tags"))

        text = d.pop("text")

        title = d.pop("title")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        item_out = cls(
            category=category,
            created_at=created_at,
            expires_at=expires_at,
            id=id,
            keywords=keywords,
            published_at=published_at,
            tags=tags,
            text=text,
            title=title,
            updated_at=updated_at,
        )

        item_out.additional_properties = d
        return item_out

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
