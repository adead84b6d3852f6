"""/api/v1/accounts/{account}/directory: the Entra ID registration and its sync settings.

Account admins of the account and provider admins change it; viewers read it. No response
carries a private key: the key is generated here, stored encrypted, and used only to sign.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status

from switchboard.connection import certificate_rotation, connection_edit, group_picker
from switchboard.connection import registration as service
from switchboard.connection.group_picker import SEARCH_MAX
from switchboard.connection.tenant_sharing import tenant_sharing
from switchboard.directory.stored_credentials import Which
from switchboard.portal.validation import NO_CONTROL_PATTERN
from switchboard.schemas.registration_out import GroupSearchOut, RegistrationOut, SettingsOut
from switchboard.sync import jit_switch, rescope
from switchboard.web.deps import DB, Caller, ReadAccount, WriteAccount, container

router = APIRouter(prefix="/accounts/{account}/directory", tags=["directory"])

PEM = "application/x-pem-file"


@router.put("/registration", status_code=status.HTTP_201_CREATED)
def connect(
    body: service.RegistrationIn, account: WriteAccount, session: DB, actor: Caller
) -> RegistrationOut:
    """Connect the account to its Entra tenant; Switchboard generates the app certificate.

    Then download the certificate and upload it to the app registration in Entra ID.
    409 when the account is already connected. ``warnings`` says when another account
    already uses the tenant (provider admins see which).
    """
    registration = service.connect(session, actor, account, body)
    shared = tenant_sharing(session, actor, account, registration.tenant_id)
    return RegistrationOut.of(registration, shared.warnings())


@router.get("/registration")
def get_registration(
    request: Request, account: ReadAccount, session: DB, actor: Caller
) -> RegistrationOut:
    """The registration and its settings, with the synced groups' names (``groups_detail``)."""
    registration = service.get_registration(session, actor, account)
    shared = tenant_sharing(session, actor, account, registration.tenant_id)
    out = RegistrationOut.of(registration, shared.warnings())
    session.commit()  # Graph calls happen outside the request's transaction
    return out.with_names(group_picker.chosen_groups(container(request), actor, account.slug))


@router.get("/groups")
def search_groups(
    request: Request,
    account: ReadAccount,
    session: DB,
    actor: Caller,
    search: Annotated[
        str,
        Query(
            description="Text the group's name (or a word of it) starts with; empty lists the"
            " first groups by name",
            # Documented here, checked by the service (its message says what to fix).
            json_schema_extra={"maxLength": SEARCH_MAX, "pattern": NO_CONTROL_PATTERN},
        ),
    ] = "",
) -> GroupSearchOut:
    """Groups of the connected tenant to choose for the sync, by name, with how many users are
    in each (nested groups included) and how many groups are nested in it; at most 25.
    Choose them with PATCH settings ``{"groups": [ids]}``."""
    session.commit()  # Graph calls happen outside the request's transaction
    return GroupSearchOut.of(
        group_picker.search_groups(container(request), actor, account.slug, search)
    )


@router.patch("/connection")
def update_connection(
    request: Request,
    body: connection_edit.ConnectionEdit,
    account: WriteAccount,
    session: DB,
    actor: Caller,
) -> RegistrationOut:
    """Change the cloud, custom hosts or CA bundle while connected; the certificate stays.

    The tenant and client ids are fixed (422 when they differ: disconnect and connect again).
    A change clears ``last_test``: test the connection again.
    """
    edited = connection_edit.update_connection(session, actor, account, body)
    out = RegistrationOut.of(edited.registration)
    session.commit()
    connection_edit.retire_old_connections(container(request).graph_connections, edited)
    return out


@router.delete("/registration", status_code=status.HTTP_204_NO_CONTENT)
def disconnect(account: WriteAccount, session: DB, actor: Caller) -> Response:
    """Remove the registration, its key and delta state; directory users become local users."""
    service.disconnect(session, actor, account)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/settings")
def update_settings(
    request: Request,
    account: WriteAccount,
    session: DB,
    actor: Caller,
    body: Annotated[
        dict[str, Any],
        Body(
            description="A JSON merge patch of the sync settings (null resets a field)",
            examples=[{"groups": ["0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"], "mode": "jit"}],
        ),
    ],
) -> SettingsOut:
    """Change the sync settings. A change of the synced groups, ``all_users`` (the whole
    tenant, an explicit choice) or the mapping starts a guarded full reconcile at once.
    Entering jit mode creates the Graph change-notification subscriptions at once, leaving it
    removes them (``subscriptions_note`` says what happened)."""
    before = service.policy_of(service.get_registration(session, actor, account))
    registration = service.update_settings(session, actor, account, body)
    out = RegistrationOut.of(registration)
    after = service.policy_of(registration)
    session.commit()  # the reconcile runs in transactions of its own
    c = container(request)
    started = rescope.after_settings_change(
        c, c.jobs, actor, account.slug, account.id, before, after, trigger="api"
    )
    switched = jit_switch.after_mode_change(c, account.id, before, after)
    return SettingsOut(
        **out.model_dump(),
        reconcile_run_number=started.run_number if started else None,
        reconcile_note=started.note if started else None,
        subscriptions_note=switched.note(account.slug) if switched else None,
    )


@router.get(
    "/certificate",
    response_class=Response,
    responses={200: {"content": {PEM: {}}, "description": "The public certificate (PEM)"}},
)
def download_certificate(
    account: ReadAccount,
    session: DB,
    actor: Caller,
    which: Annotated[Which, Query(description="current, or the rotated next")] = "current",
) -> Response:
    """The public certificate to upload to the app registration (Certificates & secrets)."""
    registration = service.get_registration(session, actor, account)
    pem = certificate_rotation.certificate_pem(registration, which)
    name = certificate_rotation.certificate_filename(account, registration, which)
    return Response(
        content=pem,
        media_type=PEM,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/certificate/rotate")
def rotate_certificate(account: WriteAccount, session: DB, actor: Caller) -> RegistrationOut:
    """Generate the next certificate; the current one keeps working until the next is promoted."""
    return RegistrationOut.of(certificate_rotation.rotate_certificate(session, actor, account))


@router.post("/certificate/promote")
def promote_certificate(account: WriteAccount, session: DB, actor: Caller) -> RegistrationOut:
    """Make the next certificate current; 409 until a connection test obtained a token with it."""
    return RegistrationOut.of(certificate_rotation.promote_next(session, actor, account))


@router.delete("/certificate/next")
def discard_next_certificate(account: WriteAccount, session: DB, actor: Caller) -> RegistrationOut:
    """Drop the rotated certificate that has not been promoted; the current one stays."""
    return RegistrationOut.of(certificate_rotation.discard_next(session, actor, account))
