from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.segment_report_report import SegmentReportReport


T = TypeVar("T", bound="SegmentReport")


@_attrs_define
class SegmentReport:
    """
    Attributes:
        model_version (str):
        report (SegmentReportReport):
        rule (str):
        segment (str):
    """

    model_version: str
    report: SegmentReportReport
    rule: str
    segment: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_version = self.model_version

        report = self.report.to_dict()

        rule = self.rule

        segment = self.segment

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "model_version": model_version,
                "report": report,
                "rule": rule,
                "segment": segment,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.segment_report_report import SegmentReportReport  # noqa: PLC0415

        d = dict(src_dict)
        model_version = d.pop("model_version")

        report = SegmentReportReport.from_dict(d.pop("report"))

        rule = d.pop("rule")

        segment = d.pop("segment")

        segment_report = cls(
            model_version=model_version,
            report=report,
            rule=rule,
            segment=segment,
        )

        segment_report.additional_properties = d
        return segment_report

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
