"""Read models for the CLI: complaints, one complaint's whole record, and the outbox, as plain
frozen dataclasses.

Owns the queries behind `complaints list/show/add` and `outbox list`; the CLI formats what
these return and never queries itself. Read-only: nothing here writes, and nothing here knows
how a value is printed (times are aware UTC datetimes, stored JSON comes back parsed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee as pw

from mailproc.domain import forms, states
from mailproc.store import (
    Attachment,
    Complaint,
    Customer,
    Document,
    Event,
    Message,
    OutgoingMail,
    Ptpp,
    aware,
)
from mailproc.store.queries import complaint_by_number


@dataclass(frozen=True)
class ComplaintRow:
    """A complaint as `complaints list` shows it."""

    number: str
    status: str
    channel: str
    received_at: datetime | None
    customer_email: str | None  # None when the complaint has no customer (or no address)
    customer_name: str | None  # None when the complaint has no customer
    received_by: str
    category: str
    categories: tuple[str, ...]
    department: str
    subject: str
    first_response_at: datetime | None
    first_response_due_at: datetime | None
    closed_at: datetime | None
    severity: str = "minor"  # the PTPP category (domain.states.Severity)
    repeat_of: str = ""  # the earlier complaint this one repeats
    satisfaction: int | None = None  # the customer's rating after closing, 1-5


@dataclass(frozen=True)
class MessageRow:
    direction: str
    kind: str
    message_id: str
    from_addr: str
    to_addrs: str
    subject: str
    processed_at: datetime | None
    archive_path: str
    reason: str


@dataclass(frozen=True)
class AttachmentRow:
    filename: str
    content_type: str
    size: int
    inline: bool
    status: str
    archive_path: str


@dataclass(frozen=True)
class CycleRow:
    """One PTPP cycle, with the actions of its accepted plan."""

    cycle: int
    status: str
    department: str
    issued_at: datetime | None
    plan_due_at: datetime | None
    planned_at: datetime | None
    implemented_at: datetime | None
    root_cause: str
    actions: tuple[forms.Action, ...]
    verification_result: str
    verification_note: str
    verifier: str
    verified_at: datetime | None
    closed_at: datetime | None
    number: str = ""  # this cycle's PTPP number (a later cycle's own; "No. PTPP baru")


@dataclass(frozen=True)
class DocumentRow:
    form: str
    cycle: int
    origin: str
    filename: str
    archive_path: str
    size: int
    created_at: datetime | None
    sha256: str = ""


@dataclass(frozen=True)
class EventRow:
    at: datetime | None
    actor: str
    source: str
    kind: str
    data: Any  # the stored JSON, parsed


@dataclass(frozen=True)
class ComplaintDetail:
    """Everything `complaints show` prints about one complaint; lists oldest first (cycles by
    number)."""

    summary: ComplaintRow
    description: str
    return_requested: bool
    keyword_matches: Any  # the stored JSON, parsed
    product: str
    batch: str
    quantity: str
    invoice: str
    delivery_note: str
    contact: str
    rejected_reason: str
    first_response_note: str
    send_analysis_to_customer: bool
    messages: tuple[MessageRow, ...]
    attachments: tuple[AttachmentRow, ...]
    cycles: tuple[CycleRow, ...]
    documents: tuple[DocumentRow, ...]
    events: tuple[EventRow, ...]


@dataclass(frozen=True)
class OutgoingRow:
    """An outgoing mail as `outbox list` shows it."""

    id: int
    kind: str
    status: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    created_at: datetime | None
    sent_at: datetime | None
    complaint: str | None  # the complaint's number
    message_id: str


def _row(c: Complaint) -> ComplaintRow:
    # Complaints are selected joined with their customer: no query per row.
    customer = c.customer if c.customer_id else None
    return ComplaintRow(
        number=c.number, status=c.status, channel=c.channel, received_at=aware(c.received_at),
        customer_email=customer.email if customer is not None else None,
        customer_name=customer.name if customer is not None else None,
        received_by=c.received_by, category=c.category,
        categories=tuple(json.loads(c.categories)), department=c.department,
        subject=c.subject, first_response_at=aware(c.first_response_at),
        first_response_due_at=aware(c.first_response_due_at), closed_at=aware(c.closed_at),
        severity=c.severity, repeat_of=c.repeat_of, satisfaction=c.satisfaction)


def _with_customer() -> pw.ModelSelect:
    return Complaint.select(Complaint, Customer).join(Customer, pw.JOIN.LEFT_OUTER)


def complaint_list(status: str | None = None) -> list[ComplaintRow]:
    """Complaints newest first: all, those of one status, or with "open" every status before
    closed or rejected."""
    query = _with_customer().order_by(Complaint.received_at.desc(), Complaint.id.desc())
    if status == "open":
        query = query.where(Complaint.status.in_(sorted(states.OPEN_STATUSES)))
    elif status:
        query = query.where(Complaint.status == status)
    return [_row(c) for c in query]


def complaint_row(number: str) -> ComplaintRow | None:
    """One complaint as `complaint_list` gives it; None when there is no such number."""
    c = _with_customer().where(Complaint.number == _own_number(number)).first()
    return _row(c) if c is not None else None


def _cycle(p: Ptpp) -> CycleRow:
    return CycleRow(
        cycle=p.cycle, status=p.status, department=p.department,
        issued_at=aware(p.issued_at), plan_due_at=aware(p.plan_due_at),
        planned_at=aware(p.planned_at), implemented_at=aware(p.implemented_at),
        root_cause=p.root_cause, actions=forms.actions_from(json.loads(p.plan or "{}")),
        verification_result=p.verification_result, verification_note=p.verification_note,
        verifier=p.verifier, verified_at=aware(p.verified_at), closed_at=aware(p.closed_at),
        number=p.number)


def _own_number(number: str) -> str:
    """The complaint's number for `number`, which may be a later cycle's PTPP number."""
    row = complaint_by_number(number)
    return row.number if row is not None else number


def complaint_detail(number: str) -> ComplaintDetail | None:
    """One complaint with its messages, attachments, cycles, documents and events; None when
    there is no such number (the complaint's, or a later cycle's PTPP number)."""
    c = _with_customer().where(Complaint.number == _own_number(number)).first()
    if c is None:
        return None
    messages = Message.select().where(Message.complaint == c.id).order_by(Message.id)
    attachments = (Attachment.select().where(Attachment.complaint == c.id)
                   .order_by(Attachment.id))
    cycles = Ptpp.select().where(Ptpp.complaint == c.id).order_by(Ptpp.cycle)
    documents = Document.select().where(Document.complaint == c.id).order_by(Document.id)
    events = Event.select().where(Event.complaint == c.id).order_by(Event.id)
    return ComplaintDetail(
        summary=_row(c), description=c.description, return_requested=c.return_requested,
        keyword_matches=json.loads(c.keyword_matches), product=c.product, batch=c.batch,
        quantity=c.quantity, invoice=c.invoice, delivery_note=c.delivery_note,
        contact=c.contact, rejected_reason=c.rejected_reason,
        first_response_note=c.first_response_note,
        send_analysis_to_customer=c.send_analysis_to_customer,
        messages=tuple(MessageRow(
            direction=m.direction, kind=m.kind, message_id=m.message_id, from_addr=m.from_addr,
            to_addrs=m.to_addrs, subject=m.subject, processed_at=aware(m.processed_at),
            archive_path=m.archive_path, reason=m.reason) for m in messages),
        attachments=tuple(AttachmentRow(
            filename=a.filename, content_type=a.content_type, size=a.size, inline=a.inline,
            status=a.status, archive_path=a.archive_path) for a in attachments),
        cycles=tuple(_cycle(p) for p in cycles),
        documents=tuple(DocumentRow(
            form=d.form, cycle=d.cycle, origin=d.origin, filename=d.filename,
            archive_path=d.archive_path, size=d.size, created_at=aware(d.created_at),
            sha256=d.sha256) for d in documents),
        events=tuple(EventRow(at=aware(e.at), actor=e.actor, source=e.source, kind=e.kind,
                              data=json.loads(e.data)) for e in events))


def latest_cycle(number: str) -> int | None:
    """The number of the complaint's newest PTPP cycle; None without a complaint or cycle."""
    row = (Ptpp.select(Ptpp.cycle).join(Complaint)
           .where(Complaint.number == _own_number(number))
           .order_by(Ptpp.cycle.desc()).first())
    return row.cycle if row is not None else None


def outgoing_list(status: str | None = None, *, include_sent: bool = False
                  ) -> list[OutgoingRow]:
    """Outgoing mail oldest first: of one status, or everything (sent mail only with
    `include_sent`)."""
    # Complaint.id too: without it the joined row would blank complaint_id.
    query = (OutgoingMail.select(OutgoingMail, Complaint.id, Complaint.number)
             .join(Complaint, pw.JOIN.LEFT_OUTER).order_by(OutgoingMail.id))
    if status:
        query = query.where(OutgoingMail.status == status)
    elif not include_sent:
        query = query.where(OutgoingMail.status != "sent")
    return [OutgoingRow(
        id=r.id, kind=r.kind, status=r.status, to=tuple(json.loads(r.to_addrs)),
        cc=tuple(json.loads(r.cc_addrs)), subject=r.subject, attempts=r.attempts,
        next_attempt_at=aware(r.next_attempt_at), last_error=r.last_error,
        created_at=aware(r.created_at), sent_at=aware(r.sent_at),
        complaint=r.complaint.number if r.complaint_id else None, message_id=r.message_id)
        for r in query]
