"""The plugin API: the only names importers and exporters import from ``vault``.

Importers (entry point group ``vault.importers``) and publish targets (``vault.exporters``) are
built exactly like third-party plugins: they import what they need from this module and nothing
else from the core, so the core can be rearranged without breaking them, and they cannot reach
storage, keys or the command line (import-linter checks this, see ``pyproject.toml``).

What a plugin implements is described where the core calls it: the importer contract in
:mod:`vault.importing.pipeline` (``Importer``: ``recognize`` and ``read``), the target contract in
:mod:`vault.publish.deploy` (``Target``: ``plan`` and ``apply``).  What a plugin gets:

* the records it yields (``PostItem``, ``MediaItem``, ``RatingItem``, ``CaptureItem``) and per-item
  problems as values (``Skipped``, ``Warning_``, ``Held``), with the date helpers;
* the errors it may raise (``UnsupportedInputError``, ``UsageError``, ``RemoteError``, ...);
* the export it reads (``ExportSource``, ``Entry``, ``ArchiveMemberError``);
* for capturing pages over HTTP: the core's polite ``Fetcher``;
* for targets: deploy plans (``Plan``, ``diff``, ``upload_order``), ``Secret`` and ``keyring_get``
  for tokens, file hashing, the rclone runner, and the HTTP retry policy of :mod:`vault.http`
  (``RETRY_ATTEMPTS``, ``retry_wait``, ``retryable_status``, ``transient_error``, ``is_idempotent``).
"""

from __future__ import annotations

from vault import __version__, rclone
from vault.errors import RemoteError, UnsupportedInputError, UsageError
from vault.http import MAX_ATTEMPTS as RETRY_ATTEMPTS
from vault.http import is_idempotent, retry_wait, retryable_status, transient_error
from vault.importing.archive import ArchiveMemberError, Entry, ExportSource
from vault.importing.mediainfo import register_image_openers
from vault.importing.scraping import Fetcher
from vault.keys.lookup import keyring_get
from vault.keys.secret import Secret
from vault.models import CaptureItem, Held, Item, MediaItem, Place, PostItem, RatingItem, Skipped, Warning_, from_epoch, iso, parse_iso, polarity_from_stars, utc
from vault.publish import signing
from vault.publish.deploy import Plan, diff, upload_order
from vault.store.files import sha256_file, storage_error

__all__ = [
    "__version__",
    "ArchiveMemberError",
    "CaptureItem",
    "diff",
    "Entry",
    "ExportSource",
    "Fetcher",
    "from_epoch",
    "Held",
    "is_idempotent",
    "iso",
    "Item",
    "keyring_get",
    "MediaItem",
    "parse_iso",
    "Place",
    "Plan",
    "polarity_from_stars",
    "PostItem",
    "RatingItem",
    "rclone",
    "register_image_openers",
    "RemoteError",
    "RETRY_ATTEMPTS",
    "retry_wait",
    "retryable_status",
    "Secret",
    "sha256_file",
    "signing",
    "Skipped",
    "storage_error",
    "transient_error",
    "UnsupportedInputError",
    "upload_order",
    "UsageError",
    "utc",
    "Warning_",
]
