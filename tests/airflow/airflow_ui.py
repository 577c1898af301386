"""Drive the Airflow 3 UI of a `snoopipe stack up` in Debian's headless Chromium.

Playwright (its Python package only: no browser download) drives /usr/bin/chromium over
CDP. `UISession` records what a person would not see but must not happen: an uncaught
JavaScript error, a request that failed, an HTTP error answer.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium's word for a request it cancelled itself (a navigation away, a revoked blob:
# URL): not a request that failed.
CANCELLED = "net::ERR_ABORTED"


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


@dataclass
class UISession:
    base_url: str
    page: object  # playwright.sync_api.Page
    signed_in: bool = False
    problems: list[str] = field(default_factory=list)

    def _on_response(self, response) -> None:
        # Before signing in, the UI's own probe (`/ui/config`) is answered 401 and sends
        # the browser to the login form: that is the design, not a failure.
        if response.status >= 400 and not (response.status == 401 and not self.signed_in):
            self.problems.append(f"HTTP {response.status} {response.request.method} "
                                 f"{response.url}")

    def _on_request_failed(self, request) -> None:
        if request.failure != CANCELLED:
            self.problems.append(f"request failed ({request.failure}): {request.url}")

    def sign_in(self, user: str, password: str) -> None:
        """Open the UI's address, fill its login form (the simple auth manager's) and wait
        until the UI is back on the page it was opened on."""
        from playwright.sync_api import expect

        page = self.page
        page.goto(self.base_url)
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{self.base_url}/")
        self.signed_in = True
        expect(page.get_by_role("link", name="Dags").first).to_be_visible()


@contextmanager
def ui_session(base_url: str, screenshot: Path) -> Iterator[UISession]:
    """A fresh headless Chromium profile on the UI; on failure a screenshot is left at
    `screenshot`. Raises AssertionError when the page threw or a request failed."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a UI on a busy 2-core machine
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            session = UISession(base_url.rstrip("/"), page)
            page.on("pageerror", lambda exc: session.problems.append(
                f"uncaught JavaScript error: {exc}"))
            page.on("response", session._on_response)
            page.on("requestfailed", session._on_request_failed)
            try:
                yield session
            except BaseException:
                page.screenshot(path=str(screenshot))
                print(f"Airflow UI screenshot: {screenshot} (at {page.url})")
                raise
            assert not session.problems, session.problems
        finally:
            browser.close()


def check_dag_run_shown(session: UISession, dag_id: str, run_id: str, state: str,
                        mapped_task: str, map_indexes: list[str]) -> None:
    """Through the UI, as a person clicks: Dags -> the DAG -> Runs -> the run (with its
    state) -> one row per mapped task instance (e.g. `extract` `r/python`, with its state)."""
    from playwright.sync_api import expect

    page = session.page
    page.get_by_role("link", name="Dags").first.click()
    page.get_by_role("link", name=dag_id, exact=True).first.click()
    page.get_by_role("link", name="Runs", exact=True).click()
    row = page.get_by_role("row").filter(has_text=run_id)
    expect(row).to_contain_text(state)
    row.get_by_role("link", name=run_id).click()
    expect(page.get_by_role("heading", name=run_id)).to_be_visible()
    for index in map_indexes:
        task_row = page.get_by_role("row").filter(has_text=index)
        expect(task_row).to_have_count(1)
        expect(task_row).to_contain_text(mapped_task)
        expect(task_row).to_contain_text(state)
