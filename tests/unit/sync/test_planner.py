"""The streaming planner: what a full run may carry out while it still reads, what waits for
the complete read, the sweep, and the order a run carries its items out in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from switchboard.sync.plan import Action, Observation, PlanItem, PortalUser
from switchboard.sync.planner import APPLY_ORDER, Planner, in_apply_order, plan
from switchboard.sync.policy import CreationGuard, DeletionGuard, SyncPolicy
from tests.unit.sync.test_plan import LOCATIONS, POLICY, entra, portal, seen

BRANCH_ID = 2


def kinds(items: list[PlanItem]) -> list[Action]:
    return [i.action for i in items]


def test_observe_returns_what_the_observation_added() -> None:
    planner = Planner([portal(1, "u1", first_name="Old")], POLICY, LOCATIONS)
    assert kinds(planner.observe(seen(entra("u1")))) == [Action.UPDATE]
    assert kinds(planner.observe(seen(entra("u2")))) == [Action.CREATE]
    assert kinds(planner.plan.items) == [Action.UPDATE, Action.CREATE]


def test_a_replayed_observation_adds_nothing() -> None:
    planner = Planner([], POLICY, LOCATIONS)
    assert len(planner.observe(seen(entra("u1")))) == 1
    assert planner.observe(seen(entra("u1", givenName="Other"))) == []
    assert planner.in_scope == 1


def test_creates_stream_on_an_account_without_synced_users() -> None:
    planner = Planner([portal(1, None, first_name="Grace", last_name="Hopper")], POLICY, LOCATIONS)
    created = planner.observe(seen(entra("u1")))
    assert kinds(created) == [Action.CREATE]
    assert not planner.creates_wait  # a first sync is never held for creating
    assert planner.may_stream(created[0])


def test_creates_wait_for_the_creation_guard_once_users_are_synced() -> None:
    planner = Planner([portal(1, "u1")], POLICY, LOCATIONS, guard_creations=True)
    created = planner.observe(seen(entra("u2")))
    assert planner.creates_wait and not planner.may_stream(created[0])
    unguarded = Planner([portal(1, "u1")], POLICY, LOCATIONS, guard_creations=False)
    assert unguarded.may_stream(unguarded.observe(seen(entra("u2")))[0])


def test_updates_skips_and_errors_stream() -> None:
    planner = Planner(
        [portal(1, "u1", first_name="Old"), portal(2, "u2"), portal(3, "u3")],
        POLICY,
        LOCATIONS,
    )
    items = [
        *planner.observe(seen(entra("u1"))),
        *planner.observe(seen(entra("u2"))),
        *planner.observe(seen(entra("u3", surname=""))),
    ]
    assert kinds(items) == [Action.UPDATE, Action.SKIP, Action.ERROR]
    assert all(planner.may_stream(i) for i in items)


def test_links_relocations_and_deletions_wait_for_the_read() -> None:
    planner = Planner(
        [portal(1, None), portal(2, "u2", location_id=BRANCH_ID), portal(3, "u3")],
        POLICY,
        LOCATIONS,
    )
    link = planner.observe(seen(entra("local1")))
    relocate = planner.observe(seen(entra("u2")))
    delete = planner.observe(Observation("u3", None, False))
    assert kinds([*link, *relocate, *delete]) == [Action.LINK, Action.RELOCATE, Action.DELETE]
    assert not any(planner.may_stream(i) for i in [*link, *relocate, *delete])


def test_an_update_taking_a_key_another_user_holds_now_waits() -> None:
    # u1 takes the email portal user 2 holds; user 2 is relinked or deleted only after the read.
    holder = portal(2, None, email="taken@contoso.example", username="taken@contoso.example")
    planner = Planner([portal(1, "u1"), holder], POLICY, LOCATIONS, guard_creations=False)
    item = planner.observe(seen(entra("u1", mail="taken@contoso.example")))[0]
    assert item.action is Action.UPDATE and planner.may_collide(item)
    assert not planner.may_stream(item)


def test_finish_sweeps_unseen_synced_users_and_returns_only_the_sweep() -> None:
    planner = Planner([portal(1, "u1"), portal(2, "u2")], POLICY, LOCATIONS)
    planner.observe(seen(entra("u1")))
    swept = planner.finish(full=True)
    assert [(i.action, i.directory_id, i.code) for i in swept] == [
        (Action.DELETE, "u2", "out_of_scope")
    ]
    assert planner.plan.hold_reason is None


def test_finish_without_full_sweeps_nothing() -> None:
    planner = Planner([portal(1, "u1"), portal(2, "u2")], POLICY, LOCATIONS)
    planner.observe(seen(entra("u1")))
    assert planner.finish(full=False) == []


def test_finish_holds_mass_deletions_and_mass_creations() -> None:
    policy = SyncPolicy(
        default_location=None,
        deletion_guard=DeletionGuard(max_count=1, max_percent=10),
        creation_guard=CreationGuard(max_count=1, max_percent=10),
    )
    synced = [portal(i, f"s{i}") for i in range(1, 4)]
    planner = Planner(synced, policy, LOCATIONS, guard_creations=True)
    for uid in ("n1", "n2", "n3"):
        planner.observe(seen(entra(uid)))
    planner.finish(full=True)
    reason = planner.plan.hold_reason or ""
    assert "would delete 3 of 3" in reason and "would create 3 users" in reason
    assert planner.plan.hold_creates


def test_apply_order_frees_keys_before_they_are_taken() -> None:
    items = [
        PlanItem(action, f"d{n}", None)
        for n, action in enumerate(
            [Action.CREATE, Action.UPDATE, Action.LINK, Action.DELETE, Action.RELOCATE]
        )
    ]
    assert kinds(in_apply_order(items)) == [
        Action.DELETE,
        Action.RELOCATE,
        Action.LINK,
        Action.UPDATE,
        Action.CREATE,
    ]
    assert APPLY_ORDER[Action.DELETE] < APPLY_ORDER[Action.CREATE]


def test_apply_order_keeps_the_order_within_an_action() -> None:
    items = [PlanItem(Action.CREATE, f"d{n}", None) for n in range(5)]
    assert in_apply_order(list(reversed(items))) == list(reversed(items))


USERS = st.lists(
    st.tuples(st.sampled_from(["u1", "u2", "u3", "u4", "local5"]), st.booleans()),
    max_size=8,
)


@given(USERS)
def test_streaming_decides_what_the_whole_plan_decides(observed: list[tuple[str, bool]]) -> None:
    portal_users: list[PortalUser] = [
        portal(1, "u1", first_name="Old"),
        portal(2, "u2", location_id=BRANCH_ID),
        portal(3, "u3"),
        portal(5, None),
    ]
    observations = [seen(entra(uid), in_scope) for uid, in_scope in observed]
    whole = plan(observations, portal_users, POLICY, LOCATIONS, full=True)
    planner = Planner(portal_users, POLICY, LOCATIONS)
    streamed: list[PlanItem] = []
    for obs in observations:
        streamed += planner.observe(obs)
    streamed += planner.finish(full=True)
    assert streamed == whole.items
    assert planner.plan.hold_reason == whole.hold_reason
