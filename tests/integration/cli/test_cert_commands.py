"""`switchboard certs ...` and the TLS options of `serve`, through Typer's runner."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from switchboard.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    # Rich wraps error messages to the terminal width; compare them as one line.
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_init_ca_then_issue_client_and_server(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    code, out, _ = invoke("certs", "init-ca", str(pki))
    assert code == 0, out
    assert f"CA certificate: {pki / 'ca.crt'}" in out
    assert stat.S_IMODE((pki / "ca.key").stat().st_mode) == 0o600

    code, out, _ = invoke("certs", "issue-client", str(pki), "crm-sync", "--days", "30")
    assert code == 0, out
    cert = x509.load_pem_x509_certificate((pki / "clients" / "crm-sync.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "crm-sync"
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30
    assert "SHA-256 fingerprint" in out

    code, out, _ = invoke("certs", "issue-server", str(pki), "--host", "api.example.com")
    assert code == 0, out
    assert f"--client-ca {pki / 'ca.crt'}" in out
    server = x509.load_pem_x509_certificate((pki / "server.crt").read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.example.com"]


def test_issue_client_in_a_directory_without_a_ca_fails_clearly(tmp_path: Path) -> None:
    code, _, err = invoke("certs", "issue-client", str(tmp_path), "alice")
    assert code == 2
    assert "holds no CA" in err and "certs init-ca" in err
    assert not (tmp_path / "clients").exists()


def test_bad_client_name_and_days_are_refused(tmp_path: Path) -> None:
    assert invoke("certs", "init-ca", str(tmp_path))[0] == 0
    code, _, err = invoke("certs", "issue-client", str(tmp_path), "../etc/passwd")
    assert code == 2
    assert "client name" in err
    code, _, err = invoke("certs", "issue-client", str(tmp_path), "alice", "--days", "0")
    assert code == 2
    assert "--days" in err
    assert not (tmp_path / "clients" / "alice.crt").exists()


def test_init_ca_twice_keeps_the_first_ca(tmp_path: Path) -> None:
    assert invoke("certs", "init-ca", str(tmp_path))[0] == 0
    before = (tmp_path / "ca.key").read_bytes()
    code, _, err = invoke("certs", "init-ca", str(tmp_path))
    assert code == 2
    assert "already holds a CA" in err
    assert (tmp_path / "ca.key").read_bytes() == before


def test_serve_with_only_some_tls_options_is_a_usage_error(tmp_path: Path) -> None:
    assert invoke("certs", "init-ca", str(tmp_path))[0] == 0
    assert invoke("certs", "issue-server", str(tmp_path))[0] == 0
    code, _, err = invoke(
        "serve",
        "--tls-cert",
        str(tmp_path / "server.crt"),
        "--tls-key",
        str(tmp_path / "server.key"),
    )
    assert code == 2
    assert "go together" in err and "missing: --client-ca" in err


def test_serve_with_a_key_that_does_not_match_fails_before_listening(tmp_path: Path) -> None:
    assert invoke("certs", "init-ca", str(tmp_path))[0] == 0
    assert invoke("certs", "issue-server", str(tmp_path))[0] == 0
    code, _, err = invoke(
        "serve",
        "--tls-cert",
        str(tmp_path / "server.crt"),
        "--tls-key",
        str(tmp_path / "ca.key"),
        "--client-ca",
        str(tmp_path / "ca.crt"),
    )
    assert code == 2
    assert "cannot use --tls-cert" in err
