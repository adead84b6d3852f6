"""GraphDirectory against the emulator: msal certificate auth, reads, delta, faults, write-back."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest

from switchboard.directory.auth import MsalTokenProvider, token_roles
from switchboard.directory.errors import (
    DeltaTokenExpired,
    GraphAuthError,
    GraphBadRequest,
    GraphForbidden,
)
from switchboard.directory.graph_directory import GraphDirectory
from switchboard.directory.models import BASE_SELECT
from switchboard.emulator.server import RunningEmulator
from tests.emulator_control import set_delta_page_size
from tests.integration.graph_emulator import credentials

Make = Callable[..., GraphDirectory]
SELECT = list(BASE_SELECT)


def active_users(emu: RunningEmulator) -> dict[str, dict[str, Any]]:
    return dict(
        emu.call(lambda: {u.id: dict(u.props) for u in emu.emulator.directory.active_users()})
    )


def groups(emu: RunningEmulator) -> list[str]:
    return list(emu.call(lambda: list(emu.emulator.directory.groups)))


def transitive_users(emu: RunningEmulator, group_id: str) -> set[str]:
    d = emu.emulator.directory
    return set(
        emu.call(
            lambda: {
                m
                for m in d.transitive_member_ids(group_id)
                if m in d.users and m not in d.deleted_ids
            }
        )
    )


def plain_users(emu: RunningEmulator) -> list[str]:
    d = emu.emulator.directory
    return list(
        emu.call(
            lambda: [
                u.id
                for u in d.active_users()
                if not u.is_admin and not u.props.get("onPremisesSyncEnabled")
            ]
        )
    )


# ---------------------------------------------------------------------------- tokens


def test_certificate_token_is_cached_and_carries_the_roles(emu: RunningEmulator) -> None:
    provider = MsalTokenProvider(credentials(emu, "User.Read.All,GroupMember.Read.All"))
    try:
        first = provider.token()
        assert provider.token() == first  # msal's cache, no second request
        assert token_roles(first) == {"User.Read.All", "GroupMember.Read.All"}
        assert provider.token(refresh=True) != first
    finally:
        provider.close()


def test_certificate_not_uploaded_is_an_auth_error(
    emu: RunningEmulator, directory_for: Make
) -> None:
    provider = MsalTokenProvider(credentials(emu, "User.Read.All", register_cert=False))
    try:
        with pytest.raises(GraphAuthError) as err:
            provider.token()
        assert err.value.code == "AADSTS700027"
        assert "certificate is not uploaded to the app registration" in err.value.message
    finally:
        provider.close()


def test_unknown_app_and_tenant(emu: RunningEmulator) -> None:
    unknown_app = MsalTokenProvider(credentials(emu, None))
    with pytest.raises(GraphAuthError) as err:
        unknown_app.token()
    assert err.value.code == "AADSTS700016"
    unknown_app.close()

    creds = credentials(emu, "User.Read.All")
    from dataclasses import replace

    wrong_tenant = MsalTokenProvider(
        replace(creds, tenant_id="00000000-0000-0000-0000-000000000000")
    )
    with pytest.raises(GraphAuthError):
        wrong_tenant.token()
    wrong_tenant.close()


# ---------------------------------------------------------------------------- reads


def test_all_users_of_a_small_tenant_in_one_page(emu: RunningEmulator, directory_for: Make) -> None:
    d = directory_for()
    users = {u.id: u for u in d.users_in_scope([], SELECT)}
    expected = active_users(emu)
    assert set(users) == set(expected)
    sample = next(iter(users.values()))
    assert sample.user_principal_name == expected[sample.id]["userPrincipalName"]
    assert "accountEnabled" in sample.properties
    assert d.client.requests_sent == 2  # $count, then one page


def test_partitioned_read_matches_a_plain_walk(emu: RunningEmulator, directory_for: Make) -> None:
    partitioned = directory_for(page_size=3, partitioned=True)
    walked = directory_for(page_size=3, partitioned=False)
    got = [u.id for u in partitioned.users_in_scope([], ["id", "userPrincipalName"])]
    assert len(got) == len(set(got))
    assert set(got) == {u.id for u in walked.users_in_scope([], ["id"])} == set(active_users(emu))
    assert partitioned.client.requests_sent > walked.client.requests_sent  # the price of overlap


def test_users_in_scope_with_nested_groups(emu: RunningEmulator, directory_for: Make) -> None:
    top, _nested, _deeper, _also, other, *_ = groups(emu)  # group 0 holds 1 and 3, 1 holds 2
    d = directory_for(page_size=4)
    users = list(d.users_in_scope([top, other, top], SELECT))
    ids = [u.id for u in users]
    assert len(ids) == len(set(ids))
    expected = transitive_users(emu, top) | transitive_users(emu, other)
    assert set(ids) == expected
    direct = set(emu.call(lambda: list(emu.emulator.directory.groups[top].members)))
    nested_only = transitive_users(emu, groups(emu)[2]) - direct
    assert nested_only and nested_only <= set(ids)


def test_get_user_by_id_or_upn_and_get_users_batched(
    emu: RunningEmulator, directory_for: Make
) -> None:
    d = directory_for()
    everyone = active_users(emu)
    uid, props = next(iter(everyone.items()))
    by_upn = d.get_user(props["userPrincipalName"], SELECT)
    assert by_upn is not None and by_upn.id == uid
    assert d.get_user("00000000-0000-0000-0000-000000000001", SELECT) is None
    ids = [*list(everyone)[:25], "00000000-0000-0000-0000-000000000001"]
    found = d.get_users(ids, ["givenName"])
    assert set(found) == set(ids[:25])
    assert found[ids[3]].get("givenName") == everyone[ids[3]].get("givenName")


def test_check_member_groups(emu: RunningEmulator, directory_for: Make) -> None:
    gids = groups(emu)
    users = list(active_users(emu))[:22]
    result = directory_for().member_of(users, gids)
    d = emu.emulator.directory
    for uid in users:
        assert result[uid] == emu.call(partial(d.transitive_groups_of, uid)) & set(gids)


def test_missing_permission_is_forbidden(emu: RunningEmulator, directory_for: Make) -> None:
    d = directory_for("User.Read.All")
    with pytest.raises(GraphForbidden) as err:
        list(d.users_in_scope(groups(emu)[:1], SELECT))
    assert err.value.code == "Authorization_RequestDenied" and err.value.request_id


# ---------------------------------------------------------------------------- delta


def test_delta_round_after_changes(emu: RunningEmulator, directory_for: Make) -> None:
    d = directory_for()
    first = d.users_delta(None, SELECT)
    assert set(first.changed) == set(active_users(emu))
    assert first.delta_link
    everyone = active_users(emu)
    enabled = [u for u in plain_users(emu) if everyone[u]["accountEnabled"]]
    renamed, disabled, soft, hard, *_ = enabled
    directory = emu.emulator.directory

    def change() -> None:
        directory.update_user(renamed, {"givenName": "Renamed"})
        directory.update_user(disabled, {"accountEnabled": False})
        directory.delete_user(soft)
        directory.delete_user(hard)
        directory.purge_user(hard)

    emu.call(change)
    second = d.users_delta(first.delta_link, SELECT)
    assert second.changed[renamed].get("givenName") == "Renamed"
    assert second.changed[disabled].account_enabled is False
    assert not second.removed[soft].permanent
    assert second.removed[hard].permanent
    assert set(second.changed) == {renamed, disabled}
    assert second.delta_link and second.delta_link != first.delta_link

    emu.call(lambda: directory.restore_user(soft))
    third = d.users_delta(second.delta_link, SELECT)
    assert set(third.changed) == {soft} and not third.removed


def test_group_members_split_across_pages(emu: RunningEmulator, directory_for: Make) -> None:
    set_delta_page_size(emu, 2)
    d = directory_for()
    first = d.groups_delta(None)
    directory = emu.emulator.directory
    expected = emu.call(lambda: {g.id: set(g.members) for g in directory.groups.values()})
    assert {g: m for g, m in first.added.items() if m} == {g: m for g, m in expected.items() if m}
    assert d.client.requests_sent > 3

    top = groups(emu)[0]
    member = next(m for m in expected[top] if m in active_users(emu))
    newcomer = next(u for u in plain_users(emu) if u not in expected[top])

    def change() -> None:
        directory.remove_member(top, member)
        directory.add_member(top, newcomer)

    emu.call(change)
    second = d.groups_delta(first.delta_link)
    assert member in second.removed[top]
    assert newcomer in second.added[top]


def test_latest_delta_links_track_from_now(emu: RunningEmulator, directory_for: Make) -> None:
    d = directory_for()
    users_link, groups_link = d.latest_delta_links(SELECT)
    uid = plain_users(emu)[0]
    emu.call(lambda: emu.emulator.directory.update_user(uid, {"surname": "Later"}))
    round_ = d.users_delta(users_link, SELECT)
    assert set(round_.changed) == {uid} and round_.changed[uid].get("surname") == "Later"
    assert d.groups_delta(groups_link).touched_members() == set()


@pytest.mark.parametrize("status", [400, 410])
def test_expired_delta_token(
    emu: RunningEmulator, directory_for: Make, control: httpx.Client, status: int
) -> None:
    assert control.patch("/faults", json={"delta_expired_status": status}).status_code == 200
    d = directory_for()
    link = d.users_delta(None, ["id"]).delta_link
    group_link = d.groups_delta(None).delta_link
    advanced = control.post("/clock/advance", json={"days": 8})
    assert advanced.status_code == 200, advanced.text
    with pytest.raises(DeltaTokenExpired) as err:
        d.users_delta(link, ["id"])
    assert err.value.status == status
    with pytest.raises(DeltaTokenExpired):
        d.groups_delta(group_link)


# ---------------------------------------------------------------------------- faults


def test_429_storm_with_retry_after(
    emu: RunningEmulator, directory_for: Make, control: httpx.Client
) -> None:
    storm = {
        "error_rate": 0.4,
        "error_kinds": ["429", "503"],
        "retry_after_seconds": 0.02,
        "seed": 5,
    }
    assert control.patch("/faults", json=storm).status_code == 200
    d = directory_for(page_size=5, partitioned=False)
    users = [u.id for u in d.users_in_scope([], ["id"])]
    delta = d.users_delta(None, ["id"])
    pages = 8  # 40 users, 5 a page
    assert d.client.requests_sent > pages + 1  # some answers were throttled and retried
    assert control.patch("/faults", json={"error_rate": 0.0}).status_code == 200
    assert set(users) == set(delta.changed) == set(active_users(emu))


def test_connection_resets_are_retried(
    emu: RunningEmulator, directory_for: Make, control: httpx.Client
) -> None:
    assert (
        control.patch(
            "/faults", json={"error_rate": 0.3, "error_kinds": ["reset"], "seed": 2}
        ).status_code
        == 200
    )
    d = directory_for(page_size=10, partitioned=False)
    try:
        users = {u.id for u in d.users_in_scope([], ["id"])}
    finally:
        control.patch("/faults", json={"error_rate": 0.0})
    assert users == set(active_users(emu))


# ---------------------------------------------------------------------------- write-back


def test_write_back_patch_and_read_only_users(emu: RunningEmulator, directory_for: Make) -> None:
    writer = directory_for("User.Read.All,User.ReadWrite.All")
    uid = plain_users(emu)[0]
    writer.update_user(
        uid,
        {
            "businessPhones": ["+1 425 555 0199"],
            "onPremisesExtensionAttributes": {"extensionAttribute3": "2199"},
        },
    )
    user = writer.get_user(uid, SELECT)
    assert user is not None
    assert user.get("businessPhones") == ["+1 425 555 0199"]
    assert user.get("onPremisesExtensionAttributes.extensionAttribute3") == "2199"

    directory = emu.emulator.directory
    on_prem = emu.call(
        lambda: next(
            u.id
            for u in directory.active_users()
            if u.props.get("onPremisesSyncEnabled") and not u.is_admin
        )
    )
    admin = emu.call(lambda: next(u.id for u in directory.active_users() if u.is_admin))
    with pytest.raises(GraphBadRequest):
        writer.update_user(on_prem, {"businessPhones": ["+1 425 555 0100"]})
    with pytest.raises(GraphForbidden) as err:
        writer.update_user(admin, {"businessPhones": ["+1 425 555 0101"]})
    assert err.value.code == "Authorization_RequestDenied"

    reader = directory_for("User.Read.All")
    with pytest.raises(GraphForbidden):
        reader.update_user(uid, {"businessPhones": []})
