from collections import Counter
from sqlalchemy import event
from tests.scim_support import ScimClient, entra_user


def test_prof(scim: ScimClient, container) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        scim.post("/Users", entra_user(f"warm{i}@example.com"))
    seen = []

    def before(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement.split("\n")[0][:150])

    event.listen(container.engine, "before_cursor_execute", before)
    r = scim.post("/Users", entra_user("one@example.com"))
    print("\nCREATE", len(seen))
    [print("  ", s) for s in seen]
    seen.clear()
    scim.patch(
        f"/Users/{r.json()['id']}", {"op": "replace", "path": "name.givenName", "value": "Zed"}
    )
    print("\nPATCH", len(seen))
    [print("  ", s) for s in seen]
    seen.clear()
    scim.get(f"/Users/{r.json()['id']}")
    print("\nGET", len(seen))
    [print("  ", s) for s in seen]
