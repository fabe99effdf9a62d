"""PTPP use cases: issue the form to the department, assign from triage, read a filled form back
from a reply and move the PTPP, send and read the return-claim form.

Lifecycle steps are decided by the aggregate (`domain.lifecycle.Case`) and written through
`store.uow.UnitOfWork`, which joins the caller's transaction when there is one (a mail's
transaction, a decision's savepoint) and opens its own otherwise (a CLI command). The fallible
work that needs no database (rendering, reading a .docx) is done first, so a bad template or a
bad attachment never leaves half a state change behind. The forms are rendered from plain
`FormFacts`, read from a stored complaint or, at registration, gathered before the complaint
is stored: `prerender_on_registration` renders them before the registration's transaction
opens, and `issue_on_registration` / `send_return_form_on_registration` send them when they
still fit the stored complaint (else render again, inside).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from mailproc import store
from mailproc.bootstrap import App
from mailproc.domain import decisions, forms, lifecycle, records, states
from mailproc.domain.lifecycle import DomainEvent, EventKind
from mailproc.domain.replies import Action, FileKind, FileSummary, ReplyDecision, Role
from mailproc.errors import MailprocError, NotFound
from mailproc.forms import package, readback
from mailproc.forms.render import render
from mailproc.intake.parse import Attachment, IncomingMail
from mailproc.outgoing.outbox import queue_mail
from mailproc.outgoing.texts import format_date_id, shorten
from mailproc.ptpp import handlers
from mailproc.ptpp.documents import customer_name, display, store_document
from mailproc.reports import jobs as reportjobs
from mailproc.store import Complaint, Ptpp, queries, reportdata
from mailproc.store.uow import UnitOfWork, case_of, current_cycle, save_plan

log = logging.getLogger(__name__)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


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


def _category_label(app: App, complaint: Complaint) -> str:
    return _label_of(app, complaint.category)


def _label_of(app: App, category: str) -> str:
    labels = {rule.name: rule.label for rule in app.settings.routing.categories}
    return labels.get(category, "Belum terklasifikasi")


def _previous_cycle(complaint: Complaint, cycle: int) -> dict[str, Any] | None:
    if cycle <= 1:
        return None
    prev = queries.cycle_row(complaint, cycle - 1)
    if prev is None:
        return None
    plan = json.loads(prev.plan or "{}")
    actions = [{"no": a.no, "cause": a.cause, "corrective": a.corrective,
                "preventive": a.preventive, "pic": a.pic, "target": a.target_raw}
               for a in forms.actions_from(plan)]
    return {"cycle": prev.cycle, "root_cause": prev.root_cause or plan.get("root_cause", ""),
            "actions": actions,
            "verification_note": prev.verification_note or plan.get("verification_note", "")}


@dataclass(frozen=True)
class FormFacts:
    """What the PTPP and return-claim forms show of a complaint, as plain values: read from a
    stored complaint (`form_facts`), or gathered at registration before the complaint is
    stored, so that its forms are rendered before the write transaction opens."""

    number: str
    received_at: datetime  # aware
    department: str  # the key of the department the PTPP goes to; '' when none
    category: str  # the routing category's name; '' when unclassified
    customer_name: str
    customer_email: str  # '' when unknown
    product: str = ""
    batch: str = ""
    quantity: str = ""
    invoice: str = ""
    delivery_note: str = ""
    description: str = ""
    cycle: int = 1
    previous: dict[str, Any] | None = None  # the cycle before, on a later cycle's form


def form_facts(complaint: Complaint, ptpp: Ptpp | None = None,
               department: str = "") -> FormFacts:
    """The facts of a stored complaint; with `ptpp`, those of that cycle's form (sent to
    `department`, by default the cycle's own)."""
    c = complaint.customer
    cycle = ptpp.cycle if ptpp is not None else 1
    return FormFacts(
        number=complaint.number, received_at=store.aware(complaint.received_at),
        department=(department or (ptpp.department if ptpp is not None else "")
                    or complaint.department),
        category=complaint.category,
        customer_name=(c.name or "") if c is not None else "",
        customer_email=(c.email or "") if c is not None else "",
        product=complaint.product, batch=complaint.batch, quantity=complaint.quantity,
        invoice=complaint.invoice, delivery_note=complaint.delivery_note,
        description=complaint.description, cycle=cycle,
        previous=_previous_cycle(complaint, cycle))


def ptpp_context(app: App, facts: FormFacts, now: datetime) -> dict[str, Any]:
    """The docxtpl context of FM-MR-15 (keys documented in mailproc.forms.render)."""
    s = app.settings
    form = s.forms["ptpp"]
    dep = s.departments.get(facts.department)
    return {
        "company": {"name": s.company.name, "address": s.company.address},
        "doc": {"number": form.number, "revision": form.revision,
                "revision_date": form.revision_date},
        "ptpp_number": facts.number,
        "date": now.astimezone(s.timezone).strftime("%d/%m/%Y"),
        "to_department": dep.name if dep else facts.department,
        "from_issuer": s.issuer,
        "reference": f"Keluhan pelanggan {facts.number}, diterima "
                     f"{format_date_id(facts.received_at, s.timezone)}",
        "cycle": facts.cycle,
        "category_label": _label_of(app, facts.category),
        "severity": "Minor",
        "customer": display(facts.customer_name, facts.customer_email),
        "product": facts.product,
        "batch": facts.batch,
        "quantity": facts.quantity,
        "invoice": facts.invoice,
        "delivery_note": facts.delivery_note,
        "description": facts.description.strip(),
        "previous": facts.previous,
    }


def _is_photo(content_type: str) -> bool:
    """Whether an attachment of this type is shown on the PTPP form: the rule of
    `queries.photos` (image/*; its LIKE does not mind case)."""
    return content_type.lower().startswith("image/")


def _photo_caption(original_filename: str, filename: str) -> str:
    return original_filename or filename


def _photos(app: App, complaint: Complaint) -> list[tuple[str, bytes]]:
    photos = []
    for row in queries.photos(complaint, app.settings.max_photos):
        try:
            photos.append((_photo_caption(row.original_filename, row.filename),
                           app.archive.read(row.archive_path)))
        except OSError as exc:
            log.warning("photo %s of %s unreadable: %s", row.archive_path, complaint.number, exc)
    return photos


def _photo_ids(app: App, complaint: Complaint) -> tuple[tuple[str, str], ...]:
    """(caption, sha256) of the photos `_photos` reads, without reading them."""
    return tuple((_photo_caption(row.original_filename, row.filename), row.sha256)
                 for row in queries.photos(complaint, app.settings.max_photos))


def _document_name(complaint: Complaint, form: str, cycle: int, app: App) -> str:
    return _document_name_of(complaint.number, form, cycle, app)


def _document_name_of(number: str, form: str, cycle: int, app: App) -> str:
    slug = app.settings.numbering.slug(number)
    prefix = "PTPP" if form == "ptpp" else "Klaim-Retur"
    suffix = f"-siklus-{cycle}" if form == "ptpp" and cycle > 1 else ""
    return f"{prefix}-{slug}{suffix}.docx"


def render_ptpp_from(app: App, facts: FormFacts, photos: Sequence[tuple[str, bytes]],
                     now: datetime) -> tuple[str, bytes]:
    """Render a PTPP form from plain facts and (caption, content) photos; raises
    TemplateProblem / DocumentError / OSError."""
    content = render(app.settings.forms["ptpp"].template, ptpp_context(app, facts, now),
                     images=photos)
    return _document_name_of(facts.number, "ptpp", facts.cycle, app), content


def render_ptpp(app: App, complaint: Complaint, now: datetime,
                department: str = "") -> tuple[str, bytes]:
    """Render the current cycle's PTPP; raises TemplateProblem / DocumentError / OSError."""
    facts = form_facts(complaint, current_ptpp(complaint), department)
    return render_ptpp_from(app, facts, _photos(app, complaint), now)


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


def try_render_ptpp(app: App, complaint: Complaint, now: datetime
                    ) -> tuple[tuple[str, bytes] | None, str]:
    """Render, turning a failure into a message for marketing administration."""
    try:
        return render_ptpp(app, complaint, now), ""
    except _RENDER_FAILURES as exc:
        log.error("PTPP form of %s could not be rendered: %s", complaint.number, exc)
        return None, _failure_text(exc)


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
    with UnitOfWork() as uow:
        uow.save(complaint, case, events, at=now, actor=actor, source=source)
        issue_ptpp(app, complaint, now=now, actor=actor, source=source, rendered=rendered)
    return store.complaint_by_number(number)  # type: ignore[return-value]


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
# milliseconds, during which SQLite's write lock would stop every other writer): from the
# facts the complaint will be stored with and the number `store.peek_sequence` foresees.
# Inside the transaction the stored complaint is compared with those facts; only a form that
# still fits is sent.

# What a broken template or an unreadable file raises while rendering.
_RENDER_FAILURES = (MailprocError, OSError, ValueError)


def _failure_text(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else ""


def _select_photos(app: App, files: Iterable[tuple[str, str, str, bytes | None]]
                   ) -> list[tuple[str, bytes]]:
    """The photos the PTPP form will show, from a complaint's attachments not stored yet,
    given as (original_filename, filename, content_type, content) in the order they will be
    stored: what `_photos` will read back (the rows `queries.photos` selects)."""
    photos = [(_photo_caption(original, name), content)
              for original, name, content_type, content in files
              if content is not None and _is_photo(content_type)]
    return photos[:app.settings.max_photos]


@dataclass(frozen=True)
class Prerendered:
    """A form rendered before the registration's transaction, with what it was rendered
    from; `rendered` is None and `failure` says why when rendering failed."""

    form: str  # 'ptpp' or 'retur'
    facts: FormFacts
    at: datetime
    photos: tuple[tuple[str, str], ...]  # (caption, sha256) of the photos on the form
    rendered: tuple[str, bytes] | None
    failure: Exception | None = None

    def fits(self, app: App, complaint: Complaint, now: datetime) -> bool:
        """Whether the stored complaint shows what this form was rendered from (reads rows,
        no file)."""
        if now != self.at:
            return False
        if self.form == "ptpp":  # cycle 1, sent to the complaint's department
            return (form_facts(complaint) == self.facts
                    and _photo_ids(app, complaint) == self.photos)
        return form_facts(complaint) == self.facts


@dataclass(frozen=True)
class RegistrationForms:
    """The forms rendered for a registration before its transaction (None: not rendered)."""

    ptpp: Prerendered | None = None
    retur: Prerendered | None = None


def prerender_on_registration(app: App, facts: FormFacts,
                              files: Iterable[tuple[str, str, str, bytes | None]],
                              now: datetime, *, return_form: bool) -> RegistrationForms:
    """Render, before the registration's transaction, the forms it will send: the PTPP when
    `issue_on_registration` will issue it (a department chosen, documents.
    issue_on_registration), the return-claim form when `return_form` (it may be sent: the
    acknowledgement can still be held back inside the transaction, and then it is not used).
    `files` are the attachments the complaint will have (see `_select_photos`). A failure is
    kept for the transaction to report as it always has."""
    ptpp = retur = None
    if facts.department and app.settings.auto_issue:
        photos = _select_photos(app, files)
        ids = tuple((caption, hashlib.sha256(content).hexdigest())
                    for caption, content in photos)
        try:
            ptpp = Prerendered("ptpp", facts, now, ids,
                               render_ptpp_from(app, facts, photos, now))
        except _RENDER_FAILURES as exc:
            log.error("PTPP form of %s could not be rendered: %s", facts.number, exc)
            ptpp = Prerendered("ptpp", facts, now, ids, None, exc)
    if return_form:
        try:
            retur = Prerendered("retur", facts, now, (),
                                render_return_form_from(app, facts, now))
        except _RENDER_FAILURES as exc:
            retur = Prerendered("retur", facts, now, (), None, exc)
    return RegistrationForms(ptpp, retur)


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
        rendered, error = prerendered.rendered, _failure_text(prerendered.failure)
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
        except _RENDER_FAILURES as exc:
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

def retur_context(app: App, facts: FormFacts, now: datetime) -> dict[str, Any]:
    s = app.settings
    form = s.forms["retur"]
    return {
        "company": {"name": s.company.name, "address": s.company.address},
        "doc": {"number": form.number, "revision": form.revision,
                "revision_date": form.revision_date},
        "claim_number": f"KR-{facts.number}",
        "ptpp_number": facts.number,
        "date": now.astimezone(s.timezone).strftime("%d/%m/%Y"),
        "customer": facts.customer_name or facts.customer_email,
        "contact": facts.customer_email,
        "po": "",
        "delivery_note": facts.delivery_note,
        "invoice": facts.invoice,
        "items": [{"name": facts.product, "batch": facts.batch,
                   "qty_sent": facts.quantity, "qty_return": "", "unit": ""}]
        if facts.product else [],
        "description": shorten(facts.description, 1500),
    }


def render_return_form_from(app: App, facts: FormFacts, now: datetime) -> tuple[str, bytes]:
    content = render(app.settings.forms["retur"].template, retur_context(app, facts, now))
    return _document_name_of(facts.number, "retur", 1, app), content


def render_return_form(app: App, complaint: Complaint, now: datetime) -> tuple[str, bytes]:
    return render_return_form_from(app, form_facts(complaint), now)


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


# ---- replies with forms ------------------------------------------------------------------

@dataclass(frozen=True)
class InspectedFile:
    index: int  # position in IncomingMail.attachments
    attachment: Attachment
    summary: FileSummary
    form: readback.FilledForm | None = None


def role_of(settings: Any, complaint: Complaint, sender: str) -> Role:
    sender = sender.lower()
    dep = settings.departments.get(complaint.department)
    if dep is not None and sender in dep.addresses:
        return Role.DEPARTMENT
    if sender in settings.marketing_admin:
        return Role.ADMIN
    if complaint.customer_id and complaint.customer.email == sender:
        return Role.CUSTOMER
    if settings.is_internal(sender):
        return Role.STAFF
    return Role.OTHER


def inspect_files(mail: IncomingMail) -> list[InspectedFile]:
    """Look at every real attachment: is it one of our forms, a scan, or unreadable? Reads
    bytes only; never raises for a bad file."""
    out: list[InspectedFile] = []
    for index, att in enumerate(mail.attachments):
        if att.inline:
            continue  # signature logos and pictures in the HTML body
        if att.content is None:
            looks_docx = att.filename.lower().endswith((".docx", ".docm", ".doc"))
            kind = FileKind.REJECTED if looks_docx else FileKind.OTHER
            out.append(InspectedFile(index, att, FileSummary(
                att.filename, kind, reason="berkas terlalu besar untuk diproses")))
            continue
        sniffed = package.sniff(att.filename, att.content)
        if sniffed in ("pdf", "image"):
            out.append(InspectedFile(index, att, FileSummary(att.filename, FileKind.SCAN)))
            continue
        if sniffed not in ("docx", "docm", "doc", "zip"):
            out.append(InspectedFile(index, att, FileSummary(att.filename, FileKind.OTHER)))
            continue
        try:
            filled = readback.read_form(att.content, filename=att.filename)
        except package.DocumentError as exc:
            kind = FileKind.SCAN if exc.manual_entry else FileKind.REJECTED
            out.append(InspectedFile(index, att, FileSummary(att.filename, kind,
                                                             reason=exc.reply_id)))
            continue
        if filled.form == "ptpp":
            summary = FileSummary(att.filename, FileKind.PTPP_FORM,
                                  number=filled.values.get("ptpp_number", "").strip())
        elif filled.form == "retur":
            summary = FileSummary(att.filename, FileKind.RETURN_FORM,
                                  number=filled.values.get("ptpp_number", "").strip())
        else:
            summary = FileSummary(att.filename, FileKind.DOCX_NO_FORM)
        out.append(InspectedFile(index, att, summary, filled))
    return out


def _reply(app: App, complaint: Complaint, mail: IncomingMail, *, kind: str, template: str,
           now: datetime, source: str, attachments: Sequence[str] = (),
           **context: Any) -> None:
    s = app.settings
    texts = app.texts.render(template, number=complaint.number, company_name=s.company.name,
                             **context)
    external = not s.is_internal(mail.from_.email)
    queue_mail(settings=s, now=now, kind=kind, to=[mail.from_.email], subject=texts.subject,
               body=texts.body, complaint=complaint, in_reply_to=mail.message_id,
               references=[*mail.references, mail.message_id] if mail.message_id else [],
               attachments=attachments, source=source,
               auto_reply_to=mail.from_.email if external else "")


def _recipient(mail: IncomingMail, role: Role, app: App, complaint: Complaint) -> str:
    if role == Role.DEPARTMENT:
        dep = app.settings.departments.get(complaint.department)
        return f"Bagian {dep.name}" if dep else "Bapak/Ibu"
    return mail.from_.name or "Bapak/Ibu"


def handle_reply(app: App, complaint: Complaint, mail: IncomingMail, message: store.Message,
                 role: Role, decision: ReplyDecision, files: list[InspectedFile],
                 now: datetime, source: str) -> str:
    """Carry out a reply decision inside the caller's transaction; returns the outcome name."""
    attachments = queries.attachments_of(message)
    recipient = _recipient(mail, role, app, complaint)
    if decision.action == Action.REPLY_PROBLEM:
        store.append_event(complaint=complaint, at=now, actor=mail.from_.email, source=source,
                           kind="form_refused", data={"reason": decision.message})
        _reply(app, complaint, mail, kind="form_problem", template="form_problem", now=now,
               source=source, recipient=recipient, what="email Anda",
               problems=[decision.message],
               closing="Status keluhan tidak berubah. Terima kasih atas pengertiannya.")
        return "form_refused"
    if decision.action == Action.MANUAL_ENTRY:
        scans = [f for f in files if f.summary.kind == FileKind.SCAN]
        paths = [attachments[f.index].archive_path for f in scans
                 if f.index < len(attachments) and attachments[f.index].archive_path]
        s = app.settings
        texts = app.texts.render(
            "notice_manual_entry", number=complaint.number, company_name=s.company.name,
            sender=mail.from_.email, files=[f.summary.filename for f in scans],
            filenames=", ".join(f.summary.filename for f in scans),
            archive=message.archive_path)
        queue_mail(settings=s, now=now, kind="notice_manual_entry", to=s.marketing_admin,
                   subject=texts.subject, body=texts.body, complaint=complaint,
                   attachments=paths, source=source)
        store.append_event(complaint=complaint, at=now, actor=mail.from_.email, source=source,
                           kind="manual_entry_requested",
                           data={"files": [f.summary.filename for f in scans]})
        _reply(app, complaint, mail, kind="form_problem", template="form_problem", now=now,
               source=source, recipient=recipient, what="lampiran Anda",
               problems=[decision.message], closing="Terima kasih.")
        return "manual_entry"
    assert decision.file_index is not None
    inspected = files[decision.file_index]
    assert inspected.form is not None
    row = attachments[inspected.index] if inspected.index < len(attachments) else None
    if decision.action == Action.PROCESS_PTPP:
        return _process_ptpp_form(app, complaint, mail, message, inspected, row, recipient,
                                  now, source)
    return _process_return_form(app, complaint, mail, message, inspected, row, recipient, now,
                                source)


def _received_document(app: App, complaint: Complaint, form: str, cycle: int,
                       inspected: InspectedFile, row: store.Attachment | None,
                       message: store.Message, now: datetime) -> store.Document:
    content = inspected.attachment.content or b""
    return store_document(app, complaint, form, cycle, "received", inspected.attachment.filename,
                           content, now, message=message, rel=row.archive_path if row else "")


def _issued_on(app: App, ptpp: Ptpp, complaint: Complaint) -> date:
    when = store.aware(ptpp.issued_at or complaint.received_at)
    assert when is not None
    return when.astimezone(app.settings.timezone).date()


def _submission(complaint: Complaint, form: str, cycle: int, step: str,
                filled: readback.FilledForm, accepted: bool, problems: list[str],
                sender: str, message: store.Message, document: store.Document | None,
                now: datetime) -> None:
    queries.add_submission(complaint=complaint, form=form, cycle=cycle, step=step,
                           values=dict(filled.values), how=dict(filled.how), accepted=accepted,
                           problems=problems, sender=sender, message=message,
                           document=document, now=now)


def _refuse_form(app: App, complaint: Complaint, mail: IncomingMail, message: store.Message,
                 form: str, cycle: int, step: str, filled: readback.FilledForm,
                 problems: Sequence[forms.FieldProblem], recipient: str, now: datetime,
                 source: str, *, what: str, closing: str) -> str:
    """Record the refused submission and tell the sender exactly what to fix."""
    texts = [str(p) for p in problems]
    _submission(complaint, form, cycle, step, filled, False, texts, mail.from_.email, message,
                None, now)
    store.append_event(complaint=complaint, at=now, actor=mail.from_.email, source=source,
                       kind="form_refused", data={"form": form, "step": step,
                                                  "problems": texts})
    _reply(app, complaint, mail, kind="form_problem", template="form_problem", now=now,
           source=source, recipient=recipient, what=what, problems=texts, closing=closing)
    return "form_refused"


def _process_ptpp_form(app: App, complaint: Complaint, mail: IncomingMail,
                       message: store.Message, inspected: InspectedFile,
                       row: store.Attachment | None, recipient: str, now: datetime,
                       source: str) -> str:
    filled = inspected.form
    assert filled is not None
    values = dict(filled.values)
    ptpp = current_ptpp(complaint)
    if complaint.status == states.IMPLEMENTED:
        return _process_verification_form(app, complaint, mail, message, inspected, row,
                                          recipient, now, source)
    # A department's form moves the PTPP to planned, or straight to implemented when the
    # completion part is filled too; section C is marketing administration's, read later.
    case = case_of(complaint)
    step = case.form_step(bool(values.get("completion_date", "").strip()
                               or values.get("completion_evidence", "").strip()))
    problems = forms.validate(values, step, issued_on=_issued_on(app, ptpp, complaint))
    sender = mail.from_.email
    if problems:
        return _refuse_form(
            app, complaint, mail, message, "ptpp", ptpp.cycle, step, filled, problems,
            recipient, now, source, what="formulir PTPP yang Anda kirim",
            closing="Mohon lengkapi atau perbaiki isian tersebut pada formulir yang sama, lalu "
                    "kirim kembali dengan membalas email ini. Status PTPP belum berubah.")
    doc = _received_document(app, complaint, "ptpp", ptpp.cycle, inspected, row, message, now)
    _submission(complaint, "ptpp", ptpp.cycle, step, filled, True, [], sender, message, doc,
                now)
    data = {"document": doc.archive_path, "read_by": sorted(set(filled.how.values()))}
    events = (case.receive_plan(now, data) if step == "plan"
              else case.report_done(now, data))
    save_plan(complaint, ptpp.cycle, {k: v for k, v in values.items() if v},
              values.get("root_cause", ""))
    with UnitOfWork(handlers.bus(app)) as uow:
        uow.save(complaint, case, events, at=now, actor=sender, source=source)
    _reply(app, complaint, mail, kind="form_accepted", template="form_accepted", now=now,
           source=source, recipient=recipient, title="Formulir PTPP diterima",
           what="formulir PTPP", status_label=states.LABELS_ID[complaint.status],
           next_step=("Setelah semua tindakan selesai, mohon isi bagian Penyelesaian pada "
                      "formulir yang sama dan kirim kembali dengan membalas email ini."
                      if complaint.status == states.PLANNED else
                      "Administrasi Marketing akan mengevaluasi efektivitas tindakan."))
    return f"ptpp_{complaint.status}"


def _process_verification_form(app: App, complaint: Complaint, mail: IncomingMail,
                               message: store.Message, inspected: InspectedFile,
                               row: store.Attachment | None, recipient: str, now: datetime,
                               source: str) -> str:
    """Section C filled by marketing administration: the same verification as the CLI."""
    filled = inspected.form
    assert filled is not None
    values = dict(filled.values)
    ptpp = current_ptpp(complaint)
    problems = forms.validate(values, "verify", issued_on=_issued_on(app, ptpp, complaint))
    if problems:
        return _refuse_form(
            app, complaint, mail, message, "ptpp", ptpp.cycle, "verify", filled, problems,
            recipient, now, source, what="bagian C (verifikasi) formulir PTPP",
            closing="Mohon lengkapi bagian C pada formulir yang sama, lalu kirim kembali "
                    "dengan membalas email ini. Status PTPP belum berubah.")
    doc = _received_document(app, complaint, "ptpp", ptpp.cycle, inspected, row, message, now)
    _submission(complaint, "ptpp", ptpp.cycle, "verify", filled, True, [], mail.from_.email,
                message, doc, now)
    effective = values.get("verification_result", "").strip().lower() == "efektif"
    apply_verification(app, complaint, effective=effective,
                       note=values.get("verification_note", ""),
                       verifier=values.get("verifier", "").strip() or mail.from_.email,
                       actor=mail.from_.email, source=source, now=now)
    _reply(app, complaint, mail, kind="form_accepted", template="form_accepted", now=now,
           source=source, recipient=recipient, title="Verifikasi PTPP dicatat",
           what="hasil verifikasi efektivitas", status_label=states.LABELS_ID[complaint.status],
           next_step=("PTPP ditutup; pemberitahuan dikirim ke pelanggan dan Bagian Penjualan "
                      "dan Pemasaran." if effective else
                      f"Siklus ke-{ptpp.cycle + 1} dimulai: formulir PTPP baru telah dikirim "
                      "ke bagian terkait."))
    return "ptpp_closed" if effective else "ptpp_new_cycle"


def _process_return_form(app: App, complaint: Complaint, mail: IncomingMail,
                         message: store.Message, inspected: InspectedFile,
                         row: store.Attachment | None, recipient: str, now: datetime,
                         source: str) -> str:
    s = app.settings
    filled = inspected.form
    assert filled is not None
    received = store.aware(complaint.received_at)
    assert received is not None
    problems = forms.validate(dict(filled.values), "claim",
                              issued_on=received.astimezone(s.timezone).date())
    sender = mail.from_.email
    if problems:
        return _refuse_form(
            app, complaint, mail, message, "retur", 1, "claim", filled, problems, recipient,
            now, source, what="formulir klaim retur Anda",
            closing="Mohon lengkapi isian tersebut pada formulir yang sama, lalu kirim kembali "
                    "dengan membalas email ini.")
    doc = _received_document(app, complaint, "retur", 1, inspected, row, message, now)
    _submission(complaint, "retur", 1, "claim", filled, True, [], sender, message, doc, now)
    store.append_event(complaint=complaint, at=now, actor=sender, source=source,
                       kind="return_claim_received", data={"document": doc.archive_path})
    items = [f"{v}" for k, v in sorted(filled.values.items())
             if k.startswith("item_") and k.endswith("_name") and v.strip()]
    texts = app.texts.render("notice_return_claim", number=complaint.number,
                             company_name=s.company.name,
                             customer=customer_name(complaint) or sender, items=items)
    queue_mail(settings=s, now=now, kind="notice_return_claim", to=s.marketing_admin,
               subject=texts.subject, body=texts.body, complaint=complaint,
               attachments=[doc.archive_path], source=source)
    _reply(app, complaint, mail, kind="form_accepted", template="form_accepted", now=now,
           source=source, recipient=recipient, title="Formulir klaim retur diterima",
           what="formulir klaim retur Anda", status_label="Klaim retur sedang diperiksa",
           next_step="Kami akan mengabarkan hasil pemeriksaan dan keputusan klaim.")
    return "return_claim"


# ---- marketing administration's decisions (shared by the CLI and, later, mail replies) -----

def load(number: str) -> Complaint:
    complaint = store.complaint_by_number(number)
    if complaint is None:
        raise NotFound(f"no complaint {number}; see `mailproc complaints list`")
    return complaint


def _customer_email(complaint: Complaint) -> str:
    return complaint.customer.email if complaint.customer_id and complaint.customer.email else ""


Rendered = tuple[tuple[str, bytes] | None, str]  # (filename, content) or None, and why


def render_closure(app: App, complaint: Complaint, *, note: str, verifier: str,
                   now: datetime) -> Rendered:
    """The closure report of a complaint about to be verified effective, rendered from its
    record as it will read once closed (no write needed, so it can run before the write
    transaction). A report that cannot be rendered does not stop the closing: the reason
    comes back instead, and the notice goes without it."""
    [record] = reportdata.load_records(app.settings, numbers=[complaint.number])
    closed = records.closed_effective(record, note=note, verifier=verifier, at=now)
    try:
        return reportjobs.render_closure(app, complaint.number, closed), ""
    except _RENDER_FAILURES as exc:
        log.error("closure report of %s could not be rendered: %s", complaint.number, exc)
        return None, f"{exc}"


def _closure_documents(app: App, complaint: Complaint, closure: Rendered, cycle: int,
                       now: datetime) -> list[str]:
    """Archive the closure report; with the final PTPP form, the closure mail's attachments."""
    rendered, error = closure
    if rendered is None:
        store.append_event(complaint=complaint, at=now, actor="mailproc", source="closure",
                           kind=EventKind.CLOSURE_REPORT_FAILED, data={"error": error})
        return []
    filename, content = rendered
    report = store_document(app, complaint, "closure", cycle, "generated", filename, content,
                            now)
    final = queries.latest_document(complaint, "ptpp")
    return [report.archive_path] + ([final.archive_path] if final else [])


def apply_verification(app: App, complaint: Complaint, *, effective: bool, note: str,
                       verifier: str, actor: str, source: str, now: datetime,
                       closure: Rendered | None = None,
                       next_form: tuple[str, bytes] | None = None) -> Complaint:
    """Procedure steps 9-10 inside the caller's transaction: effective closes the PTPP (the
    bus mails the customer and sales & marketing, with the closure report: `closure` when the
    caller rendered it before the transaction, else rendered here); not effective starts a
    new cycle, issued to the department with the previous cycle shown on the form
    (`next_form`, or rendered here). Gates: only after implementation, never without an
    evaluation note. Called inside a mail's transaction, the documents are rendered inside
    it: what the mail decides is known only there."""
    case = case_of(complaint)
    verifier = verifier or actor
    try:
        events = case.verify(effective=effective, note=note, verifier=verifier, at=now)
    except lifecycle.LifecycleError as exc:
        raise WorkflowError(str(exc), exc.id_message) from None
    if effective:
        if closure is None:  # a verification by mail
            closure = render_closure(app, complaint, note=note, verifier=verifier, now=now)
        closed = events[-1]
        assert closed.kind == EventKind.COMPLAINT_CLOSED
        closed.data["documents"] = _closure_documents(app, complaint, closure,
                                                      case.cycle.number, now)
    with UnitOfWork(handlers.bus(app)) as uow:
        uow.save(complaint, case, events, at=now, actor=actor, source=source)
    if not effective:
        # Cycle n + 1 was opened by the aggregate; its form goes out now.
        rendered = next_form or render_ptpp(app, complaint, now)
        issue_ptpp(app, complaint, now=now, actor=actor, source=source, rendered=rendered)
    return complaint


def render_next_cycle(app: App, complaint: Complaint, *, note: str,
                      now: datetime) -> tuple[str, bytes]:
    """The form of cycle n + 1 as it will read once cycle n is verified not effective with
    `note` (shown on the form as the previous cycle's evaluation): rendered before the write
    transaction; raises like `render_ptpp`."""
    ptpp = current_ptpp(complaint)
    previous = _previous_cycle(complaint, ptpp.cycle + 1) or {}
    facts = replace(form_facts(complaint, ptpp, complaint.department), cycle=ptpp.cycle + 1,
                    previous={**previous, "verification_note": note.strip()})
    return render_ptpp_from(app, facts, _photos(app, complaint), now)


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
    if effective:
        closure = render_closure(app, complaint, note=note, verifier=verifier or actor,
                                 now=now)
    else:
        next_form = render_next_cycle(app, complaint, note=note, now=now)
    with UnitOfWork():
        apply_verification(app, complaint, effective=effective, note=note, verifier=verifier,
                           actor=actor, source=source, now=now, closure=closure,
                           next_form=next_form)
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


def set_send_analysis(app: App, number: str, *, wanted: bool, actor: str,
                      source: str) -> Complaint:
    """The customer asked (or no longer asks) to receive the analysis and plan."""
    with UnitOfWork() as uow:
        complaint, case = uow.load(number)
        uow.save(complaint, case, case.set_send_analysis(wanted), at=app.clock(), actor=actor,
                 source=source)
    return load(number)


def ask_customer(app: App, complaint: Complaint, *, question: str, actor: str,
                 source: str) -> None:
    """Marketing administration's clarification question, mailed to the customer in the
    complaint's thread so the answer threads back (procedure step 4)."""
    s = app.settings
    email = _customer_email(complaint)
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


def apply_mail_decisions(app: App, complaint: Complaint, mail: IncomingMail,
                         parsed: decisions.Parsed, now: datetime, source: str) -> str:
    """Carry out marketing administration's decision lines (inside the mail's transaction),
    each in a savepoint: a refused one changes nothing and is reported, the others stand.
    The same operations as the CLI; the sender is the operator."""
    actor = mail.from_.email
    number = complaint.number
    done: list[str] = []
    refused = [f"\"{u}\": kata keputusan tidak dikenal" for u in parsed.unknown]
    refused += list(parsed.problems)
    for d in parsed.decisions:
        try:
            with store.savepoint():
                done.append(_apply_decision(app, number, d, actor, source))
        except (WorkflowError, NotFound) as exc:
            text = exc.id_message if isinstance(exc, WorkflowError) else str(exc)
            refused.append(f"{d.kind.value}: {text}")
        except (MailprocError, OSError) as exc:
            refused.append(f"{d.kind.value}: gagal dijalankan ({type(exc).__name__}: {exc})")
    complaint = load(number)
    store.append_event(complaint=complaint, at=now, actor=actor, source=source,
                       kind="decisions_received", data={"done": done, "refused": refused})
    _reply(app, complaint, mail, kind="decision_reply", template="decision_reply", now=now,
           source=source, done=done, refused=refused,
           help=decisions.ACCEPTED_HELP if (parsed.unknown or parsed.problems) else "",
           status_label=states.LABELS_ID[complaint.status])
    return "decision" if done and not refused else "decision_refused" if not done \
        else "decision_partly"


def refuse_mail_decisions(app: App, complaint: Complaint, mail: IncomingMail, now: datetime,
                          source: str) -> str:
    """Decision lines from someone who is not marketing administration: recorded, refused."""
    store.append_event(complaint=complaint, at=now, actor=mail.from_.email, source=source,
                       kind="decision_refused",
                       data={"reason": "sender is not marketing administration"})
    _reply(app, complaint, mail, kind="decision_reply", template="decision_reply", now=now,
           source=source, done=[],
           refused=["keputusan atas keluhan hanya dapat dikirim oleh Administrasi Marketing; "
                    "email Anda dicatat sebagai pesan pada keluhan ini"],
           help="", status_label=states.LABELS_ID[complaint.status])
    return "decision_refused"


def _apply_decision(app: App, number: str, d: decisions.Decision, actor: str,
                    source: str) -> str:
    """One decision; returns what changed, in Indonesian."""
    k = decisions.Kind
    if d.kind == k.ASSIGN:
        c = assign(app, number, d.value, actor=actor, source=source)
        dep = app.settings.departments[c.department]
        return f"Bagian ditetapkan: {dep.name}; formulir PTPP telah dikirim ke bagian tersebut."
    if d.kind == k.EFFECTIVE:
        c = verify(app, number, effective=d.value == "YA", note=d.note, actor=actor,
                   source=source)
        if c.status == states.CLOSED:
            return "Hasil verifikasi: EFEKTIF. PTPP ditutup; pelanggan dan Bagian Penjualan " \
                   "dan Pemasaran telah diberi tahu."
        cycle = current_ptpp(c).cycle
        return (f"Hasil verifikasi: TIDAK EFEKTIF. Siklus ke-{cycle} dimulai; formulir PTPP "
                "baru telah dikirim ke bagian terkait.")
    if d.kind == k.REJECT:
        reject(app, number, reason=d.value, actor=actor, source=source)
        return f"Keluhan ditolak (bukan keluhan): {d.value}"
    if d.kind == k.NOTE:
        add_note(app, number, text=d.value, actor=actor, source=source)
        return "Catatan ditambahkan."
    if d.kind == k.ASK_CUSTOMER:
        ask_customer(app, load(number), question=d.value, actor=actor, source=source)
        return "Pertanyaan telah dikirim ke pelanggan; jawabannya akan masuk ke keluhan ini."
    if d.kind == k.SEND_ANALYSIS:
        set_send_analysis(app, number, wanted=d.value == "YA", actor=actor, source=source)
        return ("Hasil analisis dan rencana tindakan akan dikirim juga ke pelanggan."
                if d.value == "YA" else "Hasil analisis tidak dikirim ke pelanggan.")
    record_response(app, number, text=d.value, actor=actor, source=source)
    return "Tanggapan kepada pelanggan dicatat."
