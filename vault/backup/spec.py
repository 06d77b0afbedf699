"""Which Destination a DEST or SRC argument names: an rclone remote or a local folder."""

from __future__ import annotations

from pathlib import Path

from .. import rclone as rclone_mod
from ..errors import UsageError
from .destination import Destination
from .local import LocalDestination
from .remote import RcloneDestination


def open_destination(spec: str) -> Destination:
    """``rclone:REMOTE:PATH`` -> RcloneDestination (finds rclone or raises RemoteError);
    anything else is a local folder."""
    spec = spec.strip()
    if not spec:
        raise UsageError("empty destination", hint="give a folder or rclone:REMOTE:PATH")
    if rclone_mod.is_rclone_spec(spec):
        return RcloneDestination(spec)
    return LocalDestination(Path(spec).expanduser().absolute())
