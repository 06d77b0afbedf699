"""``vault.json``: the plaintext header of a vault (format version, id, recipients).

It holds no secret and nothing about the content.  Its ``mac`` is an HMAC with the writer key
over the canonical JSON of the other fields, so a writer refuses a header whose recipient list
was tampered with (an attacker adding their own key).  Readers refuse an unknown major version.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import FormatVersionError, IntegrityError, NoVaultError, VaultError

FORMAT = "vault"
VERSION = 1
OBJECT_ID = "hmac-sha256"
OBJECT_FORMAT = "whole-file"


def canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class VaultHeader:
    vault_id: str
    created: str
    recipients: list[str]
    version: int = VERSION
    object_id: str = OBJECT_ID
    object_format: str = OBJECT_FORMAT
    mac: str | None = None
    extra: dict = field(default_factory=dict)  # unknown fields from a newer minor version, kept

    def body(self) -> dict:
        body = dict(self.extra)
        body.update(
            {
                "format": FORMAT,
                "version": self.version,
                "vault_id": self.vault_id,
                "created": self.created,
                "recipients": list(self.recipients),
                "object_id": self.object_id,
                "object_format": self.object_format,
            }
        )
        return body

    def compute_mac(self, writer_key: bytes) -> str:
        return hmac.new(writer_key, b"vault.json\0" + canonical(self.body()), hashlib.sha256).hexdigest()

    def sign(self, writer_key: bytes) -> None:
        self.mac = self.compute_mac(writer_key)

    def verify(self, writer_key: bytes) -> None:
        if not self.mac or not hmac.compare_digest(self.mac, self.compute_mac(writer_key)):
            raise IntegrityError(
                "vault.json does not match the vault's writer key (its recipients may have been tampered with)",
                hint="restore vault.json from a backup",
            )

    def to_bytes(self) -> bytes:
        data = self.body()
        data["mac"] = self.mac
        return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def load(cls, path: Path) -> "VaultHeader":
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NoVaultError(f"no vault at {path.parent}", hint="create one with `vault init PATH`, or point --vault / VAULT_DIR at it") from None
        return cls.parse(raw, path)

    @classmethod
    def parse(cls, raw: bytes, path: Path) -> "VaultHeader":
        """The header in ``raw``, the bytes of ``path`` (named in errors)."""
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise IntegrityError(f"{path} is not valid JSON", hint="restore vault.json from a backup") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise NoVaultError(f"{path.parent} is not a vault (vault.json has no \"format\": \"vault\")")
        version = data.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise FormatVersionError(
                f"this vault uses format version {version}; this program reads version {VERSION}",
                hint="upgrade vault to a newer release",
            )
        if data.get("object_id") != OBJECT_ID or data.get("object_format") != OBJECT_FORMAT:
            raise FormatVersionError(
                f"this vault uses the object format {data.get('object_format')!r} (objects named by "
                f"{data.get('object_id')!r}); this program reads {OBJECT_FORMAT!r} ({OBJECT_ID!r})",
                hint="upgrade vault to a newer release",
            )
        known = {"format", "version", "vault_id", "created", "recipients", "object_id", "object_format", "mac"}
        return cls(
            vault_id=str(data["vault_id"]),
            created=str(data.get("created", "")),
            recipients=[str(r) for r in data.get("recipients", [])],
            version=version,
            mac=data.get("mac"),
            extra={k: v for k, v in data.items() if k not in known},
        )


def refuse_unknown_format(load: Callable[[], object]) -> None:
    """Raise ``FormatVersionError`` when the vault.json ``load`` reads is of a format version or
    object format this program does not know: its rules for that vault are not this program's.
    Anything else wrong with it is left to the caller, which names it among the other damage it
    finds (check, backup and restore verify vault.json against its checksum)."""
    try:
        load()
    except FormatVersionError:
        raise
    except VaultError:
        pass
