"""State survives a restart from the same folder, and so do delta links."""

from __future__ import annotations

from pathlib import Path

from switchboard.emulator.server import running
from switchboard.emulator.state import SeedOptions

from .conftest import close_sessions, full_delta_round, graph_client, token_for


def test_restart_keeps_directory_apps_clock_and_delta_links(tmp_path: Path) -> None:
    state = tmp_path / "emu"
    with running(state, seed=SeedOptions(users=15, groups=2, seed=3)) as first:
        token = token_for(first, "User.Read.All,User.ReadWrite.All,GroupMember.Read.All")
        with graph_client(first, token) as graph:
            _, delta_link = full_delta_round(
                graph, graph.get("/users/delta", params={"$select": "jobTitle"})
            )
            uid = graph.get("/users", params={"$top": "1"}).json()["value"][0]["id"]
            assert graph.patch(f"/users/{uid}", json={"jobTitle": "Survivor"}).status_code == 204
            gone = graph.get("/users", params={"$top": "2"}).json()["value"][1]["id"]
            assert graph.delete(f"/users/{gone}").status_code == 204
        first.call(lambda: first.emulator.clock.advance(3600))
        close_sessions()
        tenant = first.tenant_id
        path_delta = delta_link.split("/v1.0", 1)[1]

    with running(state) as second:
        assert second.tenant_id == tenant
        assert second.emulator.clock.offset_seconds >= 3600
        # The access token (signing key) and the app registration carried over too.
        with graph_client(second, token) as graph:
            items, _ = full_delta_round(graph, graph.get(path_delta))
            by_id = {i["id"]: i for i in items}
            assert by_id[uid] == {"id": uid, "jobTitle": "Survivor"}
            assert by_id[gone] == {"id": gone, "@removed": {"reason": "changed"}}
            assert graph.get(f"/users/{uid}").json()["jobTitle"] == "Survivor"
            assert len(graph.get("/users").json()["value"]) == 14
