"""`mailproc audit verify`: the event chain (and, given one, an anchor printed earlier in a
digest or recap) and every archived file the chain names, read back and hashed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from mailproc import store
from mailproc.archive import Archive


@dataclass(frozen=True)
class FileProblem:
    path: str
    problem: str  # 'missing', 'changed' or 'outside the archive'
    event_id: int  # the files_archived event that recorded it


@dataclass(frozen=True)
class AuditReport:
    chain: store.ChainReport
    files: int
    file_problems: tuple[FileProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.chain.problem and not self.file_problems


def audit(archive: Archive, *, anchor: str = "",
          progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Check the chain, then each archived file it names (missing or changed: named)."""
    chain = store.verify_chain(anchor)
    files = list(store.archived_files())
    problems: list[FileProblem] = []
    for done, (event_id, rel, digest, _size) in enumerate(files, start=1):
        try:
            with archive.path(rel).open("rb") as fh:
                actual = hashlib.file_digest(fh, "sha256").hexdigest()
        except FileNotFoundError:
            problems.append(FileProblem(rel, "missing", event_id))
        except ValueError:
            problems.append(FileProblem(rel, "outside the archive", event_id))
        else:
            if actual != digest:
                problems.append(FileProblem(rel, "changed", event_id))
        if progress is not None:
            progress(done, len(files))
    return AuditReport(chain, len(files), tuple(problems))
