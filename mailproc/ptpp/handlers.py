"""The message bus: what follows when the lifecycle moves. A handler turns one domain event
(`mailproc.domain.lifecycle.DomainEvent`) into the mail, and the documents attached to it,
that the procedure prescribes:

=================  ==========================================================================
event              what follows
=================  ==========================================================================
ptpp_issued        the form to the department, operations manager in copy (procedure 5)
ptpp_withdrawn     the department that lost the complaint to another is told its form is
                   withdrawn, operations manager in copy
ptpp_planned       the analysis and plan to sales & marketing; to the customer when asked (7)
ptpp_implemented   marketing administration is told the actions are done (8)
complaint_closed   the closing letter to the customer; the closure report to sales &
                   marketing, with the documents the event names attached (10-11)
=================  ==========================================================================

The unit of work (`mailproc.store.uow.UnitOfWork`) hands each saved batch of events to
`Bus.handle`, inside the transaction that saved them, so a mail exists exactly when its state
change committed (the transactional outbox). The model is cosmicpython's message bus, kept
small: one table from event kind to handlers, no commands, no retries; a failing handler fails
the step. The use cases still answer the sender of a mail or command themselves (form accepted
or refused, decision replies): those answer a message, not a change of state.

Handlers make no documents: the use cases render them (before the write transaction where the
step is known before it opens) and name them in the event. Handlers read what the step stored
(the cycle's accepted values, the documents named in the event), must not change the
lifecycle, and queue mail through `mailproc.outgoing`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailproc import store
from mailproc.bootstrap import App
from mailproc.domain import forms, states
from mailproc.domain.lifecycle import DomainEvent, EventKind, MailKind
from mailproc.outgoing.outbox import queue_mail
from mailproc.outgoing.texts import format_datetime_id, format_day_id, shorten
from mailproc.ptpp.documents import category_label, customer_email, customer_name
from mailproc.store import Complaint, queries
from mailproc.store.uow import current_cycle


@dataclass(frozen=True)
class Occurrence:
    """One saved event with its complaint and the step's time, actor and source."""

    complaint: Complaint
    event: DomainEvent
    at: datetime
    actor: str
    source: str


Handler = Callable[[App, Occurrence], None]


def _department_name(app: App, key: str) -> str:
    dep = app.settings.departments.get(key)
    return dep.name if dep else key


def _accepted_values(complaint: Complaint, cycle: int) -> dict[str, str]:
    """What the department's accepted form said (stored by the step before its events)."""
    row = queries.cycle_row(complaint, cycle)
    return json.loads(row.plan or "{}") if row is not None else {}


# ---- the handlers ------------------------------------------------------------------------

def send_form_to_department(app: App, o: Occurrence) -> None:
    s, c, data = app.settings, o.complaint, o.event.data
    dep = s.departments[data["department"]]
    plan_due = datetime.fromisoformat(data["plan_due"])
    # A later cycle is a new PTPP with its own number (numbering.new_number_per_cycle): the
    # subject carries it, so the department's reply finds its cycle.
    cycle_row = queries.cycle_row(c, data["cycle"])
    previous = queries.cycle_row(c, data["cycle"] - 1) if data["cycle"] > 1 else None
    texts = app.texts.render(
        "ptpp_to_department", number=c.number, department=dep.name, cycle=data["cycle"],
        ptpp_number=cycle_row.number if cycle_row is not None else c.number,
        previous_number=previous.number if previous is not None else "",
        plan_due=format_datetime_id(plan_due, s.timezone), customer=customer_name(c) or "-",
        received_at=format_datetime_id(store.aware(c.received_at), s.timezone),
        category=category_label(app, c.category), product=c.product, batch=c.batch,
        quantity=c.quantity, description=shorten(c.description, 3000),
        filename=data["filename"], issuer=s.issuer, company_name=s.company.name,
        severity_label=states.SEVERITY_LABELS[states.Severity(c.severity)])
    queue_mail(settings=s, now=o.at, kind=MailKind.PTPP_ISSUE, to=dep.addresses,
               cc=s.operations_manager, subject=texts.subject, body=texts.body, complaint=c,
               attachments=[data["document"]], actor=o.actor, source=o.source)


def tell_department_withdrawn(app: App, o: Occurrence) -> None:
    """A reassignment took the complaint from a department that already had its form: that
    form no longer counts, and the department hears it from us rather than by silence."""
    s, c, data = app.settings, o.complaint, o.event.data
    dep = s.departments.get(data["department"])
    if dep is None or not dep.addresses:
        return  # a department no longer configured: nobody to tell (the event remains)
    issued = queries.issued_form(c, data["cycle"])  # the withdrawn one: the new comes after
    cycle = queries.cycle_row(c, data["cycle"])
    issued_at = store.aware(cycle.issued_at) if cycle is not None and cycle.issued_at else None
    texts = app.texts.render(
        "ptpp_withdrawn", number=c.number, department=dep.name, cycle=data["cycle"],
        new_department=_department_name(app, data["new_department"]),
        filename=issued.filename if issued is not None else "",
        issued_at=format_datetime_id(issued_at, s.timezone) if issued_at else "",
        issuer=s.issuer, company_name=s.company.name)
    queue_mail(settings=s, now=o.at, kind=MailKind.PTPP_WITHDRAWN, to=dep.addresses,
               cc=s.operations_manager, subject=texts.subject, body=texts.body, complaint=c,
               actor=o.actor, source=o.source)


def _plan_facts(app: App, c: Complaint, cycle: int) -> dict[str, Any]:
    """What the analysis-and-plan mail (notice_plan) says of a cycle's accepted form."""
    s = app.settings
    values = _accepted_values(c, cycle)
    actions = [{"no": a.no, "cause": a.cause, "corrective": a.corrective,
                "preventive": a.preventive, "pic": a.pic,
                "target": format_day_id(a.target, s.timezone) if a.target else a.target_raw}
               for a in forms.actions_from(values)]
    whys = [values[f"why_{i}"] for i in range(1, 6) if values.get(f"why_{i}", "").strip()]
    common = dict(number=c.number, company_name=s.company.name,
                  department=_department_name(app, c.department), cycle=cycle,
                  customer=customer_name(c) or "-", subject=c.subject,
                  correction=values.get("correction", ""),
                  category_6m=values.get("category_6m", ""), whys=whys,
                  root_cause=values.get("root_cause", ""), actions=actions, issuer=s.issuer)
    return common


def send_form_to_involved(app: App, o: Occurrence) -> None:
    """Procedure step 6: a department asked to take part gets the current form and the
    customer's original mail to read; its replies thread back as staff messages. The
    responsible department is in copy, so both know of each other."""
    s, c, data = app.settings, o.complaint, o.event.data
    dep = s.departments[data["department"]]
    responsible = s.departments.get(data["responsible"])
    attachments = []
    form = queries.issued_form(c, data["cycle"])
    if form is not None:
        attachments.append(form.archive_path)
    first = queries.first_incoming_message(c)
    original = first is not None and bool(first.archive_path)
    if original:
        attachments.append(first.archive_path)
    texts = app.texts.render(
        "ptpp_involved", number=c.number, department=dep.name,
        responsible=responsible.name if responsible else data["responsible"],
        note=data.get("note", ""), customer=customer_name(c) or "-",
        received_at=format_datetime_id(store.aware(c.received_at), s.timezone),
        category=category_label(app, c.category), product=c.product, batch=c.batch,
        description=shorten(c.description, 3000), original=original, issuer=s.issuer,
        company_name=s.company.name)
    queue_mail(settings=s, now=o.at, kind=MailKind.PTPP_INVOLVED, to=dep.addresses,
               cc=[*(responsible.addresses if responsible else ()), *s.marketing_admin],
               subject=texts.subject, body=texts.body, complaint=c, attachments=attachments,
               actor=o.actor, source=o.source)


def tell_sales_the_plan(app: App, o: Occurrence) -> None:
    """Procedure step 7: sales & marketing are always told the analysis and plan; the
    customer too when they asked for it."""
    s, c = app.settings, o.complaint
    common = _plan_facts(app, c, o.event.data["cycle"])
    texts = app.texts.render("notice_plan", audience="Bagian Penjualan dan Pemasaran",
                             attached=True, **common)
    queue_mail(settings=s, now=o.at, kind=MailKind.NOTICE_PLAN, to=s.sales_marketing,
               cc=s.marketing_admin, subject=texts.subject, body=texts.body, complaint=c,
               attachments=[o.event.data["document"]], source=o.source)
    if c.send_analysis_to_customer:
        _analysis_to_customer(app, o, common)


def _analysis_to_customer(app: App, o: Occurrence, common: dict[str, Any]) -> None:
    c, customer = o.complaint, o.complaint.customer
    if customer is None or not customer.email:
        return  # asked by phone: marketing administration passes it on
    texts = app.texts.render("notice_plan", audience=customer.name or "Bapak/Ibu",
                             attached=False, **common)
    queue_mail(settings=app.settings, now=o.at, kind=MailKind.ANALYSIS_TO_CUSTOMER,
               to=[customer.email], subject=texts.subject, body=texts.body, complaint=c,
               actor=o.actor, source=o.source)


def send_analysis_now(app: App, o: Occurrence) -> None:
    """Asked for after the plan arrived: the customer gets the cycle's analysis and plan now
    (before, `set_send_analysis` only changed a flag read when the next plan came)."""
    cycle = o.event.data.get("send_cycle")
    if cycle is not None:
        _analysis_to_customer(app, o, _plan_facts(app, o.complaint, int(cycle)))


def tell_marketing_it_is_done(app: App, o: Occurrence) -> None:
    s, c = app.settings, o.complaint
    values = _accepted_values(c, o.event.data["cycle"])
    texts = app.texts.render(
        "notice_implemented", number=c.number, company_name=s.company.name,
        department=_department_name(app, c.department),
        completion_date=values.get("completion_date", ""),
        completion_evidence=values.get("completion_evidence", ""))
    queue_mail(settings=s, now=o.at, kind=MailKind.NOTICE_IMPLEMENTED, to=s.marketing_admin,
               subject=texts.subject, body=texts.body, complaint=c,
               attachments=[o.event.data["document"]], source=o.source)


def close_with_customer_and_sales(app: App, o: Occurrence) -> None:
    """Procedure steps 10-11: the customer is told the complaint is closed; sales & marketing
    get the closure report."""
    s, c = app.settings, o.complaint
    ptpp = current_cycle(c)
    common = dict(number=c.number, company_name=s.company.name, subject=c.subject,
                  cycles=ptpp.cycle, note=ptpp.verification_note, root_cause=ptpp.root_cause,
                  signature=s.company.signature or s.company.name,
                  customer=customer_name(c) or "-",
                  received_at=format_datetime_id(store.aware(c.received_at), s.timezone),
                  closed_at=format_datetime_id(o.at, s.timezone))
    email = customer_email(c)
    if email:
        texts = app.texts.render("closing_customer", customer_name=c.customer.name, **common)
        queue_mail(settings=s, now=o.at, kind=MailKind.CLOSING_CUSTOMER, to=[email],
                   subject=texts.subject, body=texts.body, complaint=c, actor=o.actor,
                   source=o.source, auto_reply_to=email)
    attachments = o.event.data.get("documents", [])  # made by the use case
    texts = app.texts.render("notice_closed", customer_notified=bool(email),
                             report=bool(attachments), **common)
    queue_mail(settings=s, now=o.at, kind=MailKind.CLOSURE_REPORT, to=s.sales_marketing,
               cc=s.marketing_admin, subject=texts.subject, body=texts.body, complaint=c,
               actor=o.actor, source=o.source, attachments=attachments)


HANDLERS: dict[EventKind, tuple[Handler, ...]] = {
    EventKind.PTPP_ISSUED: (send_form_to_department,),
    EventKind.PTPP_WITHDRAWN: (tell_department_withdrawn,),
    EventKind.DEPARTMENT_INVOLVED: (send_form_to_involved,),
    EventKind.PTPP_PLANNED: (tell_sales_the_plan,),
    EventKind.SEND_ANALYSIS_SET: (send_analysis_now,),
    EventKind.PTPP_IMPLEMENTED: (tell_marketing_it_is_done,),
    EventKind.COMPLAINT_CLOSED: (close_with_customer_and_sales,),
}


@dataclass(frozen=True)
class Bus:
    """Dispatches saved events to `HANDLERS`, in the order the aggregate returned them."""

    app: App
    handlers: dict[EventKind, tuple[Handler, ...]] | None = None

    def handle(self, row: Complaint, events: list[DomainEvent], *, at: datetime, actor: str,
               source: str) -> None:
        table = HANDLERS if self.handlers is None else self.handlers
        for event in events:
            for handler in table.get(event.kind, ()):
                handler(self.app, Occurrence(row, event, at, actor, source))


def bus(app: App) -> Bus:
    return Bus(app)
