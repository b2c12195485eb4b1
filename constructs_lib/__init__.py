"""Reusable constructs for Amazon Personalize: its data bucket, its service role and its resources."""

from constructs_lib.data_bucket import PersonalizeDataBucket
from constructs_lib.dataset_group import (
    Dataset,
    DatasetImportJob,
    DomainDatasetGroup,
    EventTracker,
    Recommender,
)
from constructs_lib.personalize_provider import PersonalizeProvider
from constructs_lib.service_role import PersonalizeServiceRole

__all__ = [
    "Dataset",
    "DatasetImportJob",
    "DomainDatasetGroup",
    "EventTracker",
    "PersonalizeDataBucket",
    "PersonalizeProvider",
    "PersonalizeServiceRole",
    "Recommender",
]
