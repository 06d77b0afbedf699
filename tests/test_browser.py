"""The built site in a real browser: headless Chromium renders the home page, a post page and
the reputation page with their content, and user text never becomes markup."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone

from conftest import _tool_marker
from post_fixtures import inject, media_item, post, rating
from vault.samples import _jpeg

requires_chromium = _tool_marker("chromium", "end-to-end rendering of the published site")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _dump(url: str, profile) -> str:
    proc = subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@requires_chromium
def test_site_renders_in_headless_chromium(vault_env, tmp_path):
    now = datetime.now(timezone.utc)
    inject(vault_env.path, [media_item("sunset.jpg", _jpeg((200, 90, 30), size=(800, 600)), caption="Sunset"),
                            post("a", 2, "Hello from the browser test\n\n<img src=x onerror=alert(1)>", media_refs=["sunset.jpg"])])
    inject(vault_env.path, [rating("f1", "positive", now - timedelta(days=3), "Superb packaging"),
                            rating("f2", "positive", now - timedelta(days=40), "Fast")], source="ebay")
    (vault_env.path / "vault.yaml").write_text("publish:\n  title: Browser Test Site\n  base_url: https://example.org/\n")
    assert vault_env.run("mark", "--all", "--public").code == 0
    out = tmp_path / "site"
    assert vault_env.run("publish", "--out", out).code == 0
    profile = tmp_path / "chromium-profile"

    home = _dump((out / "index.html").as_uri(), profile)
    assert "Browser Test Site" in home and "Hello from the browser test" in home
    assert "&lt;img src=x onerror=alert(1)&gt;" in home  # shown as text, never parsed as an element
    post_page = next(p for p in (out / "posts").glob("p_*/index.html"))
    dom = _dump(post_page.as_uri(), profile)
    assert "Hello from the browser test" in dom and "<img" in dom and "sunset" not in dom.lower().split("alt=")[0][-5:]
    rep = _dump((out / "reputation" / "index.html").as_uri(), profile)
    assert "Reputation" in rep and "Superb packaging" in rep and "eBay" in rep

    shot = tmp_path / "home.png"
    subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1000,1400",
                    (out / "index.html").as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    shutil.rmtree(profile, ignore_errors=True)
