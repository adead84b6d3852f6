"""Which scenarios run, at which sizes, on which databases; one emulator for the whole suite."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from resilience import guard_scenarios, notifications, scenarios
from resilience.emulator import Emulator
from resilience.portal import postgres_unreachable
from resilience.report import BLOCK_LIMIT_SECONDS, Row
from resilience.scenarios import Context

Scenario = Callable[[Context, str], Row]
SCENARIOS: dict[str, Scenario] = {
    "kills": scenarios.kills,
    "storm": scenarios.storm,
    "replays": scenarios.replays,
    "notifications": notifications.duplicated,
    "race": scenarios.race,
    "worker": scenarios.worker,
    "guard-approve": guard_scenarios.leave_and_return,
    "guard-wrong-scope": guard_scenarios.wrong_scope,
    "backlog": guard_scenarios.backlog,
}
DATABASES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Sizes:
    users: int = 4000
    groups: int = 8
    kills: int = 100
    churn: int = 20  # directory changes between two runs
    rounds: int = 10  # runs under the storm, replayed delta links
    races: int = 6
    leavers: int = 350
    backlog: int = 9000
    block_limit: float = BLOCK_LIMIT_SECONDS


FULL = Sizes()
QUICK = Sizes(
    users=400, kills=10, churn=10, rounds=3, races=2, leavers=35, backlog=900, block_limit=120
)


def run_suite(
    sizes: Sizes,
    *,
    scenario_names: list[str] | None = None,
    databases: list[str] | None = None,
    workdir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> list[Row]:
    names = scenario_names or list(SCENARIOS)
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    kinds = databases or list(DATABASES)
    if set(kinds) - set(DATABASES):
        raise ValueError(f"unknown databases; choose from {', '.join(DATABASES)}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="resilience-", dir=workdir) as tmp:
        folder = Path(tmp) / "emulator"
        progress(f"starting the emulator: {sizes.users:,} users in {sizes.groups} groups")
        emulator = Emulator(folder, sizes.users, sizes.groups)
        try:
            flat = emulator.groups_by_size()
            if len(flat) < 3:
                raise ValueError("the tenant needs at least three groups without nested groups")
            ctx = Context(
                emulator=emulator,
                workdir=Path(tmp),
                groups=[flat[0][0], flat[1][0]],
                spare_group=flat[-1][0],
                kills=sizes.kills,
                churn=sizes.churn,
                rounds=sizes.rounds,
                races=sizes.races,
                leavers=sizes.leavers,
                backlog=sizes.backlog,
                block_limit=sizes.block_limit,
            )
            for kind in kinds:
                why = postgres_unreachable() if kind == "postgresql" else None
                for i, name in enumerate(names):
                    if why is not None:
                        rows.append(Row(name, kind, skipped=why))
                        continue
                    progress(f"{name} on {kind} ...")
                    try:
                        row = SCENARIOS[name](replace(ctx, seed=ctx.seed + 1000 * i), kind)
                    except Exception as exc:  # the suite's own failure is a row, not the end
                        row = Row(name, kind)
                        row.misses.append(f"the scenario could not finish: {_describe(exc)}")
                    progress(f"  {row.verdict(sizes.block_limit)}")
                    rows.append(row)
        finally:
            emulator.stop()
    return rows


def _describe(exc: BaseException) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first[:120]}" if first else type(exc).__name__
