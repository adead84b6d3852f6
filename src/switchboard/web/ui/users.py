"""An account's users: searchable list, create, edit (directory fields read-only) and delete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from switchboard.connection.registration import find_registration
from switchboard.db.models import Account, User
from switchboard.portal import licenses, locations, numbers, users, validation
from switchboard.portal.accounts import get_account
from switchboard.portal.schemas import UserIn, UserPatch
from switchboard.web.deps import container
from switchboard.web.ui.context import account_page
from switchboard.web.ui.forms import FormError, attempt, checked
from switchboard.web.ui.routing import UiRoute
from switchboard.web.ui.session import CurrentViewer, Form, PostingViewer, Submitted, Viewer
from switchboard.web.ui.templating import render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

PAGE_SIZE = 25
# The form inputs of the fields Entra ID owns on directory users (users.DIRECTORY_OWNED).
DIRECTORY_INPUTS = ("first_name", "last_name", "email", "username", "location_id")
# The form's inputs top to bottom, as its labels name them (errors are listed in this order).
LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
    "username": "username",
    "location_id": "location",
    "extension": "extension",
    "phone_numbers": "phone numbers",
    "license": "license",
}


def _extension_check(account: Account, value: str | None) -> Callable[[], object]:
    """The dial plan's length, checked with the other fields so every problem shows at once."""
    return lambda: validation.extension(value, account.extension_length) if value else None


SOURCE_CHOICES = (("", "Any source"), ("directory", "Entra ID"), ("local", "Local"))
STATUS_CHOICES = (
    ("", "Any status"),
    ("active", "Active"),
    ("disabled_in_directory", "Disabled in directory"),
)
SORT_CHOICES = (
    ("name", "Name"),
    ("email", "Email"),
    ("extension", "Extension"),
    ("location", "Location"),
    ("status", "Status"),
)
DIR_CHOICES = (("asc", "Ascending"), ("desc", "Descending"))


@dataclass(frozen=True)
class ListQuery:
    """The list's GET parameters, as typed (kept in every page and sort link)."""

    q: str = ""
    source: str = ""
    status: str = ""
    location: str = ""
    sort: str = "name"
    dir: str = "asc"

    def params(self, **changes: object) -> dict[str, object]:
        """The parameters that differ from the defaults, with ``changes``: short links."""
        values: dict[str, object] = {**vars(self), **changes}
        defaults = vars(ListQuery())
        return {k: v for k, v in values.items() if v not in ("", None) and v != defaults.get(k)}

    def problem(self, location_ids: set[str]) -> FormError | None:
        """A parameter outside its choices (a link typed by hand): said plainly."""
        checks = (
            ("source", self.source, {v for v, _ in SOURCE_CHOICES}, "a source"),
            ("status", self.status, {v for v, _ in STATUS_CHOICES}, "a status"),
            ("location", self.location, location_ids | {""}, "a location"),
            ("sort", self.sort, {v for v, _ in SORT_CHOICES}, "a column to sort by"),
            ("dir", self.dir, {v for v, _ in DIR_CHOICES}, "an order"),
        )
        for name, value, allowed, what in checks:
            if value not in allowed:
                return FormError(f"Choose {what} from the list; '{value[:40]}' is not one", name)
        return None


@router.get("/accounts/{slug}/users")
def list_users(
    request: Request,
    slug: str,
    viewer: CurrentViewer,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    source: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=40)] = "",
    location: Annotated[str, Query(max_length=40)] = "",
    sort: Annotated[str, Query(max_length=40)] = "name",
    dir: Annotated[str, Query(max_length=40)] = "asc",
) -> Response:
    wanted = ListQuery(q, source.strip(), status.strip(), location.strip(), sort.strip(), dir)
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "users")
        account = context["account"]
        all_locations = locations.list_locations(session, viewer.actor, account)
        error = wanted.problem({str(loc.id) for loc in all_locations})
        found = users.UserPage(items=[], total=0, limit=PAGE_SIZE, offset=0)
        if error is None:
            found = users.list_users(
                session,
                viewer.actor,
                account,
                search=q.strip() or None,
                source=wanted.source or None,
                status=wanted.status or None,
                location_id=int(wanted.location) if wanted.location else None,
                sort=wanted.sort,
                descending=wanted.dir == "desc",
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
        pages = max(1, -(-found.total // PAGE_SIZE))
        context.update(
            users=found.items,
            total=found.total,
            q=q,
            page=page,
            pages=pages,
            query=wanted,
            values=vars(wanted),
            error=error,
            filtered=bool(q or wanted.source or wanted.status or wanted.location),
            source_choices=SOURCE_CHOICES,
            status_choices=STATUS_CHOICES,
            location_choices=[("", "Any location")]
            + [(str(loc.id), loc.name) for loc in all_locations],
            sort_choices=SORT_CHOICES,
            dir_choices=DIR_CHOICES,
        )
        # "Add users > From directory" only for an account connected to Entra ID.
        context["connected"] = find_registration(session, account) is not None
        return render(request, "account/users.html", context, status_code=422 if error else 200)


def _choices(
    session: Session, viewer: Viewer, account: Account, user: User | None
) -> dict[str, Any]:
    """Locations, licenses with free seats, and the numbers the user may hold, by location."""
    used = licenses.usage(session, account)
    all_locations = locations.list_locations(session, viewer.actor, account)
    offered = [
        n
        for n in numbers.list_numbers(session, viewer.actor, account)
        if n.status == "available" or (user is not None and n.user_id == user.id)
    ]
    if user is not None and user.source == "directory":
        # The directory decides the location, so only numbers of that location can be held.
        offered = [n for n in offered if n.location_id == user.location_id]
    groups = [
        (loc, [n for n in offered if n.location_id == loc.id])
        for loc in all_locations
        if any(n.location_id == loc.id for n in offered)
    ]
    return {
        "locations": all_locations,
        "license_rows": [
            (lt, used.get(lt.id, 0))
            for lt in licenses.list_licenses(session, viewer.actor, account)
        ],
        "number_groups": groups,
    }


def _user_values(user: User) -> dict[str, str]:
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "username": user.username,
        "location_id": str(user.location_id),
        "extension": user.extension,
        "license": user.license.name if user.license else "",
    }


def _form_page(
    request: Request,
    viewer: Viewer,
    slug: str,
    *,
    user_id: int | None,
    form: Submitted | None = None,
    error: FormError | None = None,
) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "users")
        account = context["account"]
        user = users.get_user(session, viewer.actor, account, user_id) if user_id else None
        context.update(_choices(session, viewer, account, user))
        if user is not None:
            values = _user_values(user)
            selected = [n.e164 for n in user.numbers]
        else:
            first = context["locations"][:1]
            values = {"location_id": str(first[0].id)} if first else {}
            selected = []
        if form is not None:
            # After an error, show what the admin typed; directory fields keep their real values.
            typed = form.values()
            if user is not None and user.source == "directory":
                typed = {k: v for k, v in typed.items() if k not in DIRECTORY_INPUTS}
            values.update(typed)
            selected = form.many("phone_numbers")
        context.update(
            user=user,
            values=values,
            selected=selected,
            error=error,
            directory=user is not None and user.source == "directory",
            directory_inputs=DIRECTORY_INPUTS,
        )
        return render(request, "account/user_form.html", context, status_code=422 if error else 200)


@router.get("/accounts/{slug}/users/new")
def new_user(request: Request, slug: str, viewer: CurrentViewer) -> Response:
    return _form_page(request, viewer, slug, user_id=None)


@router.post("/accounts/{slug}/users")
def create_user(request: Request, slug: str, viewer: PostingViewer, form: Form) -> Response:
    def change(session: Session) -> User:
        account = get_account(session, viewer.actor, slug, write=True)
        extension = form.optional("extension")
        data = checked(
            UserIn,
            {
                "first_name": form.text("first_name"),
                "last_name": form.text("last_name"),
                "email": form.text("email"),
                "username": form.optional("username"),
                "location_id": form.text("location_id"),
                "extension": form.optional("extension"),
                "phone_numbers": form.many("phone_numbers"),
                "license": form.optional("license"),
            },
            _extension_check(account, extension),
        )
        return users.create_user(session, viewer.actor, account, data)

    outcome = attempt(container(request), change, LABELS)
    if isinstance(outcome, FormError):
        return _form_page(request, viewer, slug, user_id=None, form=form, error=outcome)
    return RedirectResponse(f"/accounts/{slug}/users?done=user-created", status_code=303)


@router.get("/accounts/{slug}/users/{user_id}")
def edit_user(request: Request, slug: str, user_id: int, viewer: CurrentViewer) -> Response:
    return _form_page(request, viewer, slug, user_id=user_id)


@router.post("/accounts/{slug}/users/{user_id}")
def update_user(
    request: Request, slug: str, user_id: int, viewer: PostingViewer, form: Form
) -> Response:
    def change(session: Session) -> User:
        account = get_account(session, viewer.actor, slug, write=True)
        user = users.get_user(session, viewer.actor, account, user_id)
        fields: dict[str, object] = {
            "extension": form.text("extension") or None,
            "phone_numbers": form.many("phone_numbers"),
            "license": form.optional("license"),
        }
        if user.source != "directory":
            # Disabled inputs are not posted, so directory-owned fields are only sent for
            # local users; the service refuses them for directory users in any case.
            # An emptied required input is an error ("Last name is required"), not "unchanged".
            fields.update(
                first_name=form.text("first_name"),
                last_name=form.text("last_name"),
                email=form.text("email"),
                username=form.text("username") or None,
                location_id=form.text("location_id"),
            )
        extension = form.text("extension") or None
        patch = checked(UserPatch, fields, _extension_check(account, extension))
        return users.update_user(session, viewer.actor, account, user_id, patch)

    outcome = attempt(container(request), change, LABELS)
    if isinstance(outcome, FormError):
        return _form_page(request, viewer, slug, user_id=user_id, form=form, error=outcome)
    return RedirectResponse(f"/accounts/{slug}/users/{user_id}?done=user-saved", status_code=303)


@router.get("/accounts/{slug}/users/{user_id}/delete")
def confirm_delete(request: Request, slug: str, user_id: int, viewer: CurrentViewer) -> Response:
    with container(request).unit_of_work() as session:
        context = account_page(session, viewer, slug, "users")
        context["user"] = users.get_user(session, viewer.actor, context["account"], user_id)
        return render(request, "account/user_delete.html", context)


@router.post("/accounts/{slug}/users/{user_id}/delete")
def delete_user(request: Request, slug: str, user_id: int, viewer: PostingViewer) -> Response:
    with container(request).unit_of_work() as session:
        account = get_account(session, viewer.actor, slug, write=True)
        users.delete_user(session, viewer.actor, account, user_id)
    return RedirectResponse(f"/accounts/{slug}/users?done=user-deleted", status_code=303)
