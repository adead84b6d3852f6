"""Deterministic, realistic tenant content: the same --seed always gives the same directory.

Names come from many cultures and scripts (display names in the native script, an ASCII
transliteration for the UPN, as tenants do), and the awkward cases a sync must handle are
always present in proportion: disabled users, users without surname or mail, users synced
from on-premises AD, admin-role users, office locations that match no portal location, and
nested groups.
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from switchboard.emulator.directory import Directory
from switchboard.emulator.directory_objects import new_id

# Per culture: given names and surnames as (display form, ASCII form for the UPN). Where
# surnames are gendered (Russian, Greek) the given names match them.
Names = tuple[tuple[str, str], ...]
CULTURES: tuple[tuple[str, Names, Names], ...] = (
    (
        "es",
        (("José", "jose"), ("María", "maria"), ("Mateo", "mateo"), ("Lucía", "lucia")),
        (("García", "garcia"), ("Núñez", "nunez"), ("Fernández", "fernandez")),
    ),
    (
        "fr",
        (("François", "francois"), ("Anaïs", "anais"), ("Zoë", "zoe")),
        (("Lefèvre", "lefevre"), ("Dupont", "dupont"), ("Bézier", "bezier")),
    ),
    (
        "de",
        (("Jürgen", "juergen"), ("Jörg", "joerg"), ("Lena", "lena")),
        (("Müller", "mueller"), ("Schäfer", "schaefer"), ("Weiß", "weiss")),
    ),
    (
        "nordic",
        (("Søren", "soeren"), ("Åsa", "asa"), ("Björk", "bjork")),
        (("Øvergård", "overgard"), ("Håkansson", "hakansson"), ("Ångström", "angstrom")),
    ),
    (
        "pl",
        (("Małgorzata", "malgorzata"), ("Łukasz", "lukasz")),
        (("Kowalczyk", "kowalczyk"), ("Nowak", "nowak")),
    ),
    (
        "ie",
        (("Siobhán", "siobhan"), ("Seán", "sean"), ("Niamh", "niamh")),
        (("O'Brien", "obrien"), ("Ní Bhriain", "nibhriain"), ("MacCárthaigh", "maccarthaigh")),
    ),
    (
        "ru",
        (("Александр", "aleksandr"), ("Дмитрий", "dmitry")),
        (("Иванов", "ivanov"), ("Смирнов", "smirnov")),
    ),
    (
        "gr",
        (("Γιώργος", "giorgos"), ("Νίκος", "nikos")),
        (("Παπαδόπουλος", "papadopoulos"), ("Οικονόμου", "oikonomou")),
    ),
    (
        "ar",
        (("محمد", "mohammed"), ("فاطمة", "fatima")),
        (("الهاشمي", "alhashimi"), ("المنصوري", "almansouri")),
    ),
    ("he", (("יעל", "yael"), ("דוד", "david")), (("כהן", "cohen"), ("לוי", "levi"))),
    ("hi", (("अर्जुन", "arjun"), ("प्रिया", "priya")), (("शर्मा", "sharma"), ("वर्मा", "verma"))),
    ("ta", (("சுரேஷ்", "suresh"), ("மீனா", "meena")), (("முருகன்", "murugan"),)),
    ("ja", (("太郎", "taro"), ("さくら", "sakura")), (("山田", "yamada"), ("佐藤", "sato"))),
    ("zh", (("伟", "wei"), ("秀英", "xiuying")), (("王", "wang"), ("李", "li"))),
    ("ko", (("민준", "minjun"), ("서연", "seoyeon")), (("김", "kim"), ("박", "park"))),
    ("vi", (("Thị Lan", "thilan"), ("Minh", "minh")), (("Nguyễn", "nguyen"), ("Trần", "tran"))),
    (
        "yo",
        (("Adébáyọ̀", "adebayo"), ("Chidi", "chidi")),
        (("Adéyẹmí", "adeyemi"), ("Okafor", "okafor")),
    ),
    (
        "sw",
        (("Wanjiru", "wanjiru"), ("Kwame", "kwame")),
        (("Mwangi", "mwangi"), ("Mensah", "mensah")),
    ),
    ("mi", (("Aroha", "aroha"), ("Tāne", "tane")), (("Ngata", "ngata"), ("Pōmare", "pomare"))),
    ("tr", (("Ömer", "omer"), ("Çağla", "cagla")), (("Yılmaz", "yilmaz"), ("Öztürk", "ozturk"))),  # noqa: RUF001 - dotless i is the point
    (
        "en",
        (("Olivia", "olivia"), ("Liam", "liam"), ("Noah", "noah"), ("Emma", "emma")),
        (
            ("Smith-Jones", "smith-jones"),
            ("van der Berg", "vanderberg"),
            ("Johnson", "johnson"),
            ("Taylor", "taylor"),
        ),
    ),
)
# Cultures that write the family name first, with the separator they use.
FAMILY_NAME_FIRST = {"zh": "", "ko": "", "ja": " ", "vi": " "}
GIVEN_NAMES: Names = tuple(g for _c, given, _s in CULTURES for g in given)
SURNAMES: Names = tuple(n for _c, _g, surnames in CULTURES for n in surnames)
# "HQ"/"Branch" match the demo's portal locations; the others match nothing on purpose.
OFFICE_LOCATIONS: tuple[tuple[str | None, int], ...] = (
    ("HQ", 45),
    ("Branch", 30),
    ("Headquarters", 5),
    ("branch", 3),
    ("Remote", 8),
    ("Lisbon Annex", 3),
    (None, 6),
)
DEPARTMENTS = ("Sales", "Support", "Engineering", "Finance", "Operations", "Marketing", "Legal")
TITLES = (
    "Account Executive",
    "Support Engineer",
    "Developer",
    "Analyst",
    "Manager",
    "Coordinator",
    "Director",
    "Receptionist",
)
LANGUAGES = ("en-US", "en-GB", "fr-FR", "de-DE", "es-ES", "ja-JP", "pt-BR", None)
CITIES = ("Seattle", "Dublin", "München", "São Paulo", "東京", "Montréal", "Kraków", "Lagos")
GROUP_NAMES = (
    "Voice Users",
    "Sales",
    "Support",
    "Engineering",
    "Finance",
    "Operations",
    "Marketing",
    "Legal",
    "Contact Centre",
    "Executives",
)
BASE_TIME = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SeedSummary:
    users: int
    groups: int
    disabled: int
    on_premises: int
    admins: int


def _weighted_location(rng: random.Random) -> str | None:
    names = [n for n, _w in OFFICE_LOCATIONS]
    weights = [w for _n, w in OFFICE_LOCATIONS]
    return rng.choices(names, weights)[0]


def seed_directory(directory: Directory, *, users: int, groups: int, seed: int) -> SeedSummary:
    """Fill an empty directory. Group 0 holds groups 1-3 as members (nesting two deep)."""
    if users < 0 or groups < 0:
        raise ValueError("users/groups: give counts >= 0")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    listeners, directory.listeners = directory.listeners, []  # seeding is not "news"
    # Seeding makes long-lived objects and no garbage cycles: the collector's full passes over
    # a growing million-user heap would only cost time (about 5% of a 1M seed).
    collecting = gc.isenabled()
    gc.disable()
    try:
        group_ids: list[str] = []
        for g in range(groups):
            base = GROUP_NAMES[g % len(GROUP_NAMES)]
            name = base if g < len(GROUP_NAMES) else f"{base} {g // len(GROUP_NAMES) + 1}"
            created = BASE_TIME + timedelta(days=g)
            group = directory.create_group(
                {
                    "displayName": name,
                    "description": f"{name} (seeded)",
                    "mailEnabled": False,
                    "mailNickname": f"grp{g}",
                    "securityEnabled": True,
                    "createdDateTime": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                object_id=new_id(rng),
            )
            group_ids.append(group.id)
        # Nesting: 0 <- 1 <- 2 and 0 <- 3, so transitive membership is two levels deep.
        nest = [(0, 1), (1, 2), (0, 3)]
        for parent, child in nest:
            if child < groups:
                directory.add_member(group_ids[parent], group_ids[child])

        disabled = on_prem = admins = 0
        # Taken names are looked up in the directory's own index (no second million-entry set).
        taken = directory.upn_index
        domain = f"@{directory.domain}"
        for i in range(users):
            # The first few users are the awkward cases, so even a tiny tenant has each one.
            culture, given_names, surnames = rng.choice(CULTURES)
            given, given_ascii = rng.choice(given_names)
            has_surname = rng.random() >= 0.03 and i != 2
            surname, surname_ascii = rng.choice(surnames) if has_surname else (None, "")
            local = f"{given_ascii}.{surname_ascii}" if surname else given_ascii
            local = local.replace(" ", "")
            if (local + domain).lower() in taken:
                local = f"{local}{i}"
            upn = local + domain
            enabled = rng.random() >= 0.04 and i != 1
            synced = rng.random() < 0.10 or i == 4
            is_admin = rng.random() < 0.01 or i == 0
            has_mail = rng.random() >= 0.05 and i != 3
            office = {5: "Remote", 6: None, 7: "HQ", 8: "Branch"}.get(i, "") if i < 9 else ""
            disabled += not enabled
            on_prem += synced
            admins += is_admin
            if not surname:
                display = given
            elif culture in FAMILY_NAME_FIRST:
                display = f"{surname}{FAMILY_NAME_FIRST[culture]}{given}"
            else:
                display = f"{given} {surname}"
            phone = f"+1 425 555 {i % 10000:04d}" if rng.random() < 0.3 else None
            props = {
                "userPrincipalName": upn,
                "displayName": display,
                "givenName": given,
                "surname": surname,
                "mail": upn if has_mail else None,
                "accountEnabled": enabled,
                "officeLocation": office if office != "" else _weighted_location(rng),
                "jobTitle": rng.choice(TITLES),
                "department": rng.choice(DEPARTMENTS),
                "preferredLanguage": rng.choice(LANGUAGES),
                "city": rng.choice(CITIES),
                "usageLocation": "US",
                "employeeId": f"E{100000 + i}",
                "businessPhones": [phone] if phone else [],
                "mobilePhone": None,
                "onPremisesSyncEnabled": True if synced else None,
                "createdDateTime": (BASE_TIME + timedelta(minutes=i)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
            user = directory.create_user(
                props, object_id=new_id(rng), is_admin=is_admin, allow_read_only=True
            )
            if group_ids:
                first = group_ids[i % len(group_ids)]
                directory.add_member(first, user.id)
                if rng.random() < 0.2:
                    second = rng.choice(group_ids)
                    if second != first:
                        directory.add_member(second, user.id)
        directory.compact_logs()
        return SeedSummary(users, groups, disabled, on_prem, admins)
    finally:
        directory.listeners = listeners
        if collecting:
            gc.enable()
