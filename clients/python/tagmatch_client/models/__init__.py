"""Contains all the data models used in inputs/outputs"""

from .audience_out import AudienceOut
from .audit_entry_out import AuditEntryOut
from .audit_entry_out_detail import AuditEntryOutDetail
from .audit_page import AuditPage
from .consent import Consent
from .event_batch import EventBatch
from .event_in import EventIn
from .events_accepted import EventsAccepted
from .field_error import FieldError
from .frequency_cap import FrequencyCap
from .item_batch import ItemBatch
from .item_in import ItemIn
from .item_in_tags_type_1 import ItemInTagsType1
from .item_out import ItemOut
from .item_out_tags import ItemOutTags
from .job_accepted import JobAccepted
from .job_list import JobList
from .job_out import JobOut
from .job_out_result_type_0 import JobOutResultType0
from .key_created import KeyCreated
from .key_in import KeyIn
from .key_in_scopes_item import KeyInScopesItem
from .key_list import KeyList
from .key_out import KeyOut
from .keyword import Keyword
from .model_list import ModelList
from .model_version_detail import ModelVersionDetail
from .model_version_detail_config_type_0 import ModelVersionDetailConfigType0
from .model_version_detail_counts import ModelVersionDetailCounts
from .model_version_detail_metrics import ModelVersionDetailMetrics
from .model_version_detail_search_type_0 import ModelVersionDetailSearchType0
from .model_version_out import ModelVersionOut
from .model_version_out_counts import ModelVersionOutCounts
from .model_version_out_metrics import ModelVersionOutMetrics
from .operations_healthz_response_operations_healthz import OperationsHealthzResponseOperationsHealthz
from .problem import Problem
from .profile_out import ProfileOut
from .profile_out_attributes import ProfileOutAttributes
from .profile_out_rfm import ProfileOutRfm
from .push_list_out import PushListOut
from .push_list_out_request import PushListOutRequest
from .push_list_page import PushListPage
from .push_list_request import PushListRequest
from .push_list_summary import PushListSummary
from .push_list_summary_request import PushListSummaryRequest
from .push_lists_get_push_list_format import PushListsGetPushListFormat
from .recommendations_out import RecommendationsOut
from .recommendations_out_strategy import RecommendationsOutStrategy
from .scored_item import ScoredItem
from .scored_user import ScoredUser
from .segment_in import SegmentIn
from .segment_list import SegmentList
from .segment_out import SegmentOut
from .segment_report import SegmentReport
from .segment_report_report import SegmentReportReport
from .segment_users import SegmentUsers
from .similar_items_out import SimilarItemsOut
from .tag_weight import TagWeight
from .upserted import Upserted
from .user_batch import UserBatch
from .user_in import UserIn
from .user_in_attributes import UserInAttributes
from .user_in_tags_type_1 import UserInTagsType1
from .user_out import UserOut
from .user_out_attributes import UserOutAttributes
from .user_out_tags import UserOutTags

__all__ = (
    "AudienceOut",
    "AuditEntryOut",
    "AuditEntryOutDetail",
    "AuditPage",
    "Consent",
    "EventBatch",
    "EventIn",
    "EventsAccepted",
    "FieldError",
    "FrequencyCap",
    "ItemBatch",
    "ItemIn",
    "ItemInTagsType1",
    "ItemOut",
    "ItemOutTags",
    "JobAccepted",
    "JobList",
    "JobOut",
    "JobOutResultType0",
    "KeyCreated",
    "KeyIn",
    "KeyInScopesItem",
    "KeyList",
    "KeyOut",
    "Keyword",
    "ModelList",
    "ModelVersionDetail",
    "ModelVersionDetailConfigType0",
    "ModelVersionDetailCounts",
    "ModelVersionDetailMetrics",
    "ModelVersionDetailSearchType0",
    "ModelVersionOut",
    "ModelVersionOutCounts",
    "ModelVersionOutMetrics",
    "OperationsHealthzResponseOperationsHealthz",
    "Problem",
    "ProfileOut",
    "ProfileOutAttributes",
    "ProfileOutRfm",
    "PushListOut",
    "PushListOutRequest",
    "PushListPage",
    "PushListRequest",
    "PushListsGetPushListFormat",
    "PushListSummary",
    "PushListSummaryRequest",
    "RecommendationsOut",
    "RecommendationsOutStrategy",
    "ScoredItem",
    "ScoredUser",
    "SegmentIn",
    "SegmentList",
    "SegmentOut",
    "SegmentReport",
    "SegmentReportReport",
    "SegmentUsers",
    "SimilarItemsOut",
    "TagWeight",
    "Upserted",
    "UserBatch",
    "UserIn",
    "UserInAttributes",
    "UserInTagsType1",
    "UserOut",
    "UserOutAttributes",
    "UserOutTags",
)
