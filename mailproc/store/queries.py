"""Lookups and small writes the use cases need: numbers, threading, positions, customers."""

from __future__ import annotations

from datetime import datetime

from mailproc.store.db import is_sqlite
from mailproc.store.models import (
    Complaint,
    Customer,
    MailboxPosition,
    Message,
    NumberSequence,
    OutgoingMail,
    utcnow_naive,
)


def next_sequence(year: int) -> int:
    """Allocate the next sequence number of `year`; call inside `transaction()`."""
    # Make sure the year's row exists before locking it: FOR UPDATE locks nothing when the
    # row is missing, so two first registrations of a year would both insert it and one would
    # fail. ON CONFLICT DO NOTHING waits for a concurrent insert of the row to commit.
    NumberSequence.insert(year=year, last=0).on_conflict_ignore().execute()
    query = NumberSequence.select().where(NumberSequence.year == year)
    if not is_sqlite():
        query = query.for_update()
    row = query.get()
    NumberSequence.update(last=NumberSequence.last + 1).where(
        NumberSequence.year == year).execute()
    return row.last + 1


def message_exists(key: str) -> bool:
    return Message.select().where(Message.key == key).exists()


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
    return Complaint.get_or_none(Complaint.number == number)


def count_auto_replies_since(address: str, since: datetime) -> int:
    """Automatic replies mailproc queued to `address` since `since` (loop guard)."""
    return (OutgoingMail.select()
            .where(OutgoingMail.auto_reply_to == address.lower(),
                   OutgoingMail.created_at >= utcnow_naive(since))
            .count())


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
    customer = Customer.get_or_none(Customer.email == email)
    if customer is None:
        customer = Customer.create(email=email, name=name, created_at=utcnow_naive(now))
    elif name and not customer.name:
        customer.name = name
        customer.save()
    return customer
