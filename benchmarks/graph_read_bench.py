"""Graph read benchmark: a 100,000-user tenant read through GraphDirectory vs a bare client.

    .venv/bin/python benchmarks/graph_read_bench.py [--users 100000] [--groups 200]
        [--latency 0,250] [--workers 8] [--delta-latency 0]

The emulator runs in its own process (seeded once, kept in a temporary folder) so it does not
share the interpreter lock with the client being measured; each measurement runs in a fresh
child process so its peak RSS is its own. The floor is the transport alone: httpx walking
/users (or /users/delta) one page at a time with a fixed token, no parsing beyond JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from switchboard.directory.auth import GraphCredentials, MsalTokenProvider, TokenCache
from switchboard.directory.graph_directory import connect
from switchboard.directory.models import BASE_SELECT
from switchboard.emulator.apps import AppRegistry, parse_roles
from switchboard.emulator.keys_and_certificates import self_signed_certificate
from switchboard.emulator.state import control_key

SELECT = list(BASE_SELECT)
SCENARIOS = {
    "floor-users": "bare httpx: GET /users pages, one at a time",
    "scope-all": "users_in_scope(no groups): auto (default)",
    "scope-all-seq": "users_in_scope(no groups): plain page walk",
    "scope-all-part": "users_in_scope(no groups): UPN partitions",
    "scope-groups": "users_in_scope(every group): members in parallel",
    "floor-delta": "bare httpx: GET /users/delta pages",
    "delta": "users_delta(None): initial round",
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- one measurement
def measure(scenario: str, setup: dict[str, Any], workers: int) -> dict[str, Any]:
    creds = GraphCredentials(**setup["creds"])
    started = time.perf_counter()
    if scenario.startswith("floor"):
        token = MsalTokenProvider(creds).token()
        ctx = ssl.create_default_context(cadata=creds.ca_bundle_pem)
        path = "/users" if scenario == "floor-users" else "/users/delta"
        params = {"$select": ",".join(SELECT)}
        if scenario == "floor-users":
            params["$top"] = "999"
        started = time.perf_counter()
        count = requests = 0
        with httpx.Client(
            base_url=f"{creds.graph_url}/v1.0",
            verify=ctx,
            timeout=120,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            resp = client.get(path, params=params)
            while True:
                requests += 1
                resp.raise_for_status()
                body = resp.json()
                count += len(body["value"])
                link = body.get("@odata.nextLink")
                if not link:
                    break
                resp = client.get(link)
    else:
        directory = connect(creds, TokenCache(), workers=workers)
        directory.partitioned = {"scope-all-seq": False, "scope-all-part": True}.get(scenario)
        directory.client.tokens.token()  # both sides start with a token in hand
        started = time.perf_counter()
        with directory:
            if scenario == "delta":
                count = len(directory.users_delta(None, SELECT).changed)
            else:
                groups = setup["groups"] if scenario == "scope-groups" else []
                count = sum(1 for _ in directory.users_in_scope(groups, SELECT))
            requests = directory.client.requests_sent
    seconds = time.perf_counter() - started
    return {"users": count, "seconds": seconds, "requests": requests, "rss_mb": peak_rss_mb()}


# ---------------------------------------------------------------------------- orchestration
def start_emulator(folder: Path, users: int, groups: int) -> tuple[subprocess.Popen[bytes], str]:
    exe = Path(sys.executable).with_name("switchboard")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [
            str(exe),
            "emulator",
            "serve",
            "--state-dir",
            str(folder),
            "--port",
            "0",
            "--users",
            str(users),
            "--groups",
            str(groups),
            "--seed",
            "1",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    server_file = folder / "server.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the emulator exited during start-up")
        if server_file.exists():
            url = json.loads(server_file.read_text())["url"]
            try:
                ctx = ssl.create_default_context(cafile=str(folder / "ca.pem"))
                httpx.get(
                    f"{url}/_emulator/status",
                    verify=ctx,
                    headers={"X-Emulator-Key": control_key(folder)},
                    timeout=5,
                )
                return proc, url
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the emulator did not start within 10 minutes")


def control(folder: Path, url: str, method: str, path: str, body: Any = None) -> Any:
    ctx = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    resp = httpx.request(
        method,
        f"{url}/_emulator{path}",
        json=body,
        verify=ctx,
        timeout=60,
        headers={"X-Emulator-Key": control_key(folder)},
    )
    resp.raise_for_status()
    return resp.json()


def run_child(scenario: str, setup_file: Path, workers: int) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - this script, fixed arguments
        [
            sys.executable,
            __file__,
            "--child",
            scenario,
            "--setup",
            str(setup_file),
            "--workers",
            str(workers),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--latency", default="0,250", help="added ms per request, comma separated")
    parser.add_argument(
        "--delta-latency",
        default="0",
        help="latencies at which to run the delta rows (a delta chain cannot "
        "overlap requests, so 250 ms x 500 pages takes minutes)",
    )
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--child")
    parser.add_argument("--setup")
    args = parser.parse_args()
    if args.child:
        setup = json.loads(Path(args.setup).read_text())
        print(json.dumps(measure(args.child, setup, args.workers)))
        return

    with tempfile.TemporaryDirectory(prefix="graph-read-bench-") as tmp:
        folder = Path(tmp) / "emulator"
        t0 = time.perf_counter()
        proc, url = start_emulator(folder, args.users, args.groups)
        print(
            f"emulator at {url}: {args.users:,} users in {args.groups} groups, "
            f"started in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        try:
            key, cert = self_signed_certificate("graph-read-bench")
            client_id = str(uuid.uuid4())
            AppRegistry(folder).register(
                client_id,
                certificate_pem=cert.decode(),
                roles=parse_roles("User.Read.All,GroupMember.Read.All"),
            )
            status = control(folder, url, "GET", "/status")
            groups = [g["id"] for g in _all_groups(folder, url, key, cert, client_id, status)]
            setup = {
                "creds": {
                    "account_id": 1,
                    "tenant_id": status["tenant_id"],
                    "client_id": client_id,
                    "private_key_pem": key.decode(),
                    "certificate_pem": cert.decode(),
                    "authority_url": url,
                    "graph_url": url,
                    "ca_bundle_pem": (folder / "ca.pem").read_text(),
                },
                "groups": groups,
            }
            setup_file = Path(tmp) / "setup.json"
            setup_file.write_text(json.dumps(setup))
            rows = []
            delta_latencies = {int(x) for x in args.delta_latency.split(",") if x}
            for latency in [int(x) for x in args.latency.split(",")]:
                control(folder, url, "PATCH", "/faults", {"latency_ms": latency})
                for scenario in SCENARIOS:
                    if scenario in ("floor-delta", "delta") and latency not in delta_latencies:
                        continue
                    result = run_child(scenario, setup_file, args.workers)
                    result.update(scenario=scenario, latency=latency)
                    rows.append(result)
                    print(
                        f"  {latency:>4} ms  {scenario:<14} {result['users']:>7,} users  "
                        f"{result['seconds']:7.2f} s",
                        flush=True,
                    )
            print_table(rows)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _all_groups(
    folder: Path, url: str, key: bytes, cert: bytes, client_id: str, status: dict[str, Any]
) -> list[dict[str, Any]]:
    creds = GraphCredentials(
        account_id=0,
        tenant_id=status["tenant_id"],
        client_id=client_id,
        private_key_pem=key.decode(),
        certificate_pem=cert.decode(),
        authority_url=url,
        graph_url=url,
        ca_bundle_pem=(folder / "ca.pem").read_text(),
    )
    with connect(creds, TokenCache()) as directory:
        return list(directory.client.items("/groups", {"$select": "id", "$top": "999"}))


def print_table(rows: list[dict[str, Any]]) -> None:
    floors = {
        (r["latency"], r["scenario"]): r["seconds"]
        for r in rows
        if r["scenario"].startswith("floor")
    }
    header = (
        f"| {'latency':>7} | {'read':<48} | {'users':>7} | {'requests':>8} | "
        f"{'wall s':>7} | {'users/s':>8} | {'peak RSS MB':>11} | {'vs floor':>8} |"
    )
    print()
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        floor_key = "floor-delta" if r["scenario"] in ("delta", "floor-delta") else "floor-users"
        floor = floors.get((r["latency"], floor_key))
        ratio = f"{r['seconds'] / floor:.2f}" if floor else "-"
        rate = r["users"] / r["seconds"] if r["seconds"] else 0.0
        print(
            f"| {r['latency']:>4} ms | {SCENARIOS[r['scenario']]:<48} | {r['users']:>7,} | "
            f"{r['requests']:>8,} | {r['seconds']:>7.2f} | {rate:>8,.0f} | "
            f"{r['rss_mb']:>11.0f} | {ratio:>8} |"
        )


if __name__ == "__main__":
    main()
