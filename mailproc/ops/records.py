"""Records kept as the law asks (procedure step 11; UU 27/2022 on personal data protection):
`mailproc records purge`, `mailproc customer export` and `mailproc customer erase`. The rules
(retention, pseudonym, redaction) are in `domain.records_law`, the rows in
`store.personaldata`; every step here is an event of the hash chain.

- **Purge** removes the raw mail (.eml) and the attachments of complaints closed or rejected
  before a date at least `records.retention_years` back. It keeps the register row, the
  cycles, the forms and reports (generated, and received back filled), the messages' and
  attachments' rows (headers, sha256; the path cleared) and the chain: one `records_purged`
  tombstone per complaint names each file removed with its sha256, so `audit verify` expects
  it absent. Files go after the commit; what a crash left is finished by the next purge.
- **Export** writes one customer's data as a zip: `data.json` and the archived files of
  their complaints (raw mail, attachments, documents) that still exist.
- **Erase** replaces the customer's name, organisation, address and telephone number with a
  pseudonym everywhere the database holds them (the events of the log included, which the
  erasure event vouches for) and removes the raw mail and attachments of their complaints (a
  tombstone as for a purge). The technical content of the PTPP stays, their name in it
  replaced. The forms already issued are records and are kept as they are: they still show
  the customer's name (they are not rendered again; an archived file is never changed).
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mailproc import store
from mailproc.bootstrap import App
from mailproc.domain import records_law
from mailproc.domain.lifecycle import EventKind
from mailproc.domain.states import OPEN_STATUSES
from mailproc.errors import MailprocError, NotFound
from mailproc.store import personaldata
from mailproc.store.personaldata import RawFile

Progress = Callable[[int, int], None]
LOCK = "records"  # one purge or erasure at a time on a database


class RecordsError(MailprocError):
    """A purge, export or erasure refused; the message says why and what to do."""


@dataclass(frozen=True)
class PurgedComplaint:
    number: str
    status: str
    closed_at: datetime
    files: tuple[RawFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class PurgeReport:
    before: date
    latest_allowed: date
    retention_years: int
    dry_run: bool
    complaints: tuple[PurgedComplaint, ...] = ()
    finished: int = 0  # files a crash had left after an earlier purge, removed now

    @property
    def files(self) -> int:
        return sum(len(c.files) for c in self.complaints)

    @property
    def size(self) -> int:
        return sum(c.size for c in self.complaints)


def _tombstone(app: App, complaint: store.Complaint | None, files: list[RawFile], *, at: datetime,
               actor: str, source: str, **why: Any) -> None:
    """Inside the transaction: the rows forget the files, a `records_purged` event names
    them, and the archive removes them once this commits."""
    personaldata.forget_files(files)
    store.append_event(complaint=complaint, at=at, actor=actor, source=source,
                       kind=EventKind.RECORDS_PURGED,
                       data={"files": [{"path": f.path, "sha256": f.sha256, "size": f.size}
                                       for f in files], **why})
    for f in files:
        app.archive.remove(f.path)


def purge(app: App, before: date, *, dry_run: bool, actor: str,
          progress: Progress | None = None) -> PurgeReport:
    """Remove the raw mail and attachments of the complaints finished before `before`
    (company-local date), refusing a date inside the retention period. `dry_run`: say what
    would go, change nothing."""
    s = app.settings
    years = s.records.retention_years
    now = app.clock()
    today = now.astimezone(s.timezone).date()
    try:
        records_law.check_purge_date(before, today, years)
    except records_law.RetentionError as exc:
        raise RecordsError(str(exc)) from None
    bound = records_law.purge_bound(before, s.timezone)
    source = f"cli:records purge --before {before.isoformat()}"
    done: list[PurgedComplaint] = []
    with store.exclusive(LOCK):
        candidates = [c for c in personaldata.finished_before(bound)
                      if records_law.past_retention(c.status, c.closed_at, bound)]
        for n, c in enumerate(candidates, start=1):
            if dry_run:
                files = personaldata.raw_files(c.id)
            else:
                # One transaction a complaint: a long purge commits as it goes, and what it
                # did stays done if it is interrupted.
                with store.transaction():
                    files = personaldata.raw_files(c.id)
                    if files:
                        _tombstone(app, personaldata.complaint_by_id(c.id), files, at=now,
                                   actor=actor, source=source, reason="retention",
                                   before=before.isoformat(), retention_years=years,
                                   closed_at=c.closed_at.isoformat())
            if files:
                done.append(PurgedComplaint(c.number, c.status, c.closed_at, tuple(files)))
            if progress is not None:
                progress(n, len(candidates))
        finished = 0 if dry_run else finish_removals(app)
    return PurgeReport(before, records_law.latest_purge_date(today, years), years, dry_run,
                       tuple(done), finished)


def finish_removals(app: App) -> int:
    """Remove the files a tombstone names that are still there (a crash between a purge's
    commit and its removals); returns how many."""
    last_archived: dict[str, int] = {}
    for event_id, rel, _digest, _size in store.archived_files():
        last_archived[rel] = event_id
    count = 0
    for rel, tombstone in store.removed_files().items():
        if last_archived.get(rel, 0) > tombstone:
            continue  # archived again since
        try:
            present = app.archive.path(rel).exists()
        except ValueError:
            continue
        if present:
            app.archive.remove(rel)
            count += 1
    return count


# ---- one customer ------------------------------------------------------------------------

def _customer(address: str) -> store.Customer:
    customer = personaldata.customer_by_email(address) if "@" in address else None
    if customer is None:
        raise NotFound(f"no customer with the address {address.strip()}; an erased customer "
                       "is known only by their pseudonym (see `mailproc complaints list`)")
    return customer


@dataclass(frozen=True)
class ExportReport:
    path: Path
    complaints: tuple[str, ...]
    files: int
    missing: tuple[str, ...]  # named by the records, no longer in the archive (purged)
    sha256: str


def default_export_name(address: str, today: date) -> str:
    return f"data-{records_law.pseudonym(address)}-{today:%Y%m%d}.zip"


def export_customer(app: App, address: str, output: Path | None, *,
                    actor: str) -> ExportReport:
    """One customer's data as a zip: `data.json` (their row, complaints with cycles,
    documents, messages and events, their other mail, the mail sent to them) and, under
    `arsip/`, the archived files of it that still exist. Never over an existing file."""
    customer = _customer(address)
    now = app.clock()
    record, paths = personaldata.customer_record(customer)
    numbers = tuple(c["number"] for c in record["complaints"])
    target = output or Path(default_export_name(address, now.astimezone(
        app.settings.timezone).date()))
    record = {"exported_at": now.isoformat(), "company": app.settings.company.name, **record}
    files, missing = [], []
    for rel in paths + _pdf_copies(app, paths):
        try:
            full = app.archive.path(rel)
        except ValueError:
            missing.append(rel)
            continue
        (files if full.is_file() else missing).append(rel)
    record["files"] = {"included": [f"arsip/{rel}" for rel in files],
                      "no_longer_kept": missing}
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise RecordsError(f"{target} exists already; name another file with --output") from None
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("data.json", json.dumps(record, ensure_ascii=False, indent=2))
            for rel in files:
                zf.write(app.archive.path(rel), f"arsip/{rel}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    with store.transaction():
        store.append_event(complaint=None, at=now, actor=actor, source="cli:customer export",
                           kind=EventKind.CUSTOMER_EXPORTED,
                           data={"customer": records_law.pseudonym(address),
                                 "address_sha256": records_law.address_digest(address),
                                 "complaints": list(numbers), "files": len(files),
                                 "zip_sha256": digest})
    return ExportReport(target, numbers, len(files), tuple(missing), digest)


def _pdf_copies(app: App, paths: list[str]) -> list[str]:
    """The PDF copies made beside Word documents (not rows of their own)."""
    copies = []
    for rel in paths:
        if rel.lower().endswith(".docx"):
            try:
                if app.archive.path(rel[:-5] + ".pdf").is_file():
                    copies.append(rel[:-5] + ".pdf")
            except ValueError:
                continue
    return copies


@dataclass(frozen=True)
class EraseReport:
    pseudonym: str
    complaints: tuple[str, ...]
    open_complaints: tuple[str, ...]
    files_removed: int
    rows: dict[str, int] = field(default_factory=dict)
    events_redacted: int = 0
    documents_kept: int = 0  # forms that still show the customer's name


def erase_customer(app: App, address: str, *, force: bool, actor: str,
                   also: Sequence[str] = ()) -> EraseReport:
    """Replace one customer's personal data with a pseudonym and remove the raw mail and
    attachments of their complaints. Refused while a complaint of theirs is open (the
    department and marketing administration still work from that mail) unless `force`.
    `also`: more that identifies them in text and is not in their row (their company as they
    sign, another spelling of their name, another telephone number), replaced too."""
    now = app.clock()
    name = records_law.pseudonym(address)
    note = f"alamat pelanggan dihapus atas permintaannya (customer erase, {name})"
    with store.exclusive(LOCK), store.transaction():
        customer = _customer(address)
        complaints = personaldata.complaints_of(customer)
        still_open = tuple(c.number for c in complaints if c.status in OPEN_STATUSES)
        if still_open and not force:
            raise RecordsError(
                f"the customer has {len(still_open)} open complaint(s): "
                f"{', '.join(still_open)}; close or reject them first, or erase anyway with "
                "--force (their raw mail is removed too, and no further mail reaches the "
                "customer)")
        extra_phones = [a for a in also if records_law.looks_like_phone(a)]
        redact = records_law.redactor(
            name, emails=[customer.email or address],
            names=[customer.name, customer.organization,
                   *(a for a in also if a not in extra_phones)],
            phones=[customer.phone, *(c.contact for c in complaints), *extra_phones])
        source = "cli:customer erase"
        removed = 0
        for c in complaints:
            files = personaldata.raw_files(c.id)
            if files:
                _tombstone(app, c, files, at=now, actor=actor, source=source,
                           reason="erasure", customer=name)
                removed += len(files)
        loose = personaldata.loose_raw_files(address, [c.id for c in complaints])
        if loose:
            _tombstone(app, None, loose, at=now, actor=actor, source=source,
                       reason="erasure", customer=name)
            removed += len(loose)
        erased = personaldata.erase_customer(customer, complaints, redact, name, note=note)
        documents = personaldata.document_count([c.id for c in complaints])
        store.append_event(
            complaint=None, at=now, actor=actor, source=source, kind=EventKind.CUSTOMER_ERASED,
            data={"customer": name, "address_sha256": records_law.address_digest(address),
                  "complaints": [c.number for c in complaints], "forced": bool(still_open),
                  "files_removed": removed, "rows": erased.rows,
                  "documents_kept": documents,
                  "redacted_events": [{"event": eid, "sha256": digest}
                                      for eid, digest in erased.events]})
    return EraseReport(name, tuple(c.number for c in complaints), still_open, removed,
                       erased.rows, len(erased.events), documents)
