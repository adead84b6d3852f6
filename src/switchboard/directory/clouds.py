"""Which Entra ID cloud a registration talks to: the sign-in authority and the Graph host.

National clouds have their own hosts; ``custom`` names both (the emulator, or a proxy), with an
optional CA bundle to trust them. URLs are the host part only, as ``https://host[:port]``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from switchboard.portal.errors import ValidationFailed
from switchboard.portal.validation import quote

Cloud = Literal["global", "usgov", "china", "custom"]
CLOUDS: dict[str, tuple[str, str]] = {
    "global": ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "usgov": ("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "china": ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}
CLOUD_NAMES = (*CLOUDS, "custom")

GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_CA_BUNDLE = 256 * 1024


@dataclass(frozen=True)
class Endpoints:
    cloud: str
    authority_url: str
    graph_url: str
    ca_bundle_pem: str | None


def guid(value: str, field: str, label: str) -> str:
    """A tenant or client id: a GUID, stored in lower case."""
    value = value.strip()
    if not GUID_RE.match(value):
        raise ValidationFailed(
            f"{field}: {quote(value)} is not a GUID; copy the {label} from the app"
            " registration's Overview page in the Entra admin center"
            " (like 00000000-0000-0000-0000-000000000000)",
            field=field,
        )
    return value.lower()


def host_url(value: str, field: str) -> str:
    """``https://host[:port]`` and nothing else: no path, query, fragment or credentials."""
    text = value.strip()
    hint = "give the host part only, like https://login.example.com"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        message = f"{field}: {quote(text)} is not a URL ({exc})"
        raise ValidationFailed(message, field=field) from exc
    if parts.scheme.lower() != "https":
        raise ValidationFailed(f"{field}: must start with https:// ({hint})", field=field)
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed(f"{field}: must not contain credentials ({hint})", field=field)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationFailed(
            f"{field}: must not have a path, query or fragment ({hint})", field=field
        )
    host = (parts.hostname or "").lower()
    if not _valid_host(host):
        raise ValidationFailed(
            f"{field}: {quote(host)} is not a valid host name ({hint})", field=field
        )
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}" + (f":{port}" if port is not None and port != 443 else "")


def _valid_host(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return all(_LABEL_RE.match(label) for label in host.rstrip(".").split("."))


def ca_bundle(pem: str, field: str = "ca_bundle_pem") -> str:
    """PEM certificates only (no keys), re-encoded so what is stored is exactly what is parsed."""
    if len(pem) > MAX_CA_BUNDLE:
        raise ValidationFailed(f"{field}: larger than {MAX_CA_BUNDLE // 1024} KB", field=field)
    if "PRIVATE KEY" in pem:
        raise ValidationFailed(
            f"{field}: contains a private key; send only the CA's public certificates",
            field=field,
        )
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise ValidationFailed(
            f"{field}: is not PEM certificates; paste the CA's certificates as text, each from"
            " -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----",
            field=field,
        ) from exc
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certificates)


def resolve(
    cloud: str | None,
    authority_url: str | None,
    graph_url: str | None,
    ca_bundle_pem: str | None,
) -> Endpoints:
    """The endpoints for a cloud name, or the custom pair; no cloud with URLs means custom."""
    given_urls = bool(authority_url) or bool(graph_url)
    if cloud is None:
        cloud = "custom" if given_urls else "global"
    if cloud not in CLOUD_NAMES:
        raise ValidationFailed(
            f"cloud: {quote(cloud)} is not a cloud; use one of {', '.join(CLOUD_NAMES)}",
            field="cloud",
        )
    if cloud != "custom":
        authority, graph = CLOUDS[cloud]
        for field, value, expected in (
            ("authority_url", authority_url, authority),
            ("graph_url", graph_url, graph),
        ):
            if value and host_url(value, field) != expected:
                raise ValidationFailed(
                    f"{field}: the {cloud} cloud uses {expected}; for other hosts use the cloud"
                    " 'custom'",
                    field=field,
                )
        if ca_bundle_pem:
            raise ValidationFailed(
                f"ca_bundle_pem: only the cloud 'custom' takes a CA bundle; the {cloud} cloud"
                " uses the system's trusted CAs",
                field="ca_bundle_pem",
            )
        return Endpoints(cloud, authority, graph, None)
    for field, value in (("authority_url", authority_url), ("graph_url", graph_url)):
        if not value:
            raise ValidationFailed(
                f"{field}: the cloud 'custom' needs both authority_url and graph_url", field=field
            )
    assert authority_url and graph_url
    return Endpoints(
        "custom",
        host_url(authority_url, "authority_url"),
        host_url(graph_url, "graph_url"),
        ca_bundle(ca_bundle_pem) if ca_bundle_pem and ca_bundle_pem.strip() else None,
    )
