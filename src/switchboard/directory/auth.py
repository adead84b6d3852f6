"""App-only tokens for Graph: msal with the registration's certificate, one app per registration.

msal caches the access token and renews it before it expires, so the application object must
live as long as the process: a ``TokenCache`` keeps one per (account, certificate).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from switchboard.directory.errors import GraphAuthError, TransientGraphError
from switchboard.directory.waits import parse_retry_after
from switchboard.metrics import GRAPH_REQUESTS, GRAPH_THROTTLED


@dataclass(frozen=True)
class Cloud:
    authority_url: str
    graph_url: str


CLOUDS: dict[str, Cloud] = {
    "global": Cloud("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "usgov": Cloud("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "china": Cloud("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}
# Authorities msal knows; any other (a custom cloud, the emulator) skips instance discovery,
# which would otherwise ask login.microsoftonline.com about a host it has never heard of.
KNOWN_AUTHORITY_HOSTS = frozenset(urlsplit(c.authority_url).hostname for c in CLOUDS.values())


@dataclass(frozen=True)
class GraphCredentials:
    """What a registration gives the Graph client: where, who, and the certificate to prove it."""

    account_id: int | str
    tenant_id: str
    client_id: str
    private_key_pem: str
    certificate_pem: str
    authority_url: str = CLOUDS["global"].authority_url
    graph_url: str = CLOUDS["global"].graph_url
    ca_bundle_pem: str | None = None

    @property
    def authority(self) -> str:
        return f"{self.authority_url.rstrip('/')}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        return f"{self.graph_url.rstrip('/')}/.default"

    @property
    def thumbprint_sha256(self) -> str:
        cert = x509.load_pem_x509_certificate(self.certificate_pem.encode())
        return cert.fingerprint(hashes.SHA256()).hex()

    def ssl_context(self) -> ssl.SSLContext:
        """TLS trust for Graph calls: the registration's CA bundle if it has one, else the
        public CAs httpx trusts. One shared context per bundle (see ``_trust``)."""
        return _trust(self.ca_bundle_pem or None)


def trust_context(ca_bundle_pem: str | None) -> ssl.SSLContext:
    """The shared TLS context for a CA bundle (None: the public CAs)."""
    return _trust(ca_bundle_pem or None)


@functools.lru_cache(maxsize=64)
def _trust(ca_bundle_pem: str | None) -> ssl.SSLContext:
    """Loading the public CA bundle takes tens of milliseconds, paid by every new client:
    once per sync run, a cost a just-in-time round should not carry. A context is never
    changed once made, and OpenSSL lets any number of connections and threads share it."""
    if ca_bundle_pem is None:
        return httpx.create_ssl_context(trust_env=False)
    return ssl.create_default_context(cadata=ca_bundle_pem)


class TokenProvider(Protocol):
    """Gives the bearer token for Graph; ``refresh`` drops a cached one the server refused."""

    def token(self, *, refresh: bool = False) -> str: ...


class StaticToken:
    """A fixed token (tests, scripts that already hold one)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def token(self, *, refresh: bool = False) -> str:
        return self.value


def token_roles(access_token: str) -> set[str]:
    """The application permissions (``roles`` claim) granted in an access token.

    Read without verifying the signature: the token came straight from the token endpoint, and
    this only tells the admin what is granted; Graph itself is the one enforcing it.
    """
    parts = access_token.split(".")
    if len(parts) != 3:
        return set()
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return set()
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return {str(r) for r in roles} if isinstance(roles, list) else set()


# AADSTS codes an admin can act on, with what to do about them.
_ADVICE: dict[int, str] = {
    700027: (
        "the certificate is not uploaded to the app registration (AADSTS700027), or it was "
        "replaced there: download Switchboard's certificate (directory certificate ACCOUNT) and "
        "upload it in the Entra admin center under App registrations > {app} > Certificates & "
        "secrets > Certificates"
    ),
    700016: (
        "application {app} is not found in tenant {tenant} (AADSTS700016): check the "
        "application (client) id, and that the app is registered in this tenant"
    ),
    90002: (
        "tenant {tenant} is not found (AADSTS90002): check the directory (tenant) id on the "
        "app registration's Overview page"
    ),
    900023: "tenant {tenant} is not a valid tenant id or domain (AADSTS900023)",
    700024: (
        "the token request was signed outside its valid time range (AADSTS700024): check that "
        "this server's clock is correct"
    ),
    7000112: (
        "application {app} is disabled (AADSTS7000112): enable it under Enterprise applications"
    ),
    500011: (
        "the Graph resource {scope} is not known in tenant {tenant} (AADSTS500011): check the "
        "Graph URL for this cloud"
    ),
    1002012: "the scope {scope} is not valid (AADSTS1002012): check the Graph URL",
    7000215: "the app registration expects a different credential (AADSTS7000215)",
    50027: "the signed token request was rejected as malformed (AADSTS50027)",
    700021: "the assertion's issuer does not match application {app} (AADSTS700021)",
}
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
_AADSTS = re.compile(r"AADSTS(\d+)")


def auth_error_from_result(result: dict[str, Any], creds: GraphCredentials) -> Exception:
    """Turn an msal error result into GraphAuthError (or TransientGraphError) for an admin."""
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "")
    codes = result.get("error_codes") or []
    code = int(codes[0]) if codes and str(codes[0]).isdigit() else None
    if code is None:
        found = _AADSTS.search(description)
        code = int(found.group(1)) if found else None
    first_line = description.splitlines()[0] if description else error
    correlation = result.get("correlation_id")
    if error in _TRANSIENT_ERRORS:
        return TransientGraphError(
            f"the token endpoint is temporarily unavailable: {first_line}",
            code=error,
            request_id=correlation,
        )
    advice = _ADVICE.get(code or 0)
    if advice:
        message = advice.format(app=creds.client_id, tenant=creds.tenant_id, scope=creds.scope)
    else:
        message = f"Entra ID refused the token request: {first_line}"
    label = f"AADSTS{code}" if code else error
    return GraphAuthError(message, code=label, request_id=correlation)


def _ca_bundle_file(pem: str) -> str:
    """requests wants a file for a custom CA bundle: one per content, written atomically."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:32]
    folder = Path(tempfile.gettempdir()) / "switchboard-ca"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{digest}.pem"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(pem)
        os.replace(tmp, path)
    return str(path)


_STATUS_WORDS = {
    429: "asked to slow down",
    500: "had an internal error",
    502: "is unavailable (bad gateway)",
    503: "is unavailable",
    504: "did not answer in time (gateway timeout)",
}


class TokenEndpointHttp:
    """The HTTP client msal talks to the token endpoint through (msal's ``http_client``).

    msal turns a 5xx from the token endpoint into its own exception ("HTTP Error: 503"), and
    it remembers a 429/5xx answer for its Retry-After (5 s without one), so a retry through
    msal within that time meets the same answer without asking again. Answered here, before
    msal sees them, throttling, 5xx, resets and timeouts become TransientGraphError with the
    server's Retry-After, which the Graph client retries with backoff like any Graph call.
    """

    def __init__(self, session: requests.Session, *, timeout: float) -> None:
        self.session = session
        self.timeout = timeout

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._send("POST", url, kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._send("GET", url, kwargs)

    def close(self) -> None:
        self.session.close()

    def _send(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        host = urlsplit(url).netloc
        try:
            resp = self._request(method, url, kwargs)
        except requests.Timeout as exc:
            raise TransientGraphError(
                f"the token endpoint at {host} did not answer within {self.timeout:g} s",
                code="timeout",
            ) from exc
        except requests.exceptions.SSLError as exc:
            raise TransientGraphError(
                f"the secure connection to the token endpoint at {host} failed; if this "
                f"persists, check the registration's CA bundle",
                code="tlsError",
            ) from exc
        except requests.RequestException as exc:
            raise TransientGraphError(
                f"could not reach the token endpoint at {host}: the connection failed or was reset",
                code="connectionError",
            ) from exc
        status = resp.status_code
        GRAPH_REQUESTS.labels(status=str(status)).inc()
        if status == 429:
            GRAPH_THROTTLED.inc()
        if status == 429 or status >= 500:
            resp.close()  # back to the pool now, not when the exception is collected
            words = _STATUS_WORDS.get(status, "failed")
            raise TransientGraphError(
                f"the token endpoint at {host} {words} (HTTP {status})",
                status=status,
                code=f"http{status}",
                request_id=resp.headers.get("x-ms-request-id"),
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            )
        return resp

    def _request(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        try:
            return self.session.request(method, url, **kwargs)
        except requests.RequestException:
            GRAPH_REQUESTS.labels(status="0").inc()  # no answer
            raise


class MsalTokenProvider:
    """One msal ConfidentialClientApplication for one registration certificate."""

    def __init__(self, creds: GraphCredentials, *, timeout: float = 30.0) -> None:
        self.creds = creds
        self._lock = threading.Lock()
        session = requests.Session()
        # Environment CA variables must not override the registration's trust settings.
        session.trust_env = False
        if creds.ca_bundle_pem:
            session.verify = _ca_bundle_file(creds.ca_bundle_pem)
        # msal applies its own timeout only to a session it makes itself.
        self._http = TokenEndpointHttp(session, timeout=timeout)
        self._app: Any = None

    def _application(self) -> Any:
        # Built on first use: msal reads the authority's OpenID configuration right away.
        if self._app is None:
            creds = self.creds
            host = urlsplit(creds.authority_url).hostname
            self._app = msal.ConfidentialClientApplication(
                creds.client_id,
                authority=creds.authority,
                # A PEM certificate makes msal sign with PS256 and send x5t#S256 (SHA-256).
                client_credential={
                    "private_key": creds.private_key_pem,
                    "public_certificate": creds.certificate_pem,
                },
                instance_discovery=host in KNOWN_AUTHORITY_HOSTS,
                http_client=self._http,
            )
        return self._app

    def token(self, *, refresh: bool = False) -> str:
        """The access token; TransientGraphError when the token endpoint is busy or out of
        reach (the Graph client retries it), GraphAuthError when it refuses."""
        with self._lock:
            try:
                if refresh:
                    # Start over with a new application: its cached token was refused or may
                    # predate a permission change, and msal reuses a signed assertion for
                    # minutes, which a strict token endpoint may reject as a replay.
                    self._app = None
                app = self._application()
                result = app.acquire_token_for_client(scopes=[self.creds.scope])
            except ValueError as exc:
                # msal raises ValueError for authority discovery failures (an unknown tenant
                # answers the discovery with its AADSTS code) and unusable keys.
                found = _AADSTS.search(str(exc))
                if found:
                    raise auth_error_from_result(
                        {"error": "invalid_request", "error_codes": [int(found.group(1))]},
                        self.creds,
                    ) from exc
                raise GraphAuthError(
                    f"cannot request a token from {self.creds.authority}: the sign-in authority"
                    " did not describe itself (check the tenant id and the authority URL)",
                    code="configuration",
                ) from exc
            except msal.exceptions.MsalError as exc:  # an answer msal could not use
                raise TransientGraphError(
                    f"the token endpoint at {urlsplit(self.creds.authority_url).netloc} gave an "
                    f"answer that could not be used",
                    code="tokenEndpointError",
                ) from exc
        if not isinstance(result, dict) or "access_token" not in result:
            raise auth_error_from_result(result if isinstance(result, dict) else {}, self.creds)
        return str(result["access_token"])

    def roles(self) -> set[str]:
        """Application permissions granted to the app (from the current access token)."""
        return token_roles(self.token())

    def close(self) -> None:
        self._http.close()


class TokenCache:
    """The token providers of one application, one per (account, certificate, settings).

    msal renews a token only inside the application object that got it, so the composition
    root builds one cache for the life of the process and hands it to every Graph client. A
    new certificate (rotation) or new settings get a new provider; the one it replaces is
    closed. Both certificates of a rotation keep their own provider until then.
    """

    def __init__(self) -> None:
        self._providers: dict[tuple[str, str, str], MsalTokenProvider] = {}
        self._lock = threading.Lock()
        self._closed = False

    def provider(self, creds: GraphCredentials) -> MsalTokenProvider:
        key = (str(creds.account_id), creds.thumbprint_sha256, _settings_key(creds))
        with self._lock:
            if self._closed:
                # A provider made now would never be closed: its connections would leak.
                raise RuntimeError("the token cache is closed: the application is shutting down")
            provider = self._providers.get(key)
            if provider is None:
                stale = [k for k in self._providers if k[0] == key[0] and k[1] == key[1]]
                for k in stale:
                    self._providers.pop(k).close()
                provider = self._providers[key] = MsalTokenProvider(creds)
            return provider

    def close(self) -> None:
        with self._lock:
            self._closed = True
            while self._providers:
                self._providers.popitem()[1].close()


def _settings_key(creds: GraphCredentials) -> str:
    parts = (creds.tenant_id, creds.client_id, creds.authority_url, creds.graph_url)
    raw = "\n".join((*parts, creds.ca_bundle_pem or ""))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]
