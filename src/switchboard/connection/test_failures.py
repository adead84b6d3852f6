"""Why a connection test failed, in words an admin can act on, with a stable ``kind``.

The failure reaches us as an exception chain: a GraphError of ours wrapping what requests,
urllib3, httpx, ssl or msal raised. The chain is read (types first, then the fixed texts those
libraries and the Entra token endpoint use) and mapped to one kind; the message is ours and
never shows the exception's own text. The UI, the API (the test record's ``kind`` and each
check's ``kind``) and the CLI all show what this module says.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

import httpx
import requests

from switchboard.directory.errors import (
    GraphAuthError,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    TransientGraphError,
)


class FailureKind(StrEnum):
    HOST_NOT_FOUND = "host_not_found"
    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    TLS_UNTRUSTED = "tls_untrusted"
    TENANT_NOT_FOUND = "tenant_not_found"
    APP_NOT_FOUND = "app_not_found"
    APP_DISABLED = "app_disabled"
    CERTIFICATE_NOT_UPLOADED = "certificate_not_uploaded"
    CLOCK_SKEW = "clock_skew"
    GRAPH_HOST_WRONG = "graph_host_wrong"
    PERMISSION_MISSING = "permission_missing"
    CONSENT_MISSING = "consent_missing"
    GROUP_NOT_FOUND = "group_not_found"
    SERVICE_BUSY = "service_busy"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Target:
    """What was tested: enough to name the host, the ids and the fix."""

    tenant_id: str
    client_id: str
    cloud: str = "global"
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com"
    has_ca_bundle: bool = False
    thumbprint: str = ""


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    message: str


# Where: the token endpoint (sign-in authority) or Graph.
Phase = str
TOKEN: Phase = "token"  # noqa: S105 - a phase name, not a secret
GRAPH: Phase = "graph"

_AADSTS = re.compile(r"AADSTS(\d+)")
_NAME_TEXTS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "no address associated with hostname",
    "failed to resolve",
    "nameresolutionerror",
)
_TLS_TEXTS = ("certificate_verify_failed", "certificate verify failed", "sslcertverificationerror")
_REFUSED_TEXTS = ("connection refused", "errno 111", "actively refused", "errno 61")
_TENANT_CODES = frozenset({90002, 900023, 90072})
_APP_CODES = frozenset({700016})
_CERT_CODES = frozenset({700027, 7000215, 700021, 50027, 7000218})
_CONSENT_CODES = frozenset({65001})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: causes, contexts, urllib3's ``reason``, args."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [a for a in current.args if isinstance(a, BaseException)]
        todo += [e for e in linked if isinstance(e, BaseException)]


def _texts(chain: list[BaseException]) -> str:
    return " ".join(f"{type(e).__name__} {e}" for e in chain).lower()


def _aadsts(chain: list[BaseException]) -> int | None:
    for e in chain:
        code = getattr(e, "code", "")
        found = _AADSTS.search(str(code)) or _AADSTS.search(str(e))
        if found:
            return int(found.group(1))
    return None


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _network_kind(chain: list[BaseException], text: str) -> FailureKind | None:
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or any(
        t in text for t in _TLS_TEXTS
    ):
        return FailureKind.TLS_UNTRUSTED
    if any(isinstance(e, socket.gaierror) for e in chain) or any(t in text for t in _NAME_TEXTS):
        return FailureKind.HOST_NOT_FOUND
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or any(
        t in text for t in _REFUSED_TEXTS
    ):
        return FailureKind.CONNECTION_REFUSED
    timeouts = (requests.Timeout, httpx.TimeoutException, TimeoutError, socket.timeout)
    if any(isinstance(e, timeouts) for e in chain) or any(
        getattr(e, "code", "") in ("timeout", "ReadTimeout", "ConnectTimeout") for e in chain
    ):
        return FailureKind.TIMEOUT
    if any(isinstance(e, requests.exceptions.SSLError) for e in chain):
        return FailureKind.TLS_UNTRUSTED
    if any(getattr(e, "code", "") == "tlsError" for e in chain):
        return FailureKind.TLS_UNTRUSTED
    return None


def _token_kind(code: int | None) -> FailureKind | None:
    if code is None:
        return None
    if code in _TENANT_CODES:
        return FailureKind.TENANT_NOT_FOUND
    if code in _APP_CODES:
        return FailureKind.APP_NOT_FOUND
    if code in _CERT_CODES:
        return FailureKind.CERTIFICATE_NOT_UPLOADED
    if code in _CONSENT_CODES:
        return FailureKind.CONSENT_MISSING
    if code == 700024:
        return FailureKind.CLOCK_SKEW
    if code == 7000112:
        return FailureKind.APP_DISABLED
    if code in (500011, 1002012):
        return FailureKind.GRAPH_HOST_WRONG
    return None


def kind_of(exc: BaseException) -> FailureKind:
    """The kind of failure an exception (and what it wraps) stands for."""
    chain = list(_chain(exc))
    text = _texts(chain)
    found = _token_kind(_aadsts(chain)) or _network_kind(chain, text)
    if found is not None:
        return found
    if any(isinstance(e, GraphForbidden) for e in chain):
        return FailureKind.PERMISSION_MISSING
    if any(isinstance(e, GraphNotFound) for e in chain):
        return FailureKind.GROUP_NOT_FOUND
    if any(isinstance(e, TransientGraphError) for e in chain):
        return FailureKind.SERVICE_BUSY
    return FailureKind.UNKNOWN


def explain(exc: BaseException, target: Target, phase: Phase = TOKEN) -> Failure:
    """The failure of a connection test step, in words; ``phase`` says which host was asked."""
    kind = kind_of(exc)
    return Failure(kind, message(kind, target, phase, exc))


def _fix_hosts(target: Target) -> str:
    if target.cloud == "custom":
        return (
            "check the sign-in authority URL and the Graph URL under Edit connection (a typo,"
            " or a host this server's DNS cannot resolve)"
        )
    return (
        f"the {target.cloud} cloud's hosts should be reachable: check this server's DNS and"
        " internet access; if the tenant is in another cloud (US Government, China) or behind"
        " custom hosts (a test cloud, the emulator), choose that cloud under Edit connection"
    )


def message(
    kind: FailureKind, target: Target, phase: Phase = TOKEN, exc: BaseException | None = None
) -> str:
    """What happened and what to do, for each kind."""
    host = _host(target.authority_url if phase == TOKEN else target.graph_url)
    what = "the sign-in (token) endpoint" if phase == TOKEN else "Microsoft Graph"
    app, tenant = target.client_id, target.tenant_id
    texts: dict[FailureKind, str] = {
        FailureKind.HOST_NOT_FOUND: (
            f"Host not found: {host} ({what}) does not exist for this server's DNS. "
            + _fix_hosts(target)
            + "."
        ),
        FailureKind.CONNECTION_REFUSED: (
            f"Connection refused: nothing answers at {host} ({what}). Check the port in the"
            " URL and that the service there is running; a firewall may also refuse it."
        ),
        FailureKind.TIMEOUT: (
            f"No answer in time from {host} ({what}). Check that this server can reach it"
            " (firewall, proxy, network), then test again."
        ),
        FailureKind.TLS_UNTRUSTED: (
            f"Certificate not trusted: the TLS certificate of {host} ({what}) is not issued by a"
            " certificate authority this server trusts. "
            + (
                "Add the CA that issued it under Edit connection > CA bundle (PEM); for the"
                " built-in emulator that is the ca.pem in its state folder."
                if target.cloud == "custom"
                else "The public clouds use public CAs: a proxy that inspects TLS may be in the"
                " way; if the hosts are custom, choose 'Custom hosts' and add their CA bundle."
            )
        ),
        FailureKind.TENANT_NOT_FOUND: (
            f"Tenant not found: Entra ID does not know the directory (tenant) ID {tenant}"
            " (AADSTS90002). Copy it from the app registration's Overview page; check the cloud"
            " too (a US Government or China tenant is unknown to the global cloud). The tenant"
            " is fixed once connected: disconnect and connect again to use another."
        ),
        FailureKind.APP_NOT_FOUND: (
            f"App not found: no application with the client ID {app} is registered in tenant"
            f" {tenant} (AADSTS700016). Copy the Application (client) ID from the app"
            " registration's Overview page, and check the app is registered in this tenant."
        ),
        FailureKind.APP_DISABLED: (
            f"App disabled: application {app} is disabled for sign-in (AADSTS7000112). Enable it"
            " under Enterprise applications > the app > Properties."
        ),
        FailureKind.CERTIFICATE_NOT_UPLOADED: (
            "Certificate not uploaded: the app registration has no certificate matching"
            " Switchboard's (AADSTS700027, invalid client assertion). Download the certificate"
            f" on this page and upload it under App registrations > {app} > Certificates &"
            " secrets > Certificates > Upload certificate"
            + (f"; its thumbprint there must read {target.thumbprint}" if target.thumbprint else "")
            + "."
        ),
        FailureKind.CLOCK_SKEW: (
            "Clock out of step: Entra ID refused the signed request as outside its valid time"
            " (AADSTS700024). Check that this server's clock is correct (NTP)."
        ),
        FailureKind.GRAPH_HOST_WRONG: (
            f"Wrong Graph host: the tenant does not know the Graph resource {target.graph_url}"
            " (AADSTS500011). Check the cloud, or the Graph URL of custom hosts."
        ),
        FailureKind.PERMISSION_MISSING: (
            "Permission missing: the app may not read the directory. In App registrations >"
            f" {app} > API permissions, add the Microsoft Graph application permissions"
            " User.Read.All and GroupMember.Read.All, then Grant admin consent."
        ),
        FailureKind.CONSENT_MISSING: (
            "Admin consent not granted: the token carries no application permissions. In App"
            f" registrations > {app} > API permissions, add the Microsoft Graph application"
            " permissions listed on this page and click Grant admin consent."
        ),
        FailureKind.GROUP_NOT_FOUND: (
            "Group not found in the tenant: check the synced groups in the sync settings."
        ),
        FailureKind.SERVICE_BUSY: (
            f"{host} ({what}) is busy or unavailable right now (throttling or a server error)."
            " Test again in a few minutes."
        ),
        FailureKind.UNKNOWN: (
            f"The test failed at {what} ({host}) for a reason Switchboard does not recognise"
            + (f": {exc.message}" if isinstance(exc, GraphError) and exc.message else "")
            + ". Check the connection settings, then test again."
        ),
    }
    return texts[kind]


def missing_permission(permission: str, needed_for: str, client_id: str) -> Failure:
    """A read refused with 403: the permission to grant, named, and where."""
    return Failure(
        FailureKind.PERMISSION_MISSING,
        f"Permission missing: the app may not {needed_for}. Grant {permission}: in App"
        f" registrations > {client_id} > API permissions > Add a permission > Microsoft Graph >"
        f" Application permissions > {permission}, then Grant admin consent.",
    )


def consent_missing(permissions: list[str], client_id: str) -> Failure:
    """A token without any application permission: nothing was consented (or added)."""
    return Failure(
        FailureKind.CONSENT_MISSING,
        "Admin consent not granted: the token carries no application permissions. In App"
        f" registrations > {client_id} > API permissions, add the Microsoft Graph application"
        f" permissions {', '.join(permissions)} and click Grant admin consent.",
    )


def is_auth_refusal(exc: BaseException) -> bool:
    """The token endpoint answered and refused (as opposed to not being reached)."""
    return any(isinstance(e, GraphAuthError) for e in _chain(exc))
