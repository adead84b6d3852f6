"""'Test connection' against the emulator: each check names what is missing and how to grant it."""

from __future__ import annotations

from contextlib import closing

from switchboard.connection.permission_checks import ConnectionReport, run_connection_test
from switchboard.directory.auth import TokenCache
from switchboard.emulator.server import RunningEmulator
from switchboard.sync.policy import SyncPolicy
from tests.integration.graph_emulator import credentials

MISSING_GROUP = "0badc0de-0000-4000-8000-000000000000"


def run(
    emu: RunningEmulator, roles: str | None, policy: SyncPolicy, **kw: bool
) -> ConnectionReport:
    creds = credentials(emu, roles, **kw)
    with closing(TokenCache()) as tokens:
        return run_connection_test(creds, policy, tokens)


def groups(emu: RunningEmulator) -> list[str]:
    return list(emu.call(lambda: list(emu.emulator.directory.groups)))


def by_name(report: ConnectionReport) -> dict[str, tuple[bool, str, str | None]]:
    return {c.name: (c.ok, c.message, c.permission) for c in report.checks}


def test_everything_granted(emu: RunningEmulator) -> None:
    gid = groups(emu)[0]
    report = run(
        emu,
        "User.Read.All,GroupMember.Read.All,User-Phone.ReadWrite.All",
        SyncPolicy(groups=[gid], direction="two_way"),
    )
    assert report.ok, report.as_dict()
    checks = by_name(report)
    assert list(checks) == [
        "token",
        "read users",
        f"read members of group {gid}",
        "write back phone data",
    ]
    assert "User-Phone.ReadWrite.All" in checks["write back phone data"][1]
    assert report.roles == ["GroupMember.Read.All", "User-Phone.ReadWrite.All", "User.Read.All"]


def test_missing_permissions_are_named_with_where_to_grant_them(emu: RunningEmulator) -> None:
    gid = groups(emu)[1]
    report = run(emu, "User.Read.All", SyncPolicy(groups=[gid, MISSING_GROUP], direction="two_way"))
    assert not report.ok
    checks = by_name(report)
    assert checks["read users"][0]
    ok, message, permission = checks[f"read members of group {gid}"]
    assert not ok and permission == "GroupMember.Read.All"
    assert (
        "App registrations > " in message
        and "API permissions > Add a permission > Microsoft Graph > Application permissions > "
        "GroupMember.Read.All, then Grant admin consent"
        in message
    )
    ok, message, permission = checks["write back phone data"]
    assert not ok and permission == "User-Phone.ReadWrite.All"
    assert "Application permissions > User-Phone.ReadWrite.All" in message


def test_unknown_group_and_no_user_read(emu: RunningEmulator) -> None:
    report = run(emu, "GroupMember.Read.All", SyncPolicy(groups=[MISSING_GROUP]))
    checks = by_name(report)
    ok, message, permission = checks["read users"]
    assert (
        not ok
        and permission == "User.Read.All"
        and "Application permissions > User.Read.All" in message
    )
    ok, message, _ = checks[f"read members of group {MISSING_GROUP}"]
    assert not ok and f"group {MISSING_GROUP} is not found in the tenant" in message


def test_extension_write_back_needs_the_broad_permission(emu: RunningEmulator) -> None:
    policy = SyncPolicy(direction="two_way", write_back={"extension_to": "extensionAttribute5"})
    report = run(emu, "User.Read.All,User-Phone.ReadWrite.All", policy)
    ok, message, permission = by_name(report)["write back phone data"]
    assert not ok and permission == "User.ReadWrite.All"
    assert "extensionAttribute5" in message
    assert by_name(report)["read group members"][0]  # no groups: nothing to check


def test_certificate_not_uploaded_stops_at_the_token(emu: RunningEmulator) -> None:
    report = run(emu, "User.Read.All", SyncPolicy(), register_cert=False)
    assert [c.name for c in report.checks] == ["token"]
    assert not report.ok
    assert report.checks[0].kind == "certificate_not_uploaded"
    assert "Certificate not uploaded" in report.checks[0].message
    assert "(AADSTS700027, invalid client assertion)" in report.checks[0].message


def test_a_permission_granted_after_a_test_shows_in_the_next(emu: RunningEmulator) -> None:
    from switchboard.emulator.apps import parse_roles

    creds = credentials(emu, "User.Read.All")
    policy = SyncPolicy(direction="two_way")
    with closing(TokenCache()) as tokens:
        before = run_connection_test(creds, policy, tokens)
        assert not by_name(before)["write back phone data"][0]
        emu.emulator.apps.register(
            creds.client_id,
            certificate_pem=creds.certificate_pem,
            roles=parse_roles("User.Read.All,User-Phone.ReadWrite.All"),
        )
        after = run_connection_test(creds, policy, tokens)  # same cached provider, fresh token
        assert after.ok, after.as_dict()
