"""A reply by mail to a complaint: the forms it carries read and acted on (a department's
filled PTPP form moves the PTPP; section C verifies it; a customer's return-claim form is
recorded), and marketing administration's decision lines carried out, each answered to its
sender. The facts are read before the transaction (`inspect_files`); the rest runs inside
the mail's transaction, through the use cases of `workflow`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mailproc import store
from mailproc.bootstrap import App
from mailproc.domain import decisions, forms, states
from mailproc.domain.replies import Action, FileKind, FileSummary, ReplyDecision, Role
from mailproc.errors import MailprocError, NotFound
from mailproc.forms import package, readback
from mailproc.intake.parse import Attachment, IncomingMail
from mailproc.outgoing.outbox import queue_mail
from mailproc.ptpp import handlers
from mailproc.ptpp.documents import customer_email, customer_name, store_document
from mailproc.ptpp.workflow import (
    WorkflowError,
    add_note,
    apply_verification,
    ask_customer,
    assign,
    classify,
    current_ptpp,
    find_department,
    involve,
    load,
    record_response,
    reject,
    return_step,
    set_send_analysis,
    verify,
)
from mailproc.store import Complaint, Ptpp, queries
from mailproc.store.uow import UnitOfWork, case_of, save_plan

log = logging.getLogger(__name__)


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


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
    problems = forms.validate(values, step, issued_on=_issued_on(app, ptpp, complaint),
                              today=now.astimezone(app.settings.timezone).date())
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
        cycle = set_send_analysis(app, number, wanted=d.value == "YA", actor=actor,
                                  source=source)
        if d.value != "YA":
            return "Hasil analisis tidak dikirim ke pelanggan."
        if cycle is not None:
            return (f"Hasil analisis dan rencana tindakan siklus {cycle} telah dikirim ke "
                    "pelanggan.")
        return ("Hasil analisis dan rencana tindakan akan dikirim ke pelanggan setelah "
                "diterima dari bagian terkait.")
    if d.kind == k.RETURN_INSPECTION:
        return_step(app, number, "inspect", actor=actor, source=source, result=d.value)
        return "Hasil pemeriksaan barang retur dicatat."
    if d.kind == k.RETURN_DECISION:
        c = return_step(app, number, "decide", actor=actor, source=source,
                        approved=d.value == "DISETUJUI", reason=d.note)
        told = " dan pelanggan telah diberi tahu" if customer_email(c) else ""
        return (f"Klaim retur {'disetujui' if d.value == 'DISETUJUI' else 'ditolak'}{told}.")
    if d.kind == k.RETURN_SETTLEMENT:
        c = return_step(app, number, "settle", actor=actor, source=source, kind=d.value,
                        reference=d.note)
        told = "; pelanggan telah diberi tahu" if customer_email(c) else ""
        return f"Penyelesaian klaim retur dicatat{told}."
    if d.kind == k.INVOLVE:
        involve(app, number, d.value, actor=actor, source=source)
        dep = find_department(app.settings, d.value)
        return (f"Bagian {dep.name} dilibatkan; formulir PTPP dan email keluhan telah dikirim "
                "ke bagian tersebut.")
    if d.kind == k.SEVERITY:
        c = classify(app, number, d.value, actor=actor, source=source)
        return ("Kategori PTPP ditetapkan: "
                f"{states.SEVERITY_LABELS[states.Severity(c.severity)]}.")
    record_response(app, number, text=d.value, actor=actor, source=source)
    return "Tanggapan kepada pelanggan dicatat."
