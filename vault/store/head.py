"""The catalog head: which journal segments and snapshot make up the catalog, MAC'd.

``catalog/head.json`` (plaintext, no content; replaced atomically after every catalog write)::

    {"format": "vault-head", "version": 1,
     "vault_id": "...",              the vault it belongs to (vault.json's vault_id)
     "counter": 17,                  +1 at every write of the head; never goes down
     "written_ns": 1732...,          wall clock when written (segment names carry the same clock)
     "snapshot": "<name>" | null,    the live snapshot in catalog/snapshots/
     "segments": ["<name>", ...],    the live journal segments, replayed on top of the snapshot
     "retired": ["<name>", ...],     superseded segments and snapshots that may still be on disk
     "mac": HMAC-SHA256(writer key, "head\\0" + canonical JSON of the other fields)}

Every reader checks what it finds against the head.  A listed piece that is missing, a segment or
snapshot that the head neither lists nor retired, or a head older than the last one seen at this
location is an integrity failure (exit 13): the catalog is never read as an empty or older vault.

The one exception is the crash window of a write: a segment is written (atomically) before the
head that lists it, so a kill between the two leaves one segment the head does not list yet.
Every write holds the vault's exclusive lock, so such a segment is always newer than the head
(its name starts with its ``time_ns``): it is *pending*, replayed like a listed one (exactly what
a reader saw before heads existed, so an interrupted import resumes the same way) and listed by
the next head.  A snapshot newer than the live one that no head lists is a compaction that did
not finish: ignored, retired by the next write.  Anything older that the head does not know was
added from elsewhere (another copy of the vault, say) and is refused.  (A head put back to an
older copy leaves the newer segments pending, so no record is lost; the outside record below
reports the rollback.)  The classification trusts the wall clock not to run backwards across a
crash.

Outside the vault, the last head seen at each location is kept in the user's state folder
(``platformdirs.user_state_path("vault")/heads/<vault_id>.json``, one entry per resolved vault
path, so a copy elsewhere, e.g. a test restore, is a separate history), so that replacing the whole
folder by an older copy (every file consistent, only older) is reported too.  A deliberate
rollback (an older backup restored on purpose) is accepted with ``accept_rollback``.

Vaults written before heads existed have none: they are read as before (the newest snapshot plus
every segment it does not supersede), and get a head at their first open with the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IntegrityError, VaultError
from .files import atomic_write

HEAD_NAME = "head.json"
HEAD_REL = f"catalog/{HEAD_NAME}"
HEAD_FORMAT = "vault-head"
HEAD_VERSION = 1
SEGMENT_SUFFIX = ".jsonl.age"
SNAPSHOT_SUFFIX = ".sqlite.age"
# vault.json field saying this vault has a head, so a deleted head is not read as an old vault.
HEADER_FLAG = "catalog_head"

# Things worth telling the person (a head created for an older vault, pieces adopted after a
# crash).  Core code never prints: the command line shows these after the command.
NOTICES: list[str] = []

ROLLBACK_HINT = (
    "if you restored an older copy of this vault on purpose, accept it with "
    "`vault check --accept-rollback`; otherwise restore the newest backup (`vault restore`)"
)


def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _mac(writer_key: bytes, body: dict) -> str:
    return hmac.new(writer_key, b"head\0" + _canonical(body), hashlib.sha256).hexdigest()


def segment_time(name: str) -> int:
    """The ``time_ns`` a segment name starts with (0 when it has none)."""
    head, _, _ = name.partition("-")
    return int(head) if head.isdigit() else 0


def snapshot_seq(name: str | None) -> int:
    if not name:
        return 0
    head, _, _ = name.partition("-")
    return int(head) if head.isdigit() else 0


@dataclass
class Head:
    vault_id: str
    counter: int
    written_ns: int
    snapshot: str | None
    segments: list[str]
    retired: list[str] = field(default_factory=list)
    mac: str = ""

    def body(self) -> dict:
        return {
            "format": HEAD_FORMAT,
            "version": HEAD_VERSION,
            "vault_id": self.vault_id,
            "counter": self.counter,
            "written_ns": self.written_ns,
            "snapshot": self.snapshot,
            "segments": list(self.segments),
            "retired": list(self.retired),
        }

    def to_bytes(self) -> bytes:
        data = self.body()
        data["mac"] = self.mac
        return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("ascii")

    def digest(self) -> str:
        return hashlib.sha256(_canonical(dict(self.body(), mac=self.mac))).hexdigest()

    @classmethod
    def parse(cls, raw: bytes) -> "Head":
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != HEAD_FORMAT:
                raise ValueError("not a head")
            if not isinstance(data.get("version"), int) or data["version"] > HEAD_VERSION:
                raise ValueError("unknown version")
            head = cls(
                vault_id=str(data["vault_id"]),
                counter=int(data["counter"]),
                written_ns=int(data["written_ns"]),
                snapshot=data.get("snapshot") or None,
                segments=[str(s) for s in data["segments"]],
                retired=[str(s) for s in data.get("retired", [])],
                mac=str(data.get("mac", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise IntegrityError(f"{HEAD_REL} is damaged (not a catalog head)", hint="restore it from a backup; see README \"Recovery\"") from None
        if head.snapshot is not None and not _plain_name(head.snapshot, SNAPSHOT_SUFFIX):
            raise IntegrityError(f"{HEAD_REL} names an invalid snapshot", hint="restore it from a backup")
        if not all(_plain_name(n, SEGMENT_SUFFIX) or _plain_name(n, SNAPSHOT_SUFFIX) for n in head.segments + head.retired):
            raise IntegrityError(f"{HEAD_REL} names an invalid catalog file", hint="restore it from a backup")
        return head

    def verify(self, writer_key: bytes) -> None:
        if not self.mac or not hmac.compare_digest(self.mac, _mac(writer_key, self.body())):
            raise IntegrityError(f"{HEAD_REL} fails its MAC (tampered or not written by this vault)", hint="restore it from a backup; see README \"Recovery\"")


def _plain_name(name: str, suffix: str) -> bool:
    return name.endswith(suffix) and "/" not in name and "\\" not in name and not name.startswith(".")


def _rel(name: str) -> str:
    return f"catalog/snapshots/{name}" if name.endswith(SNAPSHOT_SUFFIX) else f"catalog/journal/{name}"


def _listing(catalog_root: Path) -> tuple[list[str], list[str]]:
    """(segment names, snapshot names) present on disk, sorted."""
    def names(sub: str, suffix: str) -> list[str]:
        d = catalog_root / sub
        try:
            return sorted(n for n in os.listdir(d) if n.endswith(suffix))
        except FileNotFoundError:
            return []

    return names("journal", SEGMENT_SUFFIX), names("snapshots", SNAPSHOT_SUFFIX)


def read_head(vault_root: Path) -> Head | None:
    """The head as stored (MAC not checked), or None when the vault has none."""
    path = vault_root / HEAD_REL
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IntegrityError(f"cannot read {HEAD_REL}: {exc.strerror or exc}") from exc
    return Head.parse(raw)


def _header_data(vault_root: Path) -> dict:
    try:
        data = json.loads((vault_root / "vault.json").read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --- what a reader finds ------------------------------------------------------------------------


@dataclass
class Survey:
    """A catalog directory compared with its head (no key needed)."""

    head: Head | None
    snapshot: str | None                       # the snapshot to load
    segments: list[str]                        # the segments to replay, in order
    missing: list[str] = field(default_factory=list)     # relative paths the head lists, absent
    extra: list[str] = field(default_factory=list)       # relative paths nobody lists
    pending: list[str] = field(default_factory=list)     # segments newer than the head (crash window)
    unfinished: list[str] = field(default_factory=list)  # snapshots newer than the live one, unlisted
    legacy: bool = False                        # no head: a vault written before heads existed

    def problems(self) -> list[dict]:
        out = [{"path": p, "problem": "missing: the catalog head lists it (lost or deleted; records would be missing)"} for p in self.missing]
        out += [{"path": p, "problem": "not in the catalog head (added from elsewhere, or left from an older state)"} for p in self.extra]
        return out


def survey(vault_root: Path, header_data: dict | None = None) -> Survey:
    """Compare the catalog files on disk with the head.  Reads only; checks no MAC.

    The head MUST be read before the directories are listed: pieces are written before the head
    that lists them and deleted only under the exclusive lock, so everything the head names was
    already on disk when the listing began.
    """
    head = read_head(vault_root)
    segs, snaps = _listing(vault_root / "catalog")
    if head is None:
        flagged = bool((_header_data(vault_root) if header_data is None else header_data).get(HEADER_FLAG))
        s = Survey(None, snaps[-1] if snaps else None, segs, legacy=not flagged)
        if flagged:
            s.missing.append(HEAD_REL)
        return s
    return compare(head, segs, snaps)


def compare(head: Head, segs: list[str], snaps: list[str]) -> Survey:
    """Classify the segment and snapshot names found (in a vault or a backup) against ``head``."""
    live_segs = set(head.segments)
    retired = set(head.retired)
    s = Survey(head, head.snapshot, list(head.segments))
    if head.snapshot and head.snapshot not in snaps:
        s.missing.append(_rel(head.snapshot))
    present = set(segs)
    s.missing += [_rel(n) for n in head.segments if n not in present]
    for name in sorted(segs):
        if name in live_segs or name in retired:
            continue
        if segment_time(name) > head.written_ns:
            s.pending.append(name)
        else:
            s.extra.append(_rel(name))
    live_seq = snapshot_seq(head.snapshot)
    for name in sorted(snaps):
        if name == head.snapshot or name in retired:
            continue
        if snapshot_seq(name) > live_seq:
            s.unfinished.append(name)
        else:
            s.extra.append(_rel(name))
    s.segments += s.pending
    return s


def _survey_error(s: Survey) -> IntegrityError:
    problems = s.problems()
    first = problems[0]["path"]
    what = "missing" if s.missing else "not listed by the catalog head"
    names = ", ".join(p["path"] for p in problems[:5]) + (" ..." if len(problems) > 5 else "")
    return IntegrityError(
        f"the catalog is incomplete: {len(problems)} file(s) {what}: {names}",
        hint=f"nothing was changed; restore {first} from a backup (see README \"Recovery\"), then run `vault check --read-data`",
    )


# --- the last head seen here (outside the vault) -----------------------------------------------


def _state_file(vault_id: str) -> Path:
    import platformdirs

    safe = "".join(c for c in vault_id if c.isalnum() or c == "-") or "unknown"
    return platformdirs.user_state_path("vault") / "heads" / f"{safe}.json"


def _location(vault_root: Path) -> str:
    return str(Path(vault_root).resolve())


def _read_state(vault_id: str) -> dict:
    try:
        data = json.loads(_state_file(vault_id).read_bytes())
    except (OSError, ValueError):
        return {}
    locs = data.get("locations") if isinstance(data, dict) else None
    return locs if isinstance(locs, dict) else {}


def last_seen(vault_root: Path, vault_id: str) -> dict | None:
    """{"counter", "digest", "seen"} of the last head seen at this location, or None."""
    entry = _read_state(vault_id).get(_location(vault_root))
    return entry if isinstance(entry, dict) and isinstance(entry.get("counter"), int) else None


def remember(vault_root: Path, head: Head) -> None:
    """Record ``head`` as the last seen at this location (never lowers the counter).  Best
    effort: a state folder that cannot be written weakens rollback detection, nothing else."""
    path = _state_file(head.vault_id)
    locs = _read_state(head.vault_id)
    where = _location(vault_root)
    old = locs.get(where)
    if isinstance(old, dict) and isinstance(old.get("counter"), int) and old["counter"] > head.counter:
        return
    if isinstance(old, dict) and old.get("digest") == head.digest():
        return
    locs[where] = {"counter": head.counter, "digest": head.digest(), "seen": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_state(path, {"format": "vault-seen-heads", "vault_id": head.vault_id, "locations": locs})


def _write_state(path: Path, data: dict) -> None:
    from .files import ensure_dir

    try:
        ensure_dir(path.parent)
        atomic_write(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode(), path.parent, what=str(path))
    except (OSError, VaultError):  # see remember(): never fatal
        return


def forget(vault_root: Path, vault_id: str) -> None:
    """Drop what this location has seen (a deliberate rollback is accepted by the next read)."""
    locs = _read_state(vault_id)
    if locs.pop(_location(vault_root), None) is not None:
        _write_state(_state_file(vault_id), {"format": "vault-seen-heads", "vault_id": vault_id, "locations": locs})


def rollback_problem(vault_root: Path, head: Head) -> str | None:
    """Why ``head`` is older than (or diverged from) the last head seen here, or None."""
    seen = last_seen(vault_root, head.vault_id)
    if seen is None:
        return None
    if head.counter < seen["counter"]:
        return (f"the catalog was rolled back: its head is at {head.counter}, but {seen['counter']} was seen "
                f"here on {seen.get('seen', '?')} (the vault folder was replaced by an older copy)")
    if head.counter == seen["counter"] and seen.get("digest") and seen["digest"] != head.digest():
        return (f"the catalog head {head.counter} differs from the one seen here on {seen.get('seen', '?')} "
                "(the vault folder was replaced by a diverged copy)")
    return None


# --- the head as the catalog uses it ------------------------------------------------------------


class CatalogHead:
    """The head of one open catalog: what to load, and the next head after each write.

    Contract: ``view`` MUST be called before the catalog reads any segment or snapshot and raises
    IntegrityError for a missing, extra or rolled-back piece; ``record`` MUST be called after a
    segment or snapshot is durably written and before anything is deleted, with the caller
    holding the vault's exclusive lock.
    """

    def __init__(self, catalog_root: Path, tmpdir: Path, writer_key: bytes) -> None:
        self.vault_root = Path(catalog_root).parent
        self.tmpdir = tmpdir
        self._wk = writer_key
        self.current: Head | None = None
        self.survey: Survey | None = None

    @property
    def vault_id(self) -> str:
        return str(_header_data(self.vault_root).get("vault_id", ""))

    def view(self) -> Survey:
        """The verified list of pieces to load (see the module docstring)."""
        s = survey(self.vault_root)
        if s.head is not None:
            s.head.verify(self._wk)
            if s.head.vault_id != self.vault_id:
                raise IntegrityError(f"{HEAD_REL} belongs to another vault ({s.head.vault_id})", hint="restore it from this vault's backup")
            why = rollback_problem(self.vault_root, s.head)
            if why:
                raise IntegrityError(why, hint=ROLLBACK_HINT)
        if s.missing or s.extra:
            raise _survey_error(s)
        if s.head is not None:
            remember(self.vault_root, s.head)
        else:
            seen = last_seen(self.vault_root, self.vault_id)
            if seen is not None:
                raise IntegrityError(f"{HEAD_REL} is missing (head {seen['counter']} was seen here)", hint="restore it from a backup; see README \"Recovery\"")
        if s.pending:
            NOTICES.append(f"{len(s.pending)} catalog segment(s) written just before an interruption were kept")
        self.current, self.survey = s.head, s
        return s

    def loaded(self, snapshot: str | None, segments: list[str]) -> None:
        """After loading: give a vault written before heads existed its first head (best effort:
        a read-only vault is still readable)."""
        if self.current is not None:
            return
        try:
            self.record(snapshot, segments)
            _flag_header(self.vault_root, self.tmpdir, self._wk)
            _record_key_checksums(self.vault_root, self.tmpdir)
        except (OSError, VaultError):  # the read itself succeeded; the next open retries
            return
        NOTICES.append(f"this vault had no catalog head (written by an older version); created {HEAD_REL} at counter {self.current.counter if self.current else 0}")

    def record(self, snapshot: str | None, segments: list[str]) -> None:
        """Write the next head: ``snapshot`` and ``segments`` are live; every other catalog file
        on disk is retired."""
        segs, snaps = _listing(self.vault_root / "catalog")
        live = set(segments) | ({snapshot} if snapshot else set())
        retired = sorted((set(segs) | set(snaps)) - live)
        prev = self.current
        counter = max(prev.counter if prev else 0, (last_seen(self.vault_root, self.vault_id) or {}).get("counter", 0)) + 1
        head = Head(self.vault_id, counter, max(time.time_ns(), prev.written_ns + 1 if prev else 0), snapshot, list(segments), retired)
        head.mac = _mac(self._wk, head.body())
        atomic_write(self.vault_root / HEAD_REL, head.to_bytes(), self.tmpdir, what=HEAD_REL)
        self.current = head
        remember(self.vault_root, head)


def _flag_header(vault_root: Path, tmpdir: Path, writer_key: bytes) -> None:
    """Mark vault.json as having a head (re-signed), so a later missing head is noticed."""
    from .vaultfile import VaultHeader

    header = VaultHeader.load(vault_root / "vault.json")
    if header.extra.get(HEADER_FLAG):
        return
    header.verify(writer_key)
    header.extra[HEADER_FLAG] = 1
    header.sign(writer_key)
    write_header_file(vault_root, tmpdir, header.to_bytes())


def _record_key_checksums(vault_root: Path, tmpdir: Path) -> None:
    """Checksum lines for keys/ in a vault made before they were written (intact age files only)."""
    from .checksums import age_file_problem, read_all, record_replacement
    from .files import sha256_file

    listed = read_all(vault_root / "checksums")
    for rel in ("keys/identity.age", "keys/writer.key.age"):
        path = vault_root / rel
        if rel not in listed and not path.is_symlink() and age_file_problem(path) is None:
            record_replacement(vault_root / "checksums", tmpdir, rel, sha256_file(path))


def write_header_file(vault_root: Path, tmpdir: Path, data: bytes) -> None:
    """Replace vault.json, its checksum line first (see checksums.record_replacement)."""
    from .checksums import record_replacement

    record_replacement(vault_root / "checksums", tmpdir, "vault.json", hashlib.sha256(data).hexdigest())
    atomic_write(vault_root / "vault.json", data, tmpdir, what="vault.json")


def accept_rollback(vault_root: Path, writer_key: bytes) -> dict:
    """Accept the vault's current head as the newest at this location (after restoring an older
    copy on purpose).  The head's MAC is checked first; returns what was replaced."""
    head = read_head(vault_root)
    data = _header_data(vault_root)
    vault_id = str(data.get("vault_id", ""))
    seen = last_seen(vault_root, vault_id)
    if head is None:
        forget(vault_root, vault_id)
        return {"accepted": None, "previously_seen": seen["counter"] if seen else None}
    head.verify(writer_key)
    forget(vault_root, vault_id)
    remember(vault_root, head)
    return {"accepted": head.counter, "previously_seen": seen["counter"] if seen else None}


def initial_head(vault_id: str, writer_key: bytes) -> Head:
    """The head of a new, empty vault."""
    head = Head(vault_id, 0, time.time_ns(), None, [], [])
    head.mac = _mac(writer_key, head.body())
    return head
