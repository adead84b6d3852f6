"""The packed, page-by-page plan of a full run decides exactly what ``Planner`` decides, for
any account and any directory: names in many scripts, missing fields, odd casing, keys two
users share, users linked, unlinked, changed, unchanged, and gone."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.directory.models import DirectoryUser
from switchboard.sync.mapping import LocationRef
from switchboard.sync.plan import Action, Observation, PlanItem, PortalUser
from switchboard.sync.planner import Planner
from switchboard.sync.policy import DeletionGuard, SyncPolicy
from switchboard.sync.stream_planner import PortalSnapshot, StreamingPlanner

HQ = LocationRef(1, "HQ")
BRANCH = LocationRef(2, "Branch")
LOCATIONS = [HQ, BRANCH]
# A small pool, so keys collide: the same person in two users, a case change, a portal user
# holding the key a directory user wants.
IDS = [str(uuid.UUID(int=n + 1)) for n in range(8)] + ["plain-id-1", "plain-id-2"]
LOCALS = ["ada", "ADA", "grace", "linus", "josé", "李", "Пётр", "ǅemal"]
DOMAINS = ["contoso.example", "CONTOSO.example"]
FIRST = st.one_of(st.none(), st.sampled_from(["Ada", "ada", "José", "李", "Пётр", "  ", "Ōtani"]))
LAST = st.one_of(st.none(), st.sampled_from(["Lovelace", "LOVELACE", "Ng", "Ωmega", "محمد"]))


def address(local: str, domain: str) -> str:
    return f"{local}@{domain}"


@st.composite
def directory_user(draw: st.DrawFn, uid: str) -> DirectoryUser:
    props: dict[str, Any] = {
        "id": uid,
        "userPrincipalName": address(draw(st.sampled_from(LOCALS)), draw(st.sampled_from(DOMAINS))),
        "givenName": draw(FIRST),
        "surname": draw(LAST),
        "accountEnabled": draw(st.booleans()),
        "officeLocation": draw(st.sampled_from(["HQ", "hq", "Branch", "Mars", None])),
    }
    if draw(st.booleans()):
        props["mail"] = address(draw(st.sampled_from(LOCALS)), draw(st.sampled_from(DOMAINS)))
    return DirectoryUser.from_graph(props)


@st.composite
def accounts(draw: st.DrawFn) -> list[PortalUser]:
    """Portal users with unique keys (ignoring case), some linked to directory ids."""
    users: list[PortalUser] = []
    taken: set[str] = set()
    linked = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=6))
    for n in range(draw(st.integers(0, 7))):
        local = draw(st.sampled_from(LOCALS))
        key = address(local, "contoso.example")
        if key.casefold() in taken:
            continue
        taken.add(key.casefold())
        users.append(
            PortalUser(
                id=n + 1,
                username=key,
                first_name=draw(st.sampled_from(["Ada", "José", "李", "Пётр"])),
                last_name=draw(st.sampled_from(["Lovelace", "Ng", "Ωmega"])),
                email=key,
                location_id=draw(st.sampled_from([HQ.id, BRANCH.id])),
                status=draw(st.sampled_from(["active", "disabled_in_directory"])),
                directory_id=linked[n] if n < len(linked) else None,
            )
        )
    return users


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[PortalUser], list[Observation], list[int], SyncPolicy]:
    portal = draw(accounts())
    ids = draw(st.lists(st.sampled_from(IDS), max_size=12))  # repeats are replays
    observations = [Observation(uid, draw(directory_user(uid)), True) for uid in ids]
    # Unchanged users: the directory says what the portal holds.
    for user in portal:
        if user.directory_id and draw(st.booleans()):
            props = {
                "id": user.directory_id,
                "userPrincipalName": user.username,
                "givenName": user.first_name,
                "surname": user.last_name,
                "mail": user.email,
                "officeLocation": "HQ" if user.location_id == HQ.id else "Branch",
                "accountEnabled": user.status == "active",
            }
            at = draw(st.integers(0, len(observations)))
            obs = Observation(user.directory_id, DirectoryUser.from_graph(props), True)
            observations.insert(at, obs)
    pages = draw(st.lists(st.integers(1, 4), min_size=len(observations), max_size=40))
    policy = SyncPolicy(
        default_location=draw(st.sampled_from([None, "HQ"])),
        provisioning=draw(st.sampled_from(["automatic", "manual"])),
        deletion_guard=DeletionGuard(max_count=draw(st.integers(0, 2)), max_percent=10.0),
    )
    return portal, observations, pages, policy


def shown(item: PlanItem) -> tuple[Any, ...]:
    return (
        item.action.value,
        item.directory_id or "",
        item.username or "",
        item.user_id or 0,
        item.fields,
        item.desired,
        item.enabled,
        item.code or "",
        item.message or "",
        tuple(sorted((item.details or {}).items())),
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.booleans())
def test_the_packed_plan_decides_as_the_planner_does(world: Any, guard_creations: bool) -> None:
    portal, observations, pages, policy = world
    old = Planner(portal, policy, LOCATIONS, guard_creations=guard_creations)
    old_stream: dict[tuple[Any, ...], bool] = {}
    for obs in observations:
        for item in old.observe(obs):
            old_stream[shown(item)] = old.may_stream(item)
    old.finish(full=True)

    by_id = {u.id: u for u in portal}
    new = StreamingPlanner(
        PortalSnapshot.of(portal),
        policy,
        LOCATIONS,
        lambda ids: [by_id[i] for i in ids if i in by_id],
        guard_creations=guard_creations,
    )
    new_items: list[PlanItem] = []
    new_stream: dict[tuple[Any, ...], bool] = {}
    rest = list(observations)
    for size in pages:
        page, rest = rest[:size], rest[size:]
        for item in new.observe_page(page):
            new_items.append(item)
            new_stream[shown(item)] = new.may_stream(item)
    assert not rest
    new_items += new.finish()

    unchanged = [i for i in old.plan.items if i.action is Action.SKIP and i.code == "unchanged"]
    decided = [shown(i) for i in old.plan.items if i not in unchanged]
    assert sorted(shown(i) for i in new_items) == sorted(decided)
    assert new.unchanged == len(unchanged)
    assert new.plan.counts() == old.plan.counts()
    assert new.plan.hold_reason == old.plan.hold_reason
    assert new.plan.hold_creates == old.plan.hold_creates
    assert new.in_scope == old.in_scope
    assert new_stream == {k: v for k, v in old_stream.items() if k in new_stream}
