from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.push_list_summary import PushListSummary


T = TypeVar("T", bound="PushListPage")


@_attrs_define
class PushListPage:
    """
    Attributes:
        next_cursor (None | str): pass as ?cursor= for the next, older page
        push_lists (list[PushListSummary]):
    """

    next_cursor: None | str
    push_lists: list[PushListSummary]

    def to_dict(self) -> dict[str, Any]:
        next_cursor: None | str
        next_cursor = self.next_cursor

        push_lists = []
        for push_lists_item_data in self.push_lists:
            push_lists_item = push_lists_item_data.to_dict()
            push_lists.append(push_lists_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "next_cursor": next_cursor,
                "push_lists": push_lists,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.push_list_summary import PushListSummary  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_next_cursor(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor"))

        push_lists = []
        _push_lists = d.pop("push_lists")
        for push_lists_item_data in _push_lists:
            push_lists_item = PushListSummary.from_dict(push_lists_item_data)

            push_lists.append(push_lists_item)

        push_list_page = cls(
            next_cursor=next_cursor,
            push_lists=push_lists,
        )

        return push_list_page
