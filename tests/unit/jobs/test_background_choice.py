"""What `serve` runs beside the web server, from its flags and the database."""

from __future__ import annotations

import pytest

from switchboard.jobs.background import BackgroundChoiceError, choose


@pytest.mark.parametrize(
    ("embedded", "scheduler", "worker", "expected"),
    [
        (True, True, False, "scheduler"),  # the embedded default does everything
        (True, False, False, None),  # --no-scheduler: dedicated workers
        (False, True, False, None),  # PostgreSQL: `switchboard worker` processes
        (False, False, False, None),
        (False, True, True, "worker"),  # PostgreSQL with --worker
    ],
)
def test_choices(embedded: bool, scheduler: bool, worker: bool, expected: str | None) -> None:
    assert choose(embedded=embedded, scheduler=scheduler, worker=worker) == expected


def test_worker_on_sqlite_is_refused_in_words() -> None:
    with pytest.raises(BackgroundChoiceError) as refused:
        choose(embedded=True, scheduler=True, worker=True)
    assert str(refused.value) == (
        "--worker needs PostgreSQL (a procrastinate job queue); on SQLite `serve` runs the"
        " scheduler itself, so leave --worker out"
    )


@pytest.mark.parametrize("embedded", [True, False])
def test_worker_and_no_scheduler_contradict(embedded: bool) -> None:
    with pytest.raises(BackgroundChoiceError, match="contradict each other"):
        choose(embedded=embedded, scheduler=False, worker=True)
