"""PTPP use cases: issue the form to the department (on registration, on assignment, on a new
cycle), assign from triage, send the return-claim form, verify, reject, notes, responses,
questions to the customer — called by the CLI, by intake on registration, and by `replies`
for what a mail decides.

Lifecycle steps are decided by the aggregate (`domain.lifecycle.Case`) and written through
`store.uow.UnitOfWork`, which joins the caller's transaction when there is one (a mail's
transaction, a decision's savepoint) and opens its own otherwise (a CLI command), and hands
the saved events to the bus (`handlers`), whose handlers queue the mail that follows. The
fallible work that needs no database (rendering, in `documents`) is done first, so a bad
template never leaves half a state change behind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mailproc import store
from mailproc.bootstrap import App
from mailproc.domain import lifecycle, numbering, returns, satisfaction, states
from mailproc.domain.lifecycle import DomainEvent, EventKind, MailKind
from mailproc.errors import MailprocError, NotFound
from mailproc.outgoing.outbox import queue_mail
from mailproc.outgoing.texts import format_datetime_id
from mailproc.ptpp import handlers
from mailproc.ptpp.documents import (
    RENDER_FAILURES,
    Prerendered,
    Rendered,
    closure_documents,
    customer_email,
    failure_text,
    render_closure,
    render_next_cycle,
    render_ptpp,
    render_return_form,
    store_document,
    try_render_ptpp,
    verified_form,
)
from mailproc.store import Complaint, Ptpp, queries
from mailproc.store.uow import UnitOfWork, case_of, current_cycle

log = logging.getLogger(__name__)


class WorkflowError(MailprocError):
    """A step the procedure does not allow now, or an unknown department. `id_message` says
    the same in Indonesian, for replies to mail decisions."""

    def __init__(self, message: str, id_message: str = "") -> None:
        super().__init__(message)
        self.id_message = id_message or message


def _transition_id(exc: states.InvalidTransition) -> str:
    now = states.LABELS_ID.get(exc.current or "", exc.current or "baru")
    return (f"tidak dapat dilakukan karena keluhan berstatus \"{now}\" "
            f"(langkah ke \"{states.LABELS_ID.get(exc.target, exc.target)}\" tidak diizinkan)")


def current_ptpp(complaint: Complaint) -> Ptpp:
    return current_cycle(complaint)


def issue_ptpp(app: App, complaint: Complaint, *, now: datetime, actor: str, source: str,
               rendered: tuple[str, bytes]) -> store.Document:
    """Archive the rendered PTPP form and move the complaint to 'issued'; the bus mails it to
    the department (`handlers.send_form_to_department`). Call inside a transaction, with
    `render_ptpp`'s result."""
    s = app.settings
    case = case_of(complaint)
    dep = s.departments.get(complaint.department)
    if dep is None:
        raise WorkflowError(f"{complaint.number} has no department to send the PTPP to",
                            "belum ada bagian yang ditetapkan")
    filename, content = rendered
    doc = store_document(app, complaint, "ptpp", case.cycle.number, "generated", filename,
                         content, now)
    plan_due = app.plan_due(now)
    events = case.issue(now, plan_due,
                        {"department": dep.key, "to": list(dep.addresses),
                         "plan_due": plan_due.isoformat(), "document": doc.archive_path,
                         "filename": doc.filename})
    with UnitOfWork(handlers.bus(app)) as uow:
        uow.save(complaint, case, events, at=now, actor=actor, source=source)
    return doc


def assign(app: App, number: str, department: str, *, actor: str, source: str,
           note: str = "") -> Complaint:
    """Assign (or reassign) a complaint to a department and send it the PTPP form."""
    s = app.settings
    now = app.clock()
    complaint = store.complaint_by_number(number)
    if complaint is None:
        raise NotFound(f"no complaint {number}; see `mailproc complaints list`")
    dep = find_department(s, department)
    case = case_of(complaint)
    try:
        events = case.assign(dep.key, now, note)
    except lifecycle.InvalidTransition as exc:
        raise WorkflowError(f"{number}: {exc}", _transition_id(exc)) from None
    rendered = render_ptpp(app, complaint, now, dep.key)  # before any write
    # With the bus: a department that loses its form to this one is told (ptpp_withdrawn).
    with UnitOfWork(handlers.bus(app)) as uow:
        uow.save(complaint, case, events, at=now, actor=actor, source=source)
        issue_ptpp(app, complaint, now=now, actor=actor, source=source, rendered=rendered)
    return store.complaint_by_number(number)  # type: ignore[return-value]


def involve(app: App, number: str, department: str, *, actor: str, source: str,
            note: str = "") -> Complaint:
    """Procedure step 6: another department takes part; it gets the form and the thread."""
    now = app.clock()
    dep = find_department(app.settings, department)
    with UnitOfWork(handlers.bus(app)) as uow:
        complaint, case = uow.load(number)
        try:
            events = case.involve(dep.key, now, note)
        except lifecycle.LifecycleError as exc:
            raise WorkflowError(str(exc), exc.id_message) from None
        uow.save(complaint, case, events, at=now, actor=actor, source=source)
    return load(number)


def find_department(settings: Any, name: str) -> Any:
    wanted = name.strip().lower()
    for dep in settings.departments.values():
        if wanted in (dep.key.lower(), dep.name.lower(), *dep.aliases):
            return dep
    known = ", ".join(sorted(settings.departments))
    names = ", ".join(sorted(d.name for d in settings.departments.values()))
    raise WorkflowError(f"unknown department {name!r}; known: {known}",
                        f"bagian \"{name}\" tidak dikenal; pilihan: {names}")


# ---- on registration ---------------------------------------------------------------------
#
# Registration renders its forms before its write transaction opens (docxtpl takes tens of
# milliseconds, during which SQLite's write lock would stop every other writer):
# `documents.prerender_on_registration`, from the facts the complaint will be stored with and
# the number `store.peek_sequence` foresees. Inside the transaction only a form that still
# fits the stored complaint is sent.


def issue_on_registration(app: App, complaint: Complaint, now: datetime, source: str,
                          prerendered: Prerendered | None = None) -> str:
    """Send the PTPP form to the department right away when routing chose one, the form
    `prerendered` when it fits the stored complaint. A form that cannot be rendered (a broken
    template) does not stop the registration: marketing administration is told and can send
    it with `mailproc ptpp assign`."""
    if not complaint.department:
        return ""
    if not app.settings.auto_issue:
        return (f"Formulir PTPP belum dikirim (documents.issue_on_registration = false): "
                f"periksa keluhan, lalu kirim dengan `mailproc ptpp assign {complaint.number} "
                f"{complaint.department}`.")
    if prerendered is not None and prerendered.fits(app, complaint, now):
        rendered, error = prerendered.rendered, failure_text(prerendered.failure)
    else:
        # Another process registered a complaint between the peek and this transaction and
        # took the foreseen number (or the form was not rendered before): rare, so render
        # again here, under the write lock, rather than send a form with a wrong number.
        rendered, error = try_render_ptpp(app, complaint, now)
    if rendered is None:
        store.append_event(complaint=complaint, at=now, actor="mailproc", source=source,
                           kind=EventKind.PTPP_ISSUE_FAILED, data={"error": error})
        return (f"Formulir PTPP GAGAL dibuat ({error}). Perbaiki template, lalu kirim dengan "
                f"`mailproc ptpp assign {complaint.number} {complaint.department}`.")
    doc = issue_ptpp(app, complaint, now=now, actor="mailproc", source=source,
                     rendered=rendered)
    dep = app.settings.departments[complaint.department]
    return f"Formulir PTPP ({doc.filename}) telah dikirim ke Bagian {dep.name}."


def send_return_form_on_registration(app: App, complaint: Complaint, in_reply_to: str,
                                      references: Sequence[str], now: datetime,
                                      source: str, prerendered: Prerendered | None = None
                                      ) -> str:
    """Send the return-claim form (`prerendered` when it fits the stored complaint); a form
    that cannot be rendered (a broken template) does not stop the registration: returns the
    sentence that tells marketing administration."""
    if prerendered is not None and prerendered.fits(app, complaint, now):
        rendered, failure = prerendered.rendered, prerendered.failure
    else:
        # The foreseen number was taken meanwhile (see issue_on_registration): render here.
        rendered, failure = None, None
        try:
            rendered = render_return_form(app, complaint, now)
        except RENDER_FAILURES as exc:
            failure = exc
    if rendered is None:
        store.append_event(complaint=complaint, at=now, actor="mailproc", source=source,
                           kind=EventKind.RETURN_FORM_FAILED, data={"error": str(failure)})
        return (f"Formulir klaim retur GAGAL dibuat ({failure}). Perbaiki template, lalu kirim "
                f"dengan `mailproc complaints send-return-form {complaint.number}`.")
    send_return_form(app, complaint, now=now, actor="mailproc", source=source,
                     rendered=rendered, in_reply_to=in_reply_to, references=references)
    return ""


# ---- the return-claim form ---------------------------------------------------------------


def send_return_form(app: App, complaint: Complaint, *, now: datetime, actor: str,
                     source: str, rendered: tuple[str, bytes], in_reply_to: str = "",
                     references: Sequence[str] = ()) -> store.Document:
    """Mail the return-claim form to the customer (inside a transaction)."""
    s = app.settings
    c = complaint.customer
    if c is None or not c.email:
        raise WorkflowError(f"{complaint.number}: the customer's email address is not known",
                            "alamat email pelanggan tidak diketahui")
    filename, content = rendered
    doc = store_document(app, complaint, "retur", 1, "generated", filename, content, now)
    texts = app.texts.render("return_form_to_customer", number=complaint.number,
                             customer_name=c.name, filename=filename,
                             signature=s.company.signature or s.company.name)
    queue_mail(settings=s, now=now, kind="return_form", to=[c.email], subject=texts.subject,
               body=texts.body, complaint=complaint, attachments=[doc.archive_path],
               in_reply_to=in_reply_to, references=references, actor=actor, source=source,
               auto_reply_to=c.email)
    store.append_event(complaint=complaint, at=now, actor=actor, source=source,
                       kind=EventKind.RETURN_FORM_SENT, data={"document": doc.archive_path,
                                                              "to": c.email})
    return doc


def return_form_on_request(app: App, number: str, *, actor: str,
                           source: str) -> tuple[store.Document, str]:
    """`complaints send-return-form`: render the return-claim form before the write
    transaction, then mail it to the customer. Returns the document and the address."""
    complaint = load(number)
    now = app.clock()
    rendered = render_return_form(app, complaint, now)
    with UnitOfWork():
        doc = send_return_form(app, complaint, now=now, actor=actor, source=source,
                               rendered=rendered)
    return doc, complaint.customer.email


# ---- marketing administration's decisions (the CLI's, and those of `replies`) ------------

def load(number: str) -> Complaint:
    complaint = store.complaint_by_number(number)
    if complaint is None:
        raise NotFound(f"no complaint {number}; see `mailproc complaints list`")
    return complaint


def next_cycle_number(app: App, complaint: Complaint, now: datetime, *,
                      peek: bool = False) -> str:
    """The PTPP number of the cycle a not-effective verification opens now: the next of the
    sequence (numbering.new_number_per_cycle; allocated, so call inside the transaction, or
    `peek` at it before), else the first number with the cycle as suffix."""
    s = app.settings
    if not s.new_number_per_cycle:
        return numbering.suffixed(complaint.number, current_cycle(complaint).cycle + 1)
    local = now.astimezone(s.timezone)
    seq = store.peek_sequence(local.year) if peek else store.next_sequence(local.year)
    return s.numbering.format(seq, local.year, local.month)


def apply_verification(app: App, complaint: Complaint, *, effective: bool, note: str,
                       verifier: str, actor: str, source: str, now: datetime,
                       closure: Rendered | None = None,
                       next_form: tuple[str, str, bytes] | None = None,
                       verified: tuple[str, tuple[str, bytes] | None] | None = None
                       ) -> Complaint:
    """Procedure steps 9-10 inside the caller's transaction: effective closes the PTPP (the
    bus mails the customer and sales & marketing, with the closure report: `closure` when the
    caller rendered it before the transaction, else rendered here); not effective starts a
    new cycle, issued to the department with the previous cycle shown on the form
    (`next_form`: its PTPP number, file name and content, used when the number allocated
    here is the one it was rendered for; else rendered here). The verified cycle's form, with
    section C written in, is kept as a document of the cycle (`verified`: the new number it
    was made for and the copy, or made here). Gates: only after
    implementation, never without an evaluation note. Called inside a mail's transaction, the
    documents are rendered inside it: what the mail decides is known only there."""
    case = case_of(complaint)
    verifier = verifier or actor
    try:
        events = case.verify(effective=effective, note=note, verifier=verifier, at=now,
                             next_number=lambda: next_cycle_number(app, complaint, now))
    except lifecycle.LifecycleError as exc:
        raise WorkflowError(str(exc), exc.id_message) from None
    closed = case.cycles[-1] if effective else case.cycles[-2]
    new_number = "" if effective else case.cycle.ptpp_number
    if verified is None or verified[0] != new_number:  # a verification by mail
        copy = verified_form(app, complaint, closed.number, effective=effective, note=note,
                             verifier=verifier, new_number=new_number, now=now)
    else:
        copy = verified[1]
    if copy is not None:  # before the closure report: the closing mail sends this copy
        store_document(app, complaint, "ptpp", closed.number, "verified", *copy, now)
    if effective:
        if closure is None:  # a verification by mail
            closure = render_closure(app, complaint, note=note, verifier=verifier, now=now)
        closed = events[-1]
        assert closed.kind == EventKind.COMPLAINT_CLOSED
        closed.data["documents"] = closure_documents(app, complaint, closure,
                                                      case.cycle.number, now)
    with UnitOfWork(handlers.bus(app)) as uow:
        uow.save(complaint, case, events, at=now, actor=actor, source=source)
    if not effective:
        # Cycle n + 1 was opened by the aggregate under its own number; its form goes out
        # now (rendered again only when another process took the number peeked at).
        if next_form is not None and next_form[0] == case.cycle.ptpp_number:
            rendered = next_form[1], next_form[2]
        else:
            rendered = render_ptpp(app, complaint, now)
        issue_ptpp(app, complaint, now=now, actor=actor, source=source, rendered=rendered)
    return complaint


def verify(app: App, number: str, *, effective: bool, note: str, actor: str, source: str,
           verifier: str = "") -> Complaint:
    """`ptpp verify`: the gates first (a refused verification renders nothing), then the
    document the outcome needs (the closure report, or the next cycle's form) before the write
    transaction opens; apply_verification checks the gates again inside it."""
    complaint = load(number)
    now = app.clock()
    try:
        case_of(complaint).verify(effective=effective, note=note, verifier=verifier or actor,
                                  at=now)
    except lifecycle.LifecycleError as exc:
        raise WorkflowError(str(exc), exc.id_message) from None
    closure = next_form = None
    new_number = ""
    if effective:
        closure = render_closure(app, complaint, note=note, verifier=verifier or actor,
                                 now=now)
    else:
        new_number = next_cycle_number(app, complaint, now, peek=True)
        next_form = (new_number, *render_next_cycle(app, complaint, note=note,
                                                    number=new_number, now=now))
    verified = (new_number, verified_form(
        app, complaint, current_cycle(complaint).cycle, effective=effective, note=note,
        verifier=verifier or actor, new_number=new_number, now=now))
    with UnitOfWork():
        apply_verification(app, complaint, effective=effective, note=note, verifier=verifier,
                           actor=actor, source=source, now=now, closure=closure,
                           next_form=next_form, verified=verified)
    return load(number)


def reject(app: App, number: str, *, reason: str, actor: str, source: str) -> Complaint:
    """Not a complaint (spam, misdirected): closed as rejected, with the reason."""
    now = app.clock()
    with UnitOfWork() as uow:
        complaint, case = uow.load(number)
        try:
            events = case.reject(reason, now)
        except lifecycle.InvalidTransition as exc:
            raise WorkflowError(f"{number}: {exc}", _transition_id(exc)) from None
        except lifecycle.LifecycleError as exc:
            raise WorkflowError(str(exc), exc.id_message) from None
        uow.save(complaint, case, events, at=now, actor=actor, source=source)
    return load(number)


def add_note(app: App, number: str, *, text: str, actor: str, source: str) -> None:
    complaint = load(number)
    if not text.strip():
        raise WorkflowError("the note is empty", "catatan kosong")
    with UnitOfWork() as uow:
        uow.record(complaint, [DomainEvent(EventKind.NOTE, {"text": text.strip()})],
                   at=app.clock(), actor=actor, source=source)


def record_response(app: App, number: str, *, text: str, actor: str, source: str) -> Complaint:
    """A response given to the customer by phone or in person counts as the first response
    when none was recorded yet (procedure 4.4)."""
    now = app.clock()
    with UnitOfWork() as uow:
        complaint, case = uow.load(number)
        try:
            events = case.record_response(text, now)
        except lifecycle.LifecycleError as exc:
            raise WorkflowError(str(exc), exc.id_message) from None
        uow.save(complaint, case, events, at=now, actor=actor, source=source)
    return load(number)


def classify(app: App, number: str, severity: str, *, actor: str, source: str) -> Complaint:
    """Marketing administration sets the PTPP category (Mayor / Minor / Observasi): in the
    register and the recap at once, and on every form rendered from now on. A form already
    with the department is not sent again: it was issued as it then stood."""
    value = states.severity_of(severity)
    if value is None:
        raise WorkflowError(
            f"{severity!r} is not a PTPP category: use mayor, minor or observasi",
            f"\"{severity}\" bukan kategori PTPP; tulis MAYOR, MINOR atau OBSERVASI")
    now = app.clock()
    with UnitOfWork() as uow:
        complaint, case = uow.load(number)
        try:
            events = case.classify(value, now)
        except lifecycle.LifecycleError as exc:
            raise WorkflowError(str(exc), exc.id_message) from None
        uow.save(complaint, case, events, at=now, actor=actor, source=source)
    return load(number)


def return_step(app: App, number: str, step: str, *, actor: str, source: str,
                result: str = "", approved: bool = True, reason: str = "", kind: str = "",
                reference: str = "") -> Complaint:
    """The return claim to its end: `step` 'inspect' (QC / the warehouse's `result`),
    'decide' (`approved`, or not with the `reason`: the customer is told), 'settle' (`kind`
    and `reference`: the customer is told). Refused, changing nothing, out of order."""
    complaint = load(number)
    claim = queries.return_claim_number(complaint)
    if not (complaint.return_requested or claim):
        raise WorkflowError(f"{number}: the customer asked for no return",
                            "pelanggan tidak mengajukan retur untuk keluhan ini")
    state = returns.ReturnState.from_json(complaint.return_state)
    try:
        if step == "inspect":
            new = returns.inspect(state, result)
        elif step == "decide":
            new = returns.decide(state, approved=approved, reason=reason)
        else:
            new = returns.settle(state, kind, reference)
    except returns.ReturnError as exc:
        raise WorkflowError(f"{number}: {exc}", exc.id_message) from None
    s, now = app.settings, app.clock()
    email = customer_email(complaint)
    common = dict(number=number, claim_number=claim, signature=s.company.signature
                  or s.company.name, customer_name=complaint.customer.name
                  if complaint.customer else "")
    with store.transaction():
        queries.set_return_state(complaint, new.to_json())
        kinds = {"inspect": EventKind.RETURN_INSPECTED, "decide": EventKind.RETURN_DECIDED,
                 "settle": EventKind.RETURN_SETTLED}
        store.append_event(complaint=complaint, at=now, actor=actor, source=source,
                           kind=kinds[step], data=json.loads(new.to_json()))
        if step == "decide" and email:
            texts = app.texts.render("return_decision", approved=new.decision == "approved",
                                     inspection=new.inspection, reason=new.reason, **common)
            queue_mail(settings=s, now=now, kind=MailKind.RETURN_DECISION, to=[email],
                       subject=texts.subject, body=texts.body, complaint=complaint,
                       actor=actor, source=source)
        if step == "settle" and email:
            texts = app.texts.render("return_settled",
                                     settlement=returns.SETTLEMENTS[new.settlement],
                                     reference=new.reference, **common)
            queue_mail(settings=s, now=now, kind=MailKind.RETURN_SETTLED, to=[email],
                       subject=texts.subject, body=texts.body, complaint=complaint,
                       actor=actor, source=source)
    return load(number)


def record_satisfaction(app: App, complaint: Complaint, rating: int, comment: str, *,
                        customer: str, source: str, now: datetime,
                        closure: Rendered) -> None:
    """The customer's rating after closing (inside the mail's transaction): stored on the
    complaint with an event; the closure report rendered again with it (`closure`, before the
    transaction) archived under the next version; marketing administration told (and the
    operations manager, with the rating's own alarm, when it is low); the customer thanked."""
    s = app.settings
    queries.set_satisfaction(complaint, rating)
    low = rating <= satisfaction.LOW
    store.append_event(complaint=complaint, at=now, actor=customer, source=source,
                       kind=EventKind.SATISFACTION_RATED,
                       data={"rating": rating, "low": low, "comment": comment[:2000]})
    attachments: list[str] = []
    rendered, _ = closure
    if rendered is not None:
        filename, content = rendered
        cycle = current_ptpp(complaint).cycle
        attachments.append(store_document(app, complaint, "closure", cycle, "generated",
                                          filename, content, now).archive_path)
    label = satisfaction.label(rating)
    texts = app.texts.render(
        "notice_satisfaction", number=complaint.number, company_name=s.company.name,
        customer_display=store.customer_display(complaint), subject=complaint.subject,
        closed_at=format_datetime_id(store.aware(complaint.closed_at), s.timezone)
        if complaint.closed_at else "-",
        rating_label=label, comment=comment, low=low, report=bool(attachments))
    queue_mail(settings=s, now=now, kind=MailKind.NOTICE_SATISFACTION, to=s.marketing_admin,
               cc=[*(s.operations_manager if low else ()), *s.sales_marketing],
               subject=texts.subject, body=texts.body, complaint=complaint,
               attachments=attachments, source=source)
    email = customer_email(complaint)
    if email:
        thanks = app.texts.render(
            "thanks_satisfaction", number=complaint.number, customer_name=complaint.customer.name,
            rating_label=label, low=low, signature=s.company.signature or s.company.name)
        queue_mail(settings=s, now=now, kind=MailKind.THANKS_SATISFACTION, to=[email],
                   subject=thanks.subject, body=thanks.body, complaint=complaint,
                   source=source, auto_reply_to=email)


def set_send_analysis(app: App, number: str, *, wanted: bool, actor: str,
                      source: str) -> int | None:
    """The customer asked (or no longer asks) to receive the analysis and plan. Returns the
    cycle whose analysis was queued for the customer now (its plan had arrived already), or
    None: it goes when the plan comes (or, with `wanted` false, not at all)."""
    with UnitOfWork(handlers.bus(app)) as uow:
        complaint, case = uow.load(number)
        events = case.set_send_analysis(wanted)
        uow.save(complaint, case, events, at=app.clock(), actor=actor, source=source)
    sent = events[0].data.get("send_cycle")
    return int(sent) if sent is not None else None


def ask_customer(app: App, complaint: Complaint, *, question: str, actor: str,
                 source: str) -> None:
    """Marketing administration's clarification question, mailed to the customer in the
    complaint's thread so the answer threads back (procedure step 4)."""
    s = app.settings
    email = customer_email(complaint)
    if not email:
        raise WorkflowError(f"{complaint.number}: the customer's email address is not known",
                            "alamat email pelanggan tidak diketahui; hubungi pelanggan lewat "
                            "telepon atau WhatsApp")
    first = queries.first_incoming_message(complaint)
    in_reply_to = first.message_id if first and first.message_id else ""
    now = app.clock()
    texts = app.texts.render("question_customer", number=complaint.number,
                             customer_name=complaint.customer.name, question=question.strip(),
                             subject=complaint.subject,
                             signature=s.company.signature or s.company.name)
    queue_mail(settings=s, now=now, kind="question_customer", to=[email],
               subject=texts.subject, body=texts.body, complaint=complaint,
               in_reply_to=in_reply_to, references=[in_reply_to] if in_reply_to else [],
               actor=actor, source=source)
    store.append_event(complaint=complaint, at=now, actor=actor, source=source,
                       kind=EventKind.CUSTOMER_ASKED, data={"question": question.strip()})


