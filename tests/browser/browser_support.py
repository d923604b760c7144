"""What the browser tests and their fixtures share: the key, where screenshots go, and
Debian chromium's path and launch flags."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("TAGMATCH_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).parent / "artifacts"
API_KEY = "console-test-key-5f1c"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
