"""The control surface under /_emulator: apps, reset and seed, faults, clock, churn, status.

Apart from the Graph surface and guarded by the key in DIR/control.key (header
``X-Emulator-Key``), which the ``switchboard emulator`` commands read from the state folder.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from switchboard.emulator.apps import AppError, parse_roles
from switchboard.emulator.clock import iso
from switchboard.emulator.directory_objects import DirectoryError

if TYPE_CHECKING:
    from switchboard.emulator.state import Emulator

Handler = Callable[[Request], Awaitable[Response]]


class ControlError(Exception):
    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


def _error(message: str, field: str | None, status: int) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": "invalid" if status == 422 else "denied",
                "message": message,
                "field": field,
            }
        },
        status,
    )


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ControlError("body: not valid JSON") from exc
    if not isinstance(data, dict):
        raise ControlError("body: give a JSON object")
    return data


def _int(data: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ControlError(f"{key}: give a whole number from {lo} to {hi}", key)
    return value


def _number(data: dict[str, Any], key: str, lo: float, hi: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ControlError(f"{key}: give a number from {lo:g} to {hi:g}", key)
    return float(value)


def control_routes(emu: Emulator) -> list[Route]:
    from switchboard.emulator.state import SeedOptions

    def guarded(fn: Handler) -> Handler:
        async def wrapper(request: Request) -> Response:
            if not emu.check_control_key(request.headers.get("x-emulator-key")):
                return _error(
                    "X-Emulator-Key: missing or wrong; read it from DIR/control.key",
                    "X-Emulator-Key",
                    401,
                )
            try:
                return await fn(request)
            except ControlError as exc:
                return _error(exc.message, exc.field, exc.status)
            except AppError as exc:
                return _error(str(exc), str(exc).split(":")[0], 422)
            except DirectoryError as exc:
                return _error(exc.message, None, exc.status)
            except ValueError as exc:
                return _error(str(exc), str(exc).split(":")[0], 422)

        return wrapper

    def status_body() -> dict[str, Any]:
        d = emu.directory
        return {
            "tenant_id": d.tenant_id,
            "domain": d.domain,
            "users": d.active_count(),
            "deleted_users": len(d.deleted_ids),
            "groups": len(d.groups),
            "version": d.version,
            "clock": iso(emu.clock.timestamp()),
            "clock_offset_seconds": emu.clock.offset_seconds,
            "faults": emu.faults.public(),
            "throttle": {
                "enabled": emu.throttle.enabled,
                "read_limit": emu.throttle.read_limit_override,
                "write_limit": emu.throttle.write_limit_override,
            },
            "delta_page_size": emu.graph.delta.page_size,
            "subscriptions": len(emu.notifier.live()),
            "pending_notifications": emu.notifier.pending(),
            "churning": emu.churn_task is not None and not emu.churn_task.done(),
            "apps": [a.client_id for a in emu.apps.all()],
        }

    async def status(request: Request) -> Response:
        return JSONResponse(status_body())

    async def add_app(request: Request) -> Response:
        data = await _json(request)
        pem = data.get("certificate_pem")
        if not isinstance(pem, str):
            raise ControlError(
                "certificate_pem: give the app certificate as PEM text", "certificate_pem"
            )
        roles = parse_roles(data.get("roles", []))
        client_id = data.get("client_id")
        if not isinstance(client_id, str):
            raise ControlError("client_id: give the application (client) id", "client_id")
        app = emu.apps.register(
            client_id, certificate_pem=pem, roles=roles, display_name=data.get("display_name")
        )
        return JSONResponse(
            {
                "client_id": app.client_id,
                "roles": list(app.roles),
                "certificates": [c.x5t for c in app.certificates],
            },
            201,
        )

    async def list_apps(request: Request) -> Response:
        return JSONResponse(
            [
                {"client_id": a.client_id, "display_name": a.display_name, "roles": list(a.roles)}
                for a in emu.apps.all()
            ]
        )

    async def reset(request: Request) -> Response:
        data = await _json(request)
        opts = SeedOptions(
            users=_int(data, "users", 200, 0, 1_000_000),
            groups=_int(data, "groups", 10, 0, 10_000),
            seed=_int(data, "seed", 1, 0, 2**31),
        )
        summary = emu.reset(opts)
        return JSONResponse({"seeded": summary.__dict__, **status_body()})

    async def faults(request: Request) -> Response:
        if request.method == "PATCH":
            emu.faults.update(await _json(request))
            emu.save()
        return JSONResponse(emu.faults.public())

    async def throttle(request: Request) -> Response:
        data = await _json(request)
        if "enabled" in data:
            if not isinstance(data["enabled"], bool):
                raise ControlError("enabled: give true or false", "enabled")
            emu.throttle.enabled = data["enabled"]
        for key, attr in (
            ("read_limit", "read_limit_override"),
            ("write_limit", "write_limit_override"),
        ):
            if key in data:
                value = None if data[key] is None else _int(data, key, 0, 1, 10_000_000)
                setattr(emu.throttle, attr, value)
        emu.throttle.reset()
        return JSONResponse(status_body()["throttle"])

    async def settings(request: Request) -> Response:
        data = await _json(request)
        if "delta_page_size" in data:
            emu.graph.delta.page_size = _int(data, "delta_page_size", 200, 1, 5000)
        emu.save()
        return JSONResponse({"delta_page_size": emu.graph.delta.page_size})

    async def advance_clock(request: Request) -> Response:
        data = await _json(request)
        seconds = (_number(data, "seconds", 0, 10 * 365 * 86400) or 0.0) + (
            _number(data, "days", 0, 3650) or 0.0
        ) * 86400
        if seconds <= 0:
            raise ControlError("seconds/days: give how far to move the clock (> 0)", "seconds")
        emu.clock.advance(seconds)
        purged = emu.directory.expire_deleted()
        emu.save()
        return JSONResponse({"clock": iso(emu.clock.timestamp()), "purged_deleted_users": purged})

    async def churn(request: Request) -> Response:
        if request.method == "DELETE":
            emu.stop_churn()
            return JSONResponse({"churning": False})
        data = await _json(request)
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ControlError("seed: give a whole number", "seed")
        rate = _number(data, "rate", 0.01, 10_000)
        if rate is not None:
            duration = _number(data, "duration", 0.1, 7 * 86400)
            emu.start_churn(rate, duration, seed)
            return JSONResponse({"churning": True, "rate": rate, "duration": duration}, 202)
        count = _int(data, "count", 0, 1, 1_000_000)
        if seed is not None:
            from switchboard.emulator.churn import Churner

            emu.churner = Churner(emu.directory, seed)
        made = emu.churner.run(count)
        return JSONResponse({"changes": dict(made)})

    async def create_user(request: Request) -> Response:
        """Fixture users with what Graph's API cannot set (admin role, on-premises sync)."""
        data = await _json(request)
        is_admin = data.pop("isAdmin", False)
        if not isinstance(is_admin, bool):
            raise ControlError("isAdmin: give true or false", "isAdmin")
        user = emu.directory.create_user(data, is_admin=is_admin, allow_read_only=True)
        return JSONResponse({"id": user.id, **user.props, "isAdmin": user.is_admin}, 201)

    async def reauthorization(request: Request) -> Response:
        emu.notifier.request_reauthorization(request.path_params["sub_id"])
        return Response(status_code=202)

    async def notifications(request: Request) -> Response:
        return JSONResponse(
            {
                "sent": list(emu.notifier.sent_log),
                "endpoints": {
                    url: {
                        "delivered": s.delivered,
                        "failed": s.failed,
                        "dropped": s.dropped,
                        "slow_share": s.slow_share(),
                    }
                    for url, s in emu.notifier.stats.items()
                },
                "pending": emu.notifier.pending(),
            }
        )

    p = "/_emulator"
    return [
        Route(f"{p}/status", guarded(status)),
        Route(f"{p}/apps", guarded(add_app), methods=["POST"]),
        Route(f"{p}/apps", guarded(list_apps), methods=["GET"]),
        Route(f"{p}/reset", guarded(reset), methods=["POST"]),
        Route(f"{p}/faults", guarded(faults), methods=["GET", "PATCH"]),
        Route(f"{p}/throttle", guarded(throttle), methods=["PATCH"]),
        Route(f"{p}/settings", guarded(settings), methods=["PATCH"]),
        Route(f"{p}/clock/advance", guarded(advance_clock), methods=["POST"]),
        Route(f"{p}/churn", guarded(churn), methods=["POST", "DELETE"]),
        Route(f"{p}/users", guarded(create_user), methods=["POST"]),
        Route(
            f"{p}/subscriptions/{{sub_id}}/reauthorization-required",
            guarded(reauthorization),
            methods=["POST"],
        ),
        Route(f"{p}/notifications", guarded(notifications), methods=["GET"]),
    ]
