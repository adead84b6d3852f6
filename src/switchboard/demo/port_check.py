"""Is a port free on the host the demo will listen on? Asked before the demo sets anything up,
so a taken port costs a second and a sentence, not a database, an emulator start and a sync."""

from __future__ import annotations

import socket


def is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now: found by binding, as the server will.

    SO_REUSEADDR as uvicorn sets it: a port left in TIME_WAIT by a previous run counts as free,
    one another program listens on does not.
    """
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror:
        return True  # an unknown host is the server's error to report, in its own words
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError:
                return False
    return True


def next_free(host: str, port: int, *, avoid: frozenset[int] = frozenset()) -> int:
    """The first free port after ``port`` (to suggest one that works), or port + 1."""
    for candidate in range(port + 1, min(port + 100, 65535) + 1):
        if candidate not in avoid and is_free(host, candidate):
            return candidate
    return port + 1


def busy_message(host: str, port: int, variable: str, option: str, *, avoid: frozenset[int]) -> str:
    """What to say about a taken port: which, why, and the make variable that picks another."""
    other = next_free(host, port, avoid=avoid | {port})
    return (
        f"Port {port} is already in use (another program listens on it)."
        f" Choose another with make demo {variable}={other}"
        f" (or switchboard demo {option} {other})."
    )
