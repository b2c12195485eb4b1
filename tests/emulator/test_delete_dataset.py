"""DeleteDataset and recommenders, as the guide's "Deleting a dataset" documents.

No associated recommender may be CREATE PENDING or IN PROGRESS; an ACTIVE recommender does not block
the delete (deleting only halts automatic updates of recommenders that have them).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain, kinds
from personalize_tools.emulator import EmulatorServer
from tests.emulator.support import (
    active_dataset,
    active_group,
    import_job,
    interactions_csv,
    settle,
    statuses_until_gone,
)


def test_dataset_delete_waits_for_training_not_for_an_active_recommender(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    group_arn = active_group(personalize, "shop")
    interactions = active_dataset(personalize, group_arn, "shop-interactions")
    users = active_dataset(personalize, group_arn, "shop-users", dataset_type="USERS")
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    job = import_job(personalize, interactions, "shop-import", f"s3://{s3_bucket}/i.csv")
    assert settle(personalize, "import_job", job)["status"] == kinds.ACTIVE
    recipe = domain.RECIPES["aws-ecomm-recommended-for-you"].arn
    recommender = personalize.create_recommender(name="rfy", datasetGroupArn=group_arn, recipeArn=recipe)[
        "recommenderArn"
    ]

    with pytest.raises(ClientError) as error:
        personalize.delete_dataset(datasetArn=users)
    assert error.value.response["Error"]["Code"] == "ResourceInUseException"
    assert f"{recommender} (CREATE PENDING)" in error.value.response["Error"]["Message"]

    assert settle(personalize, "recommender", recommender)["status"] == kinds.ACTIVE
    personalize.delete_dataset(datasetArn=users)
    assert statuses_until_gone(personalize, "dataset", users) == [
        kinds.DELETE_PENDING,
        kinds.DELETE_IN_PROGRESS,
    ]
    personalize.delete_dataset(datasetArn=interactions)  # no tracker: the Interactions dataset too
    statuses_until_gone(personalize, "dataset", interactions)
    assert personalize.describe_recommender(recommenderArn=recommender)["recommender"]["status"] == "ACTIVE"


def test_a_recommender_update_blocks_the_delete_like_training(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    group_arn = active_group(personalize, "shop")
    interactions = active_dataset(personalize, group_arn, "shop-interactions")
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    job = import_job(personalize, interactions, "shop-import", f"s3://{s3_bucket}/i.csv")
    settle(personalize, "import_job", job)
    recipe = domain.RECIPES["aws-ecomm-recommended-for-you"].arn
    arn = personalize.create_recommender(name="rfy", datasetGroupArn=group_arn, recipeArn=recipe)[
        "recommenderArn"
    ]
    settle(personalize, "recommender", arn)
    personalize.update_recommender(
        recommenderArn=arn, recommenderConfig={"minRecommendationRequestsPerSecond": 2}
    )

    with pytest.raises(ClientError) as error:
        personalize.delete_dataset(datasetArn=interactions)
    assert "(update CREATE PENDING)" in error.value.response["Error"]["Message"]
