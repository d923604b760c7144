from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="EventIn")


@_attrs_define
class EventIn:
    """
    Attributes:
        id (str): client event id: a resend with the same id is a no-op
        item_id (str): client-chosen id, 1-128 characters, no control characters, no '/'
        ts (datetime.datetime): when it happened, ISO 8601 with a zone
        type_ (str): one of the types weighted in the model configuration (events.weights: view, click, rating, like,
            favorite, share, comment, purchase by default) or listed in TAGMATCH_EXTRA_EVENT_TYPES; any other is refused
        user_id (str): client-chosen id, 1-128 characters, no control characters, no '/'
        value (float | None | Unset): rating, amount; |value| <= 1e12
    """

    id: str
    item_id: str
    ts: datetime.datetime
    type_: str
    user_id: str
    value: float | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        item_id = self.item_id

        ts = self.ts.isoformat()

        type_ = self.type_

        user_id = self.user_id

        value: float | None | Unset
        if isinstance(self.value, Unset):
            value = UNSET
        else:
            value = self.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "item_id": item_id,
                "ts": ts,
                "type": type_,
                "user_id": user_id,
            }
        )
        if value is not UNSET:
            field_dict["value"] = value

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        item_id = d.pop("item_id")

        ts = datetime.datetime.fromisoformat(d.pop("ts"))

        type_ = d.pop("type")

        user_id = d.pop("user_id")

        def _parse_value(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        value = _parse_value(d.pop("value", UNSET))

        event_in = cls(
            id=id,
            item_id=item_id,
            ts=ts,
            type_=type_,
            user_id=user_id,
            value=value,
        )

        return event_in
