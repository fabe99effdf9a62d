"""What the web page (mailproc/web) reads and writes beyond the CLI's read models: its accounts,
one page of the register (filtered, searched, sorted in SQL, so a register of ten thousand
complaints answers with one page's rows), the dashboard's lean records, and the archived
files of one complaint, found by their row (the page never takes a file path from the URL).

Read-only except the accounts; knows no HTML and no password hashing (mailproc.web does).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import peewee as pw

from mailproc.domain import forms, states
from mailproc.domain.records import ComplaintRecord, CycleRecord
from mailproc.store.models import (
    Attachment,
    Complaint,
    Customer,
    Document,
    Message,
    Ptpp,
    StoreError,
    User,
    aware,
    db,
    utcnow_naive,
)
from mailproc.store.queries import complaint_by_number

ROLES = ("admin", "viewer")


# ---- accounts -----------------------------------------------------------------------------

@dataclass(frozen=True)
class UserRow:
    name: str
    password_hash: str
    role: str
    created_at: datetime | None


def _user(u: User) -> UserRow:
    return UserRow(name=u.name, password_hash=u.password_hash, role=u.role,
                   created_at=aware(u.created_at))


def add_user(name: str, password_hash: str, role: str, now: datetime) -> UserRow:
    """A new account; StoreError when the name is taken or the role unknown."""
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if User.select().where(User.name == name).exists():
        raise StoreError(f"there is already a user {name!r}")
    return _user(User.create(name=name, password_hash=password_hash, role=role,
                             created_at=utcnow_naive(now)))


def set_password(name: str, password_hash: str) -> bool:
    """Replace an account's password hash; False when there is no such account."""
    return User.update(password_hash=password_hash).where(User.name == name).execute() > 0


def user_by_name(name: str) -> UserRow | None:
    u = User.select().where(User.name == name).first()
    return _user(u) if u is not None else None


def admin_count() -> int:
    """How many accounts may act on the web page (`doctor`)."""
    return User.select().where(User.role == "admin").count()


def user_list() -> list[UserRow]:
    return [_user(u) for u in User.select().order_by(User.name)]


# ---- the register, one page at a time -----------------------------------------------------

@dataclass(frozen=True)
class RegisterQuery:
    """What the register page asks for. `received_from` / `received_to`: a month's bounds
    (aware); `numbers`: only these (the overdue filter, decided by domain.figures); `sort` one
    of SORTS."""

    text: str = ""
    status: str = ""  # a status, 'open' (every status before closed / rejected), or ''
    department: str = ""
    category: str = ""
    channel: str = ""
    received_from: datetime | None = None
    received_to: datetime | None = None
    numbers: tuple[str, ...] | None = None
    sort: str = "received"
    descending: bool = True


SORTS = {
    "received": (Complaint.received_at, Complaint.id),
    "number": (Complaint.year, Complaint.seq),
    "status": (Complaint.status, Complaint.received_at),
    "department": (Complaint.department, Complaint.received_at),
    "customer": (Customer.name, Customer.email, Complaint.received_at),
}


def _filtered(q: RegisterQuery) -> pw.ModelSelect:
    query = (Complaint.select(Complaint.number)
             .join(Customer, pw.JOIN.LEFT_OUTER, on=(Complaint.customer == Customer.id)))
    if q.status == "open":
        query = query.where(Complaint.status.in_(sorted(str(s) for s in states.OPEN_STATUSES)))
    elif q.status:
        query = query.where(Complaint.status == q.status)
    if q.department:
        query = query.where(Complaint.department == q.department)
    if q.category:
        query = query.where(Complaint.category == q.category)
    if q.channel:
        query = query.where(Complaint.channel == q.channel)
    if q.received_from is not None:
        query = query.where(Complaint.received_at >= utcnow_naive(q.received_from))
    if q.received_to is not None:
        query = query.where(Complaint.received_at < utcnow_naive(q.received_to))
    if q.numbers is not None:
        query = query.where(Complaint.number.in_(list(q.numbers)))
    for word in q.text.split():
        # Every word somewhere: number, customer, product, batch, subject or description.
        query = query.where(
            Complaint.number.contains(word) | Customer.name.contains(word)
            | Customer.email.contains(word) | Complaint.product.contains(word)
            | Complaint.batch.contains(word) | Complaint.subject.contains(word)
            | Complaint.description.contains(word))
    return query


def register_numbers(q: RegisterQuery, *, offset: int = 0,
                     limit: int | None = None) -> tuple[int, list[str]]:
    """(how many complaints match, the numbers of those in [offset, offset + limit) in the
    asked order); every match with `limit` None (the download)."""
    query = _filtered(q)
    total = query.count()
    columns = SORTS.get(q.sort, SORTS["received"])
    query = query.order_by(*[c.desc() if q.descending else c.asc() for c in columns])
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return total, [row[0] for row in query.tuples()]


def channels() -> list[str]:
    """The channels complaints came through, for the filter."""
    return [r[0] for r in Complaint.select(Complaint.channel).distinct()
            .order_by(Complaint.channel).tuples()]


# ---- the dashboard's records --------------------------------------------------------------

def status_records(departments: Mapping[str, str], *, closed_since: datetime
                   ) -> list[ComplaintRecord]:
    """The complaints open now and those closed since `closed_since`, as records carrying
    what `domain.figures.digest` reads (the fields of the digest's items, the clocks, the
    current cycle's dates, and its actions while the plan is being carried out); the rest of
    a record is left empty. A lean `reportdata.load_records(open_at=…)`: over thousands of
    open complaints, parsing every cycle's whole plan cost more than the dashboard may take;
    a row unchanged since the previous call gives back the same record object.
    `departments`: key → display name. tests/unit/test_web_pages.py holds it to the digest
    load_records gives."""
    rows = list(db.execute(
        Complaint.select(Complaint.id, Complaint.number, Complaint.year, Complaint.seq,
                         Complaint.received_at, Complaint.channel, Complaint.customer,
                         Customer.name, Customer.email, Complaint.department, Complaint.status,
                         Complaint.first_response_at, Complaint.first_response_due_at,
                         Complaint.closed_at)
        .join(Customer, pw.JOIN.LEFT_OUTER, on=(Complaint.customer == Customer.id))
        .where(Complaint.status.in_(sorted(str(s) for s in states.OPEN_STATUSES))
               | ((Complaint.status == str(states.CLOSED))
                  & (Complaint.closed_at > utcnow_naive(closed_since))))
        .order_by(Complaint.received_at, Complaint.id)).fetchall())
    current: dict[int, tuple] = {}
    if any(r[10] in _CYCLE_STATUSES for r in rows):
        for row in db.execute(
                Ptpp.select(Ptpp.complaint, Ptpp.cycle, Ptpp.plan_due_at, Ptpp.implemented_at,
                            # the plan's text only where its actions are read
                            pw.Case(Complaint.status, [(str(states.PLANNED), Ptpp.plan)], ""))
                .join(Complaint, on=(Ptpp.complaint == Complaint.id))
                .where(Complaint.status.in_(sorted(_CYCLE_STATUSES)))
                .order_by(Ptpp.complaint, Ptpp.cycle)).fetchall():
            current[row[0]] = row  # the last one stays: the current cycle
    # A row unchanged since the last call gives the same record: reuse it (the rows are the
    # whole input of a record; only the rows of this call are kept for the next).
    memo = _memo if _memo.get("departments") == departments else {}
    kept: dict[object, ComplaintRecord] = {"departments": departments}  # type: ignore[dict-item]
    out = []
    for row in rows:
        key = (row, current.get(row[0]))
        record = memo.get(key)
        if record is None:
            record = _record(row, key[1], departments)
        kept[key] = record
        out.append(record)
    _memo.clear()
    _memo.update(kept)
    return out


_memo: dict[object, object] = {}


def _record(row: tuple, p: tuple | None, departments: Mapping[str, str]) -> ComplaintRecord:
    (_, number, year, seq, received_at, channel, customer_id, name, email, department,
     status, first_response_at, first_response_due_at, closed_at) = row
    dep = departments.get(department, department)
    cycles: tuple[CycleRecord, ...] = ()
    if p is not None:
        cycles = (CycleRecord(
            cycle=p[1], department=dep, issued_at=None, plan_due_at=_utc(p[2]),
            planned_at=None, implemented_at=_utc(p[3]), correction="", whys=(),
            category_6m="", root_cause="",
            actions=_actions(p[4] or "{}") if status == str(states.PLANNED) else (),
            completion_date=None, completion_evidence="", verification_result="",
            verification_note="", verifier="", verified_at=None, closed_at=None),)
    return ComplaintRecord(
        number=number, year=year, seq=seq,
        received_at=_utc(received_at),  # type: ignore[arg-type]
        channel=channel,
        customer=(name or email or "") if customer_id else "",
        customer_email=(email or "") if customer_id else "",
        subject="", description="", product="", batch="", quantity="", category="",
        department=dep, status=status, valid=status != str(states.REJECTED),
        first_response_at=_utc(first_response_at),
        first_response_due_at=_utc(first_response_due_at),
        closed_at=_utc(closed_at) if status == str(states.CLOSED) else None,
        return_requested=False, return_claim="", remarks="", cycles=cycles)


def _utc(value: object) -> datetime | None:
    """`aware`, quicker for the strings SQLite hands back (naive UTC, as stored): the
    dashboard converts tens of thousands of them."""
    if type(value) is str and "+" not in value[10:]:
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            pass
    return aware(value)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=20_000)
def _actions(plan_text: str) -> tuple[forms.Action, ...]:
    # A plan changes rarely; a long-running server parses each once (Actions are frozen).
    return forms.actions_from(json.loads(plan_text))


# What figures.digest reads of the current cycle: the plan's due date (issued), the actions'
# targets (planned), when the actions were reported done (implemented).
_CYCLE_STATUSES = frozenset(str(s) for s in (states.ISSUED, states.PLANNED, states.IMPLEMENTED))


# ---- a complaint's files ------------------------------------------------------------------

@dataclass(frozen=True)
class FileRow:
    id: int
    filename: str
    archive_path: str
    label: str  # what it is: a message's kind and subject, a document's form and cycle
    cycle: int = 0
    form: str = ""
    origin: str = ""
    direction: str = ""
    at: datetime | None = None
    address: str = ""  # a message's sender (in) or recipients (out)


@dataclass(frozen=True)
class ComplaintFiles:
    messages: tuple[FileRow, ...]
    documents: tuple[FileRow, ...]
    attachments: tuple[FileRow, ...]


def _complaint_id(number: str) -> int | None:
    c = complaint_by_number(number)
    return c.id if c is not None else None


def complaint_files(number: str) -> ComplaintFiles | None:
    """The messages, documents and attachments of a complaint with their row ids."""
    cid = _complaint_id(number)
    if cid is None:
        return None
    messages = tuple(
        FileRow(id=m.id, filename=f"{m.kind}-{m.id}.eml", archive_path=m.archive_path,
                label=m.subject, direction=m.direction, at=aware(m.processed_at),
                origin=m.kind, address=m.from_addr if m.direction == "in" else m.to_addrs)
        for m in Message.select().where(Message.complaint == cid).order_by(Message.id))
    documents = tuple(
        FileRow(id=d.id, filename=d.filename, archive_path=d.archive_path, label=d.form,
                cycle=d.cycle, form=d.form, origin=d.origin, at=aware(d.created_at))
        for d in Document.select().where(Document.complaint == cid).order_by(Document.id))
    attachments = tuple(
        FileRow(id=a.id, filename=a.filename, archive_path=a.archive_path,
                label=a.content_type, origin=a.status)
        for a in Attachment.select().where(Attachment.complaint == cid).order_by(Attachment.id))
    return ComplaintFiles(messages, documents, attachments)


def complaint_file(number: str, kind: str, row_id: int) -> FileRow | None:
    """One archived file of the complaint `number`, by its row: kind 'message', 'document' or
    'attachment'; None when that row is not this complaint's or has no archived file."""
    files = complaint_files(number)
    if files is None:
        return None
    rows = {"message": files.messages, "document": files.documents,
            "attachment": files.attachments}.get(kind, ())
    for row in rows:
        if row.id == row_id and row.archive_path:
            return row
    return None


# ---- one connection per request -----------------------------------------------------------

def connect_for_request() -> bool:
    """Open this thread's connection for a request; True when it was opened here (and is to
    be closed after it), False when one was open already (a test's, a command's)."""
    if not db.is_closed():
        return False
    db.connect()
    return True


def close_after_request() -> None:
    if not db.is_closed():
        db.close()
