"""The admin as a merchant's user sees it: headless Chromium driven by Playwright's sync API against pytest-django's
live server (a thread of this process on a transactional database: the test's rows are committed, so the server
reads them, and what the server commits the test reads back).

Chromium is Debian's package (``make system-deps``), found on the PATH or at ``CHROMIUM`` (never a browser that
Playwright downloads). Without it the tests skip, unless ``BROWSER_REQUIRED=1`` (CI), where they fail.

Each page a test visits is saved as a full-page screenshot in ``.browser-artifacts/`` at the repository's root,
named ``<flow>-<step number>-<step>.png``; the folder is emptied when a browser run starts. The browser resolves no
host name but the live server's (``--host-resolver-rules``), and every request a page makes is recorded: a test
whose pages asked another host for anything fails at teardown.

Celery runs eagerly here (tests/settings.py), in the server's thread: a job queued on commit (an import, a ship
batch) has run when the request that queued it answers.
"""

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".browser-artifacts"
PASSWORD = "correct-horse-battery"  # tests/shopops/factories.py UserFactory's
#: Requests to these schemes reach no host.
HOSTLESS_SCHEMES = ("data", "blob", "about")
#: The browser profile's preferences: a PDF link downloads the file (as Chromium's "Download PDFs" setting), so a
#: test reads the bytes the server sent; the built-in viewer would show them and keep them from the test.
PREFERENCES = {"plugins": {"always_open_pdf_externally": True}}


def chromium_executable() -> str | None:
    """Debian's Chromium launcher: ``CHROMIUM`` if set, else ``chromium`` on the PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_executable()
    if path is None:
        reason = "Debian's chromium is not installed (make system-deps installs it; CHROMIUM names another binary)"
        if os.environ.get("BROWSER_REQUIRED") == "1":  # CI: a machine without it is a failure, not a skip
            pytest.fail(f"the browser tests need Chromium: {reason}")
        pytest.skip(reason)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if os.environ.get("BROWSER_REQUIRED") == "1":
            pytest.fail("the browser tests need Playwright (requirements.txt)")
        pytest.skip("Playwright is not installed (pip install -r requirements.txt)")
    return path


#: Whether this run took screenshots (the folder was laid out for it).
_RUN = {"screenshots": False}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir()
    _RUN["screenshots"] = True
    return ARTIFACTS


def pytest_terminal_summary(terminalreporter):
    """At the end of a run that took screenshots: their folder and files (so that a CI log names them)."""
    if not _RUN["screenshots"]:
        return
    shots = sorted(ARTIFACTS.glob("*.png"))
    terminalreporter.section("browser screenshots")
    terminalreporter.write_line(f"{len(shots)} in {ARTIFACTS}/")
    for shot in shots:
        terminalreporter.write_line(f"  {shot.name}")


@dataclass
class Visit:
    """One flow in the browser: its page, the live server's address, the requests the pages made, the screenshots."""

    page: object  # playwright.sync_api.Page
    base_url: str
    flow: str
    folder: Path
    requests: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)

    def shot(self, step: str) -> Path:
        """A full-page screenshot of the page as it is now: ``<flow>-<nn>-<step>.png``."""
        path = self.folder / f"{self.flow}-{len(self.screenshots) + 1:02d}-{step}.png"
        self.page.screenshot(path=path, full_page=True)
        self.screenshots.append(path)
        return path

    def open(self, path: str, step: str):
        """Go to ``path`` on the live server and take its screenshot; the response."""
        response = self.page.goto(path)
        self.shot(step)
        return response

    def log_in(self, user, password: str = PASSWORD) -> None:
        """Through the admin's login form, as a person would; lands on the dashboard."""
        self.page.goto("/admin/login/")
        self.page.get_by_label("Username").fill(user.get_username())
        self.page.get_by_label("Password").fill(password)
        self.follow(self.page.get_by_role("button", name="Log in"))
        assert self.page.url == f"{self.base_url}/admin/", "the login did not lead to the dashboard"

    def follow(self, target) -> None:
        """Click ``target`` (a link, a submit button) and wait until the page it leads to has loaded (the same
        address or not: an action's form page answers at its list's)."""
        with self.page.expect_navigation():
            target.click()

    def rows(self) -> list[int]:
        """The primary keys of the rows of the admin list on the page (its action checkboxes)."""
        return [int(value) for value in self.page.locator("#result_list input.action-select").evaluate_all(
            "boxes => boxes.map(box => box.value)")]  # fmt: skip

    def messages(self) -> list[tuple[str, str]]:
        """The admin's messages on the page: (level, text)."""
        items = self.page.locator("ul.messagelist li")
        return [(items.nth(n).get_attribute("class"), items.nth(n).inner_text().strip()) for n in range(items.count())]

    def run_action(self, pks: list[int], action: str) -> None:
        """Tick the rows ``pks`` of the admin list, choose ``action`` (its label) and press Go."""
        for pk in pks:
            self.page.locator(f'#result_list input.action-select[value="{pk}"]').check()
        self.page.locator("select[name=action]").select_option(label=action)
        self.follow(self.page.get_by_role("button", name="Go"))

    def outside_requests(self) -> list[str]:
        """The requests that went to another host than the live server's."""
        host = urlsplit(self.base_url).netloc
        return [url for url in self.requests
                if urlsplit(url).scheme not in HOSTLESS_SCHEMES and urlsplit(url).netloc != host]  # fmt: skip


@pytest.fixture
def browser(chromium, live_server, tmp_path, monkeypatch):
    """A headless Chromium for one test (about a second to start) with a profile of its own (no cookies), on the
    live server; closed after the test."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on this thread, and Django refuses ORM calls from a thread with a
    # running loop. The test's own ORM calls are plain synchronous ones between browser steps; the server answers
    # on a thread of its own.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    profile = tmp_path / "chromium-profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(PREFERENCES))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
                "--disable-dev-shm-usage",
                # No host but the live server's resolves: a page that tried to load anything from elsewhere
                # gets an error at once, and the request is still recorded (and fails the test).
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
            ],
            base_url=live_server.url,
            viewport={"width": 1366, "height": 900},
            color_scheme="light",
            locale="en-US",
            accept_downloads=True,
        )
        context.set_default_timeout(20_000)
        yield context
        context.close()


@pytest.fixture
def visit(browser, live_server, artifacts):
    """``visit(flow)``: a new page of the test's browser on the live server, recording every request it makes."""
    visits = []

    def start(flow: str) -> Visit:
        page = browser.pages[0] if not visits and browser.pages else browser.new_page()
        opened = Visit(page=page, base_url=live_server.url, flow=flow, folder=artifacts)
        page.on("request", lambda request: opened.requests.append(request.url))
        visits.append(opened)
        return opened

    yield start
    for opened in visits:
        assert opened.outside_requests() == [], f"{opened.flow}: pages asked other hosts"
