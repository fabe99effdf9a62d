"""The rows behind records kept as the law asks (`mailproc records purge`, `mailproc customer
export / erase`; the rules are in `domain.records_law`, the use cases in `ops.records`):
which complaints are finished before a date, which raw files (mail, attachments) a complaint
or a customer has in the archive, a customer's whole record as plain data, and the rewriting
of a customer's rows with a pseudonym.

What a purge or an erasure keeps of a message or an attachment: the row, with its headers
(sender, subject, date), sha256 and size, so the register and the thread stay readable and a
mail delivered again is still known as a duplicate; its `archive_path` is cleared (the file
is gone) and an attachment's `status` becomes 'purged'. A form received back (an attachment
that is also a document) is a record of the procedure and is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee as pw

from mailproc.domain.lifecycle import OutboxStatus
from mailproc.domain.records_law import FINISHED, Redactor
from mailproc.store.chain import rewrite_event
from mailproc.store.models import (
    Attachment,
    Complaint,
    Customer,
    Document,
    Event,
    FormSubmission,
    Message,
    OutgoingMail,
    Ptpp,
    aware,
    utcnow_naive,
)

PURGED = "purged"  # the status of an attachment whose file was removed


@dataclass(frozen=True)
class RawFile:
    """A raw mail (.eml) or an attachment in the archive, as its row records it."""

    table: str  # 'message' or 'attachment'
    row_id: int
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Finished:
    id: int
    number: str
    status: str
    closed_at: datetime


def finished_before(bound: datetime) -> list[Finished]:
    """The complaints closed or rejected before `bound`, oldest first."""
    rows = (Complaint.select(Complaint.id, Complaint.number, Complaint.status,
                             Complaint.closed_at)
            .where(Complaint.status.in_(sorted(FINISHED)), Complaint.closed_at.is_null(False),
                   Complaint.closed_at < utcnow_naive(bound))
            .order_by(Complaint.closed_at, Complaint.id).tuples())
    return [Finished(cid, number, status, aware(closed))  # type: ignore[arg-type]
            for cid, number, status, closed in rows]


def complaint_by_id(complaint_id: int) -> Complaint:
    return Complaint.get_by_id(complaint_id)


def _document_paths(complaint_ids: Iterable[int]) -> set[str]:
    ids = list(complaint_ids)
    if not ids:
        return set()
    return {p for (p,) in Document.select(Document.archive_path)
            .where(Document.complaint.in_(ids)).tuples()}


def _files(messages: pw.Query, attachments: pw.Query, keep: set[str]) -> list[RawFile]:
    files = [RawFile("message", mid, path, digest, size) for mid, path, digest, size in
             messages.select(Message.id, Message.archive_path, Message.sha256, Message.size)
             .where(Message.archive_path != "").order_by(Message.id).tuples()]
    seen = {f.path for f in files}
    for aid, path, digest, size in (attachments.select(Attachment.id, Attachment.archive_path,
                                                       Attachment.sha256, Attachment.size)
                                    .where(Attachment.archive_path != "")
                                    .order_by(Attachment.id).tuples()):
        if path not in keep and path not in seen:
            seen.add(path)
            files.append(RawFile("attachment", aid, path, digest, size))
    return files


def raw_files(complaint_id: int) -> list[RawFile]:
    """The raw mail and attachments of a complaint still in the archive (the forms received
    back among its attachments left out: they are documents, kept)."""
    messages = Message.select().where(Message.complaint == complaint_id)
    attachments = Attachment.select().where(
        (Attachment.complaint == complaint_id)
        | Attachment.message.in_(Message.select(Message.id)
                                 .where(Message.complaint == complaint_id)))
    return _files(messages, attachments, _document_paths([complaint_id]))


def loose_raw_files(address: str, complaint_ids: Iterable[int]) -> list[RawFile]:
    """The raw mail from `address` that belongs to none of `complaint_ids` (auto-replies,
    quarantined mail, mail on someone else's complaint), with its attachments."""
    ids = list(complaint_ids)
    mine = Message.select(Message.id).where(_from(address))
    if ids:
        mine = mine.where(Message.complaint.is_null() | Message.complaint.not_in(ids))
    messages = Message.select().where(Message.id.in_(mine))
    attachments = Attachment.select().where(Attachment.message.in_(mine))
    return _files(messages, attachments, _document_paths(ids))


def document_count(complaint_ids: Iterable[int]) -> int:
    ids = list(complaint_ids)
    return Document.select().where(Document.complaint.in_(ids)).count() if ids else 0


def _from(address: str) -> pw.Expression:
    return pw.fn.LOWER(Message.from_addr) == address.strip().lower()


def forget_files(files: Iterable[RawFile]) -> None:
    """Their rows no longer name the files (removed from the archive after the commit)."""
    files = list(files)
    messages = [f.row_id for f in files if f.table == "message"]
    attachments = [f.row_id for f in files if f.table == "attachment"]
    if messages:
        Message.update(archive_path="").where(Message.id.in_(messages)).execute()
    if attachments:
        (Attachment.update(archive_path="", status=PURGED)
         .where(Attachment.id.in_(attachments)).execute())


# ---- one customer ------------------------------------------------------------------------

def customer_by_email(address: str) -> Customer | None:
    return Customer.get_or_none(pw.fn.LOWER(Customer.email) == address.strip().lower())


def complaints_of(customer: Customer) -> list[Complaint]:
    return list(Complaint.select().where(Complaint.customer == customer)
                .order_by(Complaint.id))


def _iso(value: datetime | None) -> str | None:
    value = aware(value)
    return value.isoformat() if value else None


def _json(text: str, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return text


def _message(m: Message, attachments: list[Attachment]) -> dict[str, Any]:
    return {"direction": m.direction, "kind": m.kind, "message_id": m.message_id,
            "from": m.from_addr, "to": m.to_addrs, "subject": m.subject,
            "date": _iso(m.sent_at), "processed_at": _iso(m.processed_at), "size": m.size,
            "sha256": m.sha256 or None, "archive": m.archive_path or None,
            "attachments": [_attachment(a) for a in attachments]}


def _attachment(a: Attachment) -> dict[str, Any]:
    return {"filename": a.filename, "original_filename": a.original_filename,
            "content_type": a.content_type, "size": a.size, "sha256": a.sha256,
            "status": a.status, "archive": a.archive_path or None}


def customer_record(customer: Customer) -> tuple[dict[str, Any], list[str]]:
    """One customer's data as plain JSON-able values (their row; their complaints with the
    cycles, documents, messages and events; their other mail in and the mail sent to them),
    and the archive paths it names (raw mail, attachments, documents), oldest first."""
    address = (customer.email or "").lower()
    complaints = complaints_of(customer)
    ids = [c.id for c in complaints]
    paths: list[str] = []
    out_complaints = []
    for c in complaints:
        messages = list(Message.select().where(Message.complaint == c).order_by(Message.id))
        attachments: dict[int | None, list[Attachment]] = {}
        for a in (Attachment.select().where((Attachment.complaint == c) | Attachment.message.in_(
                [m.id for m in messages])).order_by(Attachment.id)):
            attachments.setdefault(a.message_id, []).append(a)
        documents = list(Document.select().where(Document.complaint == c).order_by(Document.id))
        for m in messages:
            paths += [m.archive_path] + [a.archive_path for a in attachments.get(m.id, [])]
        paths += [a.archive_path for a in attachments.get(None, [])]
        paths += [d.archive_path for d in documents]
        out_complaints.append({
            "number": c.number, "status": c.status, "channel": c.channel,
            "received_at": _iso(c.received_at), "closed_at": _iso(c.closed_at),
            "subject": c.subject, "description": c.description, "contact": c.contact,
            "received_by": c.received_by, "category": c.category, "severity": c.severity,
            "department": c.department, "product": c.product, "batch": c.batch,
            "quantity": c.quantity, "invoice": c.invoice, "delivery_note": c.delivery_note,
            "return_requested": c.return_requested,
            "return_claim": _json(c.return_state, {}), "repeat_of": c.repeat_of or None,
            "satisfaction": c.satisfaction, "first_response_at": _iso(c.first_response_at),
            "first_response_note": c.first_response_note,
            "rejected_reason": c.rejected_reason,
            "cycles": [{"cycle": p.cycle, "number": p.number, "department": p.department,
                        "status": p.status, "issued_at": _iso(p.issued_at),
                        "planned_at": _iso(p.planned_at),
                        "implemented_at": _iso(p.implemented_at),
                        "root_cause": p.root_cause, "plan": _json(p.plan, {}),
                        "verification_result": p.verification_result,
                        "verification_note": p.verification_note,
                        "verified_at": _iso(p.verified_at), "closed_at": _iso(p.closed_at)}
                       for p in Ptpp.select().where(Ptpp.complaint == c).order_by(Ptpp.cycle)],
            "documents": [{"form": d.form, "cycle": d.cycle, "origin": d.origin,
                           "filename": d.filename, "archive": d.archive_path,
                           "sha256": d.sha256, "size": d.size, "at": _iso(d.created_at)}
                          for d in documents],
            "messages": [_message(m, attachments.get(m.id, [])) for m in messages],
            "attachments_entered_by_hand": [_attachment(a) for a in attachments.get(None, [])],
            "events": [{"at": _iso(e.at), "kind": e.kind, "actor": e.actor,
                        "source": e.source, "data": _json(e.data, {})}
                       for e in Event.select().where(Event.complaint == c).order_by(Event.id)],
        })
    other = Message.select().where(_from(address)) if address else Message.select().where(
        Message.id == 0)
    if ids:
        other = other.where(Message.complaint.is_null() | Message.complaint.not_in(ids))
    other_messages = []
    for m in other.order_by(Message.id):
        atts = list(Attachment.select().where(Attachment.message == m).order_by(Attachment.id))
        paths += [m.archive_path] + [a.archive_path for a in atts]
        other_messages.append(_message(m, atts))
    sent = []
    if address:
        query = OutgoingMail.select().where(
            OutgoingMail.to_addrs.contains(address) | OutgoingMail.cc_addrs.contains(address)
            | (OutgoingMail.auto_reply_to == address)).order_by(OutgoingMail.id)
        sent = [{"kind": o.kind, "to": _json(o.to_addrs, []), "cc": _json(o.cc_addrs, []),
                 "subject": o.subject, "body": o.body_text, "status": o.status,
                 "created_at": _iso(o.created_at), "sent_at": _iso(o.sent_at),
                 "attachments": _json(o.attachments, [])} for o in query]
    record = {
        "customer": {"name": customer.name, "email": customer.email,
                     "organization": customer.organization, "phone": customer.phone,
                     "created_at": _iso(customer.created_at)},
        "complaints": out_complaints,
        "other_mail_received": other_messages,
        "mail_sent_to_customer": sent,
    }
    return record, list(dict.fromkeys(p for p in paths if p))


@dataclass(frozen=True)
class Erased:
    """What an erasure rewrote: counts of rows per table, and the events whose content it
    replaced (event id, digest of the new content) for the erasure event to vouch for."""

    rows: dict[str, int]
    events: list[tuple[int, str]]


def _redact_row(row: Any, fields: Iterable[str], redact: Redactor, *,
                json_fields: Iterable[str] = ()) -> bool:
    changed = False
    for name in fields:
        old = getattr(row, name) or ""
        new = redact.text(old)
        if new != old:
            setattr(row, name, new)
            changed = True
    for name in json_fields:
        old = getattr(row, name) or ""
        if not redact.changes(old):
            continue
        try:
            new = json.dumps(redact.value(json.loads(old)), ensure_ascii=False)
        except ValueError:
            new = redact.text(old)
        setattr(row, name, new)
        changed = True
    return changed


def erase_customer(customer: Customer, complaints: list[Complaint], redact: Redactor,
                   pseudonym: str, *, note: str) -> Erased:
    """Replace the customer's personal data with `pseudonym` in every row that holds it:
    their customer row (the address removed: a later mail from it is a new customer), their
    complaints' text (contact cleared), cycles, form submissions, the messages from or to them
    and their attachments' names, the mail sent to them (still waiting: marked failed with
    `note`), and the events of the log (`rewrite_event`). Call inside `transaction()`."""
    address = (customer.email or "").lower()
    ids = [c.id for c in complaints]
    rows = {"customer": 1, "complaint": 0, "ptpp": 0, "form_submission": 0, "message": 0,
            "attachment": 0, "outgoing_mail": 0, "event": 0}
    customer.name, customer.email, customer.organization, customer.phone = (
        pseudonym, None, "", "")
    customer.save()
    for c in complaints:
        changed = _redact_row(c, ("subject", "description", "first_response_note",
                                  "rejected_reason"), redact, json_fields=("return_state",))
        if c.contact:
            c.contact, changed = "", True
        if changed:
            c.save()
            rows["complaint"] += 1
    if ids:
        for p in Ptpp.select().where(Ptpp.complaint.in_(ids)):
            if _redact_row(p, ("root_cause", "verification_note"), redact,
                           json_fields=("plan",)):
                p.save()
                rows["ptpp"] += 1
        for f in FormSubmission.select().where(FormSubmission.complaint.in_(ids)):
            if _redact_row(f, ("sender",), redact, json_fields=("values", "problems")):
                f.save()
                rows["form_submission"] += 1
    who = _from(address) if address else (Message.id == 0)
    if address:
        who |= Message.to_addrs.contains(address)
    if ids:
        who |= Message.complaint.in_(ids)
    messages = list(Message.select().where(who))
    for m in messages:
        if _redact_row(m, ("from_addr", "to_addrs", "subject", "reason"), redact):
            m.save()
            rows["message"] += 1
    message_ids = [m.id for m in messages]
    if message_ids or ids:
        owned = Attachment.message.in_(message_ids) if message_ids else (Attachment.id == 0)
        if ids:
            owned |= Attachment.complaint.in_(ids)
        for a in Attachment.select().where(owned):
            if _redact_row(a, ("filename", "original_filename"), redact):
                a.save()
                rows["attachment"] += 1
    sent = OutgoingMail.id == 0
    if address:
        sent |= (OutgoingMail.to_addrs.contains(address) | OutgoingMail.cc_addrs.contains(address)
                 | (OutgoingMail.auto_reply_to == address))
    if ids:
        sent |= OutgoingMail.complaint.in_(ids)
    for o in OutgoingMail.select().where(sent):
        to_customer = bool(address) and address in (o.to_addrs + o.cc_addrs).lower()
        changed = _redact_row(o, ("subject", "body_text", "body_html", "auto_reply_to"),
                              redact, json_fields=("to_addrs", "cc_addrs"))
        if to_customer and o.status in (OutboxStatus.QUEUED, OutboxStatus.SENDING):
            # The address is gone: this mail can no longer go to the customer.
            o.status, o.last_error, changed = OutboxStatus.FAILED, note, True
            o.sent_at = None
        if changed:
            o.save()
            rows["outgoing_mail"] += 1
    events = []
    mentioned = Event.complaint.in_(ids) if ids else (Event.id == 0)
    if address:
        mentioned |= (pw.fn.LOWER(Event.actor) == address) | Event.data.contains(address)
    for e in Event.select().where(mentioned).order_by(Event.id):
        data = _json(e.data, {})
        actor, source = redact.text(e.actor), redact.text(e.source)
        new_data = redact.value(data)
        if (actor, source, new_data) == (e.actor, e.source, data):
            continue
        events.append((e.id, rewrite_event(e, actor=actor, source=source, data=new_data)))
    rows["event"] = len(events)
    return Erased(rows, events)
