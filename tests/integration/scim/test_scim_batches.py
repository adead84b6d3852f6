"""Concurrent creates of one account are written together, and each gets its own answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from switchboard.bootstrap import Container
from switchboard.db.models import ScimUser, User
from switchboard.portal.accounts import get_account
from switchboard.scim import user_batches
from switchboard.scim.errors import ScimError
from switchboard.scim.source import get_source
from switchboard.scim.users import Outcome
from tests import factories
from tests.scim_support import ScimClient, entra_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_create_many_refuses_each_bad_user_on_its_own(
    scim: ScimClient, container: Container
) -> None:
    assert scim.post("/Users", entra_user("taken@example.com")).status_code == 201
    bodies: list[object] = [
        entra_user("a@example.com"),
        entra_user("TAKEN@example.com"),  # already in the account
        {"userName": 7},  # not a string
        entra_user("b@example.com"),
        entra_user("b@EXAMPLE.com"),  # twice in the batch
        entra_user("c@example.com", extra={"emails": [{"value": "a@example.com"}]}),  # email
        entra_user("d@example.com", extra={ENTERPRISE: {"department": "Branch"}}),
    ]
    with container.unit_of_work() as session:
        account = get_account(session, factories.OPERATOR, "acme")
        source = get_source(session, account)
        assert source is not None
        results = user_batches.create_many(session, account, source, bodies)
    kinds = [
        r.row.user_name if isinstance(r, Outcome) else (r.status, r.scim_type) for r in results
    ]
    assert kinds == [
        "a@example.com",
        (409, "uniqueness"),
        (400, "invalidValue"),
        "b@example.com",
        (409, "uniqueness"),
        (409, "uniqueness"),
        "d@example.com",
    ]
    refused = results[5]
    assert isinstance(refused, ScimError) and "email" in refused.detail
    with container.unit_of_work() as session:
        kept = set(session.scalars(select(ScimUser.user_name)))
        assert kept == {"taken@example.com", "a@example.com", "b@example.com", "d@example.com"}
        assert session.scalar(select(func.count()).select_from(User)) == 4
        branch = session.scalar(select(User).where(User.username == "d@example.com"))
        assert branch is not None and branch.location.name == "Branch"


def test_concurrent_posts_each_get_their_answer(scim: ScimClient, container: Container) -> None:
    names = [f"user{i}@example.com" for i in range(24)] + ["user3@example.com"]

    def post(name: str) -> int:
        return scim.post("/Users", entra_user(name)).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(post, names))
    assert codes.count(201) == 24 and codes.count(409) == 1
    with container.unit_of_work() as session:
        extensions = list(session.scalars(select(User.extension)))
    assert len(extensions) == len(set(extensions)) == 24


def test_concurrent_changes_of_one_user_take_turns(scim: ScimClient) -> None:
    user = scim.post("/Users", entra_user("ada@example.com")).json()

    def rename(n: int) -> int:
        op = {"op": "replace", "path": "displayName", "value": f"Ada {n}"}
        return scim.patch(f"/Users/{user['id']}", op).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(rename, range(16)))
    assert codes == [200] * 16
    # Every change counted: none was lost to another read at the same version.
    assert scim.get(f"/Users/{user['id']}").json()["meta"]["version"] == 'W/"17"'
