"""The headless Chromium the browser tests drive, and the flags that keep it quiet and local."""

from __future__ import annotations

from tests.support.env import tool_marker

requires_chromium = tool_marker("chromium", "the published site in a real browser")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
