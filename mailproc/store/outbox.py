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
from mailproc.store.models import Complaint, Message, OutgoingMail, db, utcnow_naive
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


def due(now: datetime, limit: int | None = None) -> list[OutgoingMail]:
    """Queued rows whose time has come, oldest first (with their complaint joined: the events
    of a flush name its number)."""
    query = (OutgoingMail.select(OutgoingMail, Complaint)
             .join(Complaint, pw.JOIN.LEFT_OUTER)
             .where(OutgoingMail.status == OutboxStatus.QUEUED,
                    OutgoingMail.next_attempt_at <= utcnow_naive(now))
             .order_by(OutgoingMail.id))
    if limit:
        query = query.limit(limit)
    return list(query)


def claim_next(now: datetime, after: int = 0) -> tuple[int, int] | None:
    """Claim the oldest due row with an id above `after`, queued → sending, in one
    statement: (its id, its attempts), or None when nothing is due. Commit it before the
    mail is sent (in a transaction of its own, or in the one that marks the previous mail).
    On PostgreSQL the row is picked `FOR UPDATE SKIP LOCKED`, so flushers on several
    machines claim different rows without waiting on each other; SQLite has one writer at a
    time, the statement alone suffices. next_attempt_at doubles as the claim time while a
    row is 'sending'."""
    sqlite = isinstance(db.obj, pw.SqliteDatabase)
    sql = _CLAIM_SQL.get(sqlite)
    if sql is None:
        q = db.obj.quote
        table = f"{q[0]}{OutgoingMail._meta.table_name}{q[-1]}"  # noqa: SLF001
        mark = db.obj.param
        sql = (f"UPDATE {table} SET status = {mark}, next_attempt_at = {mark} "
               f"WHERE id = (SELECT id FROM {table} WHERE status = {mark} "
               f"AND next_attempt_at <= {mark} AND id > {mark} ORDER BY id LIMIT 1"
               f"{'' if sqlite else ' FOR UPDATE SKIP LOCKED'}) RETURNING id, attempts")
        _CLAIM_SQL[sqlite] = sql
    at = utcnow_naive(now)
    stamp = OutgoingMail.next_attempt_at.db_value(at)
    params = [OutboxStatus.SENDING.value, stamp, OutboxStatus.QUEUED.value, stamp, after]
    for _ in range(1 if sqlite else 3):
        with transaction():
            row = db.obj.execute_sql(sql, params).fetchone()
        if row is not None:
            return int(row[0]), int(row[1])
        # PostgreSQL re-checks a row another flusher claimed meanwhile and drops it rather
        # than take the next one (LIMIT 1 was spent on it): look again while rows wait.
        if not sqlite and not fastsql.exists(OutgoingMail, status=OutboxStatus.QUEUED,
                                             next_attempt_at__le=at, id__gt=after):
            break
    return None


_CLAIM_SQL: dict[bool, str] = {}


def claimed_row(row_id: int) -> OutgoingMail:
    """A claimed row with its complaint, for a row the flush had not read ahead."""
    return (OutgoingMail.select(OutgoingMail, Complaint)
            .join(Complaint, pw.JOIN.LEFT_OUTER).where(OutgoingMail.id == row_id).get())


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


def mark_sent(row: OutgoingMail, now: datetime, *, reconciled: bool = False,
              why: str = "found in the Sent folder after a crash",
              ack_counts: bool = True) -> None:
    """The server accepted the mail (inside a transaction). A mail that counts as the first
    response is recorded on the case through the lifecycle (`ack_counts`:
    sla.auto_ack_counts_as_first_response). `reconciled`: learnt from the
    Sent folder after a crash (or, `why`, otherwise after the fact), not from the SMTP
    answer in this flush."""
    fastsql.update(OutgoingMail, {"status": OutboxStatus.SENT, "sent_at": utcnow_naive(now),
                                  "attempts": row.attempts + 1, "last_error": ""}, id=row.id)
    if row.complaint_id and counts_as_first_response(row.kind, ack_counts):
        complaint = lifecycle_row(row.complaint_id)  # fresh: `due` read it earlier
        case = case_of(complaint, cycle=False)
        if case.ack_sent(now):
            save_case(complaint, case)
    data: dict[str, object] = {"outgoing_id": row.id, "message_id": row.message_id}
    if reconciled:
        data["reconciled"] = why
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
