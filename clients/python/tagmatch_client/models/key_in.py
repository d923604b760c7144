from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.key_in_scopes_item import KeyInScopesItem

T = TypeVar("T", bound="KeyIn")


@_attrs_define
class KeyIn:
    """
    Attributes:
        name (str):
        scopes (list[KeyInScopesItem]):
    """

    name: str
    scopes: list[KeyInScopesItem]

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        scopes = []
        for scopes_item_data in self.scopes:
            scopes_item = scopes_item_data.value
            scopes.append(scopes_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "scopes": scopes,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        scopes = []
        _scopes = d.pop("scopes")
        for scopes_item_data in _scopes:
            scopes_item = KeyInScopesItem(scopes_item_data)

            scopes.append(scopes_item)

        key_in = cls(
            name=name,
            scopes=scopes,
        )

        return key_in
