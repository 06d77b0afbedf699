"""Premium readers: who can open premium posts, kept encrypted inside the vault.

The reader list is one JSON document, age-encrypted to the vault's recipients as an object and
named by the catalog hint ``premium:readers`` (so backups carry it, `gc` keeps it, and it never
touches vault.yaml or the bundle).  It holds:

* ``readers``: each with a ``name`` and either an ``age1...`` X25519 ``recipient`` (kind ``key``)
  or a ``passphrase`` (kind ``passphrase``);
* ``site_identity``: the site's premium X25519 identity.  Premium posts are encrypted to the
  readers' own keys plus this identity's recipient; each passphrase reader gets a small key file
  (``premium/keys/<random>.age``, the site identity scrypt-encrypted with their passphrase: age
  allows a scrypt stanza only alone in a file).  Key file names are random, so no reader's name
  shows in the bundle.  Removing a passphrase reader rotates the site identity and re-encrypts
  the remaining key files under fresh names.

Files a removed reader already downloaded stay readable to them: age cannot take a key back.
Contract: functions here never print or prompt; the caller holds the exclusive lock for changes.
"""

from __future__ import annotations

import base64
import json
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .. import crypto
from ..errors import UsageError
from ..keys.secret import Secret

if TYPE_CHECKING:
    from ..repository import Vault

READERS_HINT = "premium:readers"   # the "premium:" prefix makes `gc` keep the object
KEY_DIR = "premium/keys"
FORMAT_VERSION = 1


@dataclass
class Reader:
    name: str
    kind: str                              # "key" | "passphrase"
    added: str
    recipient: str | None = None           # age1... (kind "key")
    passphrase: Secret | None = None       # kind "passphrase"
    slot: str | None = None                # random key file name (kind "passphrase")
    key_file: bytes | None = None          # the site identity, scrypt-encrypted with the passphrase

    def __repr__(self) -> str:
        return f"Reader(name={self.name!r}, kind={self.kind!r})"

    def public(self) -> dict:
        return {"name": self.name, "kind": self.kind, "recipient": self.recipient, "added": self.added}


@dataclass
class ReaderBook:
    readers: list[Reader] = field(default_factory=list)
    site_identity: Secret | None = None

    def find(self, name: str) -> Reader | None:
        return next((r for r in self.readers if r.name == name), None)


@dataclass
class PremiumAccess:
    """What a build needs: the recipients premium posts are encrypted to and the key files."""
    recipients: list[str]
    key_files: dict[str, bytes]            # bundle path -> age file


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_name(name: str) -> str:
    cleaned = unicodedata.normalize("NFC", name.strip())
    if not cleaned or len(cleaned) > 100 or any(unicodedata.category(c).startswith("C") for c in cleaned):
        raise UsageError(f"not a usable reader name: {name!r}", hint="use a short name without control characters, e.g. an e-mail address")
    return cleaned


def load(vault: "Vault") -> ReaderBook:
    keys = vault.keys or vault.unlock()
    oid = vault.catalog().hint(READERS_HINT)
    if not oid:
        return ReaderBook()
    raw = json.loads(vault.objects.read_bytes(oid, keys.identity, keys.writer_key))
    if raw.get("version") != FORMAT_VERSION:
        raise UsageError(f"the reader list has format version {raw.get('version')!r}, which this release cannot read",
                         hint="upgrade vault to a newer release")
    book = ReaderBook(site_identity=Secret(raw["site_identity"]) if raw.get("site_identity") else None)
    for r in raw.get("readers") or []:
        book.readers.append(Reader(
            name=r["name"], kind=r["kind"], added=r["added"], recipient=r.get("recipient"),
            passphrase=Secret(r["passphrase"]) if r.get("passphrase") is not None else None, slot=r.get("slot"),
            key_file=base64.b64decode(r["key_file"]) if r.get("key_file") else None))
    return book


def save(vault: "Vault", book: ReaderBook) -> None:
    keys = vault.keys or vault.unlock()
    doc = {"version": FORMAT_VERSION,
           "site_identity": book.site_identity.reveal() if book.site_identity else None,
           "readers": [{"name": r.name, "kind": r.kind, "added": r.added, "recipient": r.recipient,
                        "passphrase": r.passphrase.reveal() if r.passphrase else None, "slot": r.slot,
                        "key_file": base64.b64encode(r.key_file).decode() if r.key_file else None} for r in book.readers]}
    res = vault.objects.put_bytes(json.dumps(doc, sort_keys=True).encode(), keys.writer_key, vault.recipients)
    if res.new and res.cipher_sha256:
        vault.checksums.add(vault.objects.relpath(res.object_id), res.cipher_sha256)
    vault.catalog().stage({"op": "hint", "k": READERS_HINT, "v": res.object_id})
    vault.commit()


def _seal_key_file(reader: Reader, site_identity: Secret) -> None:
    assert reader.passphrase is not None
    reader.slot = secrets.token_hex(16)
    reader.key_file = crypto.passphrase_encrypt((str(site_identity.reveal()) + "\n").encode(), reader.passphrase,
                                                      crypto.KEY_FILE_LOG_N)


def add(vault: "Vault", name: str, recipient: str | None = None, passphrase: Secret | None = None) -> dict:
    """Add a reader with an ``age1...`` recipient or a passphrase (exactly one).  Returns the
    reader's public description."""
    name = check_name(name)
    if (recipient is None) == (passphrase is None):
        raise UsageError("give a reader either an age recipient (age1...) or --passphrase")
    book = load(vault)
    if book.find(name):
        raise UsageError(f"there is already a reader named {name!r}", hint="remove it first, or choose another name")
    reader = Reader(name=name, kind="key" if recipient else "passphrase", added=_now())
    if recipient is not None:
        reader.recipient = crypto.check_recipient(recipient)
        if any(r.recipient == reader.recipient for r in book.readers):
            raise UsageError(f"the key {reader.recipient} already belongs to another reader")
    else:
        assert passphrase is not None
        if not str(passphrase.reveal()):
            raise UsageError("an empty passphrase is not allowed")
        reader.passphrase = passphrase
        if book.site_identity is None:
            book.site_identity = Secret(crypto.generate_identity()[0])
        _seal_key_file(reader, book.site_identity)
    book.readers.append(reader)
    save(vault, book)
    return reader.public()


def remove(vault: "Vault", name: str) -> dict:
    """Remove a reader; later builds no longer encrypt to them.  Removing a passphrase reader
    rotates the site identity (the others' key files are sealed again)."""
    book = load(vault)
    reader = book.find(check_name(name))
    if reader is None:
        raise UsageError(f"no reader named {name!r}", hint="see `vault readers list`")
    book.readers.remove(reader)
    rotated = False
    if reader.kind == "passphrase":
        rotated = True
        left = [r for r in book.readers if r.kind == "passphrase"]
        book.site_identity = None
        if left:
            book.site_identity = identity = Secret(crypto.generate_identity()[0])
            for r in left:
                _seal_key_file(r, identity)
    save(vault, book)
    return dict(reader.public(), rotated=rotated)


def listing(vault: "Vault") -> list[dict]:
    return [r.public() for r in load(vault).readers]


def premium_access(vault: "Vault", extra_recipients: list[str]) -> PremiumAccess:
    """The recipients of premium posts (readers' keys, the site key when a passphrase reader
    exists, and ``extra_recipients`` from vault.yaml) and the key files to publish."""
    book = load(vault)
    recipients = {r.recipient for r in book.readers if r.kind == "key" and r.recipient}
    recipients.update(crypto.check_recipient(r) for r in extra_recipients)
    files = {f"{KEY_DIR}/{r.slot}.age": r.key_file for r in book.readers if r.kind == "passphrase" and r.slot and r.key_file}
    if files and book.site_identity is not None:
        recipients.add(crypto.recipient_of(book.site_identity))
    return PremiumAccess(recipients=sorted(recipients), key_files=dict(sorted(files.items())))


def site_identity_for(vault: "Vault") -> Secret:
    """The site identity, created (and saved) when none exists yet: for a build that publishes a
    key file for the legacy ``publish.premium.passphrase_env`` passphrase."""
    book = load(vault)
    if book.site_identity is None:
        book.site_identity = Secret(crypto.generate_identity()[0])
        save(vault, book)
    return book.site_identity
