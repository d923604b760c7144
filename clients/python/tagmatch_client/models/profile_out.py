from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.profile_out_attributes import ProfileOutAttributes
    from ..models.profile_out_rfm import ProfileOutRfm
    from ..models.tag_weight import TagWeight


T = TypeVar("T", bound="ProfileOut")


@_attrs_define
class ProfileOut:
    """
    Attributes:
        attributes (ProfileOutAttributes):
        lifecycle (str):
        model_version (None | str):
        rfm (ProfileOutRfm):
        segments (list[str]):
        tags (list[TagWeight]):
        top_interests (list[Any]):
        user_id (str):
    """

    attributes: ProfileOutAttributes
    lifecycle: str
    model_version: None | str
    rfm: ProfileOutRfm
    segments: list[str]
    tags: list[TagWeight]
    top_interests: list[Any]
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attributes = self.attributes.to_dict()

        lifecycle = self.lifecycle

        model_version: None | str
        model_version = self.model_version

        rfm = self.rfm.to_dict()

        segments = self.segments

        tags = []
        for tags_item_data in self.tags:
            tags_item = tags_item_data.to_dict()
            tags.append(tags_item)

        top_interests = self.top_interests

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attributes": attributes,
                "lifecycle": lifecycle,
                "model_version": model_version,
                "rfm": rfm,
                "segments": segments,
                "tags": tags,
                "top_interests": top_interests,
                "user_id": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.profile_out_attributes import ProfileOutAttributes  # noqa: PLC0415
        from ..models.profile_out_rfm import ProfileOutRfm  # noqa: PLC0415
        from ..models.tag_weight import TagWeight  # noqa: PLC0415

        d = dict(src_dict)
        attributes = ProfileOutAttributes.from_dict(d.pop("attributes"))

        lifecycle = d.pop("lifecycle")

        def _parse_model_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        model_version = _parse_model_version(d.pop("model_version"))

        rfm = ProfileOutRfm.from_dict(d.pop("rfm"))

        segments = cast(list[str], d.pop("segments"))

        tags = []
        _tags = d.pop("tags")
        for tags_item_data in _tags:
            tags_item = TagWeight.from_dict(tags_item_data)

            tags.append(tags_item)

        top_interests = cast(list[Any], d.pop("top_interests"))

        user_id = d.pop("user_id")

        profile_out = cls(
            attributes=attributes,
            lifecycle=lifecycle,
            model_version=model_version,
            rfm=rfm,
            segments=segments,
            tags=tags,
            top_interests=top_interests,
            user_id=user_id,
        )

        profile_out.additional_properties = d
        return profile_out

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
