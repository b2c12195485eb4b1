"""Reusable constructs for Amazon Personalize: its data bucket, its service role and its resources."""

from constructs_lib.data_bucket import PersonalizeDataBucket
from constructs_lib.service_role import PersonalizeServiceRole

__all__ = ["PersonalizeDataBucket", "PersonalizeServiceRole"]
