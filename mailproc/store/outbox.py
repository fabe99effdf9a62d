"""The outbox's rows: queueing a mail with its outgoing Message and event (inside the caller's
transaction), and the claim → sent / failed / deferred marks of a flush. Sending is
`mailproc.outgoing`'s; which delivered mail is the customer's first response is the
lifecycle's (`domain.lifecycle.counts_as_first_response`, `Case.ack_sent`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import peewee as pw

from mailproc.domain.lifecycle import EventKind, OutboxStatus, counts_as_first_response
from mailproc.errors import NotFound
from mailproc.store import fastsql
from mailproc.store.chain import append_event
from mailproc.store.db import transaction
from mailproc.store.models import Complaint, Message, OutgoingMail, utcnow_naive
from mailproc.store.uow import case_of, lifecycle_row, save_case


def queue(*, message_id: str, kind: str, complaint: Complaint | None, to: list[str],
          cc: list[str], sender: str, subject: str, body: str, html: str, in_reply_to: str,
          references: Sequence[str], attachments: Sequence[str], auto_reply_to: str,
          now: datetime, actor: str, source: str) -> OutgoingMail:
    """One outgoing mail row, its Message (for threading) and its `mail_queued` event."""
    row = fastsql.create(
        OutgoingMail, message_id=message_id, complaint=complaint, kind=kind,
        to_addrs=json.dumps(to), cc_addrs=json.dumps(cc), subject=subject,
        body_text=body, body_html=html, in_reply_to=in_reply_to,
        references=" ".join(references), attachments=json.dumps(list(attachments)),
        status=OutboxStatus.QUEUED, next_attempt_at=utcnow_naive(now),
        created_at=utcnow_naive(now), auto_reply_to=auto_reply_to.lower(),
    )
    fastsql.create(
        Message, key=message_id, message_id=message_id, direction="out", kind=kind,
        complaint=complaint,
        from_addr=sender, to_addrs=", ".join(to + cc), subject=subject,
        processed_at=utcnow_naive(now), in_reply_to=in_reply_to,
        references=" ".join(references),
    )
    append_event(complaint=complaint, at=now, actor=actor, source=source,
                 kind=EventKind.MAIL_QUEUED,
                 data={"outgoing_id": row.id, "kind": kind, "to": to, "cc": cc,
                       "subject": subject, "message_id": message_id})
    return row


def due(now: datetime, limit: int | None = None,
        ids: Sequence[int] | None = None) -> list[OutgoingMail]:
    """Queued rows whose time has come, oldest first (with their complaint joined: the events
    of a flush name its number)."""
    query = (OutgoingMail.select(OutgoingMail, Complaint)
             .join(Complaint, pw.JOIN.LEFT_OUTER)
             .where(OutgoingMail.status == OutboxStatus.QUEUED,
                    OutgoingMail.next_attempt_at <= utcnow_naive(now))
             .order_by(OutgoingMail.id))
    if limit:
        query = query.limit(limit)
    if ids is not None:
        query = query.where(OutgoingMail.id.in_(list(ids)))
    return list(query)


def claim(row_id: int, now: datetime) -> bool:
    """queued → sending, committed before the mail is sent (in a transaction of its own, or
    in the one that marks the mail sent before it); False when another flusher took it.
    next_attempt_at doubles as the claim time while a row is 'sending'."""
    with transaction():
        return bool(fastsql.update(OutgoingMail, {"status": OutboxStatus.SENDING,
                                                  "next_attempt_at": utcnow_naive(now)},
                                   id=row_id, status=OutboxStatus.QUEUED))


def sending() -> list[OutgoingMail]:
    """Every row in 'sending' (with its complaint)."""
    return list(OutgoingMail.select(OutgoingMail, Complaint)
                .join(Complaint, pw.JOIN.LEFT_OUTER)
                .where(OutgoingMail.status == OutboxStatus.SENDING).order_by(OutgoingMail.id))


def flag_orphaned(row: OutgoingMail, why: str, now: datetime) -> None:
    """Left 'sending' by a crash, nothing to check it against: stays 'sending', says why."""
    fastsql.update(OutgoingMail, {"last_error": why}, id=row.id)
    append_event(complaint=row.complaint, at=now, actor="mailproc", source="outbox",
                 kind=EventKind.MAIL_UNCERTAIN, data={"outgoing_id": row.id,
                                                      "message_id": row.message_id})


def requeue_orphaned(row: OutgoingMail, now: datetime) -> None:
    """Left 'sending' by a crash and not in the Sent folder: the server never accepted it."""
    fastsql.update(OutgoingMail, {"status": OutboxStatus.QUEUED,
                                  "next_attempt_at": utcnow_naive(now)}, id=row.id)
    append_event(complaint=row.complaint, at=now, actor="mailproc", source="outbox",
                 kind=EventKind.MAIL_REQUEUED,
                 data={"outgoing_id": row.id, "previous_status": "sending",
                       "reason": "not in the Sent folder after a crash"})


def mark_sent(row: OutgoingMail, now: datetime, *, reconciled: bool = False) -> None:
    """The server accepted the mail (inside a transaction). A mail that counts as the first
    response is recorded on the case through the lifecycle. `reconciled`: learnt from the
    Sent folder after a crash, not from the SMTP answer."""
    fastsql.update(OutgoingMail, {"status": OutboxStatus.SENT, "sent_at": utcnow_naive(now),
                                  "attempts": row.attempts + 1, "last_error": ""}, id=row.id)
    if row.complaint_id and counts_as_first_response(row.kind):
        complaint = lifecycle_row(row.complaint_id)  # fresh: `due` read it earlier
        case = case_of(complaint, cycle=False)
        if case.ack_sent(now):
            save_case(complaint, case)
    data: dict[str, object] = {"outgoing_id": row.id, "message_id": row.message_id}
    if reconciled:
        data["reconciled"] = "found in the Sent folder after a crash"
    append_event(complaint=row.complaint, at=now, actor="mailproc", source="outbox",
                 kind=EventKind.MAIL_SENT, data=data)


def mark_failed(row: OutgoingMail, attempts: int, error: str, now: datetime) -> None:
    """Refused for good (inside a transaction)."""
    OutgoingMail.update(status=OutboxStatus.FAILED, attempts=attempts, last_error=error
                        ).where(OutgoingMail.id == row.id).execute()
    append_event(complaint=row.complaint, at=now, actor="mailproc", source="outbox",
                 kind=EventKind.MAIL_FAILED, data={"outgoing_id": row.id, "error": error})


def defer(row: OutgoingMail, attempts: int, error: str, until: datetime) -> None:
    """Back to the queue until `until` (inside a transaction)."""
    OutgoingMail.update(status=OutboxStatus.QUEUED, attempts=attempts, last_error=error,
                        next_attempt_at=utcnow_naive(until)
                        ).where(OutgoingMail.id == row.id).execute()


def stuck(cutoff: datetime) -> list[OutgoingMail]:
    """Rows left in 'sending' since before `cutoff` by a crash."""
    return list(OutgoingMail.select().where(OutgoingMail.status == OutboxStatus.SENDING,
                                            OutgoingMail.next_attempt_at < utcnow_naive(cutoff)))


def requeue(row_id: int, now: datetime, actor: str) -> OutgoingMail:
    row = OutgoingMail.select().where(OutgoingMail.id == row_id).first()
    if row is None:
        raise NotFound(f"no outgoing mail with id {row_id}; see `mailproc outbox list`")
    with transaction():
        OutgoingMail.update(status=OutboxStatus.QUEUED, next_attempt_at=utcnow_naive(now)).where(
            OutgoingMail.id == row_id).execute()
        append_event(complaint=row.complaint, at=now, actor=actor, source="cli",
                     kind=EventKind.MAIL_REQUEUED, data={"outgoing_id": row_id,
                                                         "previous_status": row.status})
    return OutgoingMail.get_by_id(row_id)


def by_message_id(message_id: str) -> OutgoingMail | None:
    return OutgoingMail.select().where(OutgoingMail.message_id == message_id).first()


def mark_bounced(row: OutgoingMail, report: str) -> None:
    """A delivery report came back for a mail the server had accepted."""
    OutgoingMail.update(status=OutboxStatus.BOUNCED, last_error=report).where(
        OutgoingMail.id == row.id).execute()
