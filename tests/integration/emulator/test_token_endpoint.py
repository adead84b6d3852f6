"""The token endpoint: msal with a certificate works unchanged; bad assertions are refused."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import httpx
import jwt
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from switchboard.emulator.keys_and_certificates import self_signed_certificate
from switchboard.emulator.server import RunningEmulator
from tests.emulator_control import ca_context

from .conftest import (
    AppCredential,
    graph_client,
    msal_app,
    new_credential,
    register,
    session_for,
)

SCOPE = "https://graph.microsoft.com/.default"


def _x5t(cert_pem: str, algo: hashes.HashAlgorithm) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return base64.urlsafe_b64encode(cert.fingerprint(algo)).rstrip(b"=").decode()


def assertion(
    server: RunningEmulator,
    cred: AppCredential,
    *,
    key_pem: str | None = None,
    aud: str | None = None,
    nbf: float | None = None,
    exp: float | None = None,
    jti: str | None = None,
    iss: str | None = None,
    alg: str = "RS256",
) -> str:
    now = time.time()
    claims: dict[str, Any] = {
        "aud": aud or f"{server.authority}/oauth2/v2.0/token",
        "iss": iss or cred.client_id,
        "sub": iss or cred.client_id,
        "jti": jti or str(uuid.uuid4()),
        "nbf": int(nbf if nbf is not None else now),
        "exp": int(exp if exp is not None else now + 600),
        "iat": int(now),
    }
    if alg == "RS256":
        headers = {"x5t": _x5t(cred.cert_pem, hashes.SHA1())}  # noqa: S303 - x5t is SHA-1
    else:
        headers = {"x5t#S256": _x5t(cred.cert_pem, hashes.SHA256())}
    return jwt.encode(claims, key_pem or cred.key_pem, algorithm=alg, headers=headers)


def post_token(
    server: RunningEmulator, cred: AppCredential, client_assertion: str
) -> httpx.Response:
    return httpx.post(
        f"{server.authority}/oauth2/v2.0/token",
        data={
            "client_id": cred.client_id,
            "scope": SCOPE,
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion,
        },
        verify=ca_context(server),
    )


@pytest.fixture
def cred(emu: RunningEmulator) -> AppCredential:
    c = new_credential()
    register(emu, c, "User.Read.All,GroupMember.Read.All")
    return c


def test_discovery_document_names_the_token_endpoint(emu: RunningEmulator) -> None:
    resp = session_for(emu).get(f"{emu.authority}/v2.0/.well-known/openid-configuration")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["token_endpoint"] == f"{emu.authority}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{emu.url}/{emu.tenant_id}/v2.0"
    keys = session_for(emu).get(doc["jwks_uri"]).json()["keys"]
    assert keys[0]["kty"] == "RSA"


@pytest.mark.parametrize("sha256", [False, True], ids=["RS256-x5t", "PS256-x5t#S256"])
def test_msal_with_a_certificate_gets_a_token_with_the_granted_roles(
    emu: RunningEmulator, cred: AppCredential, sha256: bool
) -> None:
    result = msal_app(emu, cred, sha256=sha256).acquire_token_for_client(scopes=[SCOPE])
    assert result.get("token_type") == "Bearer", result
    assert 3000 < result["expires_in"] <= 3599
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["User.Read.All", "GroupMember.Read.All"]
    assert claims["tid"] == emu.tenant_id
    assert claims["appid"] == cred.client_id
    assert claims["aud"] == "https://graph.microsoft.com"
    with graph_client(emu, result["access_token"]) as graph:
        assert graph.get("/users", params={"$top": "1"}).status_code == 200


def test_msal_reuses_its_cached_token(emu: RunningEmulator, cred: AppCredential) -> None:
    app = msal_app(emu, cred)
    first = app.acquire_token_for_client(scopes=[SCOPE])
    second = app.acquire_token_for_client(scopes=[SCOPE])
    assert second["access_token"] == first["access_token"]
    assert second.get("token_source") == "cache"


def test_a_hand_made_ps256_assertion_is_accepted(emu: RunningEmulator, cred: AppCredential) -> None:
    resp = post_token(emu, cred, assertion(emu, cred, alg="PS256"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "Bearer"


def test_the_tenant_domain_also_names_the_tenant(emu: RunningEmulator, cred: AppCredential) -> None:
    domain = emu.emulator.directory.domain
    aud = f"{emu.url}/{domain}/oauth2/v2.0/token"
    resp = httpx.post(
        aud,
        data={
            "client_id": cred.client_id,
            "scope": SCOPE,
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion(emu, cred, aud=aud),
        },
        verify=ca_context(emu),
    )
    assert resp.status_code == 200, resp.text


def _aadsts(resp: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}:")
    assert body["trace_id"] and body["correlation_id"]
    return body


def test_a_bad_signature_is_refused(emu: RunningEmulator, cred: AppCredential) -> None:
    other_key, _ = self_signed_certificate("intruder")
    resp = post_token(emu, cred, assertion(emu, cred, key_pem=other_key.decode()))
    body = _aadsts(resp, 401, 700027)
    assert body["error"] == "invalid_client"
    assert "signature" in body["error_description"]


def test_a_certificate_not_registered_for_the_app_is_refused(
    emu: RunningEmulator, cred: AppCredential
) -> None:
    stranger = new_credential()
    stranger.client_id = cred.client_id
    body = _aadsts(post_token(emu, cred, assertion(emu, stranger)), 401, 700027)
    assert "key was not found" in body["error_description"]


def test_a_wrong_audience_is_refused(emu: RunningEmulator, cred: AppCredential) -> None:
    wrong = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    _aadsts(post_token(emu, cred, assertion(emu, cred, aud=wrong)), 401, 700212)


def test_an_expired_assertion_is_refused(emu: RunningEmulator, cred: AppCredential) -> None:
    past = time.time() - 3600
    body = _aadsts(
        post_token(emu, cred, assertion(emu, cred, nbf=past, exp=past + 600)), 401, 700024
    )
    assert "valid time range" in body["error_description"]


def test_an_assertion_from_the_future_is_refused(emu: RunningEmulator, cred: AppCredential) -> None:
    later = time.time() + 3600
    _aadsts(post_token(emu, cred, assertion(emu, cred, nbf=later, exp=later + 600)), 401, 700024)


def test_small_clock_skew_is_tolerated(emu: RunningEmulator, cred: AppCredential) -> None:
    soon = time.time() + 60  # client clock a minute ahead
    resp = post_token(emu, cred, assertion(emu, cred, nbf=soon, exp=soon + 600))
    assert resp.status_code == 200, resp.text


def test_a_replayed_jti_is_refused(emu: RunningEmulator, cred: AppCredential) -> None:
    signed = assertion(emu, cred)
    assert post_token(emu, cred, signed).status_code == 200
    _aadsts(post_token(emu, cred, signed), 401, 700023)


def test_iss_and_sub_must_be_the_client_id(emu: RunningEmulator, cred: AppCredential) -> None:
    _aadsts(post_token(emu, cred, assertion(emu, cred, iss=str(uuid.uuid4()))), 401, 700021)


def test_an_unknown_client_is_refused(emu: RunningEmulator) -> None:
    unknown = new_credential()
    body = _aadsts(post_token(emu, unknown, assertion(emu, unknown)), 400, 700016)
    assert body["error"] == "unauthorized_client"


def test_scope_must_be_a_default_scope(emu: RunningEmulator, cred: AppCredential) -> None:
    result = msal_app(emu, cred).acquire_token_for_client(scopes=["User.Read"])
    assert result["error"] == "invalid_scope"
    assert 1002012 in result["error_codes"]


def test_an_unknown_tenant_is_refused(emu: RunningEmulator) -> None:
    resp = httpx.get(
        f"{emu.url}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration",
        verify=ca_context(emu),
    )
    _aadsts(resp, 400, 90002)


def test_graph_refuses_missing_and_forged_tokens(emu: RunningEmulator) -> None:
    with graph_client(emu, "not-a-token") as graph:
        resp = graph.get("/users")
    assert resp.status_code == 401
    err = resp.json()["error"]
    assert err["code"] == "InvalidAuthenticationToken"
    assert err["innerError"]["request-id"] == resp.headers["request-id"]
    forged_key, _ = self_signed_certificate("forger")
    forged = jwt.encode(
        {
            "aud": "https://graph.microsoft.com",
            "tid": emu.tenant_id,
            "appid": "x",
            "roles": ["Directory.ReadWrite.All"],
            "exp": int(time.time()) + 600,
        },
        forged_key.decode(),
        algorithm="RS256",
    )
    with graph_client(emu, forged) as graph:
        assert graph.get("/users").status_code == 401


def test_roles_changed_by_add_app_apply_to_the_next_token(
    emu: RunningEmulator, cred: AppCredential
) -> None:
    register(emu, cred, "Group.Read.All")
    result = msal_app(emu, cred).acquire_token_for_client(scopes=[SCOPE])
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["Group.Read.All"]


def test_token_endpoint_faults_reach_msal(emu: RunningEmulator, cred: AppCredential) -> None:
    emu.call(lambda: emu.emulator.faults.update({"error_rate": 1.0, "error_kinds": ["503"]}))
    with pytest.raises(msal.exceptions.MsalServiceError, match="503"):
        msal_app(emu, cred).acquire_token_for_client(scopes=[SCOPE])
    emu.call(lambda: emu.emulator.faults.update({"error_rate": 0.0}))
    assert "access_token" in msal_app(emu, cred).acquire_token_for_client(scopes=[SCOPE])
