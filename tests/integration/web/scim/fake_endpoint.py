"""A small SCIM route that keeps the request log's contract (scope["state"]), so the middleware
is tested on its own: it checks the token like the real endpoint, then says what it did."""

from __future__ import annotations

import json

from fastapi import APIRouter, FastAPI, Request, Response

from switchboard.scim import tokens
from switchboard.scim.errors import ScimError

PATH = "/scim/v2/{account}/_fake/Users"
SCIM_JSON = "application/scim+json"


def _answer(status: int, body: dict[str, object]) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=SCIM_JSON)


def install(app: FastAPI) -> None:
    router = APIRouter()

    @router.post(PATH)
    async def create(account: str, request: Request) -> Response:
        body = await request.body()
        try:
            with request.app.state.container.unit_of_work() as session:
                found, _source = tokens.authenticate(
                    session, account, request.headers.get("authorization", "")
                )
                request.state.scim_account_id = found.id
        except ScimError as exc:
            return _answer(exc.status, exc.body())
        data = json.loads(body or b"{}")
        request.state.scim_subject = data.get("userName")
        if data.get("explode"):
            raise RuntimeError("the endpoint failed")
        request.state.scim_change = "created"
        return _answer(201, {"userName": data.get("userName"), "received": len(body)})

    @router.post("/scim/v2/{account}/_fake/forged")
    async def forged(account: str, request: Request) -> Response:
        """Claims an account that does not exist: its log entry cannot be written."""
        request.state.scim_account_id = 2_000_000_000
        return _answer(200, {})

    app.include_router(router)
