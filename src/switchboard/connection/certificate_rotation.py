"""The registration's certificates after connecting: download (current or next) and rotation.

Rotation keeps the current certificate working until a connection test proves the next one;
only then does ``promote_next`` swap them.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from switchboard.connection import app_certificates
from switchboard.connection.registration import get_registration, new_key_pair, record_change
from switchboard.db.models import Account, DirectoryRegistration
from switchboard.directory.stored_credentials import Which
from switchboard.portal.actors import Actor
from switchboard.portal.errors import Conflict, NotFound

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def certificate_pem(registration: DirectoryRegistration, which: Which = "current") -> str:
    """The public certificate, for the customer's admin to upload to the app registration."""
    if which == "current":
        return registration.certificate_pem
    if registration.next_certificate_pem is None:
        raise NotFound(
            "no rotated certificate is waiting; rotate the certificate first",
            code="no_next_certificate",
            field="which",
        )
    return registration.next_certificate_pem


def certificate_filename(
    account: Account, registration: DirectoryRegistration, which: Which
) -> str:
    thumbprint = app_certificates.info(certificate_pem(registration, which)).thumbprint_sha1
    return _SAFE.sub("-", f"switchboard-{account.slug}-{thumbprint[:8].lower()}.pem")


def rotate_certificate(session: Session, actor: Actor, account: Account) -> DirectoryRegistration:
    """Generate the next certificate; the current one keeps working until the next is proven."""
    actor.require_write(account.id)
    registration = get_registration(session, actor, account)
    if registration.next_certificate_pem is not None:
        raise Conflict(
            "a rotated certificate is already waiting to be proven; upload it and test the"
            " connection, then promote it, or discard it to start over",
            code="rotation_pending",
        )
    certificate, sealed = new_key_pair(session, account)
    registration.next_certificate_pem = certificate
    registration.next_private_key_encrypted = sealed
    record_change(
        session, actor, account, registration, "directory.certificate_rotated", ["next_certificate"]
    )
    return registration


def promote_next(session: Session, actor: Actor, account: Account) -> DirectoryRegistration:
    """Make the rotated certificate current, once a connection test obtained a token with it."""
    actor.require_write(account.id)
    registration = get_registration(session, actor, account)
    if registration.next_certificate_pem is None or registration.next_private_key_encrypted is None:
        raise Conflict(
            "no rotated certificate is waiting; rotate the certificate first",
            code="no_next_certificate",
        )
    thumbprint = app_certificates.info(registration.next_certificate_pem).thumbprint_sha1
    proven = {str(t).upper() for t in (registration.last_test or {}).get("proven_certificates", [])}
    if thumbprint not in proven:
        raise Conflict(
            f"the new certificate ({thumbprint}) has not been proven yet: upload it to the app"
            " registration in Entra ID (Certificates & secrets), run a connection test, then"
            " promote it",
            code="next_certificate_unproven",
        )
    registration.certificate_pem = registration.next_certificate_pem
    registration.private_key_encrypted = registration.next_private_key_encrypted
    registration.next_certificate_pem = None
    registration.next_private_key_encrypted = None
    record_change(
        session,
        actor,
        account,
        registration,
        "directory.certificate_promoted",
        ["certificate", "next_certificate"],
    )
    return registration


def discard_next(session: Session, actor: Actor, account: Account) -> DirectoryRegistration:
    """Drop the rotated certificate and its key; the current one stays."""
    actor.require_write(account.id)
    registration = get_registration(session, actor, account)
    if registration.next_certificate_pem is None:
        raise Conflict("no rotated certificate is waiting", code="no_next_certificate")
    registration.next_certificate_pem = None
    registration.next_private_key_encrypted = None
    record_change(
        session,
        actor,
        account,
        registration,
        "directory.certificate_discarded",
        ["next_certificate"],
    )
    return registration
