"""Monitoring (procedure step 9): reminders before due dates, reminders and escalation once
overdue, and complaints without a recorded first response.

Runs on working days only, from the `run` loop each morning and on demand (`mailproc remind`).
At most one reminder to the department, one escalation to the operations manager and one
first-response flag per complaint per company-local day: the `Reminder` table remembers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailproc import store
from mailproc.bootstrap import App
from mailproc.domain import calendar as cal
from mailproc.domain import forms, states
from mailproc.outgoing.outbox import queue_mail
from mailproc.outgoing.texts import format_datetime_id
from mailproc.store import Complaint, Ptpp, monitoring
from mailproc.store.uow import current_cycle


@dataclass
class RemindResult:
    working_day: bool = True
    reminders: list[str] = field(default_factory=list)  # complaint numbers
    escalations: list[str] = field(default_factory=list)
    no_response: list[str] = field(default_factory=list)
    marketing: list[str] = field(default_factory=list)  # triage or verification reminders

    def as_dict(self) -> dict[str, Any]:
        return {"working_day": self.working_day, "reminders": self.reminders,
                "escalations": self.escalations, "no_response": self.no_response,
                "marketing": self.marketing}


@dataclass(frozen=True)
class Due:
    label: str  # Indonesian, for the mail
    due: datetime


def _dues(app: App, complaint: Complaint, ptpp: Ptpp) -> list[Due]:
    """What the department owes now: the analysis and plan while issued, each action's
    target date while planned."""
    c = app.calendar
    tz = app.settings.timezone
    if complaint.status == states.ISSUED and ptpp.plan_due_at is not None:
        due = store.aware(ptpp.plan_due_at)
        assert due is not None
        return [Due(f"analisis akar penyebab dan rencana tindakan (batas "
                    f"{format_datetime_id(due, tz)})", due)]
    if complaint.status == states.PLANNED:
        out = []
        for action in forms.actions_from(json.loads(ptpp.plan or "{}")):
            if action.target is None:
                continue
            due = cal.due_date_end(action.target, c)
            what = action.corrective or action.cause or f"tindakan {action.no}"
            out.append(Due(f"tindakan {action.no} \"{what}\" (PIC {action.pic or '-'}, "
                           f"target {action.target:%d/%m/%Y})", due))
        return out
    return []


def remind(app: App, *, now: datetime | None = None) -> RemindResult:
    s = app.settings
    now = now or app.clock()
    c = app.calendar
    today = now.astimezone(s.timezone).date()
    result = RemindResult()
    if not c.is_working_day(today):
        result.working_day = False
        return result
    for complaint in monitoring.open_complaints():
        with store.transaction():
            _first_response(app, complaint, now, today, result)
            _department(app, complaint, now, today, c, result)
            _marketing(app, complaint, now, today, c, result)
    return result


def _first_response(app: App, complaint: Complaint, now: datetime, today: Any,
                    result: RemindResult) -> None:
    s = app.settings
    due = store.aware(complaint.first_response_due_at)
    if complaint.first_response_at is not None or due is None or now <= due:
        return
    if not monitoring.remember_once(complaint, "first_response", "overdue", today, now):
        return
    customer = complaint.customer
    texts = app.texts.render(
        "notice_no_response", number=complaint.number, company_name=s.company.name,
        customer=(customer.name or customer.email) if customer else "-",
        channel=complaint.channel, contact=complaint.contact or (
            customer.email if customer and customer.email else ""),
        due=format_datetime_id(due, s.timezone))
    queue_mail(settings=s, now=now, kind="notice_no_response", to=s.marketing_admin,
               subject=texts.subject, body=texts.body, complaint=complaint,
               source="remind")
    store.append_event(complaint=complaint, at=now, actor="mailproc", source="remind",
                       kind="first_response_overdue", data={"due": due.isoformat()})
    result.no_response.append(complaint.number)


# Marketing administration's own waiting steps: (status, what the step is, how to do it).
_MARKETING_STEPS = {
    states.TRIAGE: ("penentuan bagian yang menangani keluhan",
                    "Mohon tentukan bagian dengan membalas email pemberitahuan keluhan "
                    "(BAGIAN: <nama bagian>) atau dengan `mailproc ptpp assign`."),
    states.IMPLEMENTED: ("evaluasi efektivitas tindakan",
                         "Mohon catat hasil evaluasi dengan membalas email \"menunggu evaluasi "
                         "efektivitas\" (EFEKTIF: YA/TIDAK dan CATATAN: ...) atau dengan "
                         "`mailproc ptpp verify`."),
}


def marketing_due(app: App, complaint: Complaint) -> datetime | None:
    """When marketing administration's current step is due: the department of a complaint
    in triage (sla.triage_working_days from receipt), the effectiveness check of a PTPP
    whose actions were reported done (sla.verify_working_days after that); None otherwise."""
    s = app.settings
    if complaint.status == states.TRIAGE:
        received = store.aware(complaint.received_at)
        assert received is not None
        return cal.triage_due(received, app.calendar, s.calendar.triage_days)
    if complaint.status == states.IMPLEMENTED:
        done = store.aware(current_cycle(complaint).implemented_at)
        return (cal.verify_due(done, app.calendar, s.calendar.verify_days)
                if done is not None else None)
    return None


def _marketing(app: App, complaint: Complaint, now: datetime, today: Any,
               c: cal.WorkCalendar, result: RemindResult) -> None:
    """Reminders to marketing administration for its own waiting steps, and escalation to
    the operations manager once overdue: the same rhythm as the department's plan."""
    s = app.settings
    due = marketing_due(app, complaint)
    if due is None:
        return
    overdue = now > due
    soon = not overdue and due.astimezone(s.timezone).date() == c.next_working_day(today)
    if not (overdue or soon):
        return
    if not monitoring.remember_once(complaint, "marketing", "reminder", today, now):
        return
    step, how = _MARKETING_STEPS[states.ComplaintStatus(complaint.status)]
    customer = complaint.customer
    who = (customer.name or customer.email) if customer else "-"
    late = f"{cal.overdue_by(due, now, c):.1f}" if overdue else ""
    texts = app.texts.render("reminder_marketing", number=complaint.number,
                             company_name=s.company.name, customer=who, step=step, how=how,
                             due=format_datetime_id(due, s.timezone), overdue=overdue,
                             late=late)
    queue_mail(settings=s, now=now, kind="reminder", to=s.marketing_admin,
               subject=texts.subject, body=texts.body, complaint=complaint, source="remind")
    item = f"{step}: batas {format_datetime_id(due, s.timezone)}"
    store.append_event(complaint=complaint, at=now, actor="mailproc", source="remind",
                       kind="reminder_sent", data={"items": [item], "overdue": overdue,
                                                   "to": "marketing_admin"})
    result.marketing.append(complaint.number)
    if overdue:
        _escalate(app, complaint, now, today, result, who=who, late_party="Administrasi Marketing",
                  items=[f"{item}; terlambat {late} hari kerja"], to="marketing_admin")


def _escalate(app: App, complaint: Complaint, now: datetime, today: Any,
              result: RemindResult, *, who: str, late_party: str, items: list[str],
              to: str = "") -> None:
    """The operations manager is told of an overdue step (`late_party`: who owes it), at
    most once a day per complaint, marketing administration in copy."""
    s = app.settings
    if not monitoring.remember_once(complaint, "operations", "escalation", today, now):
        return
    texts = app.texts.render("escalation_ops", number=complaint.number,
                             company_name=s.company.name, department=late_party, items=items,
                             customer=who)
    queue_mail(settings=s, now=now, kind="escalation", to=s.operations_manager,
               cc=s.marketing_admin, subject=texts.subject, body=texts.body,
               complaint=complaint, source="remind")
    data: dict[str, Any] = {"items": items}
    if to:
        data["to"] = to
    store.append_event(complaint=complaint, at=now, actor="mailproc", source="remind",
                       kind="escalated", data=data)
    result.escalations.append(complaint.number)


def _department(app: App, complaint: Complaint, now: datetime, today: Any,
                c: cal.WorkCalendar, result: RemindResult) -> None:
    s = app.settings
    dep = s.departments.get(complaint.department)
    if dep is None:
        return
    ptpp = current_cycle(complaint)
    overdue = [d for d in _dues(app, complaint, ptpp) if now > d.due]
    # "One working day before": the daily run on the working day before the due date.
    tomorrow = c.next_working_day(today)
    soon = [d for d in _dues(app, complaint, ptpp)
            if d.due >= now and d.due.astimezone(s.timezone).date() == tomorrow]
    items = ([f"{d.label}: terlambat {cal.overdue_by(d.due, now, c):.1f} hari kerja"
              for d in overdue] + [d.label for d in soon])
    if not items or not monitoring.remember_once(complaint, "department", "reminder", today, now):
        return
    texts = app.texts.render("reminder_department", number=complaint.number,
                             company_name=s.company.name, department=dep.name,
                             overdue=bool(overdue), items=items)
    queue_mail(settings=s, now=now, kind="reminder", to=dep.addresses, subject=texts.subject,
               body=texts.body, complaint=complaint, source="remind")
    store.append_event(complaint=complaint, at=now, actor="mailproc", source="remind",
                       kind="reminder_sent", data={"items": items, "overdue": bool(overdue)})
    result.reminders.append(complaint.number)
    if overdue:
        customer = complaint.customer
        _escalate(app, complaint, now, today, result, late_party=dep.name,
                  who=(customer.name or customer.email) if customer else "-",
                  items=items[:len(overdue)])
