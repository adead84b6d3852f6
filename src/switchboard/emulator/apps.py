"""Application registrations: client id, certificates and granted application permissions.

Each app is one JSON file under DIR/apps/, written atomically, so ``switchboard emulator
add-app`` can register an app while the server runs: the server reads the file at each token
request (cached by modification time).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from switchboard.emulator.keys_and_certificates import thumbprints

KNOWN_ROLES = frozenset(
    {
        "User.Read.All",
        "User.ReadWrite.All",
        "User-Phone.ReadWrite.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "GroupMember.Read.All",
        "GroupMember.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class AppError(ValueError):
    """An invalid registration; the message names the field and the rule."""


@dataclass(frozen=True)
class AppCertificate:
    pem: str
    x5t: str
    x5t_s256: str
    not_after: float


@dataclass(frozen=True)
class App:
    client_id: str
    display_name: str
    roles: tuple[str, ...]
    certificates: tuple[AppCertificate, ...]

    def certificate_for(self, *, x5t: str | None, x5t_s256: str | None) -> AppCertificate | None:
        for cert in self.certificates:
            if x5t_s256 is not None and cert.x5t_s256 == x5t_s256.rstrip("="):
                return cert
            if x5t is not None and cert.x5t == x5t.rstrip("="):
                return cert
        return None


def parse_roles(raw: str | list[str]) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    roles = tuple(dict.fromkeys(r.strip() for r in items if r.strip()))
    unknown = [r for r in roles if r not in KNOWN_ROLES]
    if unknown:
        raise AppError(
            f"roles: unknown application permission '{unknown[0]}'; choose from "
            f"{', '.join(sorted(KNOWN_ROLES))}"
        )
    return roles


def load_certificate(pem: str) -> AppCertificate:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise AppError(
            "certificate: not a PEM X.509 certificate (-----BEGIN CERTIFICATE-----)"
        ) from exc
    x5t, x5t_s256 = thumbprints(cert)
    return AppCertificate(
        pem=cert.public_bytes(Encoding.PEM).decode(),
        x5t=x5t,
        x5t_s256=x5t_s256,
        not_after=cert.not_valid_after_utc.timestamp(),
    )


class AppRegistry:
    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "apps"
        self._cache: dict[str, tuple[float, App]] = {}

    def _path(self, client_id: str) -> Path:
        return self.folder / f"{client_id.lower()}.json"

    def register(
        self,
        client_id: str,
        *,
        certificate_pem: str,
        roles: tuple[str, ...],
        display_name: str | None = None,
    ) -> App:
        """Create the app, or add the certificate and set the roles of an existing one."""
        if not _GUID.match(client_id):
            raise AppError("client-id: give the application (client) id as a GUID")
        cert = load_certificate(certificate_pem)
        existing = self.get(client_id)
        certs = [c for c in (existing.certificates if existing else ()) if c.x5t != cert.x5t]
        app = App(
            client_id=client_id.lower(),
            display_name=display_name or (existing.display_name if existing else client_id),
            roles=roles,
            certificates=(*certs, cert),
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "client_id": app.client_id,
            "display_name": app.display_name,
            "roles": list(app.roles),
            "certificates": [c.pem for c in app.certificates],
        }
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, self._path(client_id))
        return app

    def get(self, client_id: str) -> App | None:
        path = self._path(client_id)
        try:
            mtime = path.stat().st_mtime_ns
        except (FileNotFoundError, OSError):
            return None
        cached = self._cache.get(client_id.lower())
        if cached is not None and cached[0] == mtime:
            return cached[1]
        data = json.loads(path.read_text())
        app = App(
            client_id=data["client_id"],
            display_name=data["display_name"],
            roles=tuple(data["roles"]),
            certificates=tuple(load_certificate(p) for p in data["certificates"]),
        )
        self._cache[client_id.lower()] = (mtime, app)
        return app

    def all(self) -> list[App]:
        if not self.folder.exists():
            return []
        apps = (self.get(p.stem) for p in sorted(self.folder.glob("*.json")))
        return [a for a in apps if a is not None]

    def remove(self, client_id: str) -> bool:
        try:
            self._path(client_id).unlink()
        except FileNotFoundError:
            return False
        self._cache.pop(client_id.lower(), None)
        return True
