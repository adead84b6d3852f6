"""Running the ASGI app under uvicorn."""

from __future__ import annotations

import uvicorn

from switchboard.bootstrap import build, is_embedded
from switchboard.config import Settings
from switchboard.db.migrate import upgrade
from switchboard.web.app import create_app


def run(*, host: str, port: int) -> None:
    settings = Settings()
    container = build(settings)
    if is_embedded(settings.database_url):
        upgrade(container.engine)
    uvicorn.run(create_app(container), host=host, port=port, log_level="info")
