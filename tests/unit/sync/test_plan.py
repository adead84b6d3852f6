"""The sync semantics table, rule by rule, on the pure plan function."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from switchboard.directory.models import DirectoryUser
from switchboard.sync.mapping import LocationRef
from switchboard.sync.plan import Action, Observation, PortalUser
from switchboard.sync.planner import plan
from switchboard.sync.policy import CreationGuard, DeletionGuard, SyncPolicy

HQ = LocationRef(1, "HQ")
BRANCH = LocationRef(2, "Branch")
LOCATIONS = [HQ, BRANCH]
POLICY = SyncPolicy(default_location=None)


def entra(uid: str, **props: Any) -> DirectoryUser:
    base: dict[str, Any] = {
        "id": uid,
        "userPrincipalName": f"{uid}@contoso.example",
        "givenName": "Ada",
        "surname": "Lovelace",
        "mail": f"{uid}@contoso.example",
        "officeLocation": "HQ",
        "accountEnabled": True,
    }
    base.update(props)
    return DirectoryUser.from_graph(base)


def seen(user: DirectoryUser, in_scope: bool = True) -> Observation:
    return Observation(user.id, user, in_scope)


def portal(pid: int, directory_id: str | None = None, **kw: Any) -> PortalUser:
    uid = directory_id or f"local{pid}"
    base: dict[str, Any] = {
        "id": pid,
        "username": f"{uid}@contoso.example",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"{uid}@contoso.example",
        "location_id": HQ.id,
        "status": "active",
        "directory_id": directory_id,
    }
    base.update(kw)
    return PortalUser(**base)


def only(result_items: list[Any]) -> Any:
    assert len(result_items) == 1, result_items
    return result_items[0]


def test_user_in_a_synced_group_is_created() -> None:
    item = only(plan([seen(entra("u1"))], [], POLICY, LOCATIONS, full=True).items)
    assert item.action is Action.CREATE
    assert item.desired.email == "u1@contoso.example"
    assert item.desired.location == HQ


def test_manual_provisioning_offers_instead_of_creating() -> None:
    policy = SyncPolicy(provisioning="manual")
    item = only(plan([seen(entra("u1"))], [], policy, LOCATIONS, full=True).items)
    assert item.action is Action.SKIP
    assert item.code == "manual_provisioning"


def test_name_or_email_change_is_an_update_naming_the_fields() -> None:
    current = portal(7, "u1")
    user = entra("u1", givenName="Augusta", mail="augusta@contoso.example")
    item = only(plan([seen(user)], [current], POLICY, LOCATIONS, full=False).items)
    assert item.action is Action.UPDATE
    assert item.fields == ("first_name", "email")
    assert item.user_id == 7


def test_unchanged_user_is_skipped() -> None:
    item = only(plan([seen(entra("u1"))], [portal(7, "u1")], POLICY, LOCATIONS, full=True).items)
    assert item.action is Action.SKIP
    assert item.code == "unchanged"


def test_location_change_relocates() -> None:
    user = entra("u1", officeLocation="branch")
    item = only(plan([seen(user)], [portal(7, "u1")], POLICY, LOCATIONS, full=False).items)
    assert item.action is Action.RELOCATE
    assert item.desired.location == BRANCH
    assert "location_id" in item.fields


def test_disabled_user_is_kept_and_flagged_then_re_enabled() -> None:
    off = entra("u1", accountEnabled=False)
    item = only(plan([seen(off)], [portal(7, "u1")], POLICY, LOCATIONS, full=False).items)
    assert item.action is Action.DISABLE
    flagged = portal(7, "u1", status="disabled_in_directory")
    item = only(plan([seen(entra("u1"))], [flagged], POLICY, LOCATIONS, full=False).items)
    assert item.action is Action.ENABLE


def test_deleted_user_soft_or_hard_is_deleted() -> None:
    for permanent in (False, True):
        obs = Observation("u1", None, False, permanent=permanent)
        item = only(plan([obs], [portal(7, "u1")], POLICY, LOCATIONS, full=False).items)
        assert item.action is Action.DELETE
        assert item.code == "deleted_in_directory"


def test_user_out_of_every_group_is_deleted() -> None:
    obs = seen(entra("u1"), in_scope=False)
    item = only(plan([obs], [portal(7, "u1")], POLICY, LOCATIONS, full=False).items)
    assert item.action is Action.DELETE
    assert item.code == "out_of_scope"


def test_full_reconcile_sweeps_linked_users_not_seen() -> None:
    users = [portal(7, "u1"), portal(8, "u2"), portal(9)]  # 9 is a local user: never swept
    result = plan(
        [seen(entra("u1"))],
        users,
        SyncPolicy(deletion_guard=DeletionGuard(max_percent=100, max_count=10)),
        LOCATIONS,
        full=True,
    )
    deleted = [i for i in result.items if i.action is Action.DELETE]
    assert [(i.user_id, i.code) for i in deleted] == [(8, "out_of_scope")]


def test_delta_round_does_not_sweep() -> None:
    result = plan([], [portal(7, "u1")], POLICY, LOCATIONS, full=False)
    assert result.items == []


def test_portal_user_matching_by_email_is_linked_not_duplicated() -> None:
    local = portal(3, None, email="U1@Contoso.example", username="ada")
    item = only(plan([seen(entra("u1"))], [local], POLICY, LOCATIONS, full=True).items)
    assert item.action is Action.LINK
    assert item.user_id == 3
    assert "username" in item.fields


def test_unique_first_and_last_name_links() -> None:
    local = portal(3, None, email="someone@else.example", username="ada")
    item = only(plan([seen(entra("u1"))], [local], POLICY, LOCATIONS, full=True).items)
    assert item.action is Action.LINK
    assert item.user_id == 3


def test_ambiguous_name_match_is_an_error_listing_candidates() -> None:
    a = portal(3, None, email="a@else.example", username="ada1")
    b = portal(4, None, email="b@else.example", username="ada2")
    item = only(plan([seen(entra("u1"))], [a, b], POLICY, LOCATIONS, full=True).items)
    assert item.action is Action.ERROR
    assert item.code == "ambiguous_match"
    assert "ada1 (id 3)" in item.message and "ada2 (id 4)" in item.message


def test_bad_directory_data_becomes_errors_and_the_rest_still_plans() -> None:
    users = [
        entra("nosurname", surname=None),
        entra("nomail", mail=None, userPrincipalName=""),
        entra("badmail", mail="not-an-email"),
        entra("mars", officeLocation="Mars"),
        entra("good"),
    ]
    result = plan([seen(u) for u in users], [], POLICY, LOCATIONS, full=True)
    codes = {i.directory_id: (i.action, i.code) for i in result.items}
    assert codes["nosurname"] == (Action.ERROR, "missing_attribute")
    assert codes["nomail"] == (Action.ERROR, "missing_attribute")
    assert codes["badmail"] == (Action.ERROR, "invalid_email")
    assert codes["mars"] == (Action.ERROR, "unmapped_location")
    assert codes["good"] == (Action.CREATE, None)


def test_mail_falls_back_to_the_upn() -> None:
    item = only(plan([seen(entra("u1", mail=None))], [], POLICY, LOCATIONS, full=True).items)
    assert item.desired.email == "u1@contoso.example"


def test_two_directory_users_with_one_email_the_second_is_an_error() -> None:
    a = entra("a", mail="shared@contoso.example")
    b = entra("b", mail="shared@contoso.example")
    result = plan([seen(a), seen(b)], [], POLICY, LOCATIONS, full=True)
    assert [i.action for i in result.items] == [Action.CREATE, Action.ERROR]
    assert result.items[1].code == "duplicate_email"


def test_location_rules_then_names_then_default() -> None:
    policy = SyncPolicy(location_rules={"Chicago Office": "HQ"}, default_location="Branch")
    result = plan(
        [
            seen(entra("a", officeLocation="CHICAGO OFFICE")),
            seen(entra("b", officeLocation="hq")),
            seen(entra("c", officeLocation="Somewhere")),
        ],
        [],
        policy,
        LOCATIONS,
        full=True,
    )
    locations = [i.desired.location.name if i.desired else None for i in result.items]
    assert locations == ["HQ", "HQ", "Branch"]


def test_mapping_from_an_extension_attribute() -> None:
    policy = SyncPolicy(mapping={"location": "onPremisesExtensionAttributes.extensionAttribute3"})
    user = entra(
        "a",
        officeLocation="nowhere",
        onPremisesExtensionAttributes={"extensionAttribute3": "Branch"},
    )
    item = only(plan([seen(user)], [], policy, LOCATIONS, full=True).items)
    assert item.desired.location == BRANCH


def test_replayed_observation_counts_once() -> None:
    user = entra("u1")
    result = plan([seen(user), seen(user)], [], POLICY, LOCATIONS, full=True)
    assert [i.action for i in result.items] == [Action.CREATE]


def test_deletion_guard_holds_mass_deletion() -> None:
    linked = [portal(i, f"u{i}") for i in range(1, 21)]
    observed = [seen(entra(f"u{i}")) for i in range(1, 14)]  # 7 of 20 gone: 35% and > 5
    result = plan(observed, linked, POLICY, LOCATIONS, full=True)
    assert len(result.deletions()) == 7
    assert result.hold_reason is not None and "7 of 20" in result.hold_reason


def test_deletion_guard_lets_small_changes_through() -> None:
    linked = [portal(i, f"u{i}") for i in range(1, 101)]
    observed = [seen(entra(f"u{i}")) for i in range(1, 95)]  # 6 of 100: > 5 but only 6%
    assert plan(observed, linked, POLICY, LOCATIONS, full=True).hold_reason is None


def test_empty_enumeration_with_synced_users_is_held() -> None:
    result = plan([], [portal(1, "u1")], POLICY, LOCATIONS, full=True)
    assert result.hold_reason is not None and "no users in scope" in result.hold_reason


@given(st.lists(st.sampled_from(["create", "update", "delete", "out", "bad"]), max_size=30))
def test_each_directory_user_gets_at_most_one_item(kinds: list[str]) -> None:
    observations, users = [], []
    for n, kind in enumerate(kinds):
        uid = f"u{n}"
        if kind != "create":
            users.append(portal(n + 1, uid))
        if kind == "update":
            observations.append(seen(entra(uid, givenName="New")))
        elif kind == "create":
            observations.append(seen(entra(uid)))
        elif kind == "out":
            observations.append(seen(entra(uid), in_scope=False))
        elif kind == "bad":
            observations.append(seen(entra(uid, surname="")))
    result = plan(
        observations,
        users,
        SyncPolicy(deletion_guard=DeletionGuard(max_percent=100, max_count=1000)),
        LOCATIONS,
        full=True,
    )
    ids = [i.directory_id for i in result.items]
    assert len(ids) == len(set(ids))
    assert result.counts().get("delete", 0) == kinds.count("delete") + kinds.count("out")


def _newcomers(n: int) -> list[Observation]:
    return [seen(entra(f"n{i}")) for i in range(n)]


def test_mass_creation_on_a_synced_account_is_held_with_its_creates() -> None:
    synced = [portal(i, f"s{i}") for i in range(50)]
    observed = [seen(entra(f"s{i}")) for i in range(50)] + _newcomers(21)
    result = plan(observed, synced, POLICY, LOCATIONS, full=True)
    assert result.hold_reason is not None
    assert "would create 21 users while 50 are synced" in result.hold_reason
    assert result.hold_creates
    # Within the creation guard (here 20 is both the count and 40% of 50): not held.
    calm = plan(observed[:70], synced, POLICY, LOCATIONS, full=True)
    assert calm.hold_reason is None and not calm.hold_creates


def test_an_accounts_first_sync_is_never_held_for_creating() -> None:
    result = plan(_newcomers(120), [], POLICY, LOCATIONS, full=True)
    assert result.hold_reason is None
    assert result.counts() == {"create": 120}


def test_the_creation_guard_has_its_own_threshold() -> None:
    policy = SyncPolicy(creation_guard=CreationGuard(max_percent=50, max_count=2))
    synced = [portal(i, f"s{i}") for i in range(4)]
    observed = [seen(entra(f"s{i}")) for i in range(4)]
    assert (
        plan([*observed, *_newcomers(2)], synced, policy, LOCATIONS, full=True).hold_reason is None
    )
    held = plan([*observed, *_newcomers(3)], synced, policy, LOCATIONS, full=True)
    assert held.hold_creates
    # A deletion-only hold keeps creates going.
    many = [portal(i, f"s{i}") for i in range(10)]
    gone = plan(_newcomers(1), many, policy, LOCATIONS, full=True)
    assert gone.hold_reason is not None and not gone.hold_creates
