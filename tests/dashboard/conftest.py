"""Fixtures of the dashboard's tests: Debian's Chromium driven by Playwright, and the dashboard's own pages
served alone (for the checks of its JavaScript that need no chain)."""

import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI

from backend.dashboard import routes
from backend.dashboard.screenshots import launch_chromium
from pinpoint.localnet import free_port, port_open


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium (`make test` installs it): a missing browser fails these tests, never skips them."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page that fails the test on any script error or Content-Security-Policy violation."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def pages_only():
    """The dashboard's page and assets served alone (no API behind them) by uvicorn on a free port."""
    app = FastAPI()
    app.include_router(routes.pages)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not port_open(port):
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
