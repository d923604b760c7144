"""Browser tests: the console in headless Debian Chromium, driven by Playwright.

Playwright is pointed at /usr/bin/chromium (package `chromium`, installed by `make setup`)
and never downloads a browser. Without that binary these tests skip, except under CI=true,
where a missing browser is a failure. The app runs in a uvicorn subprocess on a free port
over a small trained synthetic world (tests/trained_world.py) with an API key set, so the
login is real. Screenshots go to tests/browser/artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_support import API_KEY, ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from trained_world import World, build_world


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"no browser at {CHROMIUM}: `make setup` installs Debian's chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def console_world(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> World:
    directory = tmp_path_factory.mktemp("console")
    return build_world(f"sqlite:///{directory / 'tagmatch.db'}", directory)


@pytest.fixture(scope="module")
def base_url(console_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served by uvicorn in its own process, as `tagmatch serve` runs it."""
    settings = console_world.settings
    port = _free_port()
    env = {
        **os.environ,
        "TAGMATCH_DATABASE_URL": settings.database_url,
        "TAGMATCH_MODEL_DIR": str(settings.model_dir),
        "TAGMATCH_MODEL_CONFIG_FILE": str(settings.model_config_file),
        "TAGMATCH_API_KEY": API_KEY,
        "TAGMATCH_LOG_LEVEL": "WARNING",
        "OPENBLAS_NUM_THREADS": "1",
    }
    log = (tmp_path_factory.mktemp("uvicorn") / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready within 60 s; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: object, base_url: str, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context (no cookies) per test, downloads allowed."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(base_url=base_url, accept_downloads=True)  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
