"""The only writer under archive/: raw mail, attachments and documents, by year/month/complaint.

Paths are derived from the message key, so writing the same message again (a retry after a
crash) lands on the same files instead of leaving copies. Returned paths are relative to the
archive root so the archive can be moved.

Nothing archived is ever overwritten (records that cannot change, issue #12): a write whose
name is taken — by a file, by a file staged in this transaction, or by the caller's `taken`
(the database's document rows) — goes to the next free versioned name (`name-v2.docx`, …),
except that the same bytes under the same name are the same record (a message stored again).
Files are placed with a hard link, which fails instead of replacing a file that appeared
meanwhile. The one removal is `remove`: raw mail and attachments past their retention period,
or of a customer erased (`mailproc records purge`, `mailproc customer erase`), each named
first in a `records_purged` tombstone of the event chain.

Writes made while a database transaction is open are staged: the bytes go to
`.staging/` under the root at once (so a full disk fails the transaction, not the commit),
and move to their place only when the transaction commits; a rollback deletes them. So a
registration that fails leaves nothing in the folder of the number the next complaint reuses.
The archive does not know the database: `defer` (wired by the composition root to
`store.on_outcome`) says when the outcome is known.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote

log = logging.getLogger(__name__)

UNFILED = "_lain"  # mail that belongs to no complaint (auto-replies, own mail)
QUARANTINE = "_karantina"
STAGING = ".staging"

# Called with (after_commit, after_rollback); runs after_commit at once when no transaction
# is open.
Defer = Callable[[Callable[[], None], Callable[[], None]], None]


def sanitise_filename(name: str, *, fallback: str = "lampiran") -> str:
    """mailproc.intake.filenames.sanitise_filename, imported at the first file written: it
    loads the email package, which a command that only reads (the App builds an Archive for
    every command) does not need."""
    from mailproc.intake.filenames import sanitise_filename as sanitise

    return sanitise(name, fallback=fallback)


class Archive:
    def __init__(self, root: Path, defer: Defer | None = None) -> None:
        self.root = root
        self._defer = defer
        self._made: set[Path] = set()  # folders known to exist: saves a mkdir per file
        self._staged: dict[str, Path] = {}  # final relative path -> staged file, until commit
        self._resolved_root: Path | None = None

    def folder(self, when: datetime, group: str) -> Path:
        return Path(f"{when:%Y}") / f"{when:%m}" / sanitise_filename(group, fallback="lain")

    @staticmethod
    def message_stem(key: str) -> str:
        # A short stable name: Message-IDs can be long and contain '/' or '$'.
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]

    def store_message(self, when: datetime, group: str, key: str, raw: bytes) -> str:
        rel = self.folder(when, group) / f"{self.message_stem(key)}.eml"
        return self._write(rel, raw, same_is_same=True)

    def store_attachment(self, when: datetime, group: str, key: str, index: int,
                         filename: str, content: bytes) -> str:
        safe = sanitise_filename(filename)
        # One folder per attachment keeps its own name (mail it on as it came) and keeps two
        # attachments with the same name apart.
        rel = self.folder(when, group) / self.message_stem(key) / f"{index:02d}" / safe
        return self._write(rel, content, same_is_same=True)

    def store_document(self, when: datetime, group: str, filename: str, content: bytes, *,
                       taken: Callable[[str], bool] | None = None) -> str:
        """A document (a generated or received form, a report): always a file of its own, under
        the next free versioned name when its name is taken (`taken`: the caller's record of
        names in use, e.g. the database's document rows)."""
        rel = self.folder(when, group) / "dokumen" / sanitise_filename(filename)
        return self._write(rel, content, same_is_same=False, taken=taken)

    def store_copy(self, rel: str, content: bytes) -> None:
        """A copy derived from an archived file (a PDF of a Word document), written at once:
        it is made after the original committed, outside any transaction. Never over an
        existing file (a copy made meanwhile by another process goes beside it)."""
        self._write_file(self.path(rel), content)

    def path(self, rel: str) -> Path:
        """Absolute path of an archived file; refuses anything that escapes the root."""
        full = (self.root / rel).resolve()
        if self._resolved_root is None:  # the root's own resolution, once (a syscall a part)
            self._resolved_root = self.root.resolve()
        if not full.is_relative_to(self._resolved_root):
            raise ValueError(f"path outside the archive: {rel}")
        return full

    def remove(self, rel: str) -> None:
        """Remove one archived file: the one deliberate exception to "nothing archived is
        changed", for raw mail and attachments past their retention period or of a customer
        who asked to be erased (`mailproc records purge`, `customer erase`). The caller has
        recorded the removal (a `records_purged` tombstone in the chain) in the open
        transaction: the file goes after its commit, and stays if it rolls back. Folders left
        empty go too, up to the complaint's. A file already gone is no error."""
        target = self.path(rel)
        if rel in self._staged or target == self.path(".") or target.is_dir():
            raise ValueError(f"not an archived file: {rel}")

        def commit() -> None:
            target.unlink(missing_ok=True)
            folder = target.parent
            root = self.path(".")
            # The attachment's own folders (<stem>/<nn>/), never a month's or the root.
            while folder != root and len(folder.relative_to(root).parts) > 3:
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty
                self._made.discard(folder)
                folder = folder.parent

        if self._defer is None:
            commit()
        else:
            self._defer(commit, lambda: None)

    def read(self, rel: str) -> bytes:
        staged = self._staged.get(rel)
        return (staged or self.path(rel)).read_bytes()

    def _write(self, rel: Path, content: bytes, *, same_is_same: bool,
               taken: Callable[[str], bool] | None = None) -> str:
        """Write `content` under `rel`, or the first free versioned name; returns the
        relative path used. `same_is_same`: the same bytes already under a name are that
        record, not a new one (nothing is written)."""
        for candidate in _versions(rel):
            key = candidate.as_posix()
            target = self.path(key)
            staged_file = self._staged.get(key)
            existing = staged_file or (target if target.exists() else None)
            if existing is None and not (taken is not None and taken(key)):
                break
            if same_is_same and existing is not None and _same_bytes(existing, content):
                return key
        if self._defer is None:
            self._write_file(target, content)
            return key
        # Keyed by the final path (which carries the message's stem): a retry of the same
        # message stages onto the same name.
        staged = self.root / STAGING / _staged_name(key)
        self._write_file(staged, content, replace=True)
        if staged.name.endswith(_HASHED):  # a long path: its name beside it, for recovery
            self._write_file(staged.with_name(staged.name + ".rel"), key.encode(),
                             replace=True)
        self._staged[key] = staged

        def commit() -> None:
            self._staged.pop(key, None)
            self._ensure_folder(target.parent)
            _place(staged, target)
            staged.with_name(staged.name + ".rel").unlink(missing_ok=True)

        def discard() -> None:
            self._staged.pop(key, None)
            staged.unlink(missing_ok=True)
            staged.with_name(staged.name + ".rel").unlink(missing_ok=True)

        self._defer(commit, discard)
        return key

    def recover_staged(self, recorded: Callable[[str], bool], *,
                       stale_after: float = 3600.0) -> tuple[int, int]:
        """Finish what a crash between a commit and the moves after it left in `.staging/`:
        a file the database records (`recorded(rel)`) goes to its place; one nothing records
        and older than `stale_after` seconds (no transaction lasts that long) belonged to a
        transaction that never committed and is removed. Returns (placed, removed)."""
        staging = self.root / STAGING
        if not staging.is_dir():
            return 0, 0
        placed = removed = 0
        # The file system's own clock, which the files' times come from (not the process's,
        # which may differ: a moved clock in tests, or a container's).
        probe = staging / f".tmp-now-{os.getpid()}"
        probe.touch()
        now = probe.stat().st_mtime
        probe.unlink(missing_ok=True)
        for staged in sorted(staging.iterdir()):
            if staged.name.startswith(".tmp-") or staged.name.endswith(".rel"):
                continue
            sidecar = staged.with_name(staged.name + ".rel")
            try:
                rel = (sidecar.read_text(encoding="utf-8") if staged.name.endswith(_HASHED)
                       else unquote(staged.name))
                age = now - staged.stat().st_mtime
            except (OSError, UnicodeDecodeError):
                continue  # taken by its own commit meanwhile, or not ours
            if rel in self._staged:
                continue  # this process's own open transaction
            if recorded(rel):
                try:
                    target = self.path(rel)
                except ValueError:
                    continue  # not a path of ours: left for a person to look at
                self._ensure_folder(target.parent)
                _place(staged, target)
                sidecar.unlink(missing_ok=True)
                placed += 1
                log.warning("archive: %s was left in %s by a crash after its commit; moved "
                            "into place", rel, STAGING)
            elif age > stale_after:
                staged.unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
                removed += 1
        return placed, removed

    def _ensure_folder(self, folder: Path) -> None:
        if folder not in self._made:
            if len(self._made) >= 1024:  # one folder a complaint: bounded, not one per mail
                self._made.clear()
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)

    def _write_file(self, target: Path, content: bytes, *, replace: bool = False) -> None:
        self._ensure_folder(target.parent)
        # Write then move so a crash never leaves half a file under the final name; the move
        # never replaces an archived file (only a staged one, `replace`).
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            if replace:
                os.replace(tmp, target)
            else:
                _place(Path(tmp), target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


_HASHED = ".h"  # a staged name that is a hash, its path in a .rel file beside it


def _staged_name(rel: str) -> str:
    """The staged file's name says where it goes (for recovery after a crash): the quoted
    path, or, past the file-name limit, a hash with the path in a `.rel` file beside it."""
    name = quote(rel, safe="")
    if len(name.encode()) <= 200:
        return name
    return hashlib.sha256(rel.encode()).hexdigest()[:32] + _HASHED


def _versions(rel: Path) -> Iterator[Path]:
    """rel, then name-v2.ext, name-v3.ext, … beside it."""
    yield rel
    stem, suffix = rel.stem, rel.suffix
    n = 2
    while True:
        yield rel.with_name(f"{stem}-v{n}{suffix}")
        n += 1


def _same_bytes(path: Path, content: bytes) -> bool:
    try:
        return path.stat().st_size == len(content) and path.read_bytes() == content
    except OSError:
        return False


def _place(src: Path, target: Path) -> None:
    """Move `src` to `target` without ever replacing a file there: a hard link fails when
    the name is taken. Taken by the same bytes: the same record. By other bytes (another
    process wrote there between our check and now): the file goes beside it under a
    versioned name, and that is logged, never lost."""
    try:
        os.link(src, target)
    except FileNotFoundError:
        if not src.exists() and target.exists():
            return  # placed meanwhile by the recovery of another process
        raise
    except FileExistsError:
        try:
            content = src.read_bytes()
        except FileNotFoundError:
            return  # placed meanwhile by the recovery of another process
        if _same_bytes(target, content):
            src.unlink(missing_ok=True)
            return
        for candidate in _versions(target):
            try:
                os.link(src, candidate)
            except FileExistsError:
                continue
            log.error("archive: %s appeared while it was being written; this copy was kept as "
                      "%s (the record names %s: check both)", target, candidate.name, target)
            break
    except OSError:
        # A file system without hard links: check, then rename (a narrow race remains).
        if target.exists():
            raise
        os.replace(src, target)
        return
    src.unlink(missing_ok=True)
