from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.scored_item import ScoredItem


T = TypeVar("T", bound="SimilarItemsOut")


@_attrs_define
class SimilarItemsOut:
    """
    Attributes:
        item_id (str):
        items (list[ScoredItem]):
        model_version (str):
    """

    item_id: str
    items: list[ScoredItem]
    model_version: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        item_id = self.item_id

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        model_version = self.model_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "item_id": item_id,
                "items": items,
                "model_version": model_version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.scored_item import ScoredItem  # noqa: PLC0415

        d = dict(src_dict)
        item_id = d.pop("item_id")

        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = ScoredItem.from_dict(items_item_data)

            items.append(items_item)

        model_version = d.pop("model_version")

        similar_items_out = cls(
            item_id=item_id,
            items=items,
            model_version=model_version,
        )

        similar_items_out.additional_properties = d
        return similar_items_out

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
