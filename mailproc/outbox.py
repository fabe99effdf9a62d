"""The queue of outgoing mail and its senders (SMTP, or a local Maildir for the embedded default).

`queue_mail` is called inside the transaction of the state change that causes the mail, so a
mail exists exactly when its change committed. `flush` sends after commit: each row is claimed
(queued → sending) in its own transaction before the SMTP conversation and marked sent after, so
two flushers never send the same row. A crash between the server's acceptance and the 'sent'
mark leaves the row in 'sending'; such rows are never re-sent automatically (a duplicate to a
customer is worse than a delay) but are reported by `outbox list` and can be re-queued with
`mailproc outbox retry ID` after checking the recipient's mailbox.
"""

from __future__ import annotations

import binascii
import contextlib
import email.encoders
import json
import logging
import mailbox as stdlib_mailbox
import mimetypes
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Protocol

import peewee as pw

from mailproc import store
from mailproc.archive import Archive
from mailproc.config import Settings, SmtpSettings
from mailproc.errors import NotFound, SendError
from mailproc.store import OutgoingMail, utcnow_naive

log = logging.getLogger(__name__)

MAILER_HEADER = "X-Mailproc-Id"


def new_message_id(domain: str) -> str:
    """A Message-ID without the angle brackets, in the company's domain."""
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain).strip("<>")


def queue_mail(*, settings: Settings, now: datetime, kind: str, to: Sequence[str],
               subject: str, body: str, cc: Sequence[str] = (), complaint: store.Complaint | None,
               in_reply_to: str = "", references: Sequence[str] = (),
               attachments: Sequence[str] = (), actor: str = "mailproc",
               source: str = "", auto_reply_to: str = "", html: str = "") -> OutgoingMail:
    """Queue one mail and record it as an outgoing Message and an event (inside a
    transaction). `auto_reply_to` marks an automatic answer to that address (loop guard)."""
    domain = settings.company.sender_address.rpartition("@")[2]
    message_id = new_message_id(domain)
    to_list = sorted({a.lower() for a in to if a})
    cc_list = sorted({a.lower() for a in cc if a} - set(to_list))
    if not to_list:
        raise SendError(f"no recipient for the {kind} mail")
    row = OutgoingMail.create(
        message_id=message_id, complaint=complaint, kind=kind,
        to_addrs=json.dumps(to_list), cc_addrs=json.dumps(cc_list), subject=subject,
        body_text=body, body_html=html, in_reply_to=in_reply_to,
        references=" ".join(references),
        attachments=json.dumps(list(attachments)), status="queued",
        next_attempt_at=utcnow_naive(now), created_at=utcnow_naive(now),
        auto_reply_to=auto_reply_to.lower(),
    )
    store.Message.create(
        key=message_id, message_id=message_id, direction="out", kind=kind, complaint=complaint,
        from_addr=settings.company.sender_address, to_addrs=", ".join(to_list + cc_list),
        subject=subject, processed_at=utcnow_naive(now), in_reply_to=in_reply_to,
        references=" ".join(references),
    )
    store.append_event(complaint=complaint, at=now, actor=actor, source=source or "outbox",
                       kind="mail_queued",
                       data={"outgoing_id": row.id, "kind": kind, "to": to_list, "cc": cc_list,
                             "subject": subject, "message_id": message_id})
    return row


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    """UTF-8 text as quoted-printable (readable in a raw view, unlike base64), encoded by
    binascii in C: the email package's pure-Python encoder cost ~0.5 ms a mail."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    encoded = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    part.set_payload(encoded.decode("ascii"))
    return part


def build_message(row: OutgoingMail, settings: Settings, archive: Archive,
                  now: datetime) -> Message:
    """The MIME message of a queued row. Built with the compat32 classes: the modern
    EmailMessage API re-parses every header it is given and cost ~1 ms a mail."""
    body: Message = _text_part(row.body_text, "plain")
    if row.body_html:
        alternative = MIMEMultipart("alternative")
        alternative.attach(body)
        alternative.attach(_text_part(row.body_html, "html"))
        body = alternative
    attachments = json.loads(row.attachments)
    if attachments:
        msg: Message = MIMEMultipart("mixed")
        msg.attach(body)
        for rel in attachments:
            path = archive.path(rel)
            maintype, subtype = _guess_type(path.name)
            part = MIMEBase(maintype, subtype)
            part.set_payload(path.read_bytes())
            email.encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment",
                            filename=path.name if path.name.isascii()
                            else ("utf-8", "", path.name))
            msg.attach(part)
    else:
        msg = body
    msg["From"] = formataddr((settings.company.sender_name, settings.company.sender_address),
                             charset="utf-8")
    msg["To"] = ", ".join(json.loads(row.to_addrs))
    cc = json.loads(row.cc_addrs)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = _header(row.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{row.message_id}>"
    if row.in_reply_to:
        msg["In-Reply-To"] = f"<{row.in_reply_to}>"
    refs = row.references.split()
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    # RFC 3834: we are automatic; ask Exchange not to answer us with its own auto-replies.
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[MAILER_HEADER] = str(row.id)
    msg["Content-Language"] = "id"
    return msg


def _guess_type(name: str) -> tuple[str, str]:
    ctype, _ = mimetypes.guess_type(name)
    if not ctype:
        return "application", "octet-stream"
    main, _, sub = ctype.partition("/")
    return main, sub


class Transport(Protocol):
    def send(self, msg: Message, recipients: list[str]) -> None: ...
    def close(self) -> None: ...


class MaildirTransport:
    """Writes outgoing mail into a local Maildir instead of sending it (the embedded default)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.box = stdlib_mailbox.Maildir(str(path), create=True)

    def send(self, msg: Message, recipients: list[str]) -> None:
        if "X-Envelope-To" not in msg:
            msg["X-Envelope-To"] = ", ".join(recipients)
        self.box.add(msg)

    def close(self) -> None:
        self.box.close()


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificates are verified; a private CA is a setting, never a switch that turns
    verification off."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class SmtpTransport:
    """One SMTP connection for a flush; opened lazily, reused for every mail of the batch."""

    def __init__(self, cfg: SmtpSettings) -> None:
        self.cfg = cfg
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        try:
            if cfg.security == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout, context=tls_context(cfg.ca_file))
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
                if cfg.security == "starttls":
                    conn.starttls(context=tls_context(cfg.ca_file))
            if cfg.user:
                conn.login(cfg.user, cfg.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"SMTP login to {cfg.host}:{cfg.port} as {cfg.user} refused ({exc.smtp_code}); "
                "check MAILPROC_SMTP_PASSWORD", permanent=False) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendError(
                f"TLS certificate of {cfg.host}:{cfg.port} not trusted ({exc.verify_message}); "
                "set smtp.ca_file to the server's CA") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"cannot reach SMTP server {cfg.host}:{cfg.port}: {exc}") from None
        return conn

    def send(self, msg: Message, recipients: list[str]) -> None:
        if self.conn is None:
            self.conn = self._connect()
        try:
            refused = self.conn.send_message(msg, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            raise SendError(f"every recipient refused: {exc.recipients}",
                            permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise SendError(f"server answered {exc.smtp_code} {exc.smtp_error!r}",
                            permanent=exc.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise SendError(f"sending failed: {exc}") from None
        if refused:
            log.warning("some recipients refused for %s: %s", msg["Message-ID"], refused)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
            self.conn = None


def make_transport(settings: Settings) -> Transport:
    if settings.smtp.kind == "maildir":
        assert settings.smtp.path is not None
        return MaildirTransport(settings.smtp.path)
    return SmtpTransport(settings.smtp)


@dataclass
class FlushResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


def backoff(attempts: int, base: int, maximum: int) -> timedelta:
    """Exponential backoff: base, 2·base, 4·base … capped at maximum."""
    return timedelta(seconds=min(maximum, base * 2 ** max(0, attempts - 1)))


def flush(settings: Settings, archive: Archive, transport: Transport, now: datetime,
          limit: int | None = None) -> FlushResult:
    """Send every queued mail that is due. A server that is down defers the rest of the batch
    (same backoff) instead of hammering it once per mail."""
    result = FlushResult()
    due = (OutgoingMail.select(OutgoingMail, store.Complaint)
           .join(store.Complaint, pw.JOIN.LEFT_OUTER)  # the events below need its number
           .where(OutgoingMail.status == "queued",
                  OutgoingMail.next_attempt_at <= utcnow_naive(now))
           .order_by(OutgoingMail.id))
    if limit:
        due = due.limit(limit)
    server_down: str | None = None
    for row in list(due):
        row_id = row.id
        with store.transaction():
            # next_attempt_at doubles as the claim time while a row is 'sending'.
            claimed = (OutgoingMail.update(status="sending", next_attempt_at=utcnow_naive(now))
                       .where(OutgoingMail.id == row_id, OutgoingMail.status == "queued")
                       .execute())
        if not claimed:
            continue  # another flusher took it
        error: SendError | None = None
        if server_down is not None:
            error = SendError(server_down)
        else:
            try:
                msg = build_message(row, settings, archive, now)
                recipients = json.loads(row.to_addrs) + json.loads(row.cc_addrs)
                transport.send(msg, recipients)
            except SendError as exc:
                error = exc
                if not exc.permanent:
                    server_down = str(exc)
            except (OSError, ValueError) as exc:  # an archived attachment went missing, …
                error = SendError(f"cannot build the mail: {exc}", permanent=True)
        with store.transaction():
            if error is None:
                OutgoingMail.update(status="sent", sent_at=utcnow_naive(now),
                                    attempts=row.attempts + 1, last_error=""
                                    ).where(OutgoingMail.id == row_id).execute()
                if row.kind == "ack" and row.complaint_id:
                    # The acknowledgement is the first response the procedure asks for.
                    store.Complaint.update(first_response_at=utcnow_naive(now)).where(
                        store.Complaint.id == row.complaint_id,
                        store.Complaint.first_response_at.is_null()).execute()
                store.append_event(complaint=row.complaint, at=now, actor="mailproc",
                                   source="outbox", kind="mail_sent",
                                   data={"outgoing_id": row.id, "message_id": row.message_id})
                result.sent += 1
                continue
            attempts = row.attempts + 1
            if error.permanent or attempts >= settings.outbox.max_attempts:
                OutgoingMail.update(status="failed", attempts=attempts, last_error=str(error)
                                    ).where(OutgoingMail.id == row_id).execute()
                store.append_event(complaint=row.complaint, at=now, actor="mailproc",
                                   source="outbox", kind="mail_failed",
                                   data={"outgoing_id": row.id, "error": str(error)})
                log.error("outgoing mail %s failed for good: %s", row.id, error)
                result.failed += 1
            else:
                wait = backoff(attempts, settings.outbox.backoff_seconds,
                               settings.outbox.backoff_max_seconds)
                OutgoingMail.update(status="queued", attempts=attempts, last_error=str(error),
                                    next_attempt_at=utcnow_naive(now + wait)
                                    ).where(OutgoingMail.id == row_id).execute()
                result.deferred += 1
    if server_down:
        log.warning("mail server unavailable, %d mail(s) deferred: %s", result.deferred,
                    server_down)
    return result


def stuck_rows(settings: Settings, now: datetime) -> list[OutgoingMail]:
    """Rows left in 'sending' by a crash: the server may or may not have accepted them."""
    cutoff = utcnow_naive(now - timedelta(seconds=settings.outbox.stuck_after_seconds))
    return list(OutgoingMail.select().where(OutgoingMail.status == "sending",
                                            OutgoingMail.next_attempt_at < cutoff))


def requeue(row_id: int, now: datetime, actor: str) -> OutgoingMail:
    row = OutgoingMail.get_or_none(OutgoingMail.id == row_id)
    if row is None:
        raise NotFound(f"no outgoing mail with id {row_id}; see `mailproc outbox list`")
    with store.transaction():
        OutgoingMail.update(status="queued", next_attempt_at=utcnow_naive(now)).where(
            OutgoingMail.id == row_id).execute()
        store.append_event(complaint=row.complaint, at=now, actor=actor, source="cli",
                           kind="mail_requeued", data={"outgoing_id": row_id,
                                                       "previous_status": row.status})
    return OutgoingMail.get_by_id(row_id)

