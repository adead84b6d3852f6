"""Cloud names, host-only URLs, GUIDs and CA bundles of a directory registration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.connection import app_certificates
from switchboard.directory import clouds
from switchboard.portal.errors import ValidationFailed

GUID = "0B9F6A4C-1D2E-4F60-8A7B-9C0D1E2F3A4B"


def test_named_clouds_have_their_hosts() -> None:
    assert clouds.resolve(None, None, None, None) == clouds.Endpoints(
        "global", "https://login.microsoftonline.com", "https://graph.microsoft.com", None
    )
    usgov = clouds.resolve("usgov", None, None, None)
    assert (usgov.authority_url, usgov.graph_url) == (
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
    )
    china = clouds.resolve("china", None, None, None)
    assert (china.authority_url, china.graph_url) == (
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
    )
    # Repeating the cloud's own hosts is harmless.
    same = clouds.resolve("global", "https://LOGIN.microsoftonline.com/", None, None)
    assert same.authority_url == "https://login.microsoftonline.com"


def test_urls_without_a_cloud_mean_custom() -> None:
    found = clouds.resolve(None, "https://127.0.0.1:8443", "https://Graph.Example.test:443/", None)
    assert found == clouds.Endpoints(
        "custom", "https://127.0.0.1:8443", "https://graph.example.test", None
    )


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        (("moon", None, None, None), "cloud", "global, usgov, china, custom"),
        (("custom", "https://login.example.test", None, None), "graph_url", "needs both"),
        (("custom", None, "https://graph.example.test", None), "authority_url", "needs both"),
        (("global", "https://login.example.test", None, None), "authority_url", "'custom'"),
        (("usgov", None, "https://graph.microsoft.com", None), "graph_url", "'custom'"),
        (("global", None, None, "pem"), "ca_bundle_pem", "only the cloud 'custom'"),
    ],
)
def test_inconsistent_clouds_name_the_field(
    args: tuple[str | None, str | None, str | None, str | None], field: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        clouds.resolve(*args)
    assert caught.value.field == field
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://login.example.test", "https://"),
        ("login.example.test", "https://"),
        ("https://login.example.test/tenant", "path"),
        ("https://login.example.test?x=1", "path, query"),
        ("https://login.example.test#frag", "fragment"),
        ("https://user:pw@login.example.test", "credentials"),
        ("https://-bad-.example.test", "not a valid host"),
        ("https://", "not a valid host"),
        ("https://login.example.test:99999", "not a URL"),
        ("https://exa mple.test", "not a valid host"),
    ],
)
def test_host_urls_are_host_only_https(url: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        clouds.host_url(url, "authority_url")
    assert caught.value.field == "authority_url"
    assert words in caught.value.message
    assert caught.value.message.startswith("authority_url: ")


def test_ipv6_hosts_and_ports() -> None:
    assert clouds.host_url("https://[::1]:9443", "graph_url") == "https://[::1]:9443"


def test_guids_are_lower_cased_and_checked() -> None:
    assert clouds.guid(f" {GUID} ", "tenant_id", "tenant id") == GUID.lower()
    with pytest.raises(ValidationFailed) as caught:
        clouds.guid("contoso.onmicrosoft.com", "tenant_id", "Directory (tenant) ID")
    assert caught.value.field == "tenant_id"
    assert "not a GUID" in caught.value.message


def test_ca_bundle_takes_certificates_only() -> None:
    pair = app_certificates.generate("Test CA", datetime(2026, 1, 15, tzinfo=UTC))
    bundle = clouds.ca_bundle("junk before\n" + pair.certificate_pem + pair.certificate_pem)
    assert bundle == pair.certificate_pem * 2
    found = clouds.resolve(
        "custom", "https://a.example.test", "https://b.example.test", pair.certificate_pem
    )
    assert found.ca_bundle_pem == pair.certificate_pem
    for bad, words in (
        ("not a pem", "not PEM certificates"),
        (pair.private_key_pem.decode(), "private key"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not PEM"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            clouds.ca_bundle(bad)
        assert caught.value.field == "ca_bundle_pem"
        assert words in caught.value.message


def test_generated_certificate_is_rsa_3072_for_two_years() -> None:
    start = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    pair = app_certificates.generate("Switchboard acme", start)
    info = app_certificates.info(pair.certificate_pem)
    assert info.key_bits == 3072
    assert info.subject == "CN=Switchboard acme"
    assert (info.not_after - start).days == 730
    assert info.not_before < start
    assert len(info.thumbprint_sha1) == 40 and info.thumbprint_sha1 == info.thumbprint_sha1.upper()
    assert len(info.thumbprint_sha256) == 43 and "=" not in info.thumbprint_sha256
