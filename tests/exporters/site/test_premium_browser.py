"""A premium post opened in a real browser: headless Chromium (driven over the DevTools protocol)
loads the post page from a local HTTP server, a subscriber types their age key or passphrase,
and the page shows the decrypted text and photo; a wrong key shows the error and no text."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.chromium import FLAGS, requires_chromium
from tests.support.post_fixtures import inject, media_item, post
from vault import crypto
from vault.demo.samples import _jpeg

TEXT = "Premiumbrowsercanary: the whole story for supporters."
PASSPHRASE = "supporter passphrase 2291"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class Page:
    """The smallest DevTools protocol client: send a command, wait for its answer."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg.get("result", {})

    def eval(self, expr: str):
        got = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in got, got
        return got["result"].get("value")

    def wait_for(self, expr: str, timeout: float = 60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = self.eval(expr)
            if value:
                return value
            time.sleep(0.1)
        status = self.eval("document.getElementById('premium-status')?.textContent")
        raise AssertionError(f"timed out waiting for {expr}; status: {status!r}")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && !!document.getElementById('premium-unlock')")

    def type_key(self, secret: str, remember: bool = False) -> None:
        self.wait_for("!document.getElementById('premium-unlock').hidden")  # the script is running
        self.eval("document.getElementById('premium-key').focus()")
        self.call("Input.insertText", text=secret)
        if remember:
            self.eval("document.getElementById('premium-remember').click()")
        self.eval("document.querySelector('#premium-unlock button').click()")


OPENED = ("document.getElementById('premium-content').textContent.includes('Premiumbrowsercanary') && "
          "[...document.querySelectorAll('#premium-content img')].some(i => i.complete && i.naturalWidth > 0)")


@requires_chromium
def test_premium_post_unlocks_in_chromium(vault_env, tmp_path, monkeypatch):
    pytest.importorskip("websocket", reason="websocket-client (the test extra) drives Chromium")
    monkeypatch.setattr(crypto, "KEY_FILE_LOG_N", 10)
    inject(vault_env.path, [media_item("secret.jpg", _jpeg((30, 140, 60), size=(640, 480)), caption="Hidden photo"),
                            post("p1", 4, TEXT + "\n\n<img src=x onerror=alert(1)>", media_refs=["secret.jpg"],
                                 links=["https://example.org/more", "javascript:alert(1)"])])
    (vault_env.path / "vault.yaml").write_text("publish:\n  title: Premium Browser\n  base_url: https://example.org/\n")
    rid = next(r["id"] for r in vault_env.records("--kind", "post"))
    assert vault_env.run("mark", rid, "--premium").code == 0
    identity, recipient = crypto.generate_identity()
    assert vault_env.run("readers", "add", "subscriber-one", recipient).code == 0
    pfile = tmp_path / "pass.txt"
    pfile.write_text(PASSPHRASE + "\n")
    assert vault_env.run("readers", "add", "subscriber-two", "--passphrase-file", pfile).code == 0
    out = tmp_path / "site"
    assert vault_env.run("publish", "--out", out).code == 0

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/posts/{rid}/index.html"
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen(["chromium", *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
                             "--remote-debugging-port=0", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        end = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < end:
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30).read())
        page = Page(next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page"))

        # A wrong key: a plain error, no text, no photo.
        page.open(url)
        page.type_key(crypto.generate_identity()[0])
        status = page.wait_for("document.querySelector('#premium-status.error')?.textContent")
        assert "does not open this post" in status
        assert page.eval("document.getElementById('premium-content').textContent") == ""
        assert page.eval("document.getElementById('premium-content').hidden") is True
        page.open(url)
        page.type_key("not the passphrase")
        assert "passphrase does not open" in page.wait_for("document.querySelector('#premium-status.error')?.textContent")
        assert "Premiumbrowsercanary" not in page.eval("document.body.textContent")

        # The subscriber's age identity opens the post: text, photo, safe links, no markup.
        page.open(url)
        page.type_key(identity)
        assert page.wait_for(OPENED)
        assert page.eval("document.querySelectorAll('#premium-content img[src^=\"blob:\"]').length") == 1
        assert page.eval("document.querySelector('#premium-content figcaption').textContent") == "Hidden photo"
        assert page.eval("[...document.querySelectorAll('#premium-content a')].map(a => a.href)") == ["https://example.org/more"]
        assert "<img src=x onerror=alert(1)>" in page.eval("document.getElementById('premium-content').textContent")
        assert page.eval("document.querySelectorAll('#premium-content img').length") == 1  # the text stayed text
        assert page.eval("localStorage.length") == 0  # not remembered unless asked

        # A passphrase reader opens it through a key file, and asks to be remembered.
        page.open(url)
        page.type_key(PASSPHRASE, remember=True)
        assert page.wait_for(OPENED)
        assert page.eval("localStorage.length") == 1
        page.open(url)  # the next visit opens by itself
        assert page.wait_for(OPENED)
        page.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
