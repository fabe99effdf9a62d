"""The only writer under archive/: raw mail and attachments, by year/month/complaint.

Paths are derived from the message key, so writing the same message again (a retry after a
crash) lands on the same files instead of leaving copies. Returned paths are relative to the
archive root so the archive can be moved.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from mailproc.intake.filenames import sanitise_filename

UNFILED = "_lain"  # mail that belongs to no complaint (auto-replies, own mail)
QUARANTINE = "_karantina"


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: set[Path] = set()  # folders known to exist: saves a mkdir per file

    def folder(self, when: datetime, group: str) -> Path:
        return Path(f"{when:%Y}") / f"{when:%m}" / sanitise_filename(group, fallback="lain")

    @staticmethod
    def message_stem(key: str) -> str:
        # A short stable name: Message-IDs can be long and contain '/' or '$'.
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]

    def store_message(self, when: datetime, group: str, key: str, raw: bytes) -> str:
        rel = self.folder(when, group) / f"{self.message_stem(key)}.eml"
        self._write(rel, raw)
        return rel.as_posix()

    def store_attachment(self, when: datetime, group: str, key: str, index: int,
                         filename: str, content: bytes) -> str:
        safe = sanitise_filename(filename)
        # One folder per attachment keeps its own name (mail it on as it came) and keeps two
        # attachments with the same name apart.
        rel = self.folder(when, group) / self.message_stem(key) / f"{index:02d}" / safe
        self._write(rel, content)
        return rel.as_posix()

    def store_document(self, when: datetime, group: str, filename: str, content: bytes) -> str:
        rel = self.folder(when, group) / "dokumen" / sanitise_filename(filename)
        self._write(rel, content)
        return rel.as_posix()

    def path(self, rel: str) -> Path:
        """Absolute path of an archived file; refuses anything that escapes the root."""
        full = (self.root / rel).resolve()
        if not full.is_relative_to(self.root.resolve()):
            raise ValueError(f"path outside the archive: {rel}")
        return full

    def read(self, rel: str) -> bytes:
        return self.path(rel).read_bytes()

    def _write(self, rel: Path, content: bytes) -> None:
        target = self.path(rel.as_posix())
        if target.parent not in self._made:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(target.parent)
        # Write then rename so a crash never leaves half a file under the final name.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
