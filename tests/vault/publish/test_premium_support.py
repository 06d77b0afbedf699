"""The support page says how to pay and how a paying reader gets access; premium pages keep
working without JavaScript (teaser and the .age link) and only they load scripts."""

from __future__ import annotations

import re

from tests.support.post_fixtures import inject, post
from vault import crypto

MONEY = """\
  monetization:
    web_monetization: https://wallet.example/jana
    lightning_address: jana@getalby.example
    links: [{name: Ko-fi, url: "https://ko-fi.example/jana"}]
"""


def _site(vault_env, tmp_path):
    inject(vault_env.path, [post("p1", 3, "Supportcanary premium text"), post("p2", 4, "A public post")])
    (vault_env.path / "vault.yaml").write_text("publish:\n  title: Support Test\n  author: Jana\n  base_url: https://s.example.org/\n"
                                                + MONEY)
    recs = {r["text"]: r["id"] for r in vault_env.records("--kind", "post")}
    assert vault_env.run("mark", recs["Supportcanary premium text"], "--premium").code == 0
    assert vault_env.run("mark", recs["A public post"], "--public").code == 0
    assert vault_env.run("readers", "add", "reader-one", crypto.generate_identity()[1]).code == 0
    out = tmp_path / "site"
    assert vault_env.run("publish", "--out", out).code == 0
    return out, recs


def test_support_page_says_how_to_pay_and_get_access(vault_env, tmp_path):
    out, recs = _site(vault_env, tmp_path)
    page = (out / "support" / "index.html").read_text()
    assert 'href="https://ko-fi.example/jana"' in page and "jana@getalby.example" in page and "Lightning wallet" in page
    assert "https://wallet.example/jana" in page and "Web Monetization" in page
    assert 'id="access"' in page and "age1" in page and "passphrase" in page  # the default access sentence

    prem = (out / "posts" / recs["Supportcanary premium text"] / "index.html").read_text()
    # Without JavaScript: the form stays hidden, the teaser and the encrypted file's link remain.
    assert re.search(r'<form class="unlock" id="premium-unlock" hidden', prem)
    assert f'href="../../premium/{recs["Supportcanary premium text"]}.age"' in prem and "A post for supporters." in prem
    assert "Supportcanary" not in prem
    assert 'href="../../support/index.html#access"' in prem
    public = (out / "posts" / recs["A public post"] / "index.html").read_text()
    assert "<script src" not in public and "premium-unlock" not in public

    # The access sentence and the contact come from vault.yaml when set.
    with (vault_env.path / "vault.yaml").open("a") as f:
        f.write("  premium:\n    access: Pay on Ko-fi, then mail me your age1 key <b>now</b>.\n    contact: jana@example.org\n")
    assert vault_env.run("publish", "--out", out).code == 0
    page = (out / "support" / "index.html").read_text()
    assert "Pay on Ko-fi, then mail me your age1 key &lt;b&gt;now&lt;/b&gt;." in page  # escaped, never markup
    assert 'href="mailto:jana@example.org"' in page
    assert "make one with" not in page  # the default sentence is replaced
