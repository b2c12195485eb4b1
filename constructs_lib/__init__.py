"""Reusable constructs for Amazon Personalize: its data bucket, its service role and its resources."""

from constructs_lib.data_bucket import PersonalizeDataBucket
from constructs_lib.dataset_group import (
    Dataset,
    DatasetImportJob,
    DeployWait,
    DomainDatasetGroup,
    EventTracker,
    Recommender,
)
from constructs_lib.import_flow import ImportFlow
from constructs_lib.personalize_provider import PersonalizeProvider
from constructs_lib.service_role import PersonalizeServiceRole

__all__ = [
    "Dataset",
    "DatasetImportJob",
    "DeployWait",
    "DomainDatasetGroup",
    "EventTracker",
    "ImportFlow",
    "PersonalizeDataBucket",
    "PersonalizeProvider",
    "PersonalizeServiceRole",
    "Recommender",
]
