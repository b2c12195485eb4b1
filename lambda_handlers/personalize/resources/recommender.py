"""Custom::PersonalizeRecommender: a domain recommender, honest about training that outlasts the stack.

Training often takes longer than CloudFormation's one-hour limit for a custom resource. With
WaitForActive "false" (the default) the create completes once Personalize has accepted the
recommender and training is under way; the Status attribute is then the real status at that moment
(e.g. "CREATE IN_PROGRESS"), never a claim of ACTIVE. With "true" the deployment waits for ACTIVE
and fails with Personalize's failureReason when training fails. A failure Personalize reports
while the stack is still watching always fails the resource.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .. import contract, domain, kinds
from ..errors import InvalidPropertyError, NameConflictError, ResourceFailedError
from ..framework import (
    DELETING_STATUSES,
    IN_USE,
    UPDATE,
    UPDATING_STATUSES,
    ArnParts,
    PersonalizeResource,
    Placement,
    error_code,
    error_message,
    with_status,
)

SWITCHING_STATUSES = frozenset(
    {kinds.STOP_PENDING, kinds.STOP_IN_PROGRESS, kinds.START_PENDING, kinds.START_IN_PROGRESS}
)
TRAINING_STATUSES = kinds.IN_FLIGHT_CREATE_STATUSES | {kinds.ACTIVE}
# RecommenderUpdateSummary documents CREATE PENDING / CREATE IN_PROGRESS; UPDATE * is tolerated too.
UPDATE_IN_FLIGHT = kinds.IN_FLIGHT_CREATE_STATUSES | UPDATING_STATUSES


def config_contains(actual: Any, wanted: Mapping[str, Any]) -> bool:
    """Every setting the template asks for is in `actual` (the service may add defaults of its own)."""
    if not isinstance(actual, Mapping):
        return not wanted
    for key, value in wanted.items():
        if isinstance(value, Mapping):
            if not config_contains(actual.get(key), value):
                return False
        elif key not in actual or str(actual[key]) != str(value):
            return False
    return True


class Recommender(PersonalizeResource):
    resource_type = contract.RECOMMENDER
    kind = kinds.RECOMMENDER
    replacing_properties = frozenset({"Name", "DatasetGroupArn", "RecipeArn"})

    def validate(self) -> None:
        super().validate()
        self.props.personalize_arn("DatasetGroupArn", "dataset-group")
        recipe = self.props.required("RecipeArn")
        if recipe not in domain.RECIPES_BY_ARN:
            raise InvalidPropertyError(
                f"{self.props.owner}: RecipeArn {recipe!r} is not a domain recipe; allowed: "
                f"{', '.join(sorted(domain.RECIPES_BY_ARN))}"
            )
        self.recommender_config()
        self.props.choice("WaitForActive", ("TRUE", "FALSE"), default="false")

    def wait_for_active(self) -> bool:
        return self.props.choice("WaitForActive", ("TRUE", "FALSE"), default="false") == "TRUE"

    def recommender_config(self) -> dict[str, Any]:
        """RecommenderConfig with CloudFormation's strings turned back into the API's types."""
        raw = self.props.raw.get("RecommenderConfig") or {}
        if isinstance(raw, str):
            raw = json.loads(raw)
        if not isinstance(raw, Mapping):
            raise InvalidPropertyError(
                f"{self.props.owner}: RecommenderConfig must be an object, got {raw!r}"
            )
        config: dict[str, Any] = {}
        requests = raw.get("minRecommendationRequestsPerSecond")
        if requests is not None:
            try:
                config["minRecommendationRequestsPerSecond"] = int(str(requests))
            except ValueError as error:
                raise InvalidPropertyError(
                    f"{self.props.owner}: minRecommendationRequestsPerSecond is {requests!r}; "
                    "expected a whole number of at least 1"
                ) from error
        exploration = raw.get("itemExplorationConfig")
        if exploration:
            config["itemExplorationConfig"] = {
                str(key): str(value) for key, value in dict(exploration).items()
            }
        return config

    def expected_arn(self) -> str:
        """A recommender's ARN is its name, so it is known before it exists."""
        group = ArnParts.parse(self.props.required("DatasetGroupArn"))
        return group.sibling(f"recommender/{self.props.name()}")

    def find_or_create(self) -> Placement:
        name, arn = self.props.name(), self.expected_arn()
        group_arn, recipe_arn = self.props.required("DatasetGroupArn"), self.props.required("RecipeArn")

        def create() -> str:
            config = self.recommender_config()
            response = self.personalize.create_recommender(
                name=name,
                datasetGroupArn=group_arn,
                recipeArn=recipe_arn,
                **({"recommenderConfig": config} if config else {}),
                **self.create_tags(),
            )
            return str(response["recommenderArn"])

        def check(existing: Mapping[str, Any]) -> None:
            mine = existing.get("datasetGroupArn") == group_arn and existing.get("recipeArn") == recipe_arn
            if not mine or existing.get("status") in DELETING_STATUSES:
                raise NameConflictError(
                    f"recommender {name} already exists ({arn}, recipe {existing.get('recipeArn')}, group "
                    f"{existing.get('datasetGroupArn')}, {existing.get('status')}) and is not the one the "
                    "template describes; give this recommender another name or delete the existing one."
                )

        return self.adopt_or_create(lambda: self.describe(arn), create, check)

    def update_in_place(self, arn: str, changed: frozenset[str]) -> None:
        if "RecommenderConfig" in changed:
            self.request_config_update(arn)
        super().update_in_place(arn, changed - {"RecommenderConfig", "WaitForActive"})

    def request_config_update(self, arn: str) -> None:
        """UpdateRecommender; refused while the recommender trains or updates, it is asked again later."""
        config = self.recommender_config()
        try:
            self.personalize.update_recommender(recommenderArn=arn, recommenderConfig=config)
        except ClientError as error:
            if error_code(error) != IN_USE:
                raise
            self.log("config-update-deferred", arn=arn, reason=error_message(error))
            return
        self.log("config-update-requested", arn=arn, recommender_config=config)

    def changes_config(self) -> bool:
        return self.event.request_type == UPDATE and "RecommenderConfig" in self.event.changed_properties()

    def settled(self, arn: str, description: Mapping[str, Any]) -> bool:
        """An update's progress is latestRecommenderUpdate (CREATE PENDING > CREATE IN_PROGRESS > ACTIVE
        or CREATE FAILED, per DescribeRecommender); the recommender itself stays ACTIVE meanwhile."""
        status = description.get("status")
        latest = description.get("latestRecommenderUpdate") or {}
        config = self.recommender_config()
        mine = self.changes_config() and config_contains(latest.get("recommenderConfig"), config)
        if mine and latest.get("status") in kinds.FAILED_STATUSES:
            reason = latest.get("failureReason") or f"status {latest.get('status')} without a failureReason"
            raise self.failed(arn, description, reason, action="update")
        applied = config_contains(description.get("recommenderConfig"), config)
        if self.changes_config() and not mine and not applied:
            if status == kinds.ACTIVE and latest.get("status") not in UPDATE_IN_FLIGHT:
                self.request_config_update(arn)  # refused earlier while the recommender was busy
            self.log("waiting", arn=arn, status=status, waiting_for="UpdateRecommender to be accepted")
            return False
        if self.wait_for_active():
            if mine and latest.get("status") in UPDATE_IN_FLIGHT:
                self.log("waiting", arn=arn, update_status=latest.get("status"))
                return False
            return super().settled(arn, description)
        if status in kinds.FAILED_STATUSES:
            return super().settled(arn, description)  # raises with the failureReason
        if status in TRAINING_STATUSES or status in SWITCHING_STATUSES or status == kinds.INACTIVE:
            self.log("training-continues", arn=arn, status=status)
            return True
        return super().settled(arn, description)

    def failed(self, arn: str, description: Mapping[str, Any], reason: str, *, action: str) -> Exception:
        return ResourceFailedError(
            self.kind.label, self.display_name(description), arn, reason, action=action
        )

    def busy_reason(self, arn: str, description: Mapping[str, Any]) -> str | None:
        """Training, updates, stops and starts block DeleteRecommender only until they finish."""
        status = description.get("status")
        if status in SWITCHING_STATUSES:
            return f"it is {status}"
        update_status = (description.get("latestRecommenderUpdate") or {}).get("status")
        if update_status in UPDATE_IN_FLIGHT:
            return f"its update is {update_status}"
        return super().busy_reason(arn, description)

    def data(self, arn: str, description: Mapping[str, Any] | None) -> dict[str, str]:
        description = description or {}
        data = {
            "RecommenderArn": arn,
            "Name": str(description.get("name") or self.name),
            "RecipeArn": self.props.get("RecipeArn") or str(description.get("recipeArn") or ""),
        }
        return with_status(data, description)
