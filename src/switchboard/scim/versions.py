"""A resource's version as its ETag (``W/"<n>"``), and ``If-Match``: a change applies only to
the version the client last saw (RFC 7644 3.14)."""

from __future__ import annotations

from switchboard.scim.errors import ScimError


def etag(version: int) -> str:
    return f'W/"{version}"'


def check(version: int, if_match: str | None, what: str) -> None:
    """412 when ``If-Match`` names neither this version nor ``*``."""
    if if_match is None:
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    current = etag(version)
    if "*" not in wanted and current not in wanted and current[2:] not in wanted:
        raise ScimError(
            412,
            f"the {what} changed since you read it (now version {version}); read it again"
            " and retry",
        )
