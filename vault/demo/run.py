"""`vault demo`: the whole journey on bundled sample exports, in one folder.

Creates sample exports, a vault (its passphrase in a file beside it: this is a demo), imports every
sample whose importer is installed, searches, marks a selection public and, when the publishing
exporter is available, builds the site into a local folder.  Yields one step at a time so the
command line can show progress; never prints.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import UsageError

DEMO_SETTINGS = """\
# Demo settings: see the README for every option.  Never put secrets here.
publish:
  title: Jana's workshop
  author: Jana Nováková
  description: Photos, notes and a marketplace reputation, published from my own vault.
  base_url: https://jana.example.org/
  language: en
  monetization:
    web_monetization: https://wallet.example/jana
    links:
      - {name: Ko-fi, url: "https://ko-fi.com/jana-example"}
targets: {}
"""


@dataclass
class Step:
    title: str
    detail: str = ""
    data: dict = field(default_factory=dict)


def run_demo(root: Path) -> Iterator[Step]:
    from .. import plugins
    from ..importing.pipeline import run_import
    from ..keys.secret import Secret
    from ..records.curation import mark
    from ..records.query import build_filters
    from ..repository import Vault
    from .samples import write_all

    if root.exists() and any(root.iterdir()):
        raise UsageError(f"{root} is not empty", hint="give a new folder: `vault demo ./vault-demo`")
    root.mkdir(parents=True, exist_ok=True)
    samples = write_all(root / "samples")
    yield Step("sample exports written", str(root / "samples"), {"samples": {k: str(v) for k, v in samples.items()}})

    passphrase = secrets.token_urlsafe(18)
    pfile = root / "demo-passphrase.txt"
    fd = os.open(pfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(passphrase + "\n")
    vault, _ = Vault.create(root / "vault", Secret(passphrase), use_keyring=False)
    vault.settings_path.write_text(DEMO_SETTINGS, encoding="utf-8")
    vault.lock(exclusive=True, wait=10)
    try:
        vault.unlock(passphrase=Secret(passphrase))
        yield Step("vault created", str(vault.path), {"vault": str(vault.path), "passphrase_file": str(pfile)})

        available = plugins.importers.load_all()
        for source, path in samples.items():
            if source not in available:
                yield Step(f"skipped {source}", "its importer is not installed", {"source": source, "skipped": True})
                continue
            report = run_import(vault, [path], source=source)
            added = ", ".join(f"{n} {k}" for k, n in report.added.items() if n) or "nothing new"
            yield Step(f"imported {source}", added, {"source": source, "report": report.to_json()})

        cat = vault.catalog()
        hits = list(cat.query(text="coffee"))
        yield Step("searched for \"coffee\"", f"{len(hits)} match(es)", {"hits": [h["id"] for h in hits]})

        result = mark(vault, [], build_filters(kind="post", source="facebook"), visibility="public", add_tags=["demo"], remove_tags=[])
        mark(vault, [], build_filters(kind="rating"), visibility="public", add_tags=[], remove_tags=[])
        mark(vault, [], build_filters(kind="media", source="files"), visibility="public", add_tags=[], remove_tags=[])  # the gallery
        yield Step("marked public", f"{result['changed']} posts and every rating", result)

        publish = _publisher()
        if publish is None:
            yield Step("publish skipped", "the site builder is not installed in this version", {"published": False})
        else:
            site = root / "site"
            out = publish(vault, site)
            yield Step("site published", str(site), {"published": True, "site": str(site), "result": out})
    finally:
        vault.close()


def _publisher():
    """The bundle builder, when this installation has it."""
    try:
        from ..publish.pipeline import publish_to_dir
    except ImportError:
        return None
    return publish_to_dir
