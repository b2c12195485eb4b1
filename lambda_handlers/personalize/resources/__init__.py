"""One module per custom resource type; `RESOURCE_TYPES` maps CloudFormation's ResourceType to it."""

from __future__ import annotations

from ..framework import PersonalizeResource
from .dataset import Dataset
from .dataset_group import DatasetGroup
from .event_tracker import EventTracker
from .import_job import DatasetImportJob
from .recommender import Recommender
from .schema import Schema

RESOURCE_TYPES: dict[str, type[PersonalizeResource]] = {
    resource.resource_type: resource
    for resource in (DatasetGroup, Schema, Dataset, DatasetImportJob, EventTracker, Recommender)
}

__all__ = [
    "RESOURCE_TYPES",
    "Dataset",
    "DatasetGroup",
    "DatasetImportJob",
    "EventTracker",
    "Recommender",
    "Schema",
]
