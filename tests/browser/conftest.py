"""Real Chromium (Playwright driving Debian's ``chromium``) against ``airflow standalone`` started by
``make up``'s launcher, once for the module; a screenshot of each page goes under the output folder
(``$LW_TEST_OUTPUT``, default ``.test-output/browser/``) for a person to look at."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.launch_up import ROOT, processes_with, start_up

CHROMIUM = os.environ.get("LW_CHROMIUM", "/usr/bin/chromium")


def _browser_missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (make test installs requirements-dev.txt)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium fonts-noto-cjk; .ci/run does)"
    return None


@pytest.fixture(scope="session")
def output_dir() -> Path:
    folder = Path(os.environ.get("LW_TEST_OUTPUT", ROOT / ".test-output" / "browser"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def airflow_up(tmp_path_factory):
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    up = start_up(tmp_path_factory.mktemp("up"))
    session = requests.Session()
    deadline = time.monotonic() + 120
    while True:  # the api-server is up and the DAGs are parsed
        try:
            token = session.post(
                f"{up.airflow_url}/auth/token",
                json={"username": "admin", "password": up.password},
                timeout=10,
            ).json()["access_token"]
            session.headers["Authorization"] = f"Bearer {token}"
            dags = session.get(f"{up.airflow_url}/api/v2/dags", timeout=10).json()["dags"]
            if {"lineworks_history_import", "lineworks_talk_logs"} <= {d["dag_id"] for d in dags}:
                break
        except (requests.RequestException, KeyError, ValueError):
            pass
        assert time.monotonic() < deadline, up.printed()[-3000:]
        time.sleep(2)
    up.api = session
    yield up
    up.process.send_signal(signal.SIGTERM)
    try:
        up.process.wait(timeout=90)
    finally:
        for pid in processes_with(up.marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def browser(airflow_up):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=shutil.which(CHROMIUM) or CHROMIUM, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, airflow_up):
    """A logged-in page (the admin user and the password make up printed)."""
    # the UI's own words in English (the selectors use them); our texts are bilingual anyway
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{airflow_up.airflow_url}/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", airflow_up.password)
    page.locator("button[type=submit]").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    page.wait_for_load_state("networkidle")
    yield page
    context.close()
