"""Key changes: passphrase and recipients.  Callers hold the exclusive lock and unlocked keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import crypto
from .secret import Secret

if TYPE_CHECKING:
    from ..repository import Vault


def change_passphrase(vault: Vault, passphrase: Secret) -> None:
    keys = vault.keys or vault.unlock()
    data = str(keys.identity.reveal()).encode()
    vault.replace_key_file("keys/identity.age", crypto.passphrase_encrypt(data, passphrase))


def add_recipient(vault: Vault, recipient: str) -> bool:
    """Add ``recipient`` to vault.json (re-signed) and re-encrypt the writer key to every recipient.

    Returns False when it was already there.  Existing objects are not re-encrypted: the new
    recipient can read what is written from now on (and the writer key, so it can open the vault).
    """
    recipient = crypto.check_recipient(recipient)
    keys = vault.keys or vault.unlock()
    header = vault.header
    if recipient in header.recipients:
        return False
    header.recipients.append(recipient)
    vault.replace_key_file("keys/writer.key.age", crypto.encrypt_bytes(keys.writer_key, header.recipients))
    vault.write_header(header)
    return True
