"""Opening, creating and unlocking a vault directory (docs/on-disk-format.md; keys in docs/architecture.md).

``Vault`` knows the layout and hands out the stores; it never prints or prompts (prompting is
done by ``keys`` only when stdin is a terminal).  Commands use ``open_vault`` as a context
manager that takes the lock for the duration of the command.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from . import crypto
from .errors import IntegrityError, KeyUnavailableError, NoVaultError, VaultExistsError
from .keys import lookup as keys
from .keys.lookup import KeySource
from .keys.secret import Secret
from .store import head as head_mod
from .store.checksums import ChecksumLog, drop_replaced
from .store.files import atomic_write, clean_tmp, ensure_dir, sha256_file
from .store.lock import VaultLock
from .store.objects import ObjectStore
from .store.vaultfile import VaultHeader, refuse_unknown_format

DEFAULT_SETTINGS = """\
# vault settings (plain text: never put secrets here; tokens come from the keyring or environment)
publish:
  title: My archive
  author: ""
  base_url: ""          # e.g. https://jana.example.org/
  language: en
  # Rules that make records public without marking them one by one (private is the default):
  # public:
  #   sources: [mastodon]
  #   kinds: [post]
  #   tags: [blog]
  #   since: 2023-01-01
targets: {}
"""


def default_location() -> Path:
    env = os.environ.get("VAULT_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("vault") / "default"


@dataclass
class Keys:
    identity: Secret
    writer: Secret
    source: KeySource

    @property
    def writer_key(self) -> bytes:
        value = self.writer.reveal()
        assert isinstance(value, bytes)
        return value

    def __repr__(self) -> str:
        return f"Keys(source={self.source.name!r})"


class Vault:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.tmpdir = self.path / "tmp"
        self.objects = ObjectStore(self.path / "objects", self.tmpdir)
        self.checksums = ChecksumLog(self.path / "checksums", self.tmpdir)
        self._header: VaultHeader | None = None
        self._lock = VaultLock(self.path / "lock")
        self.keys: Keys | None = None
        self._catalog = None
        self.lock_wait = 60.0
        self.on_note: Callable[[str], None] | None = None  # told what a long wait is for (the CLI's stderr)

    # --- layout --------------------------------------------------------------------------------

    @property
    def header(self) -> VaultHeader:
        if self._header is None:
            self._header = VaultHeader.load(self.path / "vault.json")
        return self._header

    @property
    def settings_path(self) -> Path:
        return self.path / "vault.yaml"

    def exists(self) -> bool:
        return (self.path / "vault.json").is_file()

    # --- creation ------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, passphrase: Secret, use_keyring: bool = True) -> tuple["Vault", bool]:
        """Create a new vault; return it and whether the identity went into the keyring."""
        path = Path(path)
        if (path / "vault.json").exists():
            raise VaultExistsError(f"a vault already exists at {path}")
        if path.exists() and any(path.iterdir()):
            raise VaultExistsError(f"{path} exists and is not empty", hint="choose an empty or new folder")
        for sub in ("", "keys", "objects", "checksums", "catalog/journal", "catalog/snapshots", "tmp"):
            ensure_dir(path / sub)
        os.chmod(path, 0o700)
        vault = cls(path)
        identity, recipient = crypto.generate_identity()
        ident = Secret(identity)
        writer = secrets.token_bytes(32)
        atomic_write(path / "keys" / "identity.age", crypto.passphrase_encrypt(identity.encode(), passphrase), vault.tmpdir)
        atomic_write(path / "keys" / "writer.key.age", crypto.encrypt_bytes(writer, [recipient]), vault.tmpdir)
        atomic_write(path / "vault.yaml", DEFAULT_SETTINGS.encode(), vault.tmpdir)
        header = VaultHeader(
            vault_id=str(uuid.uuid4()),
            created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            recipients=[recipient],
        )
        header.extra[head_mod.HEADER_FLAG] = 1
        header.sign(writer)
        first = head_mod.initial_head(header.vault_id, writer)
        atomic_write(path / head_mod.HEAD_REL, first.to_bytes(), vault.tmpdir)
        header_bytes = header.to_bytes()
        for rel in ("keys/identity.age", "keys/writer.key.age"):
            vault.checksums.add(rel, sha256_file(path / rel))
        vault.checksums.add("vault.json", hashlib.sha256(header_bytes).hexdigest())
        vault.checksums.flush()
        # vault.json last: a crash before this leaves no half-made vault that looks valid.
        atomic_write(path / "vault.json", header_bytes, vault.tmpdir)
        stored = keys.keyring_set(header.vault_id, ident) if use_keyring else False
        return vault, stored

    # --- locking and keys ----------------------------------------------------------------------

    def lock(self, exclusive: bool, wait: float) -> None:
        if not self.exists():
            self.header  # raises NoVaultError with the hint
        self._lock.acquire(exclusive, wait)
        self.lock_wait = max(float(wait), 1.0)
        if exclusive:
            # Leftovers of a crashed run: nobody else can be writing now.
            clean_tmp(self.tmpdir)

    def unlock(self, identity_file: Path | None = None, passphrase: Secret | None = None) -> Keys:
        """Find the identity, decrypt the writer key and check vault.json against it."""
        if self.keys is not None:
            return self.keys
        header = self.header
        ident, source = keys.find_identity(header.vault_id, self._identity_file_bytes, identity_file, passphrase)
        try:
            writer_cipher = (self.path / "keys" / "writer.key.age").read_bytes()
        except FileNotFoundError:
            raise IntegrityError("keys/writer.key.age is missing", hint="restore it from a backup") from None
        try:
            writer = crypto.decrypt_bytes(writer_cipher, ident, what="keys/writer.key.age")
        except IntegrityError:
            raise KeyUnavailableError(
                "this identity does not open this vault",
                hint=f"the identity came from: {source.name}; check it belongs to vault {header.vault_id}",
            ) from None
        if len(writer) != 32:
            raise IntegrityError("keys/writer.key.age does not hold a 32-byte key")
        header.verify(writer)
        self.keys = Keys(ident, Secret(writer), source)
        return self.keys

    def _identity_file_bytes(self) -> bytes:
        try:
            return (self.path / "keys" / "identity.age").read_bytes()
        except FileNotFoundError:
            raise IntegrityError(
                "keys/identity.age is missing", hint="copy it back from a backup, or use the identity from `vault key export` (--identity-file)"
            ) from None

    @property
    def recipients(self) -> list[str]:
        return list(self.header.recipients)

    def catalog(self):
        """The loaded catalog (needs the keys)."""
        if self._catalog is None:
            from .store.catalog import Catalog

            k = self.keys or self.unlock()
            # Opened in place: the index under index/ is brought up to date with the journal
            # (and rebuilt from it when missing, stale or corrupt), nothing is loaded whole.
            cat = Catalog(self.path / "catalog", self.tmpdir, k.identity, k.writer_key, self.recipients,
                          index_path=self.path / "index" / "catalog.db", busy_ms=int(self.lock_wait * 1000))
            cat.announce = self.on_note
            try:
                self._catalog = cat.load()
            except BaseException:
                cat.close()
                raise
        return self._catalog

    def commit(self) -> None:
        """Make staged catalog operations durable: objects are already stored, then the segment,
        then the checksum lines (objects and segment)."""
        self.checksums.flush()
        cat = self._catalog
        if cat is not None:
            written = cat.flush()
            if written:
                self.checksums.add(*written)
                self.checksums.flush()

    def maybe_autocompact(self) -> bool:
        from .store import catalog as catalog_mod

        cat = self._catalog
        # Commands read the index, not the journal, so only the number of segments (the cost of
        # a rebuild and of listing them) calls for a compaction.
        if cat is not None and len(cat.segments) >= catalog_mod.AUTO_COMPACT_SEGMENTS:
            self.checksums.add(*cat.write_snapshot())
            self.checksums.flush()
            return True
        return False

    def write_header(self, header: VaultHeader) -> None:
        k = self.keys or self.unlock()
        header.sign(k.writer_key)
        head_mod.write_header_file(self.path, self.tmpdir, header.to_bytes())
        drop_replaced(self.path / "checksums", self.tmpdir)
        self._header = header

    def replace_key_file(self, rel: str, data: bytes) -> None:
        """Replace ``keys/...`` atomically, its checksum line first (exclusive lock held)."""
        from .store.checksums import record_replacement

        record_replacement(self.path / "checksums", self.tmpdir, rel, hashlib.sha256(data).hexdigest())
        atomic_write(self.path / rel, data, self.tmpdir, what=rel)
        drop_replaced(self.path / "checksums", self.tmpdir)

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        self._lock.release()


@contextmanager
def open_vault(path: Path, *, exclusive: bool = False, wait: float = 60.0, lock: bool = True) -> Iterator[Vault]:
    vault = Vault(path)
    if not vault.exists():
        if not vault.path.exists():
            raise NoVaultError(f"no vault at {vault.path}", hint="create one with `vault init PATH`, or point --vault / VAULT_DIR at it")
        vault.header  # raises the precise NoVaultError
    # Every command, the key-free ones too (backup, check), refuses a format it does not know.
    refuse_unknown_format(lambda: vault.header)
    try:
        if lock:
            vault.lock(exclusive, wait)
        yield vault
    finally:
        vault.close()
