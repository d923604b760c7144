from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.frequency_cap import FrequencyCap


T = TypeVar("T", bound="PushListRequest")


@_attrs_define
class PushListRequest:
    """
    Attributes:
        item_id (str): client-chosen id, 1-128 characters, no control characters, no '/'
        exclude_seen (bool | Unset):  Default: True.
        frequency_cap (FrequencyCap | None | Unset):
        segment (None | str | Unset):
        size (int | Unset):  Default: 1000.
        tag (None | str | Unset):
    """

    item_id: str
    exclude_seen: bool | Unset = True
    frequency_cap: FrequencyCap | None | Unset = UNSET
    segment: None | str | Unset = UNSET
    size: int | Unset = 1000
    tag: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.frequency_cap import FrequencyCap  # noqa: PLC0415

        item_id = self.item_id

        exclude_seen = self.exclude_seen

        frequency_cap: dict[str, Any] | None | Unset
        if isinstance(self.frequency_cap, Unset):
            frequency_cap = UNSET
        elif isinstance(self.frequency_cap, FrequencyCap):
            frequency_cap = self.frequency_cap.to_dict()
        else:
            frequency_cap = self.frequency_cap

        segment: None | str | Unset
        if isinstance(self.segment, Unset):
            segment = UNSET
        else:
            segment = self.segment

        size = self.size

        tag: None | str | Unset
        if isinstance(self.tag, Unset):
            tag = UNSET
        else:
            tag = self.tag

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "item_id": item_id,
            }
        )
        if exclude_seen is not UNSET:
            field_dict["exclude_seen"] = exclude_seen
        if frequency_cap is not UNSET:
            field_dict["frequency_cap"] = frequency_cap
        if segment is not UNSET:
            field_dict["segment"] = segment
        if size is not UNSET:
            field_dict["size"] = size
        if tag is not UNSET:
            field_dict["tag"] = tag

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.frequency_cap import FrequencyCap  # noqa: PLC0415

        d = dict(src_dict)
        item_id = d.pop("item_id")

        exclude_seen = d.pop("exclude_seen", UNSET)

        def _parse_frequency_cap(data: object) -> FrequencyCap | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                frequency_cap_type_0 = FrequencyCap.from_dict(data)

                return frequency_cap_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FrequencyCap | None | Unset, data)

        frequency_cap = _parse_frequency_cap(d.pop("frequency_cap", UNSET))

        def _parse_segment(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        segment = _parse_segment(d.pop("segment", UNSET))

        size = d.pop("size", UNSET)

        def _parse_tag(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tag = _parse_tag(d.pop("tag", UNSET))

        push_list_request = cls(
            item_id=item_id,
            exclude_seen=exclude_seen,
            frequency_cap=frequency_cap,
            segment=segment,
            size=size,
            tag=tag,
        )

        return push_list_request
