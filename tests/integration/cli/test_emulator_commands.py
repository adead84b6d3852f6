"""`switchboard emulator ...`: serve as a process, register an app while it runs, steer it,
restart it from the same state folder."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import msal
import pytest
import requests
from typer.testing import CliRunner

from switchboard.cli.main import app
from switchboard.connection import app_certificates


def _serve(state: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "switchboard"),
            "emulator",
            "serve",
            "--state-dir",
            str(state),
            "--port",
            "0",
            "--users",
            "25",
            "--groups",
            "3",
            "--seed",
            "5",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not (state / "server.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            output = f"exit {proc.returncode}: " + (
                proc.stderr.read().decode() if proc.stderr else ""
            )
            _stop(proc)
            raise AssertionError(output)
        time.sleep(0.05)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    finally:
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "emu"


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["emulator", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_serve_add_app_steer_and_restart(state: Path, tmp_path: Path) -> None:
    proc = _serve(state)
    try:
        info = json.loads((state / "server.json").read_text())
        run("new-cert", "--out-dir", str(tmp_path / "cert"))
        client_id = str(uuid.uuid4())
        out = run(
            "add-app",
            "--state-dir",
            str(state),
            "--client-id",
            client_id,
            "--certificate",
            str(tmp_path / "cert" / "app-cert.pem"),
            "--roles",
            "User.Read.All,GroupMember.Read.All",
        )
        assert "registered" in out
        # The thumbprint as the portal (and the Entra admin center) shows it, character for
        # character.
        portal = app_certificates.info((tmp_path / "cert" / "app-cert.pem").read_text())
        assert f"certificate thumbprints: {portal.thumbprint_sha1}\n" in out
        assert "certificate x5t: " in out
        session = requests.Session()
        session.verify = str(state / "ca.pem")
        session.trust_env = False
        msal_app = msal.ConfidentialClientApplication(
            client_id,
            authority=f"{info['url']}/{info['tenant_id']}",
            client_credential={
                "private_key": (tmp_path / "cert" / "app-key.pem").read_text(),
                "public_certificate": (tmp_path / "cert" / "app-cert.pem").read_text(),
            },
            instance_discovery=False,
            http_client=session,
        )
        token = msal_app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
        session.close()
        assert "access_token" in token, token
        import ssl

        ctx = ssl.create_default_context(cafile=str(state / "ca.pem"))
        with httpx.Client(
            base_url=f"{info['url']}/v1.0",
            verify=ctx,
            headers={"Authorization": f"Bearer {token['access_token']}"},
        ) as graph:
            assert len(graph.get("/users").json()["value"]) == 25

        run("faults", "--state-dir", str(state), "--latency-ms", "5")
        status = json.loads(run("status", "--state-dir", str(state), "--json"))
        assert status["faults"]["latency_ms"] == 5
        assert client_id in status["apps"]
        assert "clock now" in run("advance-clock", "--state-dir", str(state), "--days", "1")
        run("churn", "--state-dir", str(state), "--count", "5", "--seed", "2")
        run("reset", "--state-dir", str(state), "--users", "12", "--groups", "2")
        run("churn", "--state-dir", str(state), "--count", "3", "--seed", "9")
        before = json.loads(run("status", "--state-dir", str(state), "--json"))
        bad = CliRunner().invoke(
            app, ["emulator", "faults", "--state-dir", str(state), "--error-rate", "3"]
        )
        assert bad.exit_code == 2
        assert "error_rate" in bad.output
    finally:
        _stop(proc)

    proc = _serve(state)
    try:
        after = json.loads(run("status", "--state-dir", str(state), "--json"))
        assert after["tenant_id"] == before["tenant_id"]
        assert (after["users"], after["deleted_users"], after["groups"], after["version"]) == (
            before["users"],
            before["deleted_users"],
            before["groups"],
            before["version"],
        )
        assert after["clock_offset_seconds"] >= 86400
        assert after["faults"]["latency_ms"] == 5
    finally:
        _stop(proc)


def test_commands_explain_when_no_server_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["emulator", "status", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no emulator is running" in result.output


def test_add_app_validates_its_options(tmp_path: Path) -> None:
    run("new-cert", "--out-dir", str(tmp_path))
    bad_roles = CliRunner().invoke(
        app,
        [
            "emulator",
            "add-app",
            "--state-dir",
            str(tmp_path),
            "--client-id",
            str(uuid.uuid4()),
            "--certificate",
            str(tmp_path / "app-cert.pem"),
            "--roles",
            "Mail.Send",
        ],
    )
    assert bad_roles.exit_code == 2
    assert "roles" in bad_roles.output
    bad_id = CliRunner().invoke(
        app,
        [
            "emulator",
            "add-app",
            "--state-dir",
            str(tmp_path),
            "--client-id",
            "not-a-guid",
            "--certificate",
            str(tmp_path / "app-cert.pem"),
        ],
    )
    assert bad_id.exit_code == 2
    assert "client-id" in bad_id.output
