"""Admin UI, Directory tab: connect Entra ID, settings, certificate, runs, held runs and
write-backs, over a fake directory, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import html as html_text
import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import app_certificates
from switchboard.connection import registration as service
from switchboard.db.models import DirectoryRegistration, SyncRun, User, WriteBackTask
from switchboard.directory.errors import GraphForbidden
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Role
from switchboard.portal.schemas import UserPatch
from switchboard.portal.users import update_user
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy
from tests import factories
from tests.fakes import FakeDirectories, FakeDirectory, FakeJobs
from tests.ui_support import csrf, make_admin, sign_in
from tests.wiring import Adapters

OP = factories.OPERATOR
TENANT = "6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"
CLIENT = "11111111-2222-4333-8444-555555555555"
SALES = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"
BASE = "/accounts/acme/directory"


@dataclass
class Env:
    client: TestClient
    container: Container
    directory: FakeDirectory
    jobs: FakeJobs
    token: str

    def post(
        self, path: str, data: dict[str, str] | None = None, *, follow_redirects: bool = False
    ) -> Any:
        return self.client.post(
            BASE + path,
            data={"csrf_token": self.token, **(data or {})},
            follow_redirects=follow_redirects,
        )

    def get(self, path: str = "", **kw: Any) -> Any:
        return self.client.get(BASE + path, **kw)

    def users(self) -> list[User]:
        with self.container.unit_of_work() as s:
            return list(s.scalars(select(User).order_by(User.id)))

    def run_ids(self) -> list[int]:
        with self.container.unit_of_work() as s:
            return list(s.scalars(select(SyncRun.id).order_by(SyncRun.id)))


def connect_account(container: Container, **policy: Any) -> None:
    with container.unit_of_work() as s:
        account = get_account(s, OP, "acme")
        service.connect(
            s,
            OP,
            account,
            service.RegistrationIn(
                tenant_id=TENANT,
                client_id=CLIENT,
                settings=SyncPolicy.model_validate({"groups": [SALES], **policy}),
            ),
        )


@pytest.fixture
def adapters() -> Adapters:
    """Runs read a fake directory (its synced group empty at first) and, started from the UI,
    finish before the redirect answers."""
    directory = FakeDirectory()
    directory.groups = {SALES: set()}
    return {"directory_for": FakeDirectories(directory), "jobs": FakeJobs()}


def make_env(
    app_client: TestClient,
    container: Container,
    role: Role = Role.ACCOUNT_ADMIN,
    *,
    connected: bool = True,
    **policy: Any,
) -> Env:
    with container.unit_of_work() as s:
        factories.tenant(s)
    if connected:
        connect_account(container, **policy)
    # The fakes the ``adapters`` fixture wired.
    directories, jobs = container.directory_factory(), container.jobs
    assert isinstance(directories, FakeDirectories) and isinstance(jobs, FakeJobs)
    assert isinstance(directories.current, FakeDirectory)
    email = f"{role.value}@acme.example"
    make_admin(container, email, role, None if role is Role.PROVIDER_ADMIN else "acme")
    sign_in(app_client, email)
    return Env(app_client, container, directories.current, jobs, csrf(app_client, "/accounts/acme"))


@pytest.fixture
def env(app_client: TestClient, container: Container) -> Env:
    return make_env(app_client, container)


def add_users(env: Env, *uids: str, **props: Any) -> None:
    for uid in uids:
        env.directory.add_user(uid, givenName=uid.capitalize(), **props)
        env.directory.add_member(SALES, uid)


def error_under(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', html)
    assert found is not None, f"no error under {field}"
    return html_text.unescape(found.group(1))


def value_of(html: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    assert found is not None, f"no input {name}"
    return html_text.unescape(found.group(1))


def textarea(html: str, name: str) -> str:
    found = re.search(rf'<textarea id="f-{name}" name="{name}"[^>]*>([^<]*)</textarea>', html)
    assert found is not None, f"no textarea {name}"
    return html_text.unescape(found.group(1))


def run_path(response: Any) -> str:
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert re.fullmatch(rf"{BASE}/runs/\d+", location), location
    return location


def rows(html: str) -> list[str]:
    body = html.split('<table class="table" id="items">', 1)
    if len(body) == 1:
        return []
    return re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", body[1].split("</table>")[0], re.S)


# --- connect ------------------------------------------------------------------------------------

WIZARD = {"tenant_id": TENANT.upper(), "client_id": CLIENT, "cloud": "global"}
CONNECT = {
    "tenant_id": TENANT.upper(),
    "client_id": CLIENT,
    "cloud": "global",
    "groups": SALES,
    "direction": "one_way",
    "provisioning": "automatic",
    "mode": "on_demand",
}


@pytest.mark.parametrize(
    ("step", "changes", "field", "words"),
    [
        ("ids", {"tenant_id": "contoso"}, "tenant_id", "'contoso' is not a GUID"),
        ("ids", {"client_id": "my-app"}, "client_id", "'my-app' is not a GUID"),
        ("hosts", {"cloud": "custom", "authority_url": ""}, "authority_url", "needs both"),
        (
            "hosts",
            {"cloud": "custom", "authority_url": "http://login.example", "graph_url": "x"},
            "authority_url",
            "Sign-in authority URL must start with https://",
        ),
        (
            "hosts",
            {
                "cloud": "custom",
                "authority_url": "https://login.example.com",
                "graph_url": "https://graph.example.com",
                "ca_bundle_pem": "not a certificate",
            },
            "ca_bundle_pem",
            "CA bundle is not PEM certificates",
        ),
    ],
)
def test_wizard_errors_are_shown_under_the_field_with_what_was_typed(
    app_client: TestClient,
    container: Container,
    step: str,
    changes: dict[str, str],
    field: str,
    words: str,
) -> None:
    env = make_env(app_client, container, connected=False)
    page = env.get()
    assert "Connect Entra ID" in page.text and "Step 1 of 5: Choose the cloud" in page.text
    response = env.post("/wizard", {**WIZARD, "step": step, **changes})
    assert response.status_code == 422, response.text
    message = error_under(response.text, field)
    assert words in message and not message.startswith(field)
    assert 'aria-invalid="true"' in response.text
    typed = changes.get(field, WIZARD.get(field, ""))
    shown = textarea if field == "ca_bundle_pem" else value_of
    assert shown(response.text, field) == typed  # what the admin typed is still there
    with container.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(DirectoryRegistration)) == 0


def test_wizard_steps_then_connect_then_the_status_card_and_the_certificate(
    app_client: TestClient, container: Container
) -> None:
    env = make_env(app_client, container, connected=False)
    hosts = env.post("/wizard", {"step": "cloud", "cloud": "custom"})
    assert "Step 2 of 6: Custom hosts" in hosts.text
    back = env.post("/wizard", {"step": "hosts", "cloud": "custom", "go": "back"})
    assert "Step 1 of 6: Choose the cloud" in back.text and "(your current choice)" in back.text
    ids = env.post("/wizard", {"step": "cloud", "cloud": "global"})
    assert "Step 2 of 5: Enter the app registration" in ids.text
    assert 'name="cloud" value="global"' in ids.text  # carried as a hidden answer
    ready = env.post("/wizard", {**WIZARD, "step": "ids"})
    assert "Step 3 of 5: Prepare the app registration and connect" in ready.text
    for words in ("User.Read.All", "GroupMember.Read.All", "User.ReadWrite.All"):
        assert words in ready.text
    assert "Certificates &amp; secrets &gt; Certificates &gt; Upload certificate" in ready.text
    assert "Grant admin consent" in ready.text
    assert value_of(ready.text, "tenant_id") == TENANT  # stored in lower case
    response = env.post("/wizard", {**WIZARD, "step": "permissions", "tenant_id": TENANT})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{BASE}?done=directory-connected#finish-setup"
    page = env.get(follow_redirects=False)
    with container.unit_of_work() as s:
        registration = s.scalars(select(DirectoryRegistration)).one()
        assert registration.tenant_id == TENANT
        policy = service.policy_of(registration)
        pem = registration.certificate_pem
    # Default settings, and no scope yet: nothing syncs until the groups are chosen.
    assert policy.groups == [] and not policy.all_users
    assert "No groups chosen yet." in page.text
    info = app_certificates.info(pem)
    assert f'id="setup-thumbprint">{info.thumbprint_sha1}<' in page.text
    assert "Finish connecting" in page.text and "not tested yet" in page.text
    download = env.get("/certificate")
    assert download.headers["content-type"] == "application/x-pem-file"
    assert "attachment" in download.headers["content-disposition"]
    assert app_certificates.info(download.text).thumbprint_sha1 == info.thumbprint_sha1
    assert "PRIVATE KEY" not in download.text and "PRIVATE KEY" not in page.text
    refused = env.post("/reconcile")
    assert refused.status_code == 422 and "no groups to sync yet" in refused.text
    again = env.post("/wizard", {**WIZARD, "step": "permissions"})
    assert again.status_code == 422
    assert "already connected" in again.text


def test_settings_form_replaces_the_settings_and_shows_errors(
    env: Env, container: Container
) -> None:
    with container.unit_of_work() as s:
        service.update_settings(
            s, OP, get_account(s, OP, "acme"), {"location_rules": {"Chicago": "HQ", "Boston": "HQ"}}
        )
    form = env.get("/settings")
    # The rules are the Mapping page's, linked from here; the connection has its own page.
    assert 'name="location_rules"' not in form.text
    assert f'href="{BASE}/mapping"' in form.text
    assert 'name="tenant_id"' not in form.text and "/directory/connection" in form.text
    changed = {
        **CONNECT,
        "direction": "two_way",
        "extension_to": "extensionAttribute3",
        "provisioning": "manual",
        "mode": "batched",
        "schedule_minutes": "30",
    }
    bad = env.post("/settings", {**changed, "schedule_minutes": ""})
    assert bad.status_code == 422
    assert "needs a schedule" in error_under(bad.text, "schedule_minutes")
    saved = env.post("/settings", changed)
    assert saved.status_code == 303, saved.text
    with container.unit_of_work() as s:
        policy = service.policy_of(s.scalars(select(DirectoryRegistration)).one())
    assert policy.location_rules == {"chicago": "HQ", "boston": "HQ"}  # untouched
    assert policy.direction == "two_way"
    assert policy.write_back.extension_to == "extensionAttribute3"
    assert (policy.provisioning, policy.mode, policy.schedule_minutes) == ("manual", "batched", 30)
    page = env.get()
    assert "User.ReadWrite.All" in page.text  # two-way needs it
    assert "every 30 min" in page.text


def test_rotate_promote_discard(env: Env, container: Container) -> None:
    assert env.post("/certificate/rotate").status_code == 303
    with container.unit_of_work() as s:
        registration = s.scalars(select(DirectoryRegistration)).one()
        assert registration.next_certificate_pem is not None
        nxt = app_certificates.info(registration.next_certificate_pem).thumbprint_sha1
    page = env.get()
    assert nxt in page.text and "Promote next certificate" in page.text
    assert app_certificates.info(env.get("/certificate?which=next").text).thumbprint_sha1 == nxt
    unproven = env.post("/certificate/promote")
    assert unproven.status_code == 422
    assert "has not been proven yet" in unproven.text
    assert env.post("/certificate/discard").status_code == 303
    page = env.get()
    assert nxt not in page.text and "Rotate certificate" in page.text
    assert env.get("/certificate?which=next").status_code == 404


def test_disconnect_confirms_then_users_stay_as_local_users(env: Env) -> None:
    add_users(env, "ada", "alan")
    run_path(env.post("/reconcile"))
    confirm = env.get("/disconnect")
    assert "stay as ordinary portal users" in confirm.text
    assert "The 2 directory users" in confirm.text
    done = env.post("/disconnect")
    assert done.headers["location"] == f"{BASE}?done=directory-disconnected"
    page = env.get()
    assert "Connect Entra ID" in page.text
    assert {u.source for u in env.users()} == {"local"}
    assert len(env.users()) == 2
    # Any sync button now says the account is not connected.
    again = env.post("/reconcile")
    assert again.headers["location"] == f"{BASE}?done=directory-not-connected"


# --- runs ---------------------------------------------------------------------------------------


def test_dry_run_shows_the_plan_and_changes_nothing(env: Env) -> None:
    add_users(env, "ada", "alan")
    add_users(env, "nameless", surname=None)
    path = run_path(env.post("/dry-run"))
    page = env.client.get(path)
    assert "Dry run:" in page.text and "nothing was changed" in page.text
    items = rows(page.text)
    assert len(items) == 3
    assert sum("create" in r for r in items) == 2
    failed = [r for r in items if "nameless" in r]
    assert "surname" in failed[0] or "last name" in failed[0]
    assert env.users() == []


def test_reconcile_creates_users_and_reports_each_error(env: Env) -> None:
    add_users(env, "ada", "alan")
    add_users(env, "moon", officeLocation="Moon Base")
    path = run_path(env.post("/reconcile"))
    page = env.client.get(path)
    assert "partial" in page.text and "manual" in page.text
    assert "still running" not in page.text and 'http-equiv="refresh"' not in page.text
    created = {u.directory_id: u for u in env.users()}
    assert set(created) == {"ada", "alan"}
    for user in created.values():
        assert f'href="/accounts/acme/users/{user.id}"' in page.text
    errors = env.client.get(path + "?state=failed")
    (row,) = rows(errors.text)
    assert "moon@contoso.example" in row and "Moon Base" in row
    creates = env.client.get(path + "?action=create")
    assert len(rows(creates.text)) == 2
    bad = env.client.get(path + "?action=explode")
    assert bad.status_code == 422 and "Choose one of" in bad.text
    # The runs list and the Directory tab list the run.
    listing = env.get("/runs")
    run_id = path.rsplit("/", 1)[1]
    assert f'href="{path}">#{run_id}</a>' in listing.text
    assert "create</span> 2" in listing.text
    assert f"#{run_id}" in env.get().text


def test_delta_and_sync_one_user(env: Env) -> None:
    add_users(env, "ada")
    run_path(env.post("/reconcile"))
    env.directory.change("ada", surname="Byron")
    delta = env.client.get(run_path(env.post("/delta")))
    assert "delta round" in delta.text and "last_name" in delta.text.replace(" ", "_")
    assert env.users()[0].last_name == "Byron"
    missing = env.post("/sync-user", {"user": ""})
    assert missing.status_code == 422
    assert "UPN or object id" in error_under(missing.text, "user")
    env.directory.change("ada", givenName="Augusta")
    single = env.client.get(run_path(env.post("/sync-user", {"user": "ada@contoso.example"})))
    assert "one user" in single.text and "update" in single.text
    assert env.users()[0].first_name == "Augusta"
    unknown = env.client.get(run_path(env.post("/sync-user", {"user": "nobody@contoso.example"})))
    assert "no user &#39;nobody@contoso.example&#39; in Entra ID" in unknown.text
    with env.container.unit_of_work() as s:
        triggers = set(s.scalars(select(SyncRun.trigger)))
    assert triggers == {"manual"}


def test_a_running_run_offers_a_refresh_until_it_is_done(env: Env) -> None:
    env.jobs.hold = True
    add_users(env, "ada")
    path = run_path(env.post("/reconcile"))
    running = env.client.get(path)
    assert "still running" in running.text
    assert "http-equiv" not in running.text
    assert f'href="{path}" id="refresh">Refresh</a>' in running.text
    assert f'data-events="{path}/events"' in running.text
    assert '<script src="/static/js/run-progress.js" defer></script>' in running.text
    busy = env.post("/reconcile")
    assert busy.status_code == 422 and "still in progress" in busy.text
    env.jobs.held[0]()
    done = env.client.get(path)
    assert "still running" not in done.text and "succeeded" in done.text


def test_held_run_is_approved_or_rejected_by_an_admin(env: Env) -> None:
    uids = [f"u{i}" for i in range(10)]
    add_users(env, *uids)
    run_path(env.post("/reconcile"))
    for uid in uids[:8]:
        env.directory.remove_member(SALES, uid)
    held = run_path(env.post("/reconcile"))
    page = env.client.get(held)
    assert "Held for approval:" in page.text
    assert "Approve deletions" in page.text and "Reject deletions" in page.text
    assert len(rows(env.client.get(held + "?state=pending").text)) == 8
    rejected = env.post(held.removeprefix(BASE) + "/reject")
    assert rejected.headers["location"] == f"{held}?done=run-rejected"
    assert len(env.users()) == 10
    again = env.post(held.removeprefix(BASE) + "/approve")
    assert again.status_code == 422 and "only a held run can be approved" in again.text

    held_again = run_path(env.post("/reconcile"))
    approved = env.post(held_again.removeprefix(BASE) + "/approve", follow_redirects=True)
    assert "Each held change was checked against Entra ID" in approved.text
    assert "Approve deletions" not in approved.text
    assert sorted(u.directory_id or "" for u in env.users()) == ["u8", "u9"]


def test_csv_export_matches_the_api_and_follows_the_filter(env: Env) -> None:
    add_users(env, "ada", "alan")
    add_users(env, "moon", officeLocation="Moon Base")
    path = run_path(env.post("/reconcile"))
    exported = env.client.get(path + "/export")
    assert exported.headers["content-type"].startswith("text/csv")
    run_id = path.rsplit("/", 1)[1]
    assert f'filename="acme-run-{run_id}.csv"' in exported.headers["content-disposition"]
    api = env.client.get(
        f"/api/v1/accounts/acme/directory/runs/{run_id}?format=csv",
        headers=factories.bearer(
            factories.token_for(env.container, "api@acme.example", Role.ACCOUNT_ADMIN, "acme")
        ),
    )
    assert exported.text == api.text
    found = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["directory_id"] for r in found} == {"ada", "alan", "moon"}
    errors = list(csv.DictReader(io.StringIO(env.client.get(path + "/export?state=failed").text)))
    assert [r["directory_id"] for r in errors] == ["moon"]
    assert "Moon Base" in errors[0]["message"]
    page = env.client.get(path + "?state=failed")
    assert f'href="{path}/export?state=failed"' in page.text


# --- two-way write-backs ------------------------------------------------------------------------


def test_write_backs_are_listed_and_pushed_with_refusals_explained(
    app_client: TestClient, container: Container
) -> None:
    env = make_env(
        app_client,
        container,
        direction="two_way",
        write_back={"number_to": "businessPhones", "extension_to": "extensionAttribute1"},
    )
    add_users(env, "ada", "grace")
    run_path(env.post("/reconcile"))
    env.directory.refuse["grace"] = GraphForbidden(
        "Insufficient privileges", status=403, code="Authorization_RequestDenied"
    )
    with container.unit_of_work() as s:
        account = get_account(s, OP, "acme")
        for user in s.scalars(select(User).order_by(User.id)).all():
            update_user(s, OP, account, user.id, UserPatch(extension=f"4{user.id:03d}"))
    listing = env.get("/writebacks")
    assert listing.text.count("badge-writeback-pending") == 2
    assert "extensionAttribute1" in listing.text and "Write back now" in listing.text
    pushed = env.post("/writeback")
    assert pushed.status_code == 200
    assert "Written: 1 · refused: 1 · to retry: 0" in pushed.text
    refused = env.get("/writebacks?status=failed")
    assert refused.text.count("badge-writeback-failed") == 1
    assert "users holding admin roles" in refused.text
    assert "Authorization_RequestDenied" in refused.text
    with container.unit_of_work() as s:
        statuses = sorted(s.scalars(select(WriteBackTask.status)))
    assert statuses.count("failed") == 1 and "pending" not in statuses
    assert env.get("/writebacks?status=nope").status_code == 422


# --- roles --------------------------------------------------------------------------------------


def test_a_viewer_reads_everything_and_changes_nothing(
    app_client: TestClient, container: Container
) -> None:
    env = make_env(app_client, container, Role.ACCOUNT_VIEWER)
    add_users(env, "ada")
    summary = SyncEngine(container, container.directory_factory()).reconcile(OP, "acme")
    path = f"{BASE}/runs/{summary.number}"
    for page in (BASE, f"{BASE}/settings", f"{BASE}/runs", path, f"{BASE}/writebacks"):
        response = app_client.get(page)
        assert response.status_code == 200, page
        assert re.findall(r'<form method="post" action="([^"]+)"', response.text) == ["/logout"]
        assert "Read-only" in response.text
    assert "Reconcile now" not in app_client.get(BASE).text
    assert app_client.get(f"{BASE}/certificate").status_code == 200
    assert app_client.get(path + "/export").status_code == 200
    for action in ("/reconcile", "/dry-run", "/test", "/certificate/rotate", "/disconnect"):
        response = env.post(action)
        assert response.status_code == 403, action
        assert "can only read" in response.text
    assert env.run_ids() == [summary.run_id]


def test_a_provider_admin_acts_on_any_account(app_client: TestClient, container: Container) -> None:
    env = make_env(app_client, container, Role.PROVIDER_ADMIN)
    add_users(env, "ada")
    page = env.client.get(run_path(env.post("/reconcile")))
    assert "succeeded" in page.text
    assert [u.directory_id for u in env.users()] == ["ada"]


def test_settings_form_all_users_box_and_a_reconcile_at_once(
    env: Env, container: Container
) -> None:
    add_users(env, "u1", "u2")
    env.directory.add_user("x1", givenName="Xavier")  # in no group
    run_path(env.post("/reconcile"))
    assert {u.directory_id for u in env.users()} == {"u1", "u2"}
    form = env.get("/settings")
    assert 'name="all_users"' in form.text
    empty = env.post("/settings", {**CONNECT, "groups": ""})
    assert empty.status_code == 422
    assert "Choose at least one group, or sync all users explicitly" in error_under(
        empty.text, "groups"
    )
    both = env.post("/settings", {**CONNECT, "all_users": "yes"})
    assert both.status_code == 422
    assert "not both" in error_under(both.text, "groups")
    saved = env.post("/settings", {**CONNECT, "groups": "", "all_users": "yes"})
    assert saved.status_code == 303, saved.text
    # The scope changed: the full reconcile started at once and its page opens.
    assert "done=directory-rescoped" in saved.headers["location"]
    page = env.client.get(saved.headers["location"])
    assert "this full reconcile started at once" in page.text
    assert {u.directory_id for u in env.users()} == {"u1", "u2", "x1"}
    with container.unit_of_work() as s:
        policy = service.policy_of(s.scalars(select(DirectoryRegistration)).one())
    assert policy.all_users and policy.groups == []
    assert re.search(r'name="all_users" value="yes" checked', env.get("/settings").text)
