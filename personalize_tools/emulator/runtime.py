"""`personalize-runtime` on the emulator: GetRecommendations from domain recommenders.

Requests are first checked against botocore's personalize-runtime model (dataplane.py); here what the
service checks beyond it: the recommender exists and is ACTIVE, the use case's required userId / itemId
(domain_rules.RECOMMENDATION_REQUESTS), numResults at most 500. Items come from recommend.py, a stand-in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from lambda_handlers.personalize import domain, domain_rules, kinds
from lambda_handlers.personalize.kinds import DATASET, RECOMMENDER
from personalize_tools.emulator import recommend
from personalize_tools.emulator.errors import InvalidInputError, ResourceNotFoundError
from personalize_tools.emulator.service import PersonalizeService
from personalize_tools.emulator.state import ImportedData, Resource

SERVICE_NAME = "personalize-runtime"
Params = dict[str, Any]


class RuntimeService:
    def __init__(self, service: PersonalizeService) -> None:
        self._service = service
        # Parsed interactions per dataset, valid while its data objects are the same ones (every change
        # to a dataset's data or recorded records makes new objects); parsing dominates a call's cost.
        self._parsed: dict[
            str, tuple[ImportedData | None, ImportedData | None, list[recommend.Interaction]]
        ] = {}
        self.operations: dict[str, Callable[[Params], dict[str, Any]]] = {
            "GetRecommendations": self.get_recommendations,
        }

    def get_recommendations(self, params: Params) -> dict[str, Any]:
        if params.get("campaignArn"):
            raise ResourceNotFoundError(
                f"Campaign {params['campaignArn']} does not exist: the emulator serves domain recommenders "
                "only; give recommenderArn."
            )
        if not params.get("recommenderArn"):
            raise InvalidInputError("Give recommenderArn (or campaignArn): which recommender to ask.")
        num_results = params.get("numResults", domain_rules.RECOMMENDATIONS_DEFAULT_RESULTS)
        if num_results > domain_rules.RECOMMENDATIONS_MAX_RESULTS:
            raise InvalidInputError(
                f"numResults is {num_results}; the maximum is {domain_rules.RECOMMENDATIONS_MAX_RESULTS}."
            )
        filters = [params.get("filterArn")] + [
            promotion.get("filterArn") for promotion in params.get("promotions", [])
        ]
        for filter_arn in filters:
            if filter_arn:
                raise ResourceNotFoundError(
                    f"Filter {filter_arn} does not exist: the emulator implements no filters (ListFilters is "
                    "always empty), so no filterArn or promotion can refer to one."
                )
        if params.get("metadataColumns"):
            raise InvalidInputError(
                "metadataColumns: the emulator's recommenders return no item metadata; leave it out."
            )
        with self._service.locked():
            recommender = self._recommender(params["recommenderArn"])
            use_case = domain.RECIPES_BY_ARN[recommender.fields["recipeArn"]].use_case
            missing = [
                member
                for member in domain_rules.RECOMMENDATION_REQUESTS[use_case].required
                if not params.get(member)
            ]
            if missing:
                raise InvalidInputError(
                    f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required for "
                    f"recommender {recommender.arn}: its use case {use_case} needs "
                    f"{' and '.join(domain_rules.RECOMMENDATION_REQUESTS[use_case].required)}."
                )
            group_arn = recommender.fields["datasetGroupArn"]
            events = self._interactions(group_arn)
            catalog = [str(row[0]) for row in self._rows(group_arn, "ITEMS")]
        items = recommend.recommend(
            use_case,
            events,
            catalog,
            user_id=params.get("userId"),
            item_id=params.get("itemId"),
            num_results=num_results,
        )
        return {"itemList": [{"itemId": item} for item in items], "recommendationId": f"RID-{uuid.uuid4()}"}

    def _recommender(self, arn: str) -> Resource:
        found = [resource for resource in self._service.resources_of(RECOMMENDER) if resource.arn == arn]
        if not found:
            raise ResourceNotFoundError(f"Recommender {arn} does not exist (never created, or deleted).")
        recommender = found[0]
        if recommender.status != kinds.ACTIVE:
            raise ResourceNotFoundError(
                f"Recommender {arn} is {recommender.status}; it serves recommendations only while ACTIVE"
                + (" (StartRecommender starts it again)." if recommender.status == kinds.INACTIVE else ".")
            )
        return recommender

    def _interactions(self, group_arn: str) -> list[recommend.Interaction]:
        datasets = self._service.resources_of(DATASET, datasetGroupArn=group_arn, datasetType="INTERACTIONS")
        if not datasets:
            return []
        dataset = datasets[0]
        cached = self._parsed.get(dataset.arn)
        if cached is not None and cached[0] is dataset.data and cached[1] is dataset.recorded:
            return cached[2]
        events = recommend.interactions(dataset.held().rows)
        self._parsed[dataset.arn] = (dataset.data, dataset.recorded, events)
        return events

    def _rows(self, group_arn: str, dataset_type: str) -> list[list[Any]]:
        datasets = self._service.resources_of(DATASET, datasetGroupArn=group_arn, datasetType=dataset_type)
        return datasets[0].held().rows if datasets else []
