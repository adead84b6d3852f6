"""An address with no page: a browser gets the UI's 404 page, the API and scripts its JSON."""

from __future__ import annotations

from starlette.testclient import TestClient

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
