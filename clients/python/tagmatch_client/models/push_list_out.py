from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.push_list_out_request import PushListOutRequest
    from ..models.scored_user import ScoredUser


T = TypeVar("T", bound="PushListOut")


@_attrs_define
class PushListOut:
    """
    Attributes:
        created_at (datetime.datetime):
        id (str):
        item_id (str):
        model_version (None | str):
        request (PushListOutRequest):
        users (list[ScoredUser]):
    """

    created_at: datetime.datetime
    id: str
    item_id: str
    model_version: None | str
    request: PushListOutRequest
    users: list[ScoredUser]

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        id = self.id

        item_id = self.item_id

        model_version: None | str
        model_version = self.model_version

        request = self.request.to_dict()

        users = []
        for users_item_data in self.users:
            users_item = users_item_data.to_dict()
            users.append(users_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "created_at": created_at,
                "id": id,
                "item_id": item_id,
                "model_version": model_version,
                "request": request,
                "users": users,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.push_list_out_request import PushListOutRequest  # noqa: PLC0415
        from ..models.scored_user import ScoredUser  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        id = d.pop("id")

        item_id = d.pop("item_id")

        def _parse_model_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        model_version = _parse_model_version(d.pop("model_version"))

        request = PushListOutRequest.from_dict(d.pop("request"))

        users = []
        _users = d.pop("users")
        for users_item_data in _users:
            users_item = ScoredUser.from_dict(users_item_data)

            users.append(users_item)

        push_list_out = cls(
            created_at=created_at,
            id=id,
            item_id=item_id,
            model_version=model_version,
            request=request,
            users=users,
        )

        return push_list_out
