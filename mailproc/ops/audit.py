"""`mailproc audit verify`: the event chain (and, given one, an anchor printed earlier in a
digest or recap) and every archived file the chain names, read back and hashed. A file that a
later `records_purged` tombstone names (removed past its retention period, or with an erased
customer's data) must be absent instead."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from mailproc import store
from mailproc.archive import Archive


@dataclass(frozen=True)
class FileProblem:
    path: str
    # 'missing', 'changed', 'outside the archive', or 'not removed' (a tombstone says it
    # was removed, and it is still there)
    problem: str
    event_id: int  # the files_archived event that recorded it (the tombstone: not removed)


@dataclass(frozen=True)
class AuditReport:
    chain: store.ChainReport
    files: int
    file_problems: tuple[FileProblem, ...]
    removed: int = 0  # of `files`, those a tombstone recorded as removed (and absent)

    @property
    def ok(self) -> bool:
        return not self.chain.problem and not self.file_problems


def audit(archive: Archive, *, anchor: str = "",
          progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Check the chain, then each archived file it names (missing or changed: named); a
    file removed since by a tombstone must be gone."""
    chain = store.verify_chain(anchor)
    files = list(store.archived_files())
    tombstones = store.removed_files()
    last_archived = {rel: event_id for event_id, rel, _digest, _size in files}
    problems: list[FileProblem] = []
    removed = 0
    for done, (event_id, rel, digest, _size) in enumerate(files, start=1):
        if progress is not None:
            progress(done, len(files))
        gone_by = tombstones.get(rel, 0)
        if gone_by > event_id:
            if last_archived[rel] > gone_by:
                continue  # archived again after its removal: that later record is checked
            try:
                present = archive.path(rel).exists()
            except ValueError:
                present = False
            if present:
                problems.append(FileProblem(rel, "not removed", gone_by))
            else:
                removed += 1
            continue
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
    return AuditReport(chain, len(files), tuple(problems), removed)
