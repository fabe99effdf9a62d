"""Use cases: where the domain meets the adapters, each inside one transaction.

A mail flows: source.fetch_new → process_mail (parse → gather facts → domain.intake.decide →
register / attach / record / quarantine, all in one transaction with the outgoing mail it
causes) → source.mark_done_many (after commit, a batch at a time) → outbox.flush.

What needs no write is done before the transaction opens, so SQLite's write lock is held for
the writes alone: parsing, reading a reply's forms, and for a new complaint the routing, the
field extraction and the rendering of its Word forms (from the facts it will be stored with
and the number `store.peek_sequence` foresees; the transaction renders again only when
another process took that number meanwhile).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailproc import store
from mailproc.archive import QUARANTINE, UNFILED
from mailproc.bootstrap import App
from mailproc.domain import floods, repeats, satisfaction, states
from mailproc.domain.decisions import own_text
from mailproc.domain.decisions import parse as decide_lines
from mailproc.domain.intake import (
    Decision,
    MailFacts,
    Verdict,
    auto_reply_window_start,
    decide,
    may_auto_reply,
)
from mailproc.domain.lifecycle import (
    Case,
    DomainEvent,
    EventKind,
    MailKind,
    counts_as_first_response,
)
from mailproc.domain.mailrules import strip_forward_prefix
from mailproc.domain.replies import Action as ReplyAction
from mailproc.domain.replies import FileKind, Role, asks_for_analysis, decide_reply
from mailproc.domain.routing import (
    ExtractedFields,
    RoutingDecision,
    classify_text,
    extract_fields,
)
from mailproc.errors import (
    is_environment_failure,
)
from mailproc.intake.filenames import sanitise_filename
from mailproc.intake.mailbox import Fetched
from mailproc.intake.parse import (
    Address,
    Attachment,
    IncomingMail,
    forwarded_original,
    forwarded_sent_at,
    parse_message,
)
from mailproc.outgoing.message import MAILER_HEADER
from mailproc.outgoing.outbox import queue_mail
from mailproc.outgoing.texts import format_datetime_id, shorten
from mailproc.ptpp import documents, replies, workflow
from mailproc.store import Complaint, OutgoingMail, queries, utcnow_naive
from mailproc.store import outbox as outbox_rows
from mailproc.store.uow import case_of, current_cycle, save_case

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Outcome:
    verdict: str  # a Verdict value, or 'duplicate'
    number: str = ""
    reason: str = ""

    @property
    def quarantined(self) -> bool:
        return self.verdict == Verdict.QUARANTINE


# ---- intake ------------------------------------------------------------------------------

def _raw_key(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _reply_address(mail: IncomingMail) -> Address:
    for addr in mail.reply_to:
        if addr.email:
            return addr
    return mail.from_


def _known_subject_number(app: App, subject: str) -> str | None:
    for number in app.settings.numbering.find(subject):
        if store.complaint_by_number(number) is not None:
            return number
    return None


def gather_facts(app: App, mail: IncomingMail) -> tuple[MailFacts, Address | None, str]:
    """Look up what the domain decision needs; returns the facts plus, for a staff forward,
    the original customer and text."""
    s = app.settings
    sender = mail.from_.email
    own = bool(mail.headers.get(MAILER_HEADER.lower())) or sender == s.company.sender_address
    thread = store.complaint_by_message_ids(list(mail.in_reply_to) + list(mail.references))
    internal = bool(sender) and s.is_internal(sender)
    original: Address | None = None
    original_text = mail.text
    if internal and not own:
        original, original_text = forwarded_original(mail)
        if original is not None and (not original.email or s.is_internal(original.email)):
            original = None  # a forward between colleagues is not a customer complaint
    thread_number = thread.number if thread else None
    subject_number = _known_subject_number(app, mail.subject)
    form_number = None
    if internal and not own and not thread_number and not subject_number:
        # A department that writes a new mail instead of replying: the number printed in the
        # attached form still says which PTPP it is.
        for f in replies.inspect_files(mail):
            if f.summary.number and store.complaint_by_number(f.summary.number) is not None:
                form_number = f.summary.number
                break
    repeat, before = None, 0
    if (sender and not internal and not own and not mail.auto_reply and not thread_number
            and not subject_number):
        repeat, before = _flood_facts(app, mail)
    facts = MailFacts(
        sender=sender,
        sender_internal=internal,
        own_mail=own,
        auto_reply=mail.auto_reply,
        thread_number=thread_number,
        subject_number=subject_number,
        form_number=form_number,
        forwarded_sender=original.email if original else None,
        has_content=bool(mail.subject.strip() or mail.text.strip() or mail.attachments
                         or mail.forwarded),
        repeat_of=repeat,
        registered_before=before,
        burst_limit=s.limits.new_complaints_per_sender_per_day,
    )
    return facts, original, original_text


def _flood_facts(app: App, mail: IncomingMail) -> tuple[str | None, int]:
    """The sender's earlier complaint this mail nearly repeats (within the repeat window),
    and how many complaints the sender registered in the last 24 hours."""
    limits = app.settings.limits
    window = timedelta(hours=limits.repeat_window_hours)
    if not window and not limits.new_complaints_per_sender_per_day:
        return None, 0
    now = app.clock()
    rows = queries.recent_complaints_from(_reply_address(mail).email,
                                          now - max(window, floods.BURST_WINDOW))
    if not rows:
        return None, 0  # a sender with nothing recent: no text to compare (most mail)
    earlier = [floods.Earlier(number, at, floods.fingerprint(subject, text))
               for number, at, subject, text in rows]
    repeat = floods.repeat_of(floods.fingerprint(mail.subject, mail.text), now, earlier,
                              window) if window else None
    return repeat, floods.registered_in_burst_window(earlier, now)


@dataclass
class Ahead:
    """What a batch works out for one mail before its write transaction opens: the parsed
    mail, and the forms it would get if it is registered (rendered outside the write lock;
    the registration uses them only if they still fit)."""

    mail: IncomingMail | None = None
    now: datetime | None = None  # when the forms were rendered: the registration's time
    new: NewComplaint | None = None
    classified: _Classified | None = None
    forms: documents.RegistrationForms | None = None


def _parse(app: App, fetched: Fetched) -> IncomingMail:
    return parse_message(fetched.raw,
                         max_attachment_bytes=app.settings.limits.max_attachment_bytes)


def work_ahead(app: App, fetched: Fetched, *, registrations_before: int) -> Ahead:
    """Parse a mail and, when it looks like a new complaint, render its forms, without a
    transaction: the number is the one the sequence would give after `registrations_before`
    registrations of the batch. A guess only: what happens to the mail is decided again in
    the transaction, and a failure here just leaves the work to it."""
    ahead = Ahead()
    if fetched.too_large:
        return ahead
    try:
        ahead.mail = mail = _parse(app, fetched)
        if queries.message_by_key(mail.key) is not None:
            return ahead
        facts, original, original_text = gather_facts(app, mail)
        decision = decide(facts)
        if decision.verdict not in (Verdict.NEW_COMPLAINT, Verdict.FORWARDED_COMPLAINT) \
                or decision.held:
            return ahead
        ahead.now = now = app.clock()
        new, customer, files = _new_complaint(fetched, mail, decision, original,
                                              original_text, now, app)
        ahead.new, ahead.classified = new, _classify(app, new)
        ahead.forms = _prerender(app, new, ahead.classified, files, now,
                                 customer_email=customer.email,
                                 seq_offset=registrations_before)
    except Exception:  # noqa: BLE001 - a guess: the transaction redoes and reports the work
        log.debug("working ahead on mail UID %s failed", fetched.uid, exc_info=True)
    return ahead


def process_mail(app: App, fetched: Fetched, *, source_key: str,
                 ahead: Ahead | None = None) -> Outcome:
    """Turn one fetched mail into a complaint, a follow-up, an ignored mail or a quarantined
    one. Never raises for bad input: a failure while processing quarantines the mail (inside
    a batch's transaction, after undoing that mail's own writes). `ahead`: what
    `work_ahead` prepared for it."""
    if fetched.too_large:
        return quarantine(app, fetched, source_key,
                          f"surat terlalu besar ({fetched.size:,} byte; batas "
                          f"{app.settings.limits.max_message_bytes:,} byte)".replace(",", "."))
    raw = fetched.raw
    try:
        mail = ahead.mail if ahead is not None and ahead.mail is not None else \
            _parse(app, fetched)
        digest = hashlib.sha256(raw).hexdigest()
        raw_key = "sha256:" + digest  # what intake.parse uses as key when Message-ID is missing
        existing = queries.message_by_key(mail.key)
        if existing is not None:
            if existing.sha256 == digest or store.message_exists(raw_key):
                return Outcome("duplicate", existing.complaint.number
                               if existing.complaint_id else "", "sudah diproses")
            # Same Message-ID, different bytes (a resend, another delivery path): keep it,
            # but never act on it twice.
            return _record_ignored(app, fetched, mail, source_key, key=raw_key,
                                   kind="duplicate",
                                   reason=f"Message-ID sama dengan surat yang sudah diproses "
                                          f"(<{mail.message_id}>)",
                                   complaint=existing.complaint if existing.complaint_id
                                   else None)
        if store.message_exists(raw_key):
            return Outcome("duplicate", "", "sudah diproses")
        facts, original, original_text = gather_facts(app, mail)
        decision = decide(facts)
        with store.step():
            return _apply(app, fetched, mail, decision, source_key, original, original_text,
                          ahead)
    except Exception as exc:  # noqa: BLE001 - any failure must quarantine, not stall the batch
        # A full disk, or a database locked or out of reach, is not the mail's fault: the
        # poll stops and the mail stays put.
        if is_environment_failure(exc) or store.explain_disk_full(exc) \
                or store.explain_unavailable(exc):
            raise
        log.exception("processing mail UID %s failed", fetched.uid)
        return quarantine(app, fetched, source_key,
                          f"gagal diproses otomatis: {type(exc).__name__}: {exc}")


def _apply(app: App, fetched: Fetched, mail: IncomingMail, decision: Decision, source_key: str,
           original: Address | None, original_text: str, ahead: Ahead | None = None
           ) -> Outcome:
    v = decision.verdict
    if v in (Verdict.NEW_COMPLAINT, Verdict.FORWARDED_COMPLAINT):
        return register_from_mail(app, fetched, mail, decision, source_key, original,
                                  original_text, ahead=ahead)
    if v == Verdict.FOLLOW_UP:
        return attach_follow_up(app, fetched, mail, decision, source_key)
    if v == Verdict.AUTO_REPLY:
        bounced = _bounced_outgoing(mail)
        if bounced is not None:
            return record_bounce(app, fetched, mail, source_key, bounced, decision.reason)
    if v in (Verdict.AUTO_REPLY, Verdict.OWN_MAIL):
        complaint = (store.complaint_by_number(decision.complaint_number)
                     if decision.complaint_number else None)
        return _record_ignored(app, fetched, mail, source_key, key=mail.key, kind=v.value,
                               reason=decision.reason, complaint=complaint)
    return quarantine(app, fetched, source_key, decision.reason, mail=mail)


def _attachment_status(att: Attachment, index: int, limit: int) -> str:
    """'stored', or why the `index`-th attachment of a mail is not archived."""
    if att.too_large or att.content is None:
        return "too_large"
    if index > limit:
        return "over_count"
    return "stored"


def _archive_mail(app: App, when: datetime, group: str, key: str, fetched: Fetched,
                  mail: IncomingMail | None, complaint: Complaint | None,
                  message: store.Message) -> list[tuple[str, str, int]]:
    """Archive the attachments of `mail` and record them; returns the files stored (path,
    sha256, size)."""
    if mail is None:
        return []
    stored: list[tuple[str, str, int]] = []
    limit = app.settings.limits.max_attachments
    for index, att in enumerate(mail.attachments, start=1):
        status, rel = _attachment_status(att, index, limit), ""
        if status == "stored":
            assert att.content is not None  # the status says so
            rel = app.archive.store_attachment(when, group, key, index, att.filename,
                                               att.content)
            stored.append((rel, att.sha256, att.size))
        queries.add_attachment(
            message=message, complaint=complaint, filename=att.filename,
            original_filename=att.original_filename, content_type=att.content_type,
            size=att.size, sha256=att.sha256, inline=att.inline, status=status,
            archive_path=rel,
        )
    return stored


def _create_message(app: App, fetched: Fetched, mail: IncomingMail | None, *, key: str,
                    kind: str, group: str, complaint: Complaint | None, reason: str,
                    now: datetime, source_key: str) -> store.Message:
    when = (fetched.received_at or now).astimezone(app.settings.timezone)
    rel = app.archive.store_message(when, group, key, fetched.raw)
    message = queries.add_message(
        key=key,
        message_id=mail.message_id if mail else "",
        direction="in",
        kind=kind,
        complaint=complaint,
        from_addr=mail.from_.email if mail else "",
        to_addrs=", ".join(a.email for a in (mail.to + mail.cc)) if mail else "",
        subject=mail.subject if mail else "",
        sent_at=utcnow_naive(mail.date) if mail and mail.date else None,
        processed_at=utcnow_naive(now),
        size=fetched.size,
        archive_path=rel,
        reason=reason,
        source_uid=f"{source_key}#{fetched.uid}",
        in_reply_to=" ".join(mail.in_reply_to) if mail else "",
        references=" ".join(mail.references) if mail else "",
        sha256=hashlib.sha256(fetched.raw).hexdigest(),
    )
    files = [(rel, message.sha256, len(fetched.raw))]
    files += _archive_mail(app, when, group, key, fetched, mail, complaint, message)
    store.record_files(complaint, files, at=now, actor="mailproc",
                       source=_mail_source(mail, fetched), message=key)
    return message


def _received_at(fetched: Fetched, now: datetime) -> datetime:
    """The mailbox's delivery time, never in the future."""
    when = fetched.received_at or now
    return min(when, now)


def _mail_source(mail: IncomingMail | None, fetched: Fetched) -> str:
    if mail and mail.message_id:
        return f"mail:<{mail.message_id}>"
    return f"mail:uid {fetched.uid}"


CHANNEL_LABELS = {"email": "email", "langsung": "langsung (tatap muka)", "telepon": "telepon",
                  "surat": "surat", "whatsapp": "WhatsApp"}


@dataclass(frozen=True)
class NewComplaint:
    """What registration needs, whatever the channel."""

    channel: str  # email, langsung, telepon, surat, whatsapp
    received_at: datetime
    customer_email: str
    customer_name: str
    subject: str
    description: str
    received_by: str = ""  # the staff member who took it
    contact: str = ""  # phone / WhatsApp number


@dataclass(frozen=True)
class _Classified:
    """Routing, the fields read from a new complaint's text and its first-response deadline:
    pure, worked out once, before the transaction."""

    routing: RoutingDecision
    fields: ExtractedFields
    department: str | None  # routing's department when it is a configured one
    first_response_due: datetime  # (the first call builds the working-day calendar)
    severity: str  # the PTPP category: the primary routing category's default
    repeat_of: str = ""  # the earlier complaint this one repeats (looked up again in the tx)


def _classify(app: App, new: NewComplaint) -> _Classified:
    s = app.settings
    routing_text = f"{new.subject}\n{new.description}"
    routing = classify_text(routing_text, s.routing)
    fields = extract_fields(routing_text, s.extract_patterns)
    department = routing.department if routing.department in s.departments else None
    rule = s.routing.category(routing.primary) if routing.primary else None
    severity = rule.severity if rule is not None else str(states.DEFAULT_SEVERITY)
    return _Classified(routing, fields, department, app.first_response_due(new.received_at),
                       severity, _repeat_of(app, new, fields))


def _repeat_of(app: App, new: NewComplaint, fields: ExtractedFields) -> str:
    """The earlier complaint `new` repeats (domain.repeats): the same customer, the same
    product or batch, within routing.repeat_window_days; '' when none."""
    window = app.settings.routing.repeat_window_days
    if not window or not new.customer_email or not (fields.product or fields.batch):
        return ""
    since = new.received_at - timedelta(days=window)
    earlier = [repeats.Facts(number, at, email, product, batch)
               for number, at, email, product, batch in queries.repeat_candidates(
                   new.customer_email, repeats.company_domain(new.customer_email), since,
                   new.received_at)]
    found = repeats.repeat_of(repeats.Facts("", new.received_at, new.customer_email,
                                            fields.product, fields.batch), earlier, window)
    return found.number if found is not None else ""


def _number(app: App, new: NewComplaint, seq: int) -> str:
    local = new.received_at.astimezone(app.settings.timezone)
    return app.settings.numbering.format(seq, local.year, local.month)


def _prerender(app: App, new: NewComplaint, classified: _Classified,
               files: Sequence[tuple[str, str, str, bytes | None]], now: datetime, *,
               customer_email: str, seq_offset: int = 0) -> documents.RegistrationForms:
    """Render the forms registration will send before its write transaction opens (issue #10:
    no rendering, no file read under the write lock), from the facts the complaint will be
    stored with: the number the year's sequence gives next (peeked; the transaction checks
    it), the customer as `find_or_create_customer` will leave the row, the attachments
    `files` as (original_filename, filename, content_type, content) in the order stored.
    `customer_email`: where the acknowledgement would go (no address, no return form)."""
    s = app.settings
    local = new.received_at.astimezone(s.timezone)
    routing, fields = classified.routing, classified.fields
    # The return form goes only with a sent acknowledgement, decided in the transaction; an
    # address already at its daily limit will still be there (the count only grows).
    return_form = (routing.return_requested and s.auto_return_form and bool(customer_email)
                   and _may_ack(app, customer_email, now))
    if not return_form and not (classified.department and s.auto_issue):
        return documents.RegistrationForms()  # nothing to render: no lookups either
    name, email = ((new.customer_name, "") if not new.customer_email
                   else queries.customer_as_stored(new.customer_email, new.customer_name))
    facts = documents.FormFacts(
        number=_number(app, new, store.peek_sequence(local.year) + seq_offset),
        received_at=new.received_at, department=classified.department or "",
        category=routing.primary or "", customer_name=name, customer_email=email,
        product=fields.product, batch=fields.batch, quantity=fields.quantity,
        invoice=fields.invoice, delivery_note=fields.delivery_note,
        description=new.description, severity=classified.severity,
        repeat_of=classified.repeat_of)
    return documents.prerender_on_registration(app, facts, files, now, return_form=return_form)


def _register(app: App, new: NewComplaint, classified: _Classified, now: datetime
              ) -> tuple[Complaint, list[DomainEvent]]:
    """Number and store a complaint and its first PTPP cycle (inside a transaction). Returns
    the complaint and the registration's events (recorded by the caller after the mail's own
    event)."""
    s = app.settings
    routing, fields, department = classified.routing, classified.fields, classified.department
    local = new.received_at.astimezone(s.timezone)
    # Again inside the transaction: an earlier mail of the same batch may be the one repeated.
    repeat_of = _repeat_of(app, new, fields)
    seq = store.next_sequence(local.year)
    number = _number(app, new, seq)
    data = {"channel": new.channel,
            "customer": new.customer_email or new.customer_name,
            "received_by": new.received_by, "categories": list(routing.categories),
            "matches": {k: list(v) for k, v in routing.matches.items()},
            "department": department or "", "return_requested": routing.return_requested,
            "return_matches": list(routing.return_matches), "fields": fields.__dict__,
            "repeat_of": repeat_of}
    case, events = Case.register(number, department, now, data, severity=classified.severity)
    customer = (store.find_or_create_customer(new.customer_email, new.customer_name, now)
                if new.customer_email else
                queries.new_customer(name=new.customer_name, phone=new.contact, now=now))
    complaint = queries.add_complaint(
        number=number, year=local.year, seq=seq, status=str(case.status), channel=new.channel,
        received_at=utcnow_naive(new.received_at), customer=customer,
        received_by=new.received_by, contact=new.contact,
        subject=new.subject, description=new.description,
        categories=json.dumps(list(routing.categories)), category=routing.primary or "",
        severity=case.severity, repeat_of=repeat_of,
        keyword_matches=json.dumps({k: list(v) for k, v in routing.matches.items()},
                                   ensure_ascii=False),
        department=department or "", return_requested=routing.return_requested,
        product=fields.product, batch=fields.batch, quantity=fields.quantity,
        invoice=fields.invoice, delivery_note=fields.delivery_note,
        first_response_due_at=utcnow_naive(classified.first_response_due),
        created_at=utcnow_naive(now), updated_at=utcnow_naive(now),
    )
    save_case(complaint, case, new=True)  # the first PTPP cycle, open
    return complaint, events


def _after_registration(app: App, complaint: Complaint, routing: RoutingDecision, *,
                        forms: documents.RegistrationForms, ack: tuple[bool, str],
                        now: datetime, source: str, message: store.Message | None,
                        in_reply_to: str = "", references: Sequence[str] = ()) -> None:
    """Issue the PTPP, send the return-claim form on return words (both `forms` rendered
    before the transaction), tell marketing administration and the operations manager."""
    ack_sent, ack_note = ack
    ptpp_note = workflow.issue_on_registration(app, complaint, now, source, forms.ptpp)
    if routing.return_requested and ack_sent and app.settings.auto_return_form:
        return_note = workflow.send_return_form_on_registration(
            app, complaint, in_reply_to, references, now, source, forms.retur)
        ptpp_note = "\n\n".join(n for n in (ptpp_note, return_note) if n)
    _queue_new_complaint_notice(app, complaint, routing.primary, ack_sent, ack_note,
                                ptpp_note, message, now, source)


def _new_complaint(fetched: Fetched, mail: IncomingMail, decision: Decision,
                   original: Address | None, original_text: str, now: datetime, app: App
                   ) -> tuple[NewComplaint, Address, list[tuple[str, str, str, bytes | None]]]:
    """The complaint a mail registers, the customer's address (for the acknowledgement) and
    the attachments `_archive_mail` will store, as it will store them."""
    forwarded = decision.verdict == Verdict.FORWARDED_COMPLAINT
    customer_addr = original if forwarded and original else _reply_address(mail)
    received_at = _received_at(fetched, now)
    if forwarded:
        # The clock starts when the customer wrote, not when staff forwarded it; never
        # later than the forward (a wrong clock or an unreadable date changes nothing).
        sent = forwarded_sent_at(mail, app.settings.timezone)
        if sent is not None and sent < received_at:
            received_at = sent
    new = NewComplaint(
        channel="email", received_at=received_at,
        customer_email=customer_addr.email, customer_name=customer_addr.name,
        subject=strip_forward_prefix(mail.subject) if forwarded else mail.subject,
        description=original_text if forwarded else mail.text,
        received_by=mail.from_.email if forwarded else "")
    limit = app.settings.limits.max_attachments
    files: list[tuple[str, str, str, bytes | None]] = [
        (att.original_filename, att.filename, att.content_type, att.content)
        for index, att in enumerate(mail.attachments, start=1)
        if _attachment_status(att, index, limit) == "stored"]
    return new, customer_addr, files


def register_from_mail(app: App, fetched: Fetched, mail: IncomingMail, decision: Decision,
                       source_key: str, original: Address | None,
                       original_text: str, *, ahead: Ahead | None = None) -> Outcome:
    s = app.settings
    # A registration worked on ahead is dated when its forms were rendered (a moment before
    # the batch's transaction), so the forms show what it stores.
    now = ahead.now if ahead is not None and ahead.now is not None else app.clock()
    forwarded = decision.verdict == Verdict.FORWARDED_COMPLAINT
    new, customer_addr, files = _new_complaint(fetched, mail, decision, original,
                                               original_text, now, app)
    classified = (ahead.classified if ahead is not None and ahead.new == new
                  and ahead.classified is not None else _classify(app, new))
    if decision.held:
        # Past the sender's daily limit: registered, but to triage, with no form.
        classified = dataclasses.replace(classified, department=None)
        forms = documents.RegistrationForms()
    elif ahead is None:
        forms = _prerender(app, new, classified, files, now,
                           customer_email=customer_addr.email)
    else:
        # Inside a batch's transaction: the forms were rendered before it opened (none if
        # the mail did not look like a complaint then); the registration uses them only if
        # they fit what it stores, and renders again otherwise.
        forms = ahead.forms or documents.RegistrationForms()
    with store.transaction():
        complaint, registered = _register(app, new, classified, now)
        message = _create_message(app, fetched, mail, key=mail.key, kind=decision.verdict.value,
                                  group=s.numbering.slug(complaint.number), complaint=complaint,
                                  reason=decision.reason, now=now, source_key=source_key)
        source = _mail_source(mail, fetched)
        store.append_event(complaint=complaint, at=now, actor=mail.from_.email, source=source,
                           kind="mail_received",
                           data={"message_id": mail.message_id, "subject": new.subject,
                                 "archive": message.archive_path, "verdict": "complaint"})
        store.record(complaint, registered, at=now, actor="mailproc", source=source)
        # Threaded to the customer's own mail; a staff forward starts a new thread.
        in_reply_to = "" if forwarded else mail.message_id
        references = ([] if forwarded or not mail.message_id
                      else [*mail.references, mail.message_id])
        ack = _queue_ack(app, complaint, customer_addr, now, source, in_reply_to=in_reply_to,
                         references=references, cc=[mail.from_.email] if forwarded else [])
        if decision.held:
            _hold(app, complaint, decision, customer_addr.email, now, source)
        else:
            _after_registration(app, complaint, classified.routing, forms=forms, ack=ack,
                                now=now, source=source, message=message,
                                in_reply_to=in_reply_to, references=references)
    return Outcome(decision.verdict.value, complaint.number, decision.reason)


def _hold(app: App, complaint: Complaint, decision: Decision, sender: str, now: datetime,
          source: str) -> None:
    """A complaint past its sender's daily limit stays in triage: no form, no return form, no
    per-complaint notice; the first of the burst is told to marketing administration."""
    s = app.settings
    store.append_event(complaint=complaint, at=now, actor="mailproc", source=source,
                       kind=EventKind.COMPLAINT_HELD, data={"reason": decision.reason,
                                                            "notified": decision.notify})
    if not decision.notify:
        return
    limit = s.limits.new_complaints_per_sender_per_day
    texts = app.texts.render(
        "notice_flood", number=complaint.number, company_name=s.company.name, sender=sender,
        count=limit + 1, limit=limit, subject=complaint.subject,
        received_at=format_datetime_id(store.aware(complaint.received_at), s.timezone))
    queue_mail(settings=s, now=now, kind=MailKind.NOTICE_FLOOD, to=s.marketing_admin,
               cc=s.operations_manager, subject=texts.subject, body=texts.body,
               complaint=complaint, source=source)


def _content_type(filename: str) -> str:
    """The content type a manually entered attachment is stored with."""
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def register_manual(app: App, new: NewComplaint, *, actor: str,
                    attachments: Sequence[tuple[str, bytes]] = ()) -> Complaint:
    """A complaint taken in person, by phone, letter or WhatsApp, entered by marketing
    administration; then the same path as mail (PTPP, clocks, notices). The acknowledgement
    goes by email when the customer's address is known."""
    s = app.settings
    now = app.clock()
    classified = _classify(app, new)
    files = [(name, sanitise_filename(name), _content_type(name), content)
             for name, content in attachments]
    forms = _prerender(app, new, classified, files, now, customer_email=new.customer_email)
    with store.transaction():
        complaint, registered = _register(app, new, classified, now)
        source = f"cli:complaints add ({new.channel})"
        when = new.received_at.astimezone(s.timezone)
        group = s.numbering.slug(complaint.number)
        for index, (name, content) in enumerate(attachments, start=1):
            rel = app.archive.store_attachment(when, group, f"manual:{complaint.number}", index,
                                               name, content)
            digest = hashlib.sha256(content).hexdigest()
            queries.add_attachment(
                message=None, complaint=complaint, filename=sanitise_filename(name),
                original_filename=name, content_type=_content_type(name), size=len(content),
                sha256=digest, status="stored", archive_path=rel)
            store.record_files(complaint, [(rel, digest, len(content))], at=now, actor=actor,
                               source=source)
        for event in registered:
            event.data["attachments"] = [n for n, _ in attachments]
        store.record(complaint, registered, at=now, actor=actor, source=source)
        ack: tuple[bool, str] = (False, f"keluhan diterima lewat {new.channel}; alamat email "
                                        "pelanggan tidak diketahui")
        if new.customer_email:
            ack = _queue_ack(app, complaint, Address(new.customer_name, new.customer_email),
                             now, source)
        _after_registration(app, complaint, classified.routing, forms=forms, ack=ack, now=now,
                            source=source, message=None)
    return complaint


def _may_ack(app: App, address: str, now: datetime) -> bool:
    """The loop guard: fewer automatic replies to `address` today than the limit."""
    recent = store.count_auto_replies_since(address, auto_reply_window_start(now))
    return may_auto_reply(recent, app.settings.limits.auto_replies_per_sender_per_day)


def _queue_ack(app: App, complaint: Complaint, customer: Address, now: datetime, source: str,
               *, in_reply_to: str = "", references: Sequence[str] = (),
               cc: Sequence[str] = ()) -> tuple[bool, str]:
    s = app.settings
    if not _may_ack(app, customer.email, now):
        note = (f"batas {s.limits.auto_replies_per_sender_per_day} balasan otomatis per hari "
                f"ke {customer.email} tercapai")
        store.append_event(complaint=complaint, at=now, actor="mailproc", source=source,
                           kind="auto_reply_suppressed", data={"to": customer.email,
                                                               "reason": note})
        return False, note
    texts = app.texts.render(
        "ack_customer", number=complaint.number, customer_name=customer.name,
        company_name=s.company.name, signature=s.company.signature or s.company.name,
        received_at=format_datetime_id(store.aware(complaint.received_at), s.timezone),
        subject=complaint.subject,
    )
    queue_mail(settings=s, now=now, kind="ack", to=[customer.email], cc=cc,
               subject=texts.subject, body=texts.body, complaint=complaint,
               in_reply_to=in_reply_to, references=references, source=source,
               auto_reply_to=customer.email)
    return True, ""



def _queue_new_complaint_notice(app: App, complaint: Complaint, primary: str | None,
                                ack_sent: bool, ack_note: str, ptpp_note: str,
                                message: store.Message | None, now: datetime,
                                source: str) -> None:
    s = app.settings
    labels = {rule.name: rule.label for rule in s.routing.categories}
    dep = s.departments.get(complaint.department)
    attachments = queries.count_complaint_attachments(complaint)
    texts = app.texts.render(
        "notice_new_complaint", number=complaint.number, company_name=s.company.name,
        received_at=format_datetime_id(store.aware(complaint.received_at), s.timezone),
        customer_display=store.customer_display(complaint), received_by=complaint.received_by,
        channel=CHANNEL_LABELS.get(complaint.channel, complaint.channel),
        contact=complaint.contact,
        category_label=labels.get(primary or "", "Belum terklasifikasi"),
        severity_label=states.SEVERITY_LABELS[states.Severity(complaint.severity)],
        repeat_of=complaint.repeat_of, ack_counts=s.calendar.auto_ack_counts,
        department_label=dep.name if dep else "Belum ditentukan",
        product=complaint.product, batch=complaint.batch, quantity=complaint.quantity,
        invoice=complaint.invoice, delivery_note=complaint.delivery_note,
        return_requested=complaint.return_requested, attachment_count=attachments,
        status_label=states.LABELS_ID[complaint.status], description=shorten(
            complaint.description), triage=complaint.status == states.TRIAGE,
        ack_sent=ack_sent, ack_note=ack_note, ptpp_note=ptpp_note,
        example_department=next(iter(s.departments.values())).name,
    )
    queue_mail(settings=s, now=now, kind="notice_new", to=s.marketing_admin,
               cc=s.operations_manager, subject=texts.subject, body=texts.body,
               complaint=complaint, source=source)


def attach_follow_up(app: App, fetched: Fetched, mail: IncomingMail, decision: Decision,
                     source_key: str) -> Outcome:
    s = app.settings
    now = app.clock()
    number = decision.complaint_number or ""
    complaint = store.complaint_by_number(number)
    assert complaint is not None  # decided from a stored complaint
    internal = s.is_internal(mail.from_.email)
    kind = "staff_message" if internal else "follow_up"
    # Reading attached forms needs no database: do it before the transaction.
    role = replies.role_of(s, complaint, mail.from_.email)
    files = replies.inspect_files(mail)
    # An attached PTPP form must carry the current cycle's number (a later cycle has its
    # own); looked up only then: most follow-ups carry no form.
    summaries = [f.summary for f in files]
    form_number = (current_cycle(complaint).number
                   if any(f.kind == FileKind.PTPP_FORM for f in summaries) else number)
    reply = decide_reply(role=role, status=complaint.status, number=form_number,
                         files=summaries)
    if reply.action == ReplyAction.QUARANTINE:
        return quarantine(app, fetched, source_key, f"{number}: {reply.message}", mail=mail,
                          complaint=complaint)
    parsed = (decide_lines(mail.text) if internal and reply.action == ReplyAction.FOLLOW_UP
              else None)
    # The customer's answer to the closing notice's question: a rating 1-5. The closure
    # report is rendered again with it here, before the write transaction.
    own = own_text(mail.text)  # the sender's own words, the quoted original left out
    rating = (satisfaction.rating_of(own)
              if role == Role.CUSTOMER and complaint.status == states.CLOSED
              and reply.action == ReplyAction.FOLLOW_UP else None)
    rated = (documents.render_closure_rated(app, complaint, rating) if rating is not None
             else None)
    with store.transaction():
        message = _create_message(app, fetched, mail, key=mail.key, kind=kind,
                                  group=s.numbering.slug(number), complaint=complaint,
                                  reason=decision.reason, now=now, source_key=source_key)
        source = _mail_source(mail, fetched)
        store.append_event(complaint=complaint, at=now, actor=mail.from_.email, source=source,
                           kind="mail_received",
                           data={"message_id": mail.message_id, "subject": mail.subject,
                                 "archive": message.archive_path, "verdict": kind,
                                 "matched": decision.reason})
        queries.touch(complaint, now)
        if reply.action != ReplyAction.FOLLOW_UP:
            kind = replies.handle_reply(app, complaint, mail, message, role, reply, files,
                                         now, source)
        elif parsed is not None and role == Role.ADMIN and not parsed.empty:
            kind = replies.apply_mail_decisions(app, complaint, mail, parsed, now, source)
        elif parsed is not None and role != Role.ADMIN and parsed.decisions:
            kind = replies.refuse_mail_decisions(app, complaint, mail, now, source)
        elif rating is not None and rated is not None:
            workflow.record_satisfaction(app, complaint, rating, shorten(own),
                                         customer=mail.from_.email, source=source, now=now,
                                         closure=rated)
            kind = "satisfaction"
        elif not internal:
            count = queries.count_attachments(message)
            # Step 7: a customer asking for the analysis is flagged, with the reply that
            # sends it (marketing administration decides; nothing is sent on a guess).
            analysis_request = (not complaint.send_analysis_to_customer
                                and asks_for_analysis(own))
            if analysis_request:
                store.append_event(complaint=complaint, at=now, actor=mail.from_.email,
                                   source=source, kind=EventKind.ANALYSIS_REQUESTED,
                                   data={"message_id": mail.message_id})
            texts = app.texts.render(
                "notice_follow_up", number=number, company_name=s.company.name,
                sender_display=(f"{mail.from_.name} <{mail.from_.email}>" if mail.from_.name
                                else mail.from_.email),
                subject=mail.subject, attachment_count=count,
                received_at=format_datetime_id(_received_at(fetched, now), s.timezone),
                status_label=states.LABELS_ID[complaint.status], text=shorten(mail.text),
                analysis_request=analysis_request,
            )
            queue_mail(settings=s, now=now, kind="notice_follow_up", to=s.marketing_admin,
                       subject=texts.subject, body=texts.body, complaint=complaint,
                       source=source)
    return Outcome(kind, number, decision.reason)


_HEADER_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*<([^>\r\n]+)>", re.I | re.M)


def _bounced_outgoing(mail: IncomingMail) -> OutgoingMail | None:
    """The mail of ours that a delivery report (DSN) is about: found by the Message-ID in
    its returned headers (text/rfc822-headers) or returned message (message/rfc822)."""
    ids = [f.message_id for f in mail.forwarded if f.message_id]
    for att in mail.attachments:
        if att.content_type in ("text/rfc822-headers", "message/rfc822") and att.content:
            ids += [m.decode("ascii", "replace") for m in _HEADER_MESSAGE_ID.findall(att.content)]
    ids += list(mail.in_reply_to)
    for message_id in ids:
        row = outbox_rows.by_message_id(message_id)
        if row is not None:
            return row
    return None


def record_bounce(app: App, fetched: Fetched, mail: IncomingMail, source_key: str,
                  bounced: OutgoingMail, reason: str) -> Outcome:
    """A delivery failure of a mail we sent: recorded on its complaint and, when the customer
    did not get the acknowledgement, marketing administration is told to respond another way.
    Never answered to the bounce itself."""
    s = app.settings
    now = app.clock()
    complaint = bounced.complaint if bounced.complaint_id else None
    group = s.numbering.slug(complaint.number) if complaint else UNFILED
    with store.transaction():
        _create_message(app, fetched, mail, key=mail.key, kind="bounce", group=group,
                        complaint=complaint, reason=reason, now=now, source_key=source_key)
        outbox_rows.mark_bounced(bounced, shorten(mail.text, 500))
        source = _mail_source(mail, fetched)
        store.append_event(complaint=complaint, at=now, actor=mail.from_.email or "unknown",
                           source=source, kind="mail_bounced",
                           data={"outgoing_id": bounced.id, "kind": bounced.kind,
                                 "to": json.loads(bounced.to_addrs),
                                 "message_id": bounced.message_id})
        recipients = json.loads(bounced.to_addrs) + json.loads(bounced.cc_addrs)
        # Tell marketing administration unless the bounced mail was theirs: a notice about a
        # bounced notice to the same address would bounce again, and again.
        if complaint is not None and not set(recipients) & set(s.marketing_admin):
            if counts_as_first_response(bounced.kind):
                # The customer never got the acknowledgement: no first response from it.
                case = case_of(complaint, cycle=False)
                if case.ack_bounced():
                    save_case(complaint, case)
            texts = app.texts.render(
                "notice_bounce", number=complaint.number, company_name=s.company.name,
                to=", ".join(recipients), subject=bounced.subject,
                report=shorten(mail.text, 1500), ack=bounced.kind == "ack",
                customer_display=store.customer_display(complaint),
            )
            queue_mail(settings=s, now=now, kind="notice_bounce", to=s.marketing_admin,
                       subject=texts.subject, body=texts.body, complaint=complaint,
                       source=source)
    return Outcome("bounce", complaint.number if complaint else "", reason)


def _record_ignored(app: App, fetched: Fetched, mail: IncomingMail, source_key: str, *,
                    key: str, kind: str, reason: str, complaint: Complaint | None) -> Outcome:
    now = app.clock()
    group = app.settings.numbering.slug(complaint.number) if complaint else UNFILED
    with store.transaction():
        _create_message(app, fetched, mail, key=key, kind=kind, group=group,
                        complaint=complaint, reason=reason, now=now, source_key=source_key)
        store.append_event(complaint=complaint, at=now, actor=mail.from_.email or "unknown",
                           source=_mail_source(mail, fetched), kind="mail_ignored",
                           data={"message_id": mail.message_id, "subject": mail.subject,
                                 "kind": kind, "reason": reason})
    return Outcome(kind, complaint.number if complaint else "", reason)


def quarantine(app: App, fetched: Fetched, source_key: str, reason: str,
               mail: IncomingMail | None = None,
               complaint: Complaint | None = None) -> Outcome:
    """Record the mail as quarantined with its reason, archive it, tell marketing admin."""
    s = app.settings
    now = app.clock()
    key = (mail.key if mail else "") or _raw_key(fetched.raw)
    if store.message_exists(key):
        key = _raw_key(fetched.raw) + f"#q{fetched.uid}"
        if store.message_exists(key):
            return Outcome(Verdict.QUARANTINE.value, "", reason)
    if mail is None:
        try:
            mail = parse_message(fetched.raw,
                                 max_attachment_bytes=s.limits.max_attachment_bytes)
        except Exception:  # noqa: BLE001 - a mail we cannot even parse is still quarantined
            mail = None
    with store.transaction():
        message = _create_message(app, fetched, mail, key=key, kind="quarantined",
                                  group=QUARANTINE, complaint=None, reason=reason, now=now,
                                  source_key=source_key)
        source = _mail_source(mail, fetched)
        store.append_event(complaint=None, at=now, actor="mailproc", source=source,
                           kind="mail_quarantined",
                           data={"reason": reason, "archive": message.archive_path,
                                 "from": mail.from_.email if mail else "",
                                 "subject": mail.subject if mail else ""})
        size = f"{fetched.size:,} byte".replace(",", ".")
        texts = app.texts.render(
            "notice_quarantine", company_name=s.company.name,
            quarantine_folder=s.mailbox.quarantine_folder,
            sender=(mail.from_.email if mail else ""), subject=(mail.subject if mail else ""),
            date=(format_datetime_id(mail.date, s.timezone) if mail and mail.date else ""),
            size=size, reason=reason, archive_path=message.archive_path,
            number=complaint.number if complaint else "",
        )
        # Linked to the complaint it concerns (the mail itself stays quarantined), so a
        # decision in marketing administration's reply threads to it.
        subject = f"[{complaint.number}] {texts.subject}" if complaint else texts.subject
        queue_mail(settings=s, now=now, kind="notice_quarantine", to=s.marketing_admin,
                   subject=subject, body=texts.body, complaint=complaint, source=source)
    return Outcome(Verdict.QUARANTINE.value, "", reason)
