"""The queries of the jobs that watch the procedure: the complaints still open, the
"at most once a day" memory of reminders (`Reminder`), and the events that say when the digest
or a month's recap last went out.

Owns only these queries; what to send and when is mailproc.ptpp.reminders' and
mailproc.reports.jobs' business.
"""

from __future__ import annotations

from datetime import date, datetime

from mailproc.domain import states
from mailproc.store import Complaint, Event, Reminder, aware, utcnow_naive


def open_complaints() -> list[Complaint]:
    """Every complaint before closed or rejected, oldest registration first."""
    return list(Complaint.select()
                .where(Complaint.status.in_(sorted(states.OPEN_STATUSES)))
                .order_by(Complaint.id))


def remember_once(complaint: Complaint, what: str, kind: str, day: date,
                  now: datetime) -> bool:
    """Record that `what` (`kind`) was sent for the complaint on the company-local `day`;
    False, recording nothing, when it already was. Call inside `store.transaction()`."""
    exists = Reminder.select().where(
        Reminder.complaint == complaint, Reminder.what == what,
        Reminder.kind == kind, Reminder.day == day).exists()
    if exists:
        return False
    Reminder.create(complaint=complaint, what=what, kind=kind, day=day,
                    created_at=utcnow_naive(now))
    return True


def last_event_at(kind: str) -> datetime | None:
    """When the newest event of `kind` not about a complaint (e.g. "digest_sent") was
    recorded; None when never."""
    row = (Event.select().where(Event.kind == kind, Event.complaint.is_null())
           .order_by(Event.id.desc()).first())
    return aware(row.at) if row else None


def recap_sent_for(month: str) -> bool:
    """Whether the recap of `month` ("YYYY-MM") was mailed: a "recap_sent" event names it."""
    return Event.select().where(Event.kind == "recap_sent",
                                Event.data.contains(f'"month": "{month}"')).exists()
