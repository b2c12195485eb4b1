"""A deterministic stand-in for a trained recommender: plausible item lists, not a model.

It reads the interactions a dataset group holds (imported and recorded, `[USER_ID, ITEM_ID,
EVENT_TYPE, TIMESTAMP]` rows) and answers each domain use case in the spirit of its description in the
developer guide: popularity by the use case's event type ("Most viewed", "Best sellers", "Most popular"),
recent popularity ("Trending now"), items the same users also interacted with ("Customers who viewed X
also viewed", "Frequently bought together", "Because you watched X", "More like X"), and items related
to the user's recent history ("Recommended for you", "Top picks for you"). The user's own items of the
use case's filter event type are left out, as the guide says the service does. Ties break on the item
id, so the same data always gives the same list; short lists are filled by popularity, then by the
Items dataset's ids.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lambda_handlers.personalize import domain, domain_rules

HISTORY_LENGTH = 20  # the user's most recent interactions that seed personal recommendations
TRENDING_WINDOW_SECONDS = 7 * 86_400  # "trending": interactions in the week before the newest one


@dataclass(frozen=True)
class Interaction:
    user_id: str
    item_id: str
    event_type: str
    timestamp: int


def interactions(rows: Iterable[Sequence[object]]) -> list[Interaction]:
    parsed = []
    for row in rows:
        user_id, item_id, event_type, timestamp = (str(value) for value in row)
        try:
            seconds = int(float(timestamp))
        except ValueError:
            seconds = 0
        parsed.append(Interaction(user_id, item_id, event_type, seconds))
    return parsed


def _ranked(scores: Counter[str], exclude: set[str]) -> list[str]:
    return [
        item
        for item, _ in sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
        if item not in exclude
    ]


def _popularity(events: Sequence[Interaction], event_types: tuple[str, ...]) -> Counter[str]:
    return Counter(event.item_id for event in events if not event_types or event.event_type in event_types)


def _also(events: Sequence[Interaction], item_id: str, event_types: tuple[str, ...]) -> Counter[str]:
    """Items the users who interacted with ITEM_ID (by these event types) also interacted with."""
    chosen = [event for event in events if not event_types or event.event_type in event_types]
    users = {event.user_id for event in chosen if event.item_id == item_id}
    return Counter(event.item_id for event in chosen if event.user_id in users and event.item_id != item_id)


def _personal(events: Sequence[Interaction], user_id: str) -> Counter[str]:
    """Co-occurrence with the user's recent items, the most recent weighing most."""
    history = sorted(
        (event for event in events if event.user_id == user_id),
        key=lambda event: (event.timestamp, event.item_id),
    )[-HISTORY_LENGTH:]
    weights: dict[str, float] = {}
    for rank, event in enumerate(history, start=1):
        weights[event.item_id] = max(weights.get(event.item_id, 0.0), rank / len(history))
    by_user: dict[str, set[str]] = defaultdict(set)
    for event in events:
        by_user[event.user_id].add(event.item_id)
    scores: Counter[str] = Counter()
    for other, items in by_user.items():
        if other == user_id:
            continue
        overlap = sum(weights.get(item, 0.0) for item in items)
        if overlap:
            for item in items:
                scores[item] += round(overlap * 1000)
    return scores


def recommend(
    use_case: str,
    events: Sequence[Interaction],
    catalog: Sequence[str],
    *,
    user_id: str | None,
    item_id: str | None,
    num_results: int,
) -> list[str]:
    """Item ids for one GetRecommendations request, best first."""
    recipe = domain.RECIPES[use_case]
    request = domain_rules.RECOMMENDATION_REQUESTS[use_case]
    exclude: set[str] = set()
    if user_id is not None and request.excludes_users:
        exclude = {
            e.item_id for e in events if e.user_id == user_id and e.event_type == request.excludes_users
        }
    if item_id is not None:
        exclude.add(item_id)
    popular = _popularity(events, recipe.event_types)
    if use_case == "aws-vod-trending-now" and events:
        newest = max(event.timestamp for event in events)
        recent = [event for event in events if event.timestamp >= newest - TRENDING_WINDOW_SECONDS]
        scores = _popularity(recent, ())
    elif item_id is not None and "itemId" in request.required:
        scores = _also(events, item_id, recipe.event_types)
    elif user_id is not None and request.excludes_users:
        scores = _personal(events, user_id)
    else:
        scores = popular
    ranked = _ranked(scores, exclude)
    for filler in (_ranked(popular, exclude), _ranked(_popularity(events, ()), exclude), sorted(catalog)):
        if len(ranked) >= num_results:
            break
        seen = set(ranked)
        ranked += [item for item in filler if item not in seen and item not in exclude]
    return ranked[:num_results]
