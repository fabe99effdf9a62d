"""Lookups and small writes the use cases need: numbers, threading, positions, customers."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from mailproc.store import fastsql
from mailproc.store.db import is_sqlite
from mailproc.store.models import (
    Attachment,
    Complaint,
    Customer,
    Document,
    FormSubmission,
    MailboxPosition,
    Message,
    NumberSequence,
    OutgoingMail,
    Ptpp,
    aware,
    utcnow_naive,
)


def next_sequence(year: int) -> int:
    """Allocate the next sequence number of `year`; call inside `transaction()`."""
    # Make sure the year's row exists before locking it: FOR UPDATE locks nothing when the
    # row is missing, so two first registrations of a year would both insert it and one would
    # fail. ON CONFLICT DO NOTHING waits for a concurrent insert of the row to commit.
    # Statements built once (fastsql): this runs for every registration.
    fastsql.execute("sequence-ensure",
                    lambda: NumberSequence.insert(year=0, last=0).on_conflict_ignore(),
                    [year, 0])
    if is_sqlite():
        read = fastsql.execute("sequence-read", lambda: NumberSequence.select(
            NumberSequence.last).where(NumberSequence.year == 0), [year])
    else:
        read = fastsql.execute("sequence-lock", lambda: NumberSequence.select(
            NumberSequence.last).where(NumberSequence.year == 0).for_update(), [year])
    last = read.fetchone()[0]
    fastsql.update(NumberSequence, {"last": last + 1}, year=year)
    return last + 1


def peek_sequence(year: int) -> int:
    """The number `next_sequence(year)` would allocate now, without writing or locking (for
    work done before the write transaction; another process may still take it first)."""
    row = fastsql.first(NumberSequence, columns=("last",), year=year)
    return (row.last if row is not None else 0) + 1


def message_exists(key: str) -> bool:
    return fastsql.exists(Message, key=key)


def complaint_by_message_ids(ids: list[str]) -> Complaint | None:
    """The complaint of the newest stored message (in or out) whose Message-ID is in `ids`."""
    ids = [i for i in ids if i]
    if not ids:
        return None
    row = (Message.select(Message.complaint)
           .where(Message.message_id.in_(ids) & Message.complaint.is_null(False))
           .order_by(Message.id.desc()).first())
    return row.complaint if row else None


def complaint_by_number(number: str) -> Complaint | None:
    """The complaint of `number`: its own (the first PTPP's), or that of a later cycle's PTPP
    (numbering.new_number_per_cycle), so replies and commands may name either."""
    row = Complaint.select().where(Complaint.number == number).first()
    if row is None:
        cycle = Ptpp.select(Ptpp.complaint).where(Ptpp.number == number).first()
        row = Complaint.get_or_none(Complaint.id == cycle.complaint_id) if cycle else None
    return row


def count_auto_replies_since(address: str, since: datetime) -> int:
    """Automatic replies mailproc queued to `address` since `since` (loop guard)."""
    return fastsql.count(OutgoingMail, auto_reply_to=address.lower(),
                         created_at__ge=utcnow_naive(since))


def get_position(source: str, folder: str) -> MailboxPosition:
    pos, _ = MailboxPosition.get_or_create(source=source, folder=folder)
    return pos


def save_position(source: str, folder: str, uidvalidity: int, last_uid: int,
                  now: datetime) -> None:
    (MailboxPosition.update(uidvalidity=uidvalidity, last_uid=last_uid,
                            updated_at=utcnow_naive(now))
     .where(MailboxPosition.source == source, MailboxPosition.folder == folder).execute())


def find_or_create_customer(email: str, name: str, now: datetime) -> Customer:
    email = email.lower()
    customer = fastsql.first(Customer, email=email)
    if customer is None:
        customer = fastsql.create(Customer, email=email, name=name, created_at=utcnow_naive(now))
    elif name and not customer.name:
        customer.name = name
        customer.save()
    return customer


def recent_complaints_from(email: str, since: datetime
                           ) -> list[tuple[str, datetime, str, str]]:
    """(number, received_at, subject, description) of the complaints registered for the
    customer `email` received since `since`, oldest first (the flood checks)."""
    def build() -> Any:
        return (Complaint.select(Complaint.number, Complaint.received_at, Complaint.subject,
                                 Complaint.description)
                .join(Customer).where(Customer.email == "", Complaint.received_at >= since)
                .order_by(Complaint.id))
    rows = fastsql.execute("recent_complaints_from", build, [
        email.lower(), Complaint.received_at.db_value(utcnow_naive(since))]).fetchall()
    convert = Complaint.received_at.python_value
    return [(number, aware(convert(at)), subject or "", text or "")
            for number, at, subject, text in rows]


def repeat_candidates(email: str, domain: str, since: datetime,
                      until: datetime) -> list[tuple[str, datetime, str, str, str]]:
    """(number, received_at, customer email, product, batch) of the complaints received in
    [since, until] from `email`, or from any address at `domain` when one is given, that
    name a product or a batch; rejected ones left out (the repeat-complaint check)."""
    who = Customer.email == email.lower()
    if domain:
        who |= Customer.email.endswith(f"@{domain}")
    rows = (Complaint.select(Complaint.number, Complaint.received_at, Customer.email,
                             Complaint.product, Complaint.batch)
            .join(Customer)
            .where(who, Complaint.received_at >= utcnow_naive(since),
                   Complaint.received_at <= utcnow_naive(until),
                   (Complaint.product != "") | (Complaint.batch != ""),
                   Complaint.status != "rejected")
            .order_by(Complaint.id).tuples())
    return [(number, aware(at), mail or "", product or "", batch or "")  # type: ignore[misc]
            for number, at, mail, product, batch in rows]


def customer_as_stored(email: str, name: str) -> tuple[str, str]:
    """The (name, email) the customer row will have after `find_or_create_customer(email,
    name, …)`, read without writing: an existing row keeps its name, an empty one is filled."""
    email = email.lower()
    customer = fastsql.first(Customer, email=email)
    if customer is None or (name and not customer.name):
        return name, email
    return customer.name or "", email


# ---- the rows a complaint's use cases read and add ---------------------------------------

def cycle_row(complaint: Complaint, cycle: int) -> Ptpp | None:
    return complaint.ptpps.where(Ptpp.cycle == cycle).first()


def photos(complaint: Complaint, limit: int) -> list[Attachment]:
    """The complaint's stored images, oldest first, for the PTPP form."""
    stored = fastsql.select(Attachment, order_by="id", complaint=complaint, status="stored")
    return [a for a in stored if a.content_type.startswith("image/")][:limit]


def attachments_of(message: Message) -> list[Attachment]:
    return list(message.attachments.order_by(Attachment.id))


def count_attachments(message: Message) -> int:
    """The real (not inline) attachments of a stored message."""
    return (Attachment.select()
            .where(Attachment.message == message, Attachment.inline == False)  # noqa: E712
            .count())


def add_attachment(**values: Any) -> Attachment:
    return fastsql.create(Attachment, **values)


def add_message(**values: Any) -> Message:
    return fastsql.create(Message, **values)


def message_by_key(key: str) -> Message | None:
    return fastsql.first(Message, key=key)


def first_incoming_message(complaint: Complaint) -> Message | None:
    return (Message.select().where(Message.complaint == complaint, Message.direction == "in")
            .order_by(Message.id).first())


def add_document(*, complaint: Complaint, form: str, cycle: int, origin: str, filename: str,
                 archive_path: str, content: bytes, message: Message | None,
                 now: datetime) -> Document:
    return fastsql.create(
        Document, complaint=complaint, form=form, cycle=cycle, origin=origin, filename=filename,
        archive_path=archive_path, sha256=hashlib.sha256(content).hexdigest(),
        size=len(content), message=message, created_at=utcnow_naive(now))


def archive_path_recorded(archive_path: str) -> bool:
    """Whether a committed row names this archived file (a mail, an attachment, a
    document): what the archive's crash recovery asks of a staged file."""
    return (fastsql.exists(Message, archive_path=archive_path)
            or fastsql.exists(Attachment, archive_path=archive_path)
            or fastsql.exists(Document, archive_path=archive_path))


def document_path_taken(archive_path: str) -> bool:
    """Whether a document row already names this archive path (names are never reused)."""
    return fastsql.exists(Document, archive_path=archive_path)


def issued_form(complaint: Complaint, cycle: int) -> Document | None:
    """The newest PTPP form mailproc generated for `cycle`."""
    return fastsql.first(Document, order_by="-id", complaint=complaint, form="ptpp",
                         origin="generated", cycle=cycle)


def cycle_form(complaint: Complaint, cycle: int) -> Document | None:
    """The newest PTPP form of `cycle`, received (the department's, filled) or generated."""
    return (Document.select().where(Document.complaint == complaint, Document.form == "ptpp",
                                    Document.cycle == cycle)
            .order_by(Document.id.desc()).first())


def latest_document(complaint: Complaint, form: str) -> Document | None:
    """The newest document of `form` (the final PTPP form, for the closure report)."""
    return (Document.select().where(Document.complaint == complaint, Document.form == form)
            .order_by(Document.cycle.desc(), Document.id.desc()).first())


def add_submission(*, complaint: Complaint, form: str, cycle: int, step: str,
                   values: dict[str, str], how: dict[str, str], accepted: bool,
                   problems: list[str], sender: str, message: Message | None,
                   document: Document | None, now: datetime) -> FormSubmission:
    return FormSubmission.create(
        complaint=complaint, form=form, cycle=cycle, step=step,
        values=json.dumps(values, ensure_ascii=False), how=json.dumps(how), accepted=accepted,
        problems=json.dumps(problems, ensure_ascii=False), sender=sender, message=message,
        document=document, created_at=utcnow_naive(now))


def set_return_state(complaint: Complaint, state_json: str) -> None:
    """The return claim's state (domain.returns) after a step (the row object follows)."""
    fastsql.update(Complaint, {"return_state": state_json}, id=complaint.id)
    complaint.return_state = state_json


def return_claim_number(complaint: Complaint) -> str:
    """The claim number of the accepted return-claim form, '' when none arrived."""
    row = (FormSubmission.select(FormSubmission.values)
           .where(FormSubmission.complaint == complaint, FormSubmission.form == "retur",
                  FormSubmission.accepted == True)  # noqa: E712
           .order_by(FormSubmission.id.desc()).first())
    return json.loads(row.values).get("claim_number", "") if row is not None else ""


def set_satisfaction(complaint: Complaint, rating: int) -> None:
    """The customer's rating after closing (the row object follows)."""
    fastsql.update(Complaint, {"satisfaction": rating}, id=complaint.id)
    complaint.satisfaction = rating


def touch(complaint: Complaint, now: datetime) -> None:
    """Mark the complaint as changed (a follow-up arrived)."""
    Complaint.update(updated_at=utcnow_naive(now)).where(Complaint.id == complaint.id).execute()


def new_customer(*, name: str, phone: str, now: datetime) -> Customer:
    """A customer known without an email address (manual intake)."""
    return fastsql.create(Customer, email=None, name=name, phone=phone,
                          created_at=utcnow_naive(now))


def add_complaint(**values: Any) -> Complaint:
    return fastsql.create(Complaint, **values)


def count_complaint_attachments(complaint: Complaint) -> int:
    """The real (not inline) attachments a complaint came with."""
    return fastsql.count(Attachment, complaint=complaint, inline=False)
