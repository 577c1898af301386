"""The Airflow UI check's guard (tests/airflow/airflow_ui.py), shown to catch what it must:
an uncaught JavaScript error and an asset that did not load, on a page served on loopback."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.airflow import airflow_ui

pytest.importorskip("playwright", reason="Playwright is not installed: pip install '.[test]'")
pytestmark = pytest.mark.skipif(not airflow_ui.chromium_available(),
                                reason="Debian's chromium is not installed")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site(tmp_path):
    (tmp_path / "ok.js").write_text("document.body.dataset.ready = 'yes';\n")
    (tmp_path / "index.html").write_text(
        "<html><body><h1>UI</h1><script src='ok.js'></script>"
        "<script src='static/missing.js'></script>"
        "<script>setTimeout(() => { throw new Error('the UI broke'); }, 0);</script>"
        "</body></html>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_uncaught_error_and_a_missing_asset_fail_the_check(site, tmp_path):
    shot = tmp_path / "shot.png"
    with pytest.raises(AssertionError) as caught:
        with airflow_ui.ui_session(site, shot) as session:
            session.signed_in = True  # past the login: every HTTP error counts
            session.page.goto(f"{site}/index.html")
            session.page.wait_for_load_state("networkidle")
    problems = str(caught.value)
    assert "uncaught JavaScript error: " in problems and "the UI broke" in problems
    assert f"HTTP 404 GET {site}/static/missing.js" in problems
    assert "ok.js" not in problems
