"""A queue worker whose directory read never ends: the process a test kills mid-job.

Run as ``python -m tests.integration.jobs.stalling_worker DATABASE_URL MARKER``; it writes
MARKER once its sync job is reading the directory, then waits there for good.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from switchboard.bootstrap import build
from switchboard.config import Settings
from switchboard.directory.models import DirectoryUser
from switchboard.jobs import queue
from tests.fakes import FakeDirectory


class StuckDirectory(FakeDirectory):
    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker

    def users_in_scope(
        self, group_ids: Sequence[str], select: Sequence[str]
    ) -> Iterator[DirectoryUser]:
        self.marker.write_text("reading\n")
        while True:
            time.sleep(1)


def main() -> None:
    url, marker = sys.argv[1], Path(sys.argv[2])
    container = build(
        Settings(
            database_url=url,
            data_dir=marker.parent,
            secret_key="test-secret-key-not-for-production",
        ),
        directory_for=lambda _registration: StuckDirectory(marker),
    )
    app = queue.make_app(container)
    app.run_worker(queues=[queue.SYNC_QUEUE], install_signal_handlers=False)


if __name__ == "__main__":
    main()
