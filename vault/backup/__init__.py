"""`vault backup` and `vault restore`: incremental copies of the encrypted vault, with no key.

A backup copies the vault's files exactly as they are on disk (age ciphertext, plaintext headers
that hold no secret), so it needs no identity, no passphrase and no writer key: a cron host can run
it holding nothing that opens the vault.

Storage is reached through a :class:`Destination`, a deliberately dumb interface (list, put, move,
hash, ...) with two implementations, a local folder and any rclone remote.  The backup logic sits
above it and is the same for both; one test suite runs against every implementation.

Layout at the destination: the vault's own layout (``objects/``, ``catalog/``, ``checksums/``,
``keys/``, ``vault.yaml``, ``vault.json``), plus ``trash/YYYY-MM-DD/<relative path>`` (UTC dates)
for everything a run displaced, and ``.incoming/`` for uploads in flight.

Order of a run, chosen so that the destination is a consistent vault at every instant once a first
run has finished (and is never mistaken for one before, since ``vault.json`` comes last):

1. objects (immutable; a catalog record may reference them),
2. catalog segments and snapshots (they reference objects already there),
3. checksum files (they list objects and catalog files already there),
4. files that vanished locally (``vault gc`` / ``vault compact``) are MOVED to the trash:
   checksum files first, then the new catalog head is put in place (everything it lists is
   there), then catalog files and objects, so no checksum line and no head names a file that
   is gone,
5. ``keys/*``, ``vault.yaml`` (mutable: replaced atomically; the previous version is copied to the
   trash first when it differs),
6. ``vault.json`` last.

Immutable files already present with the right size are skipped, so a run with nothing new
transfers no object, and a run interrupted at any point is completed by the next one.  Nothing is
ever deleted at the destination by a normal run except our own partial uploads; only
``--prune-trash DAYS`` removes old trash folders.
"""

from .restore import restore_error, run_restore
from .run import backup_error, run_backup
from .spec import open_destination

__all__ = ["backup_error", "open_destination", "restore_error", "run_backup", "run_restore"]
