"""personalize-events on the emulator: routing, model validation, schema checks, counting toward training."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from lambda_handlers.personalize import domain, domain_rules, kinds
from lambda_handlers.personalize.kinds import DATASET
from personalize_tools.emulator import EmulatorServer
from personalize_tools.emulator import state as emulator_state
from tests.emulator.support import active_dataset, active_group, admin, import_job, interactions_csv, settle

REGION = "us-east-1"


def client(emulator: EmulatorServer, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=emulator.url, region_name=REGION, config=Config(retries={"max_attempts": 1})
    )


@pytest.fixture
def events(clean_emulator: EmulatorServer) -> Any:
    return client(clean_emulator, "personalize-events")


@pytest.fixture
def group(clean_emulator: EmulatorServer, personalize: Any) -> dict[str, str]:
    """An ECOMMERCE group with Interactions, Users and Items datasets and an ACTIVE event tracker."""
    group_arn = active_group(personalize, "shop")
    arns = {"group": group_arn}
    for dataset_type in ("INTERACTIONS", "USERS", "ITEMS"):
        arns[dataset_type] = active_dataset(
            personalize, group_arn, f"shop-{dataset_type.lower()}", dataset_type=dataset_type
        )
    tracker = personalize.create_event_tracker(name="shop-tracker", datasetGroupArn=group_arn)
    assert settle(personalize, "event_tracker", tracker["eventTrackerArn"])["status"] == kinds.ACTIVE
    arns["tracker"] = tracker["eventTrackerArn"]
    arns["trackingId"] = tracker["trackingId"]
    return arns


def event(item: str = "item-1", event_type: str = "View", **extra: Any) -> dict[str, Any]:
    return {"eventType": event_type, "itemId": item, "sentAt": 1_700_000_000, **extra}


def error_of(call: Any, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def dataset_state(emulator: EmulatorServer, arn: str) -> dict[str, Any]:
    return next(item for item in emulator.state()["resources"]["dataset"] if item["datasetArn"] == arn)


def test_put_events_records_into_the_interactions_dataset(
    clean_emulator: EmulatorServer, events: Any, group: dict[str, str]
) -> None:
    events.put_events(
        trackingId=group["trackingId"],
        userId="user-1",
        sessionId="session-1",
        eventList=[event("item-1"), event("item-2", "Purchase"), event("item-3")],
    )
    state = dataset_state(clean_emulator, group["INTERACTIONS"])
    assert state["recordedRecords"] == 3
    assert state["recordedEventTypes"] == {"View": 2, "Purchase": 1}
    assert clean_emulator.calls()["calls"]["PutEvents"] == 1


def test_recorded_events_count_toward_training(
    clean_emulator: EmulatorServer, events: Any, personalize: Any, group: dict[str, str]
) -> None:
    recipe = domain.RECIPES["aws-ecomm-recommended-for-you"].arn

    def train(name: str) -> dict[str, Any]:
        arn = personalize.create_recommender(name=name, datasetGroupArn=group["group"], recipeArn=recipe)
        return settle(personalize, "recommender", arn["recommenderArn"])

    too_early = train("too-early")
    assert too_early["status"] == kinds.CREATE_FAILED
    assert too_early["failureReason"] == domain_rules.reason_too_few_records(0)
    for batch in range(domain.MIN_INTERACTIONS // 10):
        events.put_events(
            trackingId=group["trackingId"],
            userId=f"user-{batch % 40}",
            sessionId=f"session-{batch}",
            eventList=[event(f"item-{(batch + n) % 50}") for n in range(10)],
        )
    assert dataset_state(clean_emulator, group["INTERACTIONS"])["recordedRecords"] == domain.MIN_INTERACTIONS
    assert train("enough")["status"] == kinds.ACTIVE


def test_anonymous_events_are_recorded_for_the_session(
    clean_emulator: EmulatorServer, events: Any, group: dict[str, str]
) -> None:
    events.put_events(trackingId=group["trackingId"], sessionId="anonymous-7", eventList=[event()])
    dataset = next(d for d in clean_emulator.service.resources_of(DATASET) if d.arn == group["INTERACTIONS"])
    assert dataset.recorded is not None and dataset.recorded.rows[-1][0] == "anonymous-7"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        pytest.param({"trackingId": "not-a-tracker"}, "belongs to no event tracker", id="unknown-tracker"),
        pytest.param({"eventList": [event(item=None)]}, "lacks itemId", id="no-item"),
        pytest.param({"eventList": [event(eventValue=3.5)]}, "no EVENT_VALUE field", id="event-value"),
        pytest.param({"eventList": [event(properties='{"discount": "yes"}')]}, "'discount'", id="property"),
        pytest.param({"eventList": [event(properties='["a"]')]}, "JSON object", id="properties-not-object"),
        pytest.param({"eventList": [event(properties='{"itemId": "x"}')]}, "itemId member", id="member"),
        pytest.param({"eventList": [event(), event(impression=["a"])]}, "eventList.2.impression", id="which"),
    ],
)
def test_put_events_errors(events: Any, group: dict[str, str], params: dict[str, Any], fragment: str) -> None:
    request = {"trackingId": group["trackingId"], "sessionId": "s", "userId": "u", "eventList": [event()]}
    request.update({key: value for key, value in params.items()})
    request["eventList"] = [{k: v for k, v in item.items() if v is not None} for item in request["eventList"]]
    code, status, message = error_of(events.put_events, **request)
    assert (code, status) == ("InvalidInputException", 400)
    assert fragment in message


def test_a_bad_event_rejects_the_whole_call(
    clean_emulator: EmulatorServer, events: Any, group: dict[str, str]
) -> None:
    bad = {"eventType": "View", "sentAt": 1_700_000_000}
    error_of(events.put_events, trackingId=group["trackingId"], sessionId="s", eventList=[event(), bad])
    assert "recordedRecords" not in dataset_state(clean_emulator, group["INTERACTIONS"])


def test_put_events_needs_an_active_tracker(
    clean_emulator: EmulatorServer, events: Any, personalize: Any
) -> None:
    group_arn = active_group(personalize, "young")
    active_dataset(personalize, group_arn, "young-interactions")
    tracker = personalize.create_event_tracker(name="young-tracker", datasetGroupArn=group_arn)
    code, _, message = error_of(
        events.put_events, trackingId=tracker["trackingId"], sessionId="s", eventList=[event()]
    )
    assert code == "InvalidInputException"
    assert kinds.CREATE_PENDING in message and "ACTIVE" in message


def test_custom_interaction_fields_go_through_properties(
    clean_emulator: EmulatorServer, events: Any, personalize: Any
) -> None:
    schema = domain_rules.default_schema("ECOMMERCE")
    schema["fields"] += [
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "DEVICE_TYPE", "type": "string", "categorical": True},
    ]
    group_arn = active_group(personalize, "custom")
    schema_arn = personalize.create_schema(
        name="custom-schema", schema=json.dumps(schema), domain="ECOMMERCE"
    )
    dataset_arn = personalize.create_dataset(
        name="custom-interactions",
        schemaArn=schema_arn["schemaArn"],
        datasetGroupArn=group_arn,
        datasetType="INTERACTIONS",
    )["datasetArn"]
    settle(personalize, "dataset", dataset_arn)
    tracker = personalize.create_event_tracker(name="custom-tracker", datasetGroupArn=group_arn)
    settle(personalize, "event_tracker", tracker["eventTrackerArn"])
    send = {"trackingId": tracker["trackingId"], "sessionId": "s", "userId": "u"}
    _, _, message = error_of(events.put_events, **send, eventList=[event()])
    assert "lacks 'deviceType'" in message
    _, _, message = error_of(events.put_events, **send, eventList=[event(properties='{"deviceType": 5}')])
    assert "must be a string" in message
    events.put_events(**send, eventList=[event(eventValue=2.5, properties='{"deviceType": "phone|tablet"}')])
    assert dataset_state(clean_emulator, dataset_arn)["recordedRecords"] == 1


def test_put_users_and_items_check_their_schemas(
    clean_emulator: EmulatorServer, events: Any, group: dict[str, str]
) -> None:
    events.put_users(
        datasetArn=group["USERS"], users=[{"userId": "u1", "properties": '{"membershipStatus": "gold"}'}]
    )
    events.put_items(
        datasetArn=group["ITEMS"],
        items=[
            {
                "itemId": "i1",
                "properties": json.dumps({"price": "9.99", "categoryL1": "shoes"}),
            }
        ],
    )
    assert dataset_state(clean_emulator, group["USERS"])["recordedRecords"] == 1
    assert dataset_state(clean_emulator, group["ITEMS"])["recordedRecords"] == 1

    _, _, message = error_of(events.put_users, datasetArn=group["USERS"], users=[{"userId": "u2"}])
    assert "lacks 'membershipStatus'" in message
    _, _, message = error_of(
        events.put_items,
        datasetArn=group["ITEMS"],
        items=[
            {
                "itemId": "i2",
                "properties": json.dumps({"price": "cheap", "categoryL1": "x"}),
            }
        ],
    )
    assert "price" in message and "must be a number" in message
    code, status, message = error_of(
        events.put_users, datasetArn=group["ITEMS"], users=[{"userId": "u3", "properties": "{}"}]
    )
    assert (code, status) == ("InvalidInputException", 400)
    assert "USERS dataset" in message


def test_put_users_into_a_missing_dataset_is_a_404(events: Any, group: dict[str, str]) -> None:
    missing = group["USERS"] + "-gone"
    code, status, _ = error_of(events.put_users, datasetArn=missing, users=[{"userId": "u"}])
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_model_limits_come_from_botocore(events: Any, group: dict[str, str]) -> None:
    """botocore itself enforces only min lengths; the emulator answers the rest as the service does."""
    with pytest.raises(ParamValidationError):
        events.put_events(trackingId=group["trackingId"], sessionId="s", eventList=[])
    code, status, message = error_of(
        events.put_events,
        trackingId=group["trackingId"],
        sessionId="s",
        eventList=[event(f"item-{n}") for n in range(11)],
    )
    assert (code, status) == ("InvalidInputException", 400)
    assert (
        "'eventList' failed to satisfy constraint: Member must have length less than or equal to 10"
        in message
    )


def test_errors_are_rest_json(clean_emulator: EmulatorServer, group: dict[str, str]) -> None:
    """The code travels in x-amzn-ErrorType, the status is the model's, the body has the message."""
    request = urllib.request.Request(
        clean_emulator.url + "/users",
        data=json.dumps({"datasetArn": group["USERS"] + "x", "users": [{"userId": "u"}]}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 404
    assert caught.value.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert caught.value.headers["Content-Type"] == "application/json"
    assert "does not exist" in json.loads(caught.value.read())["message"]


def test_unimplemented_events_operations_say_so(events: Any, group: dict[str, str]) -> None:
    code, _, message = error_of(events.put_actions, datasetArn=group["ITEMS"], actions=[{"actionId": "a"}])
    assert code == "UnsupportedOperationException"
    assert "PutEvents" in message


def test_throttling_faults_apply_to_the_data_plane(
    clean_emulator: EmulatorServer, events: Any, group: dict[str, str]
) -> None:
    admin(clean_emulator.url, "POST", "faults", {"throttle_rate": 1.0})
    code, _, _ = error_of(
        events.put_events, trackingId=group["trackingId"], sessionId="s", eventList=[event()]
    )
    assert code == "ThrottlingException"


def test_records_wait_for_their_dataset(
    clean_emulator: EmulatorServer, events: Any, personalize: Any
) -> None:
    """A dataset still being created refuses PutUsers (409); a group without Interactions refuses events."""
    group_arn = active_group(personalize, "early")
    schema = personalize.create_schema(
        name="early-users", schema=domain_rules.default_schema_json("ECOMMERCE", "USERS"), domain="ECOMMERCE"
    )["schemaArn"]
    users = personalize.create_dataset(
        name="early-users", schemaArn=schema, datasetGroupArn=group_arn, datasetType="USERS"
    )["datasetArn"]
    code, status, message = error_of(
        events.put_users, datasetArn=users, users=[{"userId": "u", "properties": '{"membershipStatus": "x"}'}]
    )
    assert (code, status) == ("ResourceInUseException", 409)
    assert kinds.CREATE_PENDING in message
    tracker = personalize.create_event_tracker(name="early-tracker", datasetGroupArn=group_arn)
    settle(personalize, "event_tracker", tracker["eventTrackerArn"])
    _, _, message = error_of(
        events.put_events, trackingId=tracker["trackingId"], sessionId="s", eventList=[event()]
    )
    assert "has no Interactions dataset" in message


def test_a_full_import_replaces_bulk_data_but_keeps_recorded_events(
    clean_emulator: EmulatorServer,
    events: Any,
    personalize: Any,
    group: dict[str, str],
    s3: Any,
    s3_bucket: str,
) -> None:
    events.put_events(
        trackingId=group["trackingId"], sessionId="s", userId="u", eventList=[event(), event("i2")]
    )
    s3.put_object(Bucket=s3_bucket, Key="bulk.csv", Body=interactions_csv(1200))
    job = import_job(personalize, group["INTERACTIONS"], "bulk", f"s3://{s3_bucket}/bulk.csv")
    assert settle(personalize, "import_job", job)["status"] == kinds.ACTIVE
    state = dataset_state(clean_emulator, group["INTERACTIONS"])
    assert (state["records"], state["recordedRecords"]) == (1200, 2)


def test_rows_kept_for_recommendations_are_the_latest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator_state, "ROW_LIMIT", 3)
    held = emulator_state.ImportedData(2, {"View": 2}, [["a"], ["b"]]).plus(
        emulator_state.ImportedData(2, {"View": 2}, [["c"], ["d"]])
    )
    assert held.records == 4 and held.event_types == {"View": 4}
    assert held.rows == [["b"], ["c"], ["d"]]


def test_a_repeated_event_id_is_accepted_but_not_counted(
    clean_emulator: EmulatorServer, events: Any, group: dict[str, str]
) -> None:
    """Event.eventId: later events with the same id are not used in training, so they do not count."""
    request = {"trackingId": group["trackingId"], "userId": "u", "sessionId": "s"}
    events.put_events(**request, eventList=[event("a", eventId="e1"), event("b", eventId="e1"), event("c")])
    events.put_events(**request, eventList=[event("d", eventId="e1"), event("e", eventId="e2"), event("c")])
    state = dataset_state(clean_emulator, group["INTERACTIONS"])
    assert (state["recordedRecords"], state["recordedEventTypes"]) == (4, {"View": 4})
    dataset = next(d for d in clean_emulator.service.resources_of(DATASET) if d.arn == group["INTERACTIONS"])
    assert dataset.recorded is not None and [row[1] for row in dataset.recorded.rows] == ["a", "c", "e", "c"]
    assert clean_emulator.calls()["calls"]["PutEvents"] == 2
    restored = emulator_state.Resource.from_json(json.loads(json.dumps(dataset.to_json())))
    assert restored.event_ids == {"e1", "e2"}  # a restart keeps them


def test_events_are_recorded_for_the_user_when_there_is_one(
    clean_emulator: EmulatorServer, events: Any, group: dict[str, str]
) -> None:
    events.put_events(trackingId=group["trackingId"], userId="user-7", sessionId="s-1", eventList=[event()])
    dataset = next(d for d in clean_emulator.service.resources_of(DATASET) if d.arn == group["INTERACTIONS"])
    assert dataset.recorded is not None and dataset.recorded.rows[-1][:2] == ["user-7", "item-1"]


@pytest.mark.parametrize(
    ("properties", "fragment"),
    [
        pytest.param(
            {"price": None, "categoryL1": "shoes"}, "price is null, but PRICE is not nullable", id="null"
        ),
        pytest.param(
            {"price": 1, "categoryL1": "x" * (domain.CATEGORICAL_VALUE_MAX_LENGTH + 1)},
            f"categorical value of {domain.CATEGORICAL_VALUE_MAX_LENGTH + 1} characters",
            id="categorical-too-long",
        ),
        pytest.param(
            {"price": 1, "categoryL1": "a|" + "x" * domain.CATEGORICAL_VALUE_MAX_LENGTH},
            None,
            id="each-value-fits",
        ),
    ],
)
def test_item_values_against_the_schema(
    events: Any, group: dict[str, str], properties: dict[str, Any], fragment: str | None
) -> None:
    """Items dataset requirements: categorical values up to 1000 characters each ('|' separates them)."""
    item = {"itemId": "i1", "properties": json.dumps(properties)}
    if fragment is None:
        events.put_items(datasetArn=group["ITEMS"], items=[item])
        return
    code, _, message = error_of(events.put_items, datasetArn=group["ITEMS"], items=[item])
    assert code == "InvalidInputException" and fragment in message


@pytest.mark.parametrize(
    ("sent_at", "fragment"),
    [
        pytest.param("2024-01-01T00:00:00Z", "sentAt '2024-01-01T00:00:00Z' is not a timestamp", id="text"),
        pytest.param(1e20, "sentAt 1e+20 is not a timestamp", id="past-year-9999"),
    ],
)
def test_sent_at_is_epoch_seconds_as_a_number(
    clean_emulator: EmulatorServer, group: dict[str, str], sent_at: Any, fragment: str
) -> None:
    """botocore turns any datetime into epoch seconds; what else reaches the wire is refused."""
    body = {"trackingId": group["trackingId"], "sessionId": "s", "eventList": [event(sentAt=sent_at)]}
    request = urllib.request.Request(
        clean_emulator.url + "/events", data=json.dumps(body).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.headers["x-amzn-ErrorType"] == "InvalidInputException"
    assert fragment in json.loads(caught.value.read())["message"]
