"""Checks on a Graph request before it is served: the app roles each operation needs, the
body and headers it must carry, and the errors for paths and methods Graph does not serve.
"""

from __future__ import annotations

from typing import Any

from switchboard.emulator.directory_objects import DirectoryError, bad_request
from switchboard.emulator.messages import GraphRequest

READ_USERS = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
WRITE_USERS = frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"})
WRITE_PHONES = WRITE_USERS | {"User-Phone.ReadWrite.All"}
# Phone fields of admin-role users need more than User.ReadWrite.All.
WRITE_ADMIN_PHONES = frozenset({"Directory.ReadWrite.All"})
READ_GROUPS = frozenset(
    {
        "Group.Read.All",
        "Group.ReadWrite.All",
        "GroupMember.Read.All",
        "GroupMember.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
WRITE_GROUPS = frozenset({"Group.ReadWrite.All", "Directory.ReadWrite.All"})
WRITE_MEMBERS = WRITE_GROUPS | {"GroupMember.ReadWrite.All"}
READ_ANY = READ_USERS | READ_GROUPS


def forbidden() -> DirectoryError:
    return DirectoryError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def segment_error(segment: str) -> DirectoryError:
    return DirectoryError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def need(req: GraphRequest, roles: frozenset[str]) -> None:
    if not req.caller.has_any(roles):
        raise forbidden()


def json_body(req: GraphRequest) -> dict[str, Any]:
    if not isinstance(req.body, dict):
        raise bad_request("The request body must be a JSON object.")
    return req.body


def require_eventual(req: GraphRequest, what: str) -> None:
    if req.headers.get("consistencylevel", "").lower() != "eventual":
        raise bad_request(f"{what} requires the header ConsistencyLevel: eventual.")


def no_list_options(req: GraphRequest) -> None:
    for option in ("$top", "$filter", "$search", "$skiptoken"):
        if option in req.query:
            raise bad_request(f"The query option '{option}' is not allowed on a single object.")


def method_not_allowed(method: str) -> DirectoryError:
    return DirectoryError(405, "Request_BadRequest", f"The method {method} is not allowed here.")
