"""The fleet benchmark's verdicts come from sync_runs rows: lag, missed due times, overlaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet_metrics import PhaseStats, RunRow, overlaps, percentile, phase_stats

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EVERY = timedelta(minutes=5)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(
    account: int,
    start: float,
    seconds: float | None = 1.0,
    trigger: str = "schedule",
    status: str = "succeeded",
) -> RunRow:
    finished = at(start + seconds) if seconds is not None else None
    return RunRow(account, trigger, "delta", status, at(start), finished)


def stats(runs: list[RunRow], since: dict[int, datetime], end: float = 900) -> PhaseStats:
    return phase_stats(runs, since, workers=1, slots=2, start=T0, end=at(end), every=EVERY)


def test_lag_counts_from_the_switch_then_five_minutes_after_each_start() -> None:
    runs = [run(1, 10), run(1, 320), run(1, 640)]
    s = stats(runs, {1: at(0)})
    # Due at 0, 310 (10 + 300) and 620 (320 + 300).
    assert sorted([s.lag_p50, s.lag_max]) == [10.0, 20.0]
    assert s.scheduled_runs == 3
    assert s.runs_per_minute == 3 / 15
    assert s.missed == 0
    # The periods of the dues at 0 and 310 end within the phase; those of 620 and 940 do not.
    assert s.judged == 2


def test_a_due_time_with_no_run_within_its_period_is_missed() -> None:
    runs = [run(1, 5), run(1, 700)]  # due at 305, nothing until 700 (> 605)
    s = stats(runs, {1: at(0)})
    assert s.missed == 1
    never = stats([], {2: at(100)})
    assert (never.missed, never.judged) == (1, 1)


def test_a_due_time_before_the_phase_counts_from_its_start() -> None:
    earlier = run(1, -400)  # due at -100, before the phase began at 0
    s = stats([earlier, run(1, 30)], {1: at(-500)}, end=500)
    assert s.lag_max == 30.0
    assert (s.judged, s.missed) == (1, 0)


def test_due_times_whose_period_outlasts_the_phase_are_not_judged() -> None:
    s = stats([run(1, 10)], {1: at(0)}, end=200)
    assert (s.judged, s.missed) == (0, 0)


def test_only_batched_accounts_count_but_every_trigger_can_overlap() -> None:
    runs = [
        run(1, 10),
        run(9, 0, seconds=5, trigger="notification"),
        run(9, 3, seconds=1, trigger="notification"),  # starts before the first finished
    ]
    s = stats(runs, {1: at(0)})
    assert s.scheduled_runs == 1
    assert s.jit_rounds == 2
    assert s.overlaps == 1


def test_a_run_left_unfinished_overlaps_the_next() -> None:
    runs = [run(1, 10, seconds=None), run(1, 400)]
    assert overlaps(runs, T0, at(900)) == 1
    assert overlaps([run(1, 10, seconds=5), run(1, 15)], T0, at(900)) == 0


def test_busy_share_is_of_the_job_slots() -> None:
    runs = [run(1, 10, seconds=30), run(2, 20, seconds=60)]
    s = stats(runs, {1: at(0), 2: at(0)}, end=600)
    assert s.busy_share == 90 / (600 * 2)
    assert s.mean_run_seconds == 45.0


def test_a_failed_run_is_counted() -> None:
    s = stats([run(1, 10, status="failed")], {1: at(0)})
    assert s.failed == 1


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
