"""When the scheduler starts a run, and why: batched, cron, safety net, backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from switchboard.sync.policy import SyncPolicy
from switchboard.sync.schedule import RunRecord, SyncTimes, backoff, due

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
ON_DEMAND = SyncPolicy()
EVERY_15 = SyncPolicy(mode="batched", schedule_minutes=15)
HOURLY_CRON = SyncPolicy(mode="batched", schedule_cron="0 * * * *")
FRESH = SyncTimes(
    last_full_at=NOW - timedelta(hours=1),
    last_delta_at=NOW - timedelta(minutes=10),
    delta_chain_started_at=NOW - timedelta(hours=1),
)


def run(
    ago: timedelta, status: str = "succeeded", trigger: str = "schedule", kind: str = "delta"
) -> RunRecord:
    return RunRecord(trigger, kind, status, NOW - ago, NOW - ago + timedelta(minutes=1))


def test_no_delta_chain_means_a_full_reconcile_in_every_mode() -> None:
    for policy in (ON_DEMAND, EVERY_15, SyncPolicy(mode="jit")):
        decision = due(NOW, policy, None, [])
        assert decision.kind == "full"
        assert decision.reason == "safety net: no delta chain yet"


def test_on_demand_with_a_fresh_chain_waits_for_the_daily_delta() -> None:
    decision = due(NOW, ON_DEMAND, FRESH, [run(timedelta(minutes=10))])
    assert decision.kind == "none"
    assert decision.next_at == NOW - timedelta(minutes=10) + timedelta(hours=24)
    assert "one at least daily" in decision.reason


def test_safety_net_delta_after_a_day_and_full_after_six_days() -> None:
    stale_delta = SyncTimes(
        NOW - timedelta(days=2), NOW - timedelta(hours=25), NOW - timedelta(days=2)
    )
    decision = due(NOW, ON_DEMAND, stale_delta, [])
    assert decision.kind == "delta"
    assert "last delta round at 2026-01-14 08:00 UTC" in decision.reason
    stale_full = SyncTimes(
        NOW - timedelta(days=6, minutes=1),
        NOW - timedelta(hours=1),
        NOW - timedelta(days=6, minutes=1),
    )
    decision = due(NOW, SyncPolicy(mode="jit"), stale_full, [])
    assert decision.kind == "full"
    assert "a full one at least every 6 days" in decision.reason


def test_batched_every_n_minutes_from_the_last_scheduled_or_manual_start() -> None:
    assert due(NOW, EVERY_15, FRESH, [run(timedelta(minutes=14))]).kind == "none"
    decision = due(NOW, EVERY_15, FRESH, [run(timedelta(minutes=15))])
    assert decision.kind == "delta"
    assert decision.reason == "batched: every 15 min (since the run at 2026-01-15 08:45 UTC)"
    # A manual run restarts the interval; a notification round does not.
    manual = run(timedelta(minutes=5), trigger="manual", kind="full")
    assert due(NOW, EVERY_15, FRESH, [run(timedelta(minutes=20)), manual]).kind == "none"
    pushed = run(timedelta(minutes=5), trigger="notification")
    assert due(NOW, EVERY_15, FRESH, [run(timedelta(minutes=20)), pushed]).kind == "delta"


def test_batched_cron_fires_once_its_next_time_after_the_last_run_has_come() -> None:
    decision = due(NOW, HOURLY_CRON, FRESH, [run(timedelta(minutes=59, seconds=30))])
    assert decision.kind == "delta"
    assert decision.reason == "batched: cron '0 * * * *' (UTC) fires at 2026-01-15 09:00 UTC"
    decision = due(NOW, HOURLY_CRON, FRESH, [run(timedelta(0))])
    assert decision.kind == "none"
    assert decision.next_at == NOW + timedelta(hours=1)


LEASE = timedelta(seconds=60)


def test_a_run_in_progress_blocks_while_it_heartbeats() -> None:
    started = NOW - timedelta(hours=3)
    beating = NOW - timedelta(seconds=20)
    busy = RunRecord("manual", "full", "running", started, heartbeat_at=beating)
    decision = due(NOW, EVERY_15, None, [busy], lease=LEASE)
    assert decision.kind == "none"
    assert "in progress" in decision.reason
    assert decision.next_at == beating + LEASE
    # Silent for longer than the lease: it has died, and the full reconcile is due again.
    silent = RunRecord("manual", "full", "running", started, heartbeat_at=NOW - LEASE)
    assert due(NOW, EVERY_15, None, [silent], lease=LEASE).kind == "full"
    # A run that never heartbeated counts from its start.
    fresh = RunRecord("manual", "full", "running", NOW - timedelta(seconds=5))
    assert due(NOW, EVERY_15, None, [fresh], lease=LEASE).kind == "none"


def test_an_abandoned_full_leaves_the_safety_net_due() -> None:
    old_chain = SyncTimes(
        NOW - timedelta(days=7), NOW - timedelta(hours=1), NOW - timedelta(days=7)
    )
    abandoned = run(timedelta(minutes=5), status="abandoned", kind="full")
    decision = due(NOW, ON_DEMAND, old_chain, [abandoned], lease=LEASE)
    assert decision.kind == "full"  # not paused the way a held run pauses it


def test_an_abandoned_run_neither_starts_nor_ends_a_backoff() -> None:
    # Killed once: the account syncs again at once, no backoff.
    assert due(NOW, EVERY_15, FRESH, [run(timedelta(minutes=20), status="abandoned")]).is_due
    # Failing before and after a kill: still three failures in a row.
    failed = [run(timedelta(minutes=m), status="failed") for m in (30, 60, 90)]
    killed = run(timedelta(minutes=45), status="abandoned")
    decision = due(NOW, EVERY_15, FRESH, [*failed, killed])
    assert decision.reason.startswith("backing off after 3 failed run(s) in a row")


def test_terminated_accounts_get_nothing() -> None:
    decision = due(NOW, EVERY_15, None, [], terminated=True)
    assert (decision.kind, decision.next_at) == ("none", None)


def test_failures_back_off_exponentially_up_to_six_hours() -> None:
    assert [backoff(n) for n in (0, 1, 2, 3)] == [
        timedelta(0),
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(minutes=40),
    ]
    assert backoff(7) == backoff(50) == timedelta(hours=6)
    failed = [run(timedelta(minutes=m), status="failed") for m in (30, 60, 90)]
    # Three failures: wait 40 min after the newest (which ended 29 min ago).
    decision = due(NOW, EVERY_15, FRESH, failed)
    assert decision.kind == "none"
    assert decision.reason.startswith("backing off after 3 failed run(s) in a row")
    assert decision.next_at == NOW - timedelta(minutes=29) + timedelta(minutes=40)
    assert due(decision.next_at, EVERY_15, FRESH, failed).kind == "delta"
    # One success ends the streak.
    assert due(NOW, EVERY_15, FRESH, [run(timedelta(minutes=20)), *failed]).kind == "delta"


offsets = st.none() | st.integers(0, 10 * 24 * 60).map(lambda m: NOW - timedelta(minutes=m))
times = st.builds(SyncTimes, offsets, offsets, offsets)
records = st.builds(
    RunRecord,
    st.sampled_from(["manual", "schedule", "notification", "api"]),
    st.sampled_from(["full", "delta"]),
    st.sampled_from(["succeeded", "partial", "failed", "held", "running", "abandoned"]),
    st.integers(0, 3 * 24 * 60).map(lambda m: NOW - timedelta(minutes=m)),
    st.none(),
    st.none() | st.integers(0, 180).map(lambda s: NOW - timedelta(seconds=s)),
)
# Runs interrupted by throttling, with the time they may resume (before or after NOW).
interrupted = st.builds(
    RunRecord,
    st.sampled_from(["manual", "schedule", "notification"]),
    st.sampled_from(["full", "delta"]),
    st.just("interrupted"),
    st.integers(0, 3 * 24 * 60).map(lambda m: NOW - timedelta(minutes=m)),
    st.none(),
    st.integers(-600, 600).map(lambda m: NOW + timedelta(minutes=m)),
)
policies = st.sampled_from(
    [
        ON_DEMAND,
        SyncPolicy(mode="jit"),
        EVERY_15,
        HOURLY_CRON,
        SyncPolicy(mode="batched", schedule_cron="30 6 * * mon-fri"),
    ]
)


@given(policies, times, st.lists(records | interrupted, max_size=6), st.booleans())
def test_a_wait_always_names_a_future_time_at_which_something_is_due(
    policy: SyncPolicy, state: SyncTimes, history: list[RunRecord], terminated: bool
) -> None:
    decision = due(NOW, policy, state, history, terminated=terminated)
    if terminated:
        assert decision.kind == "none"
        return
    if decision.kind != "none":
        assert not any(r.alive(NOW, LEASE) for r in history)
        return
    assert decision.next_at is not None and decision.next_at > NOW
    later = due(decision.next_at, policy, state, history)
    assert later.kind != "none" or any(r.alive(decision.next_at, LEASE) for r in history), (
        later.reason
    )


@given(policies, times, st.lists(records, max_size=6))
def test_the_safety_net_holds_whatever_the_mode(
    policy: SyncPolicy, state: SyncTimes, history: list[RunRecord]
) -> None:
    history = [r for r in history if r.status not in ("running", "failed", "held")]
    decision = due(NOW, policy, state, history)
    if state.delta_chain_started_at is None or state.last_full_at is None:
        assert decision.kind == "full"
        return
    if NOW - state.last_full_at >= timedelta(days=6):
        assert decision.kind == "full"
    last_round = max(state.last_delta_at or state.last_full_at, state.last_full_at)
    if NOW - last_round >= timedelta(hours=24):
        assert decision.kind in ("delta", "full")


def test_a_held_run_pauses_full_reconciles_but_not_delta_rounds() -> None:
    old_chain = SyncTimes(
        NOW - timedelta(days=7), NOW - timedelta(hours=30), NOW - timedelta(days=7)
    )
    held = run(timedelta(days=2), status="held", kind="full")
    decision = due(NOW, ON_DEMAND, old_chain, [held])
    assert decision.kind == "delta"
    assert due(NOW, ON_DEMAND, old_chain, []).kind == "full"


def interrupted_run(ago: timedelta, wait: timedelta, kind: str = "delta") -> RunRecord:
    ended = NOW - ago + timedelta(minutes=1)
    return RunRecord(
        "notification", kind, "interrupted", NOW - ago, ended, resume_after=ended + wait
    )


def test_an_interrupted_run_waits_for_its_resume_time_then_runs_again() -> None:
    stopped = interrupted_run(timedelta(minutes=5), timedelta(minutes=30))
    resume = stopped.resume_after
    assert resume is not None
    for policy in (ON_DEMAND, EVERY_15, SyncPolicy(mode="jit")):
        decision = due(NOW, policy, FRESH, [stopped])
        assert decision.kind == "none"
        assert decision.next_at == resume
        assert decision.reason == (
            "Entra ID asked to wait (throttled); resuming after 2026-01-15 09:26 UTC"
        )
        assert due(resume - timedelta(seconds=1), policy, FRESH, [stopped]).kind == "none"
        # On demand, nothing else would be due for a day: the interrupted round is resumed.
        after = due(resume, policy, FRESH, [stopped])
        assert after.kind == "delta"
        if policy is ON_DEMAND:
            assert after.reason == "resuming the delta run interrupted by throttling"


def test_an_interrupted_full_reconcile_resumes_as_a_full_one() -> None:
    stopped = interrupted_run(timedelta(minutes=5), timedelta(minutes=10), kind="full")
    assert stopped.resume_after is not None
    assert due(stopped.resume_after, ON_DEMAND, FRESH, [stopped]).kind == "full"


def test_after_throttling_no_failure_backoff_applies() -> None:
    failed = [run(timedelta(minutes=m), status="failed") for m in (30, 60, 90)]
    stopped = interrupted_run(timedelta(minutes=5), timedelta(minutes=2))
    assert stopped.resume_after is not None
    decision = due(stopped.resume_after, EVERY_15, FRESH, [stopped, *failed])
    assert decision.kind == "delta"  # not "backing off after 3 failed runs"


def test_the_accounts_throttled_time_holds_whatever_the_newest_run() -> None:
    until = NOW + timedelta(minutes=12)
    history = [run(timedelta(hours=2))]
    stale = SyncTimes(NOW - timedelta(days=2), NOW - timedelta(hours=25), NOW - timedelta(days=2))
    decision = due(NOW, ON_DEMAND, stale, history, throttled_until=until)
    assert decision.kind == "none" and decision.next_at == until
    assert due(until, ON_DEMAND, stale, history, throttled_until=until).kind == "delta"
