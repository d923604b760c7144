from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.push_list_summary_request import PushListSummaryRequest


T = TypeVar("T", bound="PushListSummary")


@_attrs_define
class PushListSummary:
    """A saved list without its members (GET /v1/push-lists/{id} has them).

    Attributes:
        created_at (datetime.datetime):
        id (str):
        item_id (str):
        model_version (None | str):
        request (PushListSummaryRequest):
        size (int):
    """

    created_at: datetime.datetime
    id: str
    item_id: str
    model_version: None | str
    request: PushListSummaryRequest
    size: int

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        id = self.id

        item_id = self.item_id

        model_version: None | str
        model_version = self.model_version

        request = self.request.to_dict()

        size = self.size

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "created_at": created_at,
                "id": id,
                "item_id": item_id,
                "model_version": model_version,
                "request": request,
                "size": size,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.push_list_summary_request import PushListSummaryRequest  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        id = d.pop("id")

        item_id = d.pop("item_id")

        def _parse_model_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        model_version = _parse_model_version(d.pop("model_version"))

        request = PushListSummaryRequest.from_dict(d.pop("request"))

        size = d.pop("size")

        push_list_summary = cls(
            created_at=created_at,
            id=id,
            item_id=item_id,
            model_version=model_version,
            request=request,
            size=size,
        )

        return push_list_summary
