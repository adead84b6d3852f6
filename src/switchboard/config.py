"""Runtime configuration, read from the environment (prefix ``SWITCHBOARD_``)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/switchboard.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql://user@host/db",
    )
    secret_key: str | None = Field(
        default=None,
        description="Key for secrets at rest; generated into DATA_DIR/secret_key when unset",
    )
    data_dir: Path = Field(default=Path("./var"), description="Media files and local state")
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    public_url: str | None = Field(
        default=None,
        description="The portal's address as Graph reaches it (https://host[:port][/prefix]);"
        " change notifications are sent to PUBLIC_URL/webhooks/graph. Graph requires HTTPS;"
        " plain http is accepted for a loopback host only (local testing with the emulator)",
    )
    notification_min_gap_seconds: float = Field(
        default=1.2,
        ge=0,
        le=60,
        description="Least time between the starts of two back-to-back notification-triggered"
        " delta rounds of one account, while changes keep arriving: the first notification for"
        " an idle account starts its round at once, and those arriving during a round lead to"
        " one more round, started this long after the previous one started (at once if that"
        " round took longer). A burst becomes a few rounds; 0: a round per round's end",
    )
    run_lease_seconds: float = Field(
        default=60,
        ge=1,
        le=3600,
        description="A sync run renews its lease every quarter of this; a run whose last sign"
        " of life is older is taken as stopped, and the next run of its account goes ahead",
    )
    worker_stalled_seconds: float = Field(
        default=30,
        ge=1,
        le=3600,
        description="A queue worker sends a heartbeat every third of this; the jobs of a worker"
        " silent for longer are retried by the others",
    )

    run_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Sync runs and their items, and SCIM request-log entries, older than this many"
        " days are pruned daily",
    )
    metrics_token: str | None = Field(
        default=None,
        description="When set, /metrics asks for 'Authorization: Bearer <token>'",
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.query or parts.fragment or not parts.hostname:
            raise ValueError(
                f"public_url: '{value}' must be a plain address such as https://portal.example.com"
            )
        if parts.scheme == "https":
            return value
        if parts.scheme == "http" and _is_loopback(parts.hostname):
            return value
        raise ValueError(
            f"public_url: '{value}' must use https (Graph delivers change notifications to HTTPS"
            " endpoints only; http is accepted for 127.0.0.1/localhost in local tests)"
        )

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @cached_property
    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept (mode 0600) in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
