from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.recommendations_out_strategy import RecommendationsOutStrategy

if TYPE_CHECKING:
    from ..models.scored_item import ScoredItem


T = TypeVar("T", bound="RecommendationsOut")


@_attrs_define
class RecommendationsOut:
    """
    Attributes:
        items (list[ScoredItem]):
        model_version (None | str): null when no model exists yet
        strategy (RecommendationsOutStrategy):
        user_id (str):
    """

    items: list[ScoredItem]
    model_version: None | str
    strategy: RecommendationsOutStrategy
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        model_version: None | str
        model_version = self.model_version

        strategy = self.strategy.value

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "items": items,
                "model_version": model_version,
                "strategy": strategy,
                "user_id": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.scored_item import ScoredItem  # noqa: PLC0415

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = ScoredItem.from_dict(items_item_data)

            items.append(items_item)

        def _parse_model_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        model_version = _parse_model_version(d.pop("model_version"))

        strategy = RecommendationsOutStrategy(d.pop("strategy"))

        user_id = d.pop("user_id")

        recommendations_out = cls(
            items=items,
            model_version=model_version,
            strategy=strategy,
            user_id=user_id,
        )

        recommendations_out.additional_properties = d
        return recommendations_out

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
