"""Run pages: live progress as server-sent events, failures grouped by cause with their fix,
held runs with who decided them; on SQLite and PostgreSQL."""

from __future__ import annotations

import html as html_text
import json
import re
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import SyncRun
from switchboard.sync.engine import SyncEngine
from tests import factories
from tests.integration.web.ui.directory.test_directory_tab import (  # noqa: F401 - adapters: the same fakes
    BASE,
    SALES,
    Env,
    adapters,
    add_users,
    connect_account,
    make_env,
    run_path,
)


@pytest.fixture
def env(app_client: TestClient, container: Container) -> Env:
    return make_env(app_client, container)


def parse(body: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def set_progress(c: Container, phase: str, **counts: int) -> None:
    with c.unit_of_work() as s:
        s.execute(update(SyncRun).values(phase=phase, progress=counts))


def text(html: str) -> str:
    return re.sub(r"\s+", " ", html_text.unescape(re.sub(r"<[^>]+>", "", html)))


def test_the_events_follow_the_run_in_order_and_end_when_it_finishes(env: Env) -> None:
    env.jobs.hold = True
    add_users(env, "ada", "alan")
    path = run_path(env.post("/reconcile"))
    answer: dict[str, Any] = {}

    def listen() -> None:
        # The test client hands the body over once the stream has ended.
        answer["response"] = env.client.get(path + "/events")

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(1.2)  # the first poll: still starting
    set_progress(env.container, "reading", read=1)
    time.sleep(1.2)
    set_progress(env.container, "applying", read=2, planned=2, applied=1)
    time.sleep(1.2)
    env.jobs.held[0]()  # the run carries on and finishes
    listener.join(timeout=30)
    assert not listener.is_alive(), "the stream did not end when the run finished"
    response = answer["response"]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    got = parse(response.text)
    assert [name for name, _ in got] == ["progress"] * (len(got) - 1) + ["finished"]
    phases = [data["phase"] for _, data in got]
    assert phases[:3] == [None, "reading", "applying"] and phases[-1] == "finished"
    assert got[1][1]["read"] == 1 and got[2][1]["applied"] == 1
    assert got[-1][1] | {"phase_words": ""} == {
        "status": "succeeded",
        "phase": "finished",
        "phase_words": "",
        "read": 2,
        "planned": 2,
        "applied": 2,
        "errors": 0,
    }
    # A finished run's stream: its final event at once.
    again = parse(env.client.get(path + "/events").text)
    assert [name for name, _ in again] == ["finished"]


def test_another_accounts_run_and_a_missing_run_are_not_found(
    env: Env, container: Container
) -> None:
    with container.unit_of_work() as s:
        factories.tenant(s, "globex", area="415")
    SyncEngine(container, container.directory_factory()).prepare(
        factories.OPERATOR, "acme", kind="full", trigger="manual"
    ).execute()
    mine = env.client.get(f"{BASE}/runs/1/events")
    assert mine.status_code == 200
    other = env.client.get("/accounts/globex/directory/runs/1/events")
    assert other.status_code == 404
    assert env.client.get(f"{BASE}/runs/99/events").status_code == 404
    assert env.client.get(f"{BASE}/runs/0/events").status_code == 404


def test_signed_out_the_stream_sends_to_the_login_page(env: Env) -> None:
    run_path(env.post("/reconcile"))
    env.client.cookies.clear()
    answer = env.client.get(f"{BASE}/runs/1/events", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_failures_are_grouped_by_cause_with_the_fix_and_the_users(env: Env) -> None:
    add_users(env, "ada", "alan")
    add_users(env, "rem1", "rem2", "rem3", officeLocation="Remote")
    add_users(env, "nosurname", surname=None)
    page = env.client.get(run_path(env.post("/reconcile"))).text
    groups = page.split('id="error-groups"', 1)[1].split("</section>", 1)[0]
    shown = text(groups)
    assert "3 users: office 'Remote' matches no location" in shown
    assert "Fix: Add a location rule for 'Remote' on the Mapping page;" in shown
    assert 'href="/accounts/acme/directory/mapping">Mapping page</a>' in groups
    assert "or create a location named 'Remote' on the Locations page." in shown
    assert "1 user: last name is empty in Entra ID" in shown
    assert "Fix: Fill in the user's last name in Entra ID; or map the last name" in shown
    assert groups.index("Remote") < groups.index("last name is empty")  # largest first
    users = re.findall(r"<li>([a-z0-9]+)@contoso\.example", groups)
    assert sorted(users) == ["nosurname", "rem1", "rem2", "rem3"]
    assert "<details>" in groups and "Show the users" in groups


def test_run_pages_say_field_names_in_words(env: Env) -> None:
    add_users(env, "ada")
    run_path(env.post("/reconcile"))
    env.directory.change("ada", givenName="Augusta", surname="Byron")
    page = env.client.get(run_path(env.post("/reconcile"))).text
    items = page.split('id="items"', 1)[1]
    assert "first name, last name" in items
    for internal in ("first_name", "last_name", "location_id", "unmapped_location"):
        assert internal not in page


def test_a_held_run_is_counted_once_and_shows_who_decided(env: Env) -> None:
    uids = [f"u{i}" for i in range(10)]
    add_users(env, *uids)
    run_path(env.post("/reconcile"))
    for uid in uids[:8]:
        env.directory.remove_member(SALES, uid)
    held = run_path(env.post("/reconcile"))
    page = env.client.get(held).text
    outcome = text(page.split('id="counts">', 1)[1].split("</dd>", 1)[0])
    assert "delete 8" in outcome and "held for approval" not in outcome and "pending" not in outcome
    assert "8 changes wait for approval" in text(page)
    listing = text(env.get("/runs").text)
    assert "delete 8" in listing and "pending" not in listing
    env.post(held.removeprefix(BASE) + "/reject")
    decided = text(env.client.get(held).text)
    assert re.search(
        r"Held changes ?rejected by account_admin@acme\.example on \d{4}-\d\d-\d\d \d\d:\d\d UTC",
        decided,
    ), decided
    with env.container.unit_of_work() as s:
        run = s.scalars(select(SyncRun).where(SyncRun.number == 2)).one()
        assert (run.decision, run.decided_by) == ("rejected", "account_admin@acme.example")
    api = env.client.get("/api/v1/accounts/acme/directory/runs/2")
    if api.status_code == 200:  # the API takes bearer tokens; a UI session may not reach it
        assert api.json()["decision"] == "rejected"


def test_an_unconnected_accounts_runs_are_still_its_own(
    app_client: TestClient, container: Container
) -> None:
    with container.unit_of_work() as s:
        factories.tenant(s)
    connect_account(container)
    assert app_client.get(f"{BASE}/runs/1/events", follow_redirects=False).status_code == 303
