"""Subscriptions and change notifications: handshake, delivery, retries, drops, lifecycle."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from switchboard.emulator.server import RunningEmulator
from tests.emulator_control import control

from .conftest import plain_user_ids


class Receiver:
    """A webhook endpoint as an application would run one, with switchable misbehaviour."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.validations: list[str] = []
        self.notifications: list[dict[str, Any]] = []
        self.lifecycle: list[dict[str, Any]] = []
        self.validate_correctly = True
        self.validation_type = "text/plain"
        self.failures_left = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if "validationToken" in query:
                    token = query["validationToken"][0]
                    receiver.validations.append(token)
                    body = (token if receiver.validate_correctly else "nope").encode()
                    self.send_response(200)
                    self.send_header("Content-Type", receiver.validation_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                with receiver.lock:
                    failing = receiver.failures_left > 0
                    if failing:
                        receiver.failures_left -= 1
                if failing:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                items = json.loads(raw)["value"]
                target = (
                    receiver.lifecycle
                    if self.path.startswith("/lifecycle")
                    else (receiver.notifications)
                )
                with receiver.lock:
                    target.extend(items)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def expiry(emu: RunningEmulator, minutes: float) -> str:
    now = emu.emulator.clock.now()
    return (now + timedelta(minutes=minutes)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def subscribe(
    client: httpx.Client, emu: RunningEmulator, receiver: Receiver, **overrides: Any
) -> httpx.Response:
    body = {
        "changeType": "updated,deleted",
        "notificationUrl": f"{receiver.url}/notify",
        "lifecycleNotificationUrl": f"{receiver.url}/lifecycle",
        "resource": "users",
        "expirationDateTime": expiry(emu, 3 * 24 * 60),
        "clientState": "s3cr3t-state",
        **overrides,
    }
    return client.post("/subscriptions", json=body)


def test_create_validates_both_endpoints_and_delivers_with_client_state(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client, receiver: Receiver
) -> None:
    resp = subscribe(reader, emu, receiver)
    assert resp.status_code == 201, resp.text
    sub = resp.json()
    assert sub["clientState"] == "s3cr3t-state"
    assert sub["changeType"] == "updated,deleted"
    assert len(receiver.validations) == 2  # notificationUrl and lifecycleNotificationUrl
    assert receiver.validations[0].startswith("Validation: ")

    uid = plain_user_ids(emu)[0]
    writer.patch(f"/users/{uid}", json={"jobTitle": "Dispatcher"})
    wait_for(lambda: len(receiver.notifications) >= 1)
    item = receiver.notifications[0]
    assert item["subscriptionId"] == sub["id"]
    assert item["clientState"] == "s3cr3t-state"
    assert item["changeType"] == "updated"
    assert item["tenantId"] == emu.tenant_id
    assert item["resourceData"]["id"] == uid
    assert item["resource"] == f"Users/{uid}"

    # Soft deletion arrives as "updated"; permanent deletion as "deleted".
    writer.delete(f"/users/{uid}")
    writer.delete(f"/directory/deletedItems/{uid}")
    wait_for(lambda: len(receiver.notifications) >= 3)
    assert [n["changeType"] for n in receiver.notifications[1:3]] == ["updated", "deleted"]


def test_a_failing_validation_refuses_the_subscription(
    emu: RunningEmulator, reader: httpx.Client, receiver: Receiver
) -> None:
    receiver.validate_correctly = False
    resp = subscribe(reader, emu, receiver)
    assert resp.status_code == 400
    assert "validation" in resp.json()["error"]["message"].lower()
    assert reader.get("/subscriptions").json()["value"] == []


def test_validation_must_answer_in_text_plain(
    emu: RunningEmulator, reader: httpx.Client, receiver: Receiver
) -> None:
    receiver.validation_type = "application/json"
    assert subscribe(reader, emu, receiver).status_code == 400


def test_unreachable_endpoint_fails_validation(emu: RunningEmulator, reader: httpx.Client) -> None:
    resp = reader.post(
        "/subscriptions",
        json={
            "changeType": "updated",
            "notificationUrl": "http://127.0.0.1:9/none",
            "resource": "users",
            "expirationDateTime": expiry(emu, 60),
        },
    )
    assert resp.status_code == 400


@pytest.mark.parametrize(
    ("override", "word"),
    [
        ({"changeType": "created,updated"}, "created"),
        ({"expirationDateTime": "2099-01-01T00:00:00Z"}, "41760"),
        ({"notificationUrl": "http://example.com/hook"}, "HTTPS"),
        ({"resource": "me/messages"}, "resource"),
        ({"clientState": "x" * 256}, "clientState"),
        ({"includeResourceData": True}, "includeResourceData"),
    ],
)
def test_subscription_rules(
    emu: RunningEmulator,
    reader: httpx.Client,
    receiver: Receiver,
    override: dict[str, Any],
    word: str,
) -> None:
    resp = subscribe(reader, emu, receiver, **override)
    assert resp.status_code == 400
    assert word in resp.json()["error"]["message"]


def test_subscriptions_need_read_permission_on_the_resource(
    emu: RunningEmulator, receiver: Receiver
) -> None:
    from .conftest import graph_client, token_for

    with graph_client(emu, token_for(emu, "GroupMember.Read.All")) as groups_only:
        assert subscribe(groups_only, emu, receiver).status_code == 403
        assert subscribe(groups_only, emu, receiver, resource="groups").status_code == 201


def test_renew_and_delete(emu: RunningEmulator, reader: httpx.Client, receiver: Receiver) -> None:
    sub = subscribe(reader, emu, receiver).json()
    later = expiry(emu, 20 * 24 * 60)
    renewed = reader.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": later})
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] == later
    too_far = reader.patch(
        f"/subscriptions/{sub['id']}", json={"expirationDateTime": expiry(emu, 41_761)}
    )
    assert too_far.status_code == 400
    assert reader.delete(f"/subscriptions/{sub['id']}").status_code == 204
    assert reader.get(f"/subscriptions/{sub['id']}").status_code == 404


def test_failed_deliveries_are_retried(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client, receiver: Receiver
) -> None:
    subscribe(reader, emu, receiver)
    receiver.failures_left = 2
    uid = plain_user_ids(emu)[1]
    writer.patch(f"/users/{uid}", json={"jobTitle": "Retried"})
    wait_for(lambda: len(receiver.notifications) == 1, timeout=15)
    assert receiver.notifications[0]["resourceData"]["id"] == uid
    with control(emu) as ctl:
        stats = ctl.get("/notifications").json()["endpoints"][f"{receiver.url}/notify"]
    assert stats["failed"] == 2 and stats["delivered"] == 1


def test_deliveries_failing_for_four_hours_are_dropped(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client, receiver: Receiver
) -> None:
    subscribe(reader, emu, receiver)
    receiver.failures_left = 10_000
    writer.patch(f"/users/{plain_user_ids(emu)[2]}", json={"jobTitle": "Lost"})
    with control(emu) as ctl:
        wait_for(
            lambda: (
                ctl.get("/notifications")
                .json()["endpoints"]
                .get(f"{receiver.url}/notify", {})
                .get("failed", 0)
                >= 1
            )
        )
        ctl.post("/clock/advance", json={"seconds": 4 * 3600 + 60})
        wait_for(
            lambda: (
                ctl.get("/notifications").json()["endpoints"][f"{receiver.url}/notify"]["dropped"]
                >= 1
            ),
            timeout=15,
        )
        assert ctl.get("/notifications").json()["pending"] == 0
    assert receiver.notifications == []


def test_drop_fault_loses_notifications(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client, receiver: Receiver
) -> None:
    subscribe(reader, emu, receiver)
    with control(emu) as ctl:
        ctl.patch("/faults", json={"notification_drop_rate": 1.0})
        writer.patch(f"/users/{plain_user_ids(emu)[0]}", json={"jobTitle": "Dropped"})
        wait_for(
            lambda: (
                ctl.get("/notifications")
                .json()["endpoints"]
                .get(f"{receiver.url}/notify", {})
                .get("dropped", 0)
                >= 1
            )
        )
    assert receiver.notifications == []


def test_reauthorization_required_and_reauthorize(
    emu: RunningEmulator, reader: httpx.Client, receiver: Receiver
) -> None:
    sub = subscribe(reader, emu, receiver).json()
    with control(emu) as ctl:
        assert ctl.post(f"/subscriptions/{sub['id']}/reauthorization-required").status_code == 202
    wait_for(lambda: len(receiver.lifecycle) == 1)
    event = receiver.lifecycle[0]
    assert event["lifecycleEvent"] == "reauthorizationRequired"
    assert event["subscriptionId"] == sub["id"]
    assert event["clientState"] == "s3cr3t-state"
    assert reader.post(f"/subscriptions/{sub['id']}/reauthorize").status_code == 204


def test_reauthorization_is_requested_before_expiry(
    emu: RunningEmulator, reader: httpx.Client, receiver: Receiver
) -> None:
    sub = subscribe(reader, emu, receiver, expirationDateTime=expiry(emu, 30)).json()
    wait_for(lambda: any(e["subscriptionId"] == sub["id"] for e in receiver.lifecycle))


def test_group_membership_changes_notify_group_subscribers(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client, receiver: Receiver
) -> None:
    groups = {g["displayName"]: g["id"] for g in reader.get("/groups").json()["value"]}
    ops = groups["Operations"]
    assert subscribe(reader, emu, receiver, resource=f"groups/{ops}/members").status_code == 201
    member = reader.get(f"/groups/{ops}/members").json()["value"][0]["id"]
    writer.delete(f"/groups/{ops}/members/{member}/$ref")
    wait_for(lambda: len(receiver.notifications) >= 1)
    assert receiver.notifications[0]["changeType"] == "deleted"
    assert receiver.notifications[0]["resourceData"]["id"] == ops


def test_duplicate_fault_delivers_a_change_twice(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client, receiver: Receiver
) -> None:
    subscribe(reader, emu, receiver)
    with control(emu) as ctl:
        ctl.patch("/faults", json={"notification_duplicate_rate": 1.0})
    uid = plain_user_ids(emu)[0]
    writer.patch(f"/users/{uid}", json={"jobTitle": "Twice"})
    wait_for(lambda: len(receiver.notifications) >= 2)
    assert {n["resourceData"]["id"] for n in receiver.notifications} == {uid}


def test_one_post_carries_items_of_several_subscriptions(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client, receiver: Receiver
) -> None:
    first = subscribe(reader, emu, receiver).json()["id"]
    second = subscribe(reader, emu, receiver, changeType="updated").json()["id"]
    writer.patch(f"/users/{plain_user_ids(emu)[0]}", json={"jobTitle": "Shared"})
    wait_for(lambda: len(receiver.notifications) >= 2)
    assert {n["subscriptionId"] for n in receiver.notifications} == {first, second}


def test_at_most_100_subscriptions_per_app(
    emu: RunningEmulator, reader: httpx.Client, receiver: Receiver
) -> None:
    for _ in range(100):
        assert subscribe(reader, emu, receiver, lifecycleNotificationUrl=None).status_code == 201
    refused = subscribe(reader, emu, receiver, lifecycleNotificationUrl=None)
    assert refused.status_code == 403
    assert "100" in refused.json()["error"]["message"]


def test_delay_fault_holds_notifications_back(
    emu: RunningEmulator, reader: httpx.Client, writer: httpx.Client, receiver: Receiver
) -> None:
    subscribe(reader, emu, receiver)
    with control(emu) as ctl:
        ctl.patch("/faults", json={"notification_delay_ms": 700})
    changed = time.monotonic()
    writer.patch(f"/users/{plain_user_ids(emu)[0]}", json={"jobTitle": "Late"})
    wait_for(lambda: len(receiver.notifications) == 1)
    assert time.monotonic() - changed >= 0.7


def test_subscriptions_are_saved_to_the_state_folder(
    emu: RunningEmulator, reader: httpx.Client, receiver: Receiver
) -> None:
    import sqlite3

    sub = subscribe(reader, emu, receiver).json()
    db = emu.emulator.state_dir / "directory.sqlite3"

    def saved() -> bool:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("select id from subscriptions").fetchall()
        return (sub["id"],) in rows

    wait_for(saved, timeout=5)


def test_https_endpoints_need_a_trusted_certificate(
    emu: RunningEmulator, reader: httpx.Client, tmp_path: Path
) -> None:
    from switchboard.emulator.keys_and_certificates import ensure_server_identity

    identity = ensure_server_identity(tmp_path, ["127.0.0.1"])
    secure = Receiver(tls=(identity.cert_path, identity.key_path))
    previous = emu.emulator.notifier.verify
    try:
        refused = subscribe(reader, emu, secure, lifecycleNotificationUrl=None)
        assert refused.status_code == 400  # the product's CA is not trusted yet
        emu.call(lambda: emu.emulator.trust_notification_ca(identity.ca_path))
        assert subscribe(reader, emu, secure, lifecycleNotificationUrl=None).status_code == 201
    finally:
        emu.emulator.notifier.verify = previous
        secure.close()
