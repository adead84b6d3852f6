"""``python -m resilience``: run the suite, print the table, exit 1 when a target is missed."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from resilience.report import as_json, print_table
from resilience.suite import DATABASES, FULL, QUICK, SCENARIOS, run_suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resilience",
        description="Kills, fault storms, replays, races and guard scenarios against the Entra"
        " ID emulator on SQLite and PostgreSQL, each checked against the tenant.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller tenant and counts (a few minutes)"
    )
    parser.add_argument("--kills", type=int, help="SIGKILLs per database (default 100, quick 10)")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from: {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--databases", default=",".join(DATABASES))
    parser.add_argument(
        "--block-limit",
        type=float,
        help="seconds an account may stay blocked by a dead run or worker (default 120)",
    )
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.kills is not None:
        if args.kills < 0:
            parser.error("--kills: give a whole number of 0 or more")
        sizes = replace(sizes, kills=args.kills)
    if args.block_limit is not None:
        if args.block_limit <= 0:
            parser.error("--block-limit: give a number of seconds above 0")
        sizes = replace(sizes, block_limit=args.block_limit)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    try:
        rows = run_suite(sizes, scenario_names=names, databases=kinds)
    except ValueError as exc:
        parser.error(str(exc))
    print_table(rows, sizes.block_limit, "Resilience against the Entra ID emulator")
    if args.json:
        sys.stdout.write(as_json(rows, sizes.block_limit) + "\n")
    missed = [r for r in rows if r.failures(sizes.block_limit)]
    if missed:
        print(f"{len(missed)} of {len(rows)} rows missed a target")
        return 1
    print("every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
