"""A complaint's documents: what its forms show, rendering them, and keeping them.

The PTPP and return-claim forms are rendered from plain `FormFacts`, read from a stored
complaint (`form_facts`) or, at registration, gathered before the complaint is stored
(`prerender_on_registration`), so that rendering happens before the write transaction opens;
a `Prerendered` form is used inside it only while it still fits the stored complaint. The
closure report is rendered from the record as it will read once closed (`render_closure`),
the next cycle's form from the facts plus the evaluation note (`render_next_cycle`).
`store_document` writes a document to the archive (staged until commit) and records it.

Used by the use cases (`workflow`, `replies`) and the handlers (`handlers`); decides no step
of the procedure and queues no mail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from mailproc import store
from mailproc.bootstrap import App
from mailproc.domain import forms, records, states
from mailproc.domain.lifecycle import EventKind
from mailproc.domain.records import customer_label
from mailproc.errors import MailprocError
from mailproc.outgoing.texts import format_date_id, shorten
from mailproc.store import Complaint, Ptpp, queries, reportdata
from mailproc.store.uow import current_cycle

log = logging.getLogger(__name__)


def render(template: Path | bytes, context: Mapping[str, Any], **options: Any) -> bytes:
    """mailproc.forms.render.render, imported at the first form rendered: docxtpl, python-docx,
    Jinja and lxml take long to load, and a poll that renders no form needs none of them."""
    from mailproc.forms.render import render as render_form

    return render_form(template, context, **options)


def store_document(app: App, complaint: Complaint, form: str, cycle: int, origin: str,
                   filename: str, content: bytes, now: datetime,
                   message: store.Message | None = None, rel: str = "") -> store.Document:
    """Archive `content` in the complaint's folder (unless `rel` says where it already is) and
    record it; call inside the transaction of the step the document belongs to."""
    if not rel:
        when = store.aware(complaint.received_at).astimezone(app.settings.timezone)
        # Never over an earlier document: a reassignment or a new cycle gets a file (and a
        # name, `…-v2.docx`) of its own.
        rel = app.archive.store_document(when, app.settings.numbering.slug(complaint.number),
                                         filename, content, taken=queries.document_path_taken)
        filename = PurePosixPath(rel).name
    doc = queries.add_document(complaint=complaint, form=form, cycle=cycle, origin=origin,
                               filename=filename, archive_path=rel, content=content,
                               message=message, now=now)
    if origin != "received":  # a received form is an attachment: its mail recorded it
        store.record_files(complaint, [(rel, doc.sha256, doc.size)], at=now, actor="mailproc",
                           source="documents", form=form, cycle=cycle)
    return doc


def customer_email(complaint: Complaint) -> str:
    """The complaint's customer's address, '' when unknown (taken by phone, say)."""
    c = complaint.customer
    return (c.email or "") if c is not None else ""


def customer_name(complaint: Complaint) -> str:
    """The complaint's customer as forms and mail show them, '' when unknown."""
    c = complaint.customer
    return "" if c is None else customer_label(c.name, c.email)


def category_label(app: App, category: str) -> str:
    """The routing category's label as forms and mail show it."""
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
    return {"cycle": prev.cycle, "number": prev.number,
            "root_cause": prev.root_cause or plan.get("root_cause", ""),
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
    severity: str = "minor"  # the PTPP category, a domain.states.Severity value
    repeat_of: str = ""  # the earlier complaint this one repeats, '' when none
    ptpp_number: str = ""  # this cycle's PTPP number when it is not `number` (cycle 2+)


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
        previous=_previous_cycle(complaint, cycle), severity=complaint.severity,
        repeat_of=complaint.repeat_of,
        ptpp_number=ptpp.number if ptpp is not None else "")


def ptpp_context(app: App, facts: FormFacts, now: datetime) -> dict[str, Any]:
    """The docxtpl context of FM-MR-15 (keys documented in mailproc.forms.render)."""
    s = app.settings
    form = s.forms["ptpp"]
    dep = s.departments.get(facts.department)
    return {
        "company": app.company_context(),
        "doc": {"number": form.number, "revision": form.revision,
                "revision_date": form.revision_date},
        "ptpp_number": facts.ptpp_number or facts.number,
        "date": now.astimezone(s.timezone).strftime("%d/%m/%Y"),
        "to_department": dep.name if dep else facts.department,
        "from_issuer": s.issuer,
        "reference": f"Keluhan pelanggan {facts.number}, diterima "
                     f"{format_date_id(facts.received_at, s.timezone)}",
        "cycle": facts.cycle,
        "category_label": category_label(app, facts.category),
        "repeat_note": (f"Ya: pelanggan yang sama, produk atau batch yang sama dengan keluhan "
                        f"{facts.repeat_of}" if facts.repeat_of else "Tidak"),
        "severity": states.SEVERITY_LABELS[states.Severity(facts.severity)],
        "customer": customer_label(facts.customer_name, facts.customer_email),
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


def document_name(complaint: Complaint, form: str, cycle: int, app: App) -> str:
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
    facts = form_facts(complaint, current_cycle(complaint), department)
    return render_ptpp_from(app, facts, _photos(app, complaint), now)


def try_render_ptpp(app: App, complaint: Complaint, now: datetime
                    ) -> tuple[tuple[str, bytes] | None, str]:
    """Render, turning a failure into a message for marketing administration."""
    try:
        return render_ptpp(app, complaint, now), ""
    except RENDER_FAILURES as exc:
        log.error("PTPP form of %s could not be rendered: %s", complaint.number, exc)
        return None, failure_text(exc)


# What a broken template or an unreadable file raises while rendering.
RENDER_FAILURES = (MailprocError, OSError, ValueError)


def failure_text(exc: BaseException | None) -> str:
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
        except RENDER_FAILURES as exc:
            log.error("PTPP form of %s could not be rendered: %s", facts.number, exc)
            ptpp = Prerendered("ptpp", facts, now, ids, None, exc)
    if return_form:
        try:
            retur = Prerendered("retur", facts, now, (),
                                render_return_form_from(app, facts, now))
        except RENDER_FAILURES as exc:
            retur = Prerendered("retur", facts, now, (), None, exc)
    return RegistrationForms(ptpp, retur)


def retur_context(app: App, facts: FormFacts, now: datetime) -> dict[str, Any]:
    s = app.settings
    form = s.forms["retur"]
    return {
        "company": app.company_context(),
        "doc": {"number": form.number, "revision": form.revision,
                "revision_date": form.revision_date},
        "claim_number": f"KR-{facts.number}",
        "ptpp_number": facts.ptpp_number or facts.number,
        "date": now.astimezone(s.timezone).strftime("%d/%m/%Y"),
        "customer": facts.customer_name or facts.customer_email,
        "contact": facts.customer_email,
        "po": "",
        "delivery_note": facts.delivery_note,
        "invoice": facts.invoice,
        "items": [{"name": facts.product, "batch": facts.batch,
                   "qty_sent": facts.quantity, "qty_return": "", "unit": ""}]
        if facts.product or facts.batch else [],
        "description": shorten(facts.description, 1500),
    }


def render_return_form_from(app: App, facts: FormFacts, now: datetime) -> tuple[str, bytes]:
    content = render(app.settings.forms["retur"].template, retur_context(app, facts, now))
    return _document_name_of(facts.number, "retur", 1, app), content


def render_return_form(app: App, complaint: Complaint, now: datetime) -> tuple[str, bytes]:
    return render_return_form_from(app, form_facts(complaint), now)


Rendered = tuple[tuple[str, bytes] | None, str]  # (filename, content) or None, and why


def render_closure(app: App, complaint: Complaint, *, note: str, verifier: str,
                   now: datetime) -> Rendered:
    """The closure report of a complaint about to be verified effective, rendered from its
    record as it will read once closed (no write needed, so it can run before the write
    transaction). A report that cannot be rendered does not stop the closing: the reason
    comes back instead, and the notice goes without it."""
    [record] = reportdata.load_records(app.settings, numbers=[complaint.number])
    return _closure_of(app, records.closed_effective(record, note=note, verifier=verifier,
                                                     at=now))


def _closure_of(app: App, record: records.ComplaintRecord) -> Rendered:
    """The closure report of `record`, or why it could not be rendered."""
    from mailproc.reports import jobs as reportjobs  # the report writers: only when needed

    try:
        return reportjobs.render_closure(app, record.number, record), ""
    except RENDER_FAILURES as exc:
        log.error("closure report of %s could not be rendered: %s", record.number, exc)
        return None, f"{exc}"


def render_closure_rated(app: App, complaint: Complaint, rating: int) -> Rendered:
    """The closure report again, now with the customer's rating (before the write
    transaction). Archived beside the first one under the next versioned name."""
    [record] = reportdata.load_records(app.settings, numbers=[complaint.number])
    return _closure_of(app, replace(record, satisfaction=rating))


def closure_documents(app: App, complaint: Complaint, closure: Rendered, cycle: int,
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


def verified_form(app: App, complaint: Complaint, cycle: int, *, effective: bool, note: str,
                  verifier: str, new_number: str, now: datetime) -> tuple[str, bytes] | None:
    """The cycle's form as the record of its verification: the newest copy of it (the
    department's filled form, else the one issued) with section C written in (the result, the
    status, the note, the date, the verifier and, when not effective, "No. PTPP baru").
    None when the cycle has no form or it cannot be read (the verification stands without
    it; the log says why)."""
    from mailproc.forms.fill import fill_controls

    doc = queries.cycle_form(complaint, cycle)
    if doc is None:
        return None
    values = {
        "verification_result": "Efektif" if effective else "Tidak efektif",
        "verification_status": "Closed" if effective else "Open",
        "verification_note": note.strip(),
        "verification_date": now.astimezone(app.settings.timezone).strftime("%d/%m/%Y"),
        "verifier": verifier,
        "new_ptpp_number": "" if effective else new_number,
    }
    try:
        content, _ = fill_controls(app.archive.read(doc.archive_path), values)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("the verified copy of %s cycle %s was not made: %s", complaint.number,
                    cycle, exc)
        return None
    name = _document_name_of(complaint.number, "ptpp", cycle, app)
    return name.removesuffix(".docx") + "-terverifikasi.docx", content


def render_next_cycle(app: App, complaint: Complaint, *, note: str, number: str,
                      now: datetime) -> tuple[str, bytes]:
    """The form of cycle n + 1, PTPP `number`, as it will read once cycle n is verified not
    effective with `note` (shown on the form as the previous cycle's evaluation): rendered
    before the write transaction; raises like `render_ptpp`."""
    ptpp = current_cycle(complaint)
    previous = _previous_cycle(complaint, ptpp.cycle + 1) or {}
    facts = replace(form_facts(complaint, ptpp, complaint.department), cycle=ptpp.cycle + 1,
                    ptpp_number=number,
                    previous={**previous, "verification_note": note.strip()})
    return render_ptpp_from(app, facts, _photos(app, complaint), now)
