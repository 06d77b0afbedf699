"""The built site in a real browser: headless Chromium renders the home page, a post page and
the reputation page with their content, and user text never becomes markup."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.support.chromium import FLAGS, requires_chromium
from tests.support.env import tool_marker
from tests.support.post_fixtures import inject, media_item, post, rating
from vault.demo.samples import _jpeg


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


# --- accessibility: axe-core in headless Chromium ----------------------------------------------

AXE_VERSION = "4.10.3"
requires_npm = tool_marker("npm", "installs axe-core for the accessibility test")

AXE_RUNNER = """<script src="%s"></script>
<script>
axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
  var out = document.createElement("pre");
  out.id = "axe-result";
  out.textContent = JSON.stringify(r.violations.map(function (v) {
    return {id: v.id, impact: v.impact, nodes: v.nodes.map(function (n) { return n.target.join(" ") + " :: " + n.failureSummary; })};
  }));
  document.body.appendChild(out);
}, function (e) { var out = document.createElement("pre"); out.id = "axe-result"; out.textContent = "ERROR " + e; document.body.appendChild(out); });
</script>
"""


def _axe_script() -> Path:
    """axe-core from the npm registry, pinned, installed once into a cache folder."""
    import os

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vault-tests" / f"axe-core-{AXE_VERSION}"
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        cache.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--no-save",
                               f"axe-core@{AXE_VERSION}"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    return script


def _axe_violations(page, axe_js, profile, dark: bool = False) -> list[dict]:
    """Run axe on a copy of ``page`` (next to it, so its links and stylesheet still resolve)."""
    import json

    html = page.read_text()
    wrapped = page.with_name(f".axe-{page.name}")
    wrapped.write_text(html.replace("</body>", AXE_RUNNER % axe_js.as_uri() + "</body>"))
    try:
        flags = ["--virtual-time-budget=20000"] + (["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] if dark else [])
        proc = subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", "--allow-file-access-from-files", *flags,
                               "--dump-dom", wrapped.as_uri()], capture_output=True, text=True, timeout=120)
    finally:
        wrapped.unlink()
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = proc.stdout.split('<pre id="axe-result">', 1)
    assert len(found) == 2, f"axe did not finish on {page}: {proc.stderr[-1000:]}"
    import html as html_mod

    text = html_mod.unescape(found[1].split("</pre>", 1)[0])
    assert not text.startswith("ERROR"), text
    return json.loads(text)


@requires_chromium
@requires_npm
def test_axe_core_finds_no_violations(vault_env, tmp_path):
    from tests.support.rich_site import build, configure, rich_site

    axe_js = _axe_script()
    out = rich_site(vault_env, tmp_path)
    # The same site one post a page: archive pages, with their pager's gaps and current page.
    configure(vault_env, "  image: images/me.jpg\n  per_page: 1\n")
    paged = tmp_path / "paged"
    build(vault_env, paged)
    profile = tmp_path / "chromium-profile"
    pages = {
        "home with archive pages": paged / "index.html",
        "archive page": paged / "page" / "2" / "index.html",
        "home": out / "index.html",
        "untitled post": next(p for p in (out / "posts").glob("*/index.html") if "quick thought" in p.read_text()),
        "post with a photo": next(p for p in (out / "posts").glob("*/index.html") if "photo of a field" in p.read_text()),
        "gallery": out / "gallery" / "index.html",
        "tag": out / "tags" / "walks" / "index.html",
        "reputation": out / "reputation" / "index.html",
    }
    found = {}
    for name, page in pages.items():
        violations = _axe_violations(page, axe_js, profile)
        if violations:
            found[name] = violations
    for name in ("home", "reputation"):
        violations = _axe_violations(pages[name], axe_js, profile, dark=True)
        if violations:
            found[f"{name} (dark)"] = violations
    shutil.rmtree(profile, ignore_errors=True)
    assert not found, found
