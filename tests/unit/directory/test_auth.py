"""Token failures become admin-actionable errors; one cached msal app per registration."""

from __future__ import annotations

import base64
import dataclasses
import json
import ssl
from contextlib import closing

import pytest

from switchboard.directory.auth import (
    GraphCredentials,
    TokenCache,
    auth_error_from_result,
    token_roles,
)
from switchboard.directory.errors import GraphAuthError, TransientGraphError
from switchboard.emulator.keys_and_certificates import self_signed_certificate


def creds(account: int = 1, key_cert: tuple[bytes, bytes] | None = None) -> GraphCredentials:
    key, cert = key_cert or self_signed_certificate("unit")
    return GraphCredentials(
        account_id=account,
        tenant_id="11111111-2222-3333-4444-555555555555",
        client_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        private_key_pem=key.decode(),
        certificate_pem=cert.decode(),
    )


def test_certificate_not_uploaded_names_the_fix() -> None:
    err = auth_error_from_result(
        {
            "error": "invalid_client",
            "error_description": "AADSTS700027: Client assertion contains an invalid signature."
            "\r\nTrace ID: t",
            "error_codes": [700027],
            "correlation_id": "corr-1",
        },
        creds(),
    )
    assert isinstance(err, GraphAuthError)
    assert err.code == "AADSTS700027" and err.request_id == "corr-1"
    assert "certificate is not uploaded to the app registration" in err.message
    assert "Certificates & secrets" in err.message


def test_unknown_app_and_tenant_and_fallback() -> None:
    c = creds()
    app = auth_error_from_result({"error": "unauthorized_client", "error_codes": [700016]}, c)
    assert c.client_id in str(app) and "AADSTS700016" in str(app)
    tenant = auth_error_from_result(
        {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant 'x' not found."}, c
    )
    assert isinstance(tenant, GraphAuthError) and tenant.code == "AADSTS90002"
    other = auth_error_from_result(
        {"error": "invalid_request", "error_description": "AADSTS12345: Odd.\r\nTrace"}, c
    )
    assert isinstance(other, GraphAuthError)
    assert other.message == "Entra ID refused the token request: AADSTS12345: Odd."
    busy = auth_error_from_result({"error": "temporarily_unavailable"}, c)
    assert isinstance(busy, TransientGraphError)


def test_token_roles_reads_the_claim() -> None:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    token = f"{part({'alg': 'RS256'})}.{part({'roles': ['User.Read.All', 'X']})}.sig"
    assert token_roles(token) == {"User.Read.All", "X"}
    assert token_roles(f"{part({})}.{part({'roles': 'nope'})}.s") == set()
    assert token_roles("opaque") == set()


def test_one_provider_per_account_and_certificate() -> None:
    pair = self_signed_certificate("unit")
    a = creds(41, pair)
    tokens = TokenCache()
    try:
        assert tokens.provider(a) is tokens.provider(creds(41, pair))
        rotated = creds(41)
        assert tokens.provider(rotated) is not tokens.provider(a)  # both work during rotation
        assert tokens.provider(creds(42, pair)) is not tokens.provider(a)
        with closing(TokenCache()) as other:
            assert other.provider(a) is not tokens.provider(a)  # nothing shared between caches
        assert a.scope == "https://graph.microsoft.com/.default"
        assert a.authority.endswith("/11111111-2222-3333-4444-555555555555")
        assert len(a.thumbprint_sha256) == 64
    finally:
        tokens.close()


def test_a_closed_cache_makes_no_provider() -> None:
    tokens = TokenCache()
    tokens.close()
    with pytest.raises(RuntimeError, match="shutting down"):
        tokens.provider(creds(41, self_signed_certificate("unit")))


def test_runs_share_one_tls_context_per_ca_bundle() -> None:
    public = creds(1)
    assert public.ssl_context() is creds(2).ssl_context()  # public CAs: loaded once
    assert public.ssl_context().verify_mode == ssl.CERT_REQUIRED
    assert public.ssl_context().check_hostname
    _key, ca = self_signed_certificate("a private CA")
    private = dataclasses.replace(public, ca_bundle_pem=ca.decode())
    assert private.ssl_context() is dataclasses.replace(private, account_id=2).ssl_context()
    assert private.ssl_context() is not public.ssl_context()
    assert private.ssl_context().verify_mode == ssl.CERT_REQUIRED
    assert private.ssl_context().cert_store_stats()["x509"] == 1  # only the bundle is trusted
