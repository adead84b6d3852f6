"""Runtime configuration, read from the environment (prefix ``SWITCHBOARD_``)."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
