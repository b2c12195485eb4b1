"""personalize-runtime on the emulator: GetRecommendations' checks, errors and the stand-in's answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from lambda_handlers.personalize import domain, domain_rules, kinds
from personalize_tools.emulator import EmulatorServer, recommend
from tests.emulator.support import active_dataset, active_group, settle
from tests.emulator.test_events import client, error_of, event


@pytest.fixture
def runtime(clean_emulator: EmulatorServer) -> Any:
    return client(clean_emulator, "personalize-runtime")


def _record(events: Any, tracking_id: str, user: str, items: list[str], event_type: str) -> None:
    for start in range(0, len(items), 10):
        batch = items[start : start + 10]
        events.put_events(
            trackingId=tracking_id,
            userId=user,
            sessionId=user,
            eventList=[event(item, event_type, sentAt=1_700_000_000 + n) for n, item in enumerate(batch)],
        )


@pytest.fixture
def shop(clean_emulator: EmulatorServer, personalize: Any) -> dict[str, Any]:
    """A group whose 1,200 recorded events make some items clearly popular and some clearly related."""
    events = client(clean_emulator, "personalize-events")
    group_arn = active_group(personalize, "shop")
    active_dataset(personalize, group_arn, "shop-interactions")
    tracker = personalize.create_event_tracker(name="shop-tracker", datasetGroupArn=group_arn)
    settle(personalize, "event_tracker", tracker["eventTrackerArn"])
    tracking_id = tracker["trackingId"]
    for user in range(40):
        # Everyone views the three "hits"; even users also view shoes then socks, odd users hats then scarves.
        pair = ["shoes", "socks"] if user % 2 == 0 else ["hats", "scarves"]
        views = ["hit-1", "hit-2", "hit-3", *pair] * 5 + [f"long-tail-{user}"] * 5
        _record(events, tracking_id, f"user-{user}", views, "View")
    _record(events, tracking_id, "user-0", ["shoes"], "Purchase")
    recommenders = {}
    for use_case in ("aws-ecomm-popular-items-by-views", "aws-ecomm-customers-who-viewed-x-also-viewed"):
        arn = personalize.create_recommender(
            name=use_case.removeprefix("aws-ecomm-"),
            datasetGroupArn=group_arn,
            recipeArn=domain.RECIPES[use_case].arn,
        )["recommenderArn"]
        assert settle(personalize, "recommender", arn)["status"] == kinds.ACTIVE
        recommenders[use_case] = arn
    return {"group": group_arn, "recommenders": recommenders, "tracking_id": tracking_id, "events": events}


def items(response: dict[str, Any]) -> list[str]:
    return [item["itemId"] for item in response["itemList"]]


def test_popular_items_rank_by_views(runtime: Any, shop: dict[str, Any]) -> None:
    arn = shop["recommenders"]["aws-ecomm-popular-items-by-views"]
    response = runtime.get_recommendations(recommenderArn=arn, userId="user-3", numResults=5)
    assert items(response) == ["hit-1", "hit-2", "hit-3", "hats", "scarves"]
    assert response["recommendationId"].startswith("RID-")
    assert items(runtime.get_recommendations(recommenderArn=arn, userId="user-3", numResults=5)) == items(
        response
    )
    assert len(items(runtime.get_recommendations(recommenderArn=arn, userId="user-3"))) == 25


def test_also_viewed_follows_the_item_and_leaves_out_the_users_purchases(
    runtime: Any, shop: dict[str, Any]
) -> None:
    arn = shop["recommenders"]["aws-ecomm-customers-who-viewed-x-also-viewed"]
    for_shoes = items(runtime.get_recommendations(recommenderArn=arn, userId="user-9", itemId="socks"))
    assert "shoes" in for_shoes[:4] and "socks" not in for_shoes
    assert for_shoes.index("shoes") < for_shoes.index("hats")
    for_buyer = items(runtime.get_recommendations(recommenderArn=arn, userId="user-0", itemId="socks"))
    assert "shoes" not in for_buyer  # user-0 bought shoes: "automatically filters items the user purchased"


def test_recorded_events_change_the_answer(runtime: Any, shop: dict[str, Any]) -> None:
    arn = shop["recommenders"]["aws-ecomm-popular-items-by-views"]
    before = items(runtime.get_recommendations(recommenderArn=arn, userId="u", numResults=1))
    _record(shop["events"], shop["tracking_id"], "fan", ["new-hit"] * 300, "View")
    after = items(runtime.get_recommendations(recommenderArn=arn, userId="u", numResults=1))
    assert before == ["hit-1"] and after == ["new-hit"]


@pytest.mark.parametrize(
    ("use_case", "params", "fragment"),
    [
        ("aws-ecomm-popular-items-by-views", {}, "userId is required"),
        ("aws-ecomm-customers-who-viewed-x-also-viewed", {"userId": "u"}, "itemId is required"),
        ("aws-ecomm-customers-who-viewed-x-also-viewed", {}, "userId and itemId are required"),
        ("aws-ecomm-popular-items-by-views", {"userId": "u", "numResults": 501}, "maximum is 500"),
        (
            "aws-ecomm-popular-items-by-views",
            {"userId": "u", "metadataColumns": {"ITEMS": ["PRICE"]}},
            "metadata",
        ),
    ],
)
def test_invalid_requests(
    runtime: Any, shop: dict[str, Any], use_case: str, params: dict[str, Any], fragment: str
) -> None:
    code, status, message = error_of(
        runtime.get_recommendations, recommenderArn=shop["recommenders"][use_case], **params
    )
    assert (code, status) == ("InvalidInputException", 400)
    assert fragment in message


def test_filters_do_not_exist(runtime: Any, shop: dict[str, Any]) -> None:
    arn = shop["recommenders"]["aws-ecomm-popular-items-by-views"]
    filter_arn = "arn:aws:personalize:us-east-1:123456789012:filter/no-such-filter"
    code, status, message = error_of(
        runtime.get_recommendations, recommenderArn=arn, userId="u", filterArn=filter_arn
    )
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert "implements no filters" in message


def test_unknown_and_stopped_recommenders(runtime: Any, personalize: Any, shop: dict[str, Any]) -> None:
    arn = shop["recommenders"]["aws-ecomm-popular-items-by-views"]
    code, status, _ = error_of(runtime.get_recommendations, recommenderArn=arn + "-gone", userId="u")
    assert (code, status) == ("ResourceNotFoundException", 404)
    personalize.stop_recommender(recommenderArn=arn)
    assert settle(personalize, "recommender", arn)["status"] == kinds.INACTIVE
    code, status, message = error_of(runtime.get_recommendations, recommenderArn=arn, userId="u")
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert "INACTIVE" in message and "StartRecommender" in message


def test_the_model_bounds_numresults(
    clean_emulator: EmulatorServer, runtime: Any, shop: dict[str, Any]
) -> None:
    """botocore refuses numResults -1 itself; sent anyway, the emulator answers from the model's minimum."""
    arn = shop["recommenders"]["aws-ecomm-popular-items-by-views"]
    body = json.dumps({"recommenderArn": arn, "userId": "u", "numResults": -1}).encode()
    request = urllib.request.Request(clean_emulator.url + "/recommendations", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.headers["x-amzn-ErrorType"] == "InvalidInputException"
    message = json.loads(caught.value.read())["message"]
    assert (
        "'numResults' failed to satisfy constraint: Member must have value greater than or equal to 0"
        in message
    )
    assert runtime.get_recommendations(recommenderArn=arn, userId="u", numResults=0)["itemList"] == []


def test_every_use_case_has_its_request_rules() -> None:
    assert set(domain_rules.RECOMMENDATION_REQUESTS) == set(domain.RECIPES)


@pytest.mark.parametrize("use_case", sorted(domain.RECIPES))
def test_the_stand_in_answers_every_use_case_deterministically(use_case: str) -> None:
    rows = [
        [f"u{n % 7}", f"i{n % 11}", ("View", "Purchase", "Watch", "Click")[n % 4], 1_700_000_000 + n]
        for n in range(300)
    ]
    events = recommend.interactions(rows)
    first = recommend.recommend(use_case, events, ["i99"], user_id="u1", item_id="i3", num_results=12)
    assert first == recommend.recommend(use_case, events, ["i99"], user_id="u1", item_id="i3", num_results=12)
    assert first and len(set(first)) == len(first) <= 12
    assert (
        recommend.recommend(use_case, events, ["i99"], user_id="u1", item_id="i3", num_results=3) == first[:3]
    )
    request = domain_rules.RECOMMENDATION_REQUESTS[use_case]
    if "itemId" in request.required:
        assert "i3" not in first
    if request.excludes_users:
        own = {e.item_id for e in events if e.user_id == "u1" and e.event_type == request.excludes_users}
        assert own and not own & set(first)


def test_short_lists_are_filled_by_popularity_then_the_catalog() -> None:
    events = recommend.interactions([["u1", "a", "View", 1], ["u2", "b", "View", 2], ["u3", "b", "View", 3]])
    items = recommend.recommend(
        "aws-ecomm-popular-items-by-views", events, ["z", "c", "a"], user_id="u9", item_id=None, num_results=4
    )
    assert items == ["b", "a", "c", "z"]


def test_only_more_like_x_needs_items(clean_emulator: EmulatorServer, personalize: Any) -> None:
    """VIDEO_ON_DEMAND use cases: Items is required for More like X, optional for Top picks for you."""
    events = client(clean_emulator, "personalize-events")
    group_arn = active_group(personalize, "vod", "VIDEO_ON_DEMAND")
    active_dataset(personalize, group_arn, "vod-interactions", domain_name="VIDEO_ON_DEMAND")
    tracker = personalize.create_event_tracker(name="vod-tracker", datasetGroupArn=group_arn)
    settle(personalize, "event_tracker", tracker["eventTrackerArn"])
    for user in range(40):
        _record(events, tracker["trackingId"], f"user-{user}", [f"film-{n % 30}" for n in range(25)], "Watch")
    outcomes = {}
    for use_case in ("aws-vod-top-picks", "aws-vod-more-like-x"):
        arn = personalize.create_recommender(
            name=use_case.removeprefix("aws-vod-"),
            datasetGroupArn=group_arn,
            recipeArn=domain.RECIPES[use_case].arn,
        )["recommenderArn"]
        described = settle(personalize, "recommender", arn)
        outcomes[use_case] = (described["status"], described.get("failureReason"))
    assert outcomes == {
        "aws-vod-top-picks": (kinds.ACTIVE, None),
        "aws-vod-more-like-x": (kinds.CREATE_FAILED, domain_rules.reason_needs_items("aws-vod-more-like-x")),
    }


def test_trending_now_counts_only_the_week_before_the_newest_interaction() -> None:
    newest = 1_700_000_000
    old = [[f"u{n}", "classic", "Watch", newest - 30 * 86_400] for n in range(10)]
    recent = [[f"u{n}", "new-hit", "Watch", newest - n * 3600] for n in range(3)]
    events = recommend.interactions(old + recent)
    assert recommend.recommend(
        "aws-vod-trending-now", events, [], user_id=None, item_id=None, num_results=1
    ) == ["new-hit"]
    assert recommend.recommend(
        "aws-vod-most-popular", events, [], user_id="u9", item_id=None, num_results=1
    ) == ["classic"]


def test_personal_recommendations_follow_the_users_recent_history() -> None:
    """Only the user's last HISTORY_LENGTH interactions seed the list: an old one no longer counts."""
    start = 1_700_000_000
    mine = [["me", "old", "View", start]] + [
        ["me", f"new-{n}", "View", start + 1 + n] for n in range(recommend.HISTORY_LENGTH)
    ]
    others = [["u1", "old", "View", start], ["u1", "x-old", "View", start]]
    others += [["u2", "new-5", "View", start], ["u2", "x-new", "View", start]]
    others += [[f"fan-{n}", "x-old", "View", start] for n in range(3)]  # x-old is the more popular
    ranked = recommend.recommend(
        "aws-ecomm-recommended-for-you",
        recommend.interactions(mine + others),
        [],
        user_id="me",
        item_id=None,
        num_results=30,
    )
    # Scored from u2 (who shares new-5), then filled by popularity: x-old, the most popular, comes next.
    assert ranked[:3] == ["new-5", "x-new", "x-old"]


def test_campaigns_do_not_exist(runtime: Any, shop: dict[str, Any]) -> None:
    """docs/emulator.md: the emulator has domain recommenders only, so any campaignArn is a 404."""
    campaign = "arn:aws:personalize:us-east-1:123456789012:campaign/no-such-campaign"
    code, status, message = error_of(runtime.get_recommendations, campaignArn=campaign, userId="u")
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert "no-such-campaign does not exist" in message and "recommenderArn" in message
