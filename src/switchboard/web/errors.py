"""One error envelope for every API failure: {"error": {"code", "message", "field"}}; a browser
asking for a page at an address that has none gets the UI's error page instead."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from switchboard.portal.errors import PortalError
from switchboard.scim.errors import ScimError
from switchboard.web.scim.responses import error as scim_error
from switchboard.web.scim.responses import error_response as scim_error_response
from switchboard.web.scim.responses import is_scim
from switchboard.web.ui.routing import SECURITY_HEADERS
from switchboard.web.ui.templating import render

# Machine-facing prefixes keep the JSON envelope whatever the client accepts.
_NOT_PAGES = ("/api/", "/scim/", "/webhooks", "/openapi", "/metrics", "/health", "/static/")


def envelope(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message, "field": field}},
        headers=headers,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's).

    Each method is tried against the router, so routes inside included routers count too.
    """
    allowed = {
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    }
    return ", ".join(sorted(allowed))


def _wants_page(request: Request) -> bool:
    """A browser navigating (it accepts HTML), to an address outside the API."""
    return (
        request.method in ("GET", "HEAD")
        and "text/html" in request.headers.get("accept", "")
        and not request.url.path.startswith(_NOT_PAGES)
    )


def _location(loc: tuple[object, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or None


def _error_page(request: Request, status: int, message: str) -> Response:
    page = render(request, "error.html", {"status": status, "message": message}, status_code=status)
    page.headers.update(SECURITY_HEADERS)
    return page


def _page_for(request: Request, exc: RequestValidationError) -> Response:
    """A browser's address that does not fit its page (``/locations/new`` where an id goes, a
    mistyped query value): the UI's error page, not the API's JSON."""
    if any(tuple(e.get("loc", ()))[:1] == ("path",) for e in exc.errors()):
        return _error_page(request, 404, "There is no page at this address.")
    return _error_page(
        request,
        400,
        "This address has a value the page cannot use; go back and try the link again.",
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(ScimError)
    async def scim_refusal(request: Request, exc: ScimError) -> Response:
        return scim_error_response(request, exc)

    @app.exception_handler(PortalError)
    async def portal_error(request: Request, exc: PortalError) -> Response:
        if is_scim(request):
            return scim_error(request, exc.status, exc.message)
        return envelope(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if is_scim(request):
            return scim_error(request, 400, "a parameter of this request is not valid")
        if _wants_page(request):
            return _page_for(request, exc)
        first = exc.errors()[0]
        loc = tuple(first.get("loc", ()))
        kind = first.get("type")
        field = _location(loc)
        message = str(first.get("msg", "invalid input")).removeprefix("Value error, ")
        if kind == "json_invalid":
            # The location holds the character offset of the syntax error, not a field.
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            field, message = None, f"the body is not valid JSON ({message}{where})"
        elif kind == "missing" and loc == ("body",):
            message = "the request needs a JSON body; see /openapi.json for its fields"
        elif kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            message = "is not a known field; check the spelling against /openapi.json"
        elif kind in ("model_attributes_type", "dict_type") and loc == ("body",):
            message = "the body must be a JSON object; see /openapi.json for its fields"
        text = f"{field}: {message}" if field else message
        return envelope(422, "validation_failed", text, field)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, _exc: Exception) -> Response:
        # Starlette logs the traceback; the person sees what to do, never the exception.
        if is_scim(request):
            return scim_error(request, 500, "something went wrong on our side; try again")
        if request.method in ("GET", "HEAD", "POST") and not request.url.path.startswith(
            _NOT_PAGES
        ):
            return _error_page(
                request,
                500,
                "Something went wrong on our side. Try again; if it keeps happening, tell your"
                " provider the time it happened.",
            )
        return envelope(500, "internal_error", "something went wrong on our side; try again")

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, _exc: IntegrityError) -> Response:
        # Reached only when two requests race past the service's own uniqueness checks.
        if is_scim(request):
            return scim_error(request, 409, "a concurrent change conflicted; retry", "uniqueness")
        return envelope(409, "conflict", "the change conflicts with a concurrent change; retry")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_scim(request):
            if exc.status_code == 405:
                allowed = allowed_methods(request)
                response = scim_error(
                    request, 405, f"{request.method} is not allowed here; allowed: {allowed}"
                )
                response.headers["Allow"] = allowed
                return response
            if exc.status_code == 404:
                return scim_error(request, 404, "there is no SCIM resource at this address")
            return scim_error(request, exc.status_code, str(exc.detail))
        if exc.status_code == 404 and _wants_page(request):
            return _error_page(request, 404, "There is no page at this address.")
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        message = str(exc.detail)
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
            message = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return envelope(exc.status_code, code, message, headers=headers or None)
