"""An address with no page: a browser gets the UI's 404 page, the API and scripts its JSON."""

from __future__ import annotations

from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.portal.actors import Role
from tests import factories
from tests.ui_support import make_admin, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_browser_gets_the_error_page(app_client: TestClient) -> None:
    page = app_client.get("/no-such-page", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_the_api_and_scripts_keep_the_json_envelope(app_client: TestClient) -> None:
    for path, headers in (("/api/v1/nope", HTML), ("/no-such-page", {"Accept": "*/*"})):
        answer = app_client.get(path, headers=headers)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"


def test_a_page_address_that_does_not_fit_its_page(
    app_client: TestClient, container: Container
) -> None:
    """``/locations/new`` where an id goes: the error page, not the API's validation JSON."""
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    page = app_client.get("/accounts/acme/locations/new", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in page.text
    answer = app_client.get("/api/v1/accounts/acme/locations/new", headers=HTML)
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "missing_token"  # the API asks for its token first


def test_an_unexpected_failure_shows_a_page_in_words(container: Container) -> None:
    """A bug in a page: the browser gets the error page (no exception text), the API JSON."""
    from switchboard.web.app import create_app

    app = create_app(container)

    def broken() -> None:
        raise RuntimeError("internal detail that must not be shown")

    app.add_api_route("/broken-page", broken)
    app.add_api_route("/api/v1/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/broken-page", headers=HTML)
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert "Something went wrong on our side" in page.text
        assert "internal detail" not in page.text and "RuntimeError" not in page.text
        answer = client.get("/api/v1/broken")
        assert answer.status_code == 500
        assert answer.json()["error"]["code"] == "internal_error"
        assert "internal detail" not in answer.text
