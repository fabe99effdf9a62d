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
import email.policy
import json
import logging
import mailbox as stdlib_mailbox
import mimetypes
import os
import smtplib
import ssl
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from mailproc import oauth, store
from mailproc.archive import Archive
from mailproc.config import Settings, SmtpSettings
from mailproc.errors import OAuthError, SendError
from mailproc.outgoing.texts import MailTexts, shorten
from mailproc.store import OutgoingMail
from mailproc.store import outbox as outbox_rows

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
    return outbox_rows.queue(
        message_id=message_id, kind=str(kind), complaint=complaint, to=to_list, cc=cc_list,
        sender=settings.company.sender_address, subject=subject, body=body, html=html,
        in_reply_to=in_reply_to, references=references, attachments=attachments,
        auto_reply_to=auto_reply_to, now=now, actor=actor, source=source or "outbox")


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


def ascii_domain(address: str) -> str:
    """The address with a non-ASCII domain in its IDNA (xn--) form, which every server
    accepts; a non-ASCII local part cannot be converted and needs SMTPUTF8."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address  # not a valid IDN: left to SMTPUTF8


def recipients_of(row: OutgoingMail) -> tuple[list[str], list[str]]:
    """(To, Cc) of a row as they go on the wire (IDNA domains)."""
    return ([ascii_domain(a) for a in json.loads(row.to_addrs)],
            [ascii_domain(a) for a in json.loads(row.cc_addrs)])


def needs_smtputf8(addresses: Sequence[str]) -> bool:
    """True when an address cannot be written in ASCII (RFC 6531/6532: SMTPUTF8)."""
    return not all(a.isascii() for a in addresses)


def serialize(msg: Message, *, utf8: bool, linesep: str = "\r\n") -> bytes:
    """The bytes of a message; with `utf8`, headers (addresses included) are written as
    UTF-8 (RFC 6532) instead of RFC 2047 encoded words, which cannot hold an address.
    smtplib's send_message cannot do this for a compat32 message (it asks the compat32
    policy for utf8=True and raises TypeError)."""
    if utf8:
        return msg.as_bytes(policy=email.policy.SMTPUTF8.clone(linesep=linesep))
    return msg.as_bytes(policy=email.policy.compat32.clone(linesep=linesep))


def _from_header(name: str, address: str) -> str:
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    if not name:
        return address  # formataddr refuses a non-ASCII address (RFC 6532 allows it)
    display = formataddr((name, "x@x"), charset="utf-8").rsplit(" <", 1)[0]
    return f"{display} <{address}>"


def build_message(row: OutgoingMail, settings: Settings, archive: Archive,
                  now: datetime, *, utf8: bool = False) -> Message:
    """The MIME message of a queued row. Built with the compat32 classes: the modern
    EmailMessage API re-parses every header it is given and cost ~1 ms a mail.
    With `utf8` (an address needs SMTPUTF8) header values stay plain text, for
    `serialize(msg, utf8=True)`."""
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
    msg["From"] = _from_header(settings.company.sender_name,
                               ascii_domain(settings.company.sender_address))
    to, cc = recipients_of(row)
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = row.subject if utf8 else _header(row.subject)
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


class MailRefused(SendError):
    """The server refused this one mail (a recipient, SMTPUTF8 missing …), temporarily or for
    good; the connection and the other mails of the batch are fine."""


class Transport(Protocol):
    def send(self, msg: Message, recipients: list[str], *, utf8: bool = False) -> None: ...
    def close(self) -> None: ...


class MaildirTransport:
    """Writes outgoing mail into a local Maildir instead of sending it (the embedded default).
    A local file takes any address: mail that needs SMTPUTF8 is written with UTF-8 headers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.box: stdlib_mailbox.Maildir | None = None
        with contextlib.suppress(SendError):
            self._open()  # an unwritable folder is reported by send(), mail by mail

    def _open(self) -> stdlib_mailbox.Maildir:
        if self.box is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.box = stdlib_mailbox.Maildir(str(self.path), create=True)
            except OSError as exc:
                raise SendError(f"cannot open the Maildir {self.path} for outgoing mail: "
                                f"{exc}; check smtp.url and the folder's permissions") from None
        return self.box

    def send(self, msg: Message, recipients: list[str], *, utf8: bool = False) -> None:
        box = self._open()
        if "X-Envelope-To" not in msg:
            msg["X-Envelope-To"] = ", ".join(recipients)
        try:
            box.add(serialize(msg, utf8=True, linesep="\n") if utf8 else msg)
        except OSError as exc:
            raise SendError(f"cannot write to the Maildir {self.path}: {exc}") from None

    def close(self) -> None:
        if self.box is not None:
            self.box.close()


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificates are verified; a private CA is a setting, never a switch that turns
    verification off."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class SmtpTransport:
    """One SMTP connection for a flush; opened lazily, reused for every mail of the batch."""

    def __init__(self, cfg: SmtpSettings, tokens: oauth.TokenSource | None = None) -> None:
        self.cfg = cfg
        self.tokens = tokens  # for smtp.auth = "oauth2"
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
            if cfg.auth == "oauth2":
                self._auth_xoauth2(conn)
            elif cfg.user:
                conn.login(cfg.user, cfg.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"SMTP login to {cfg.host}:{cfg.port} as {cfg.user} refused ({exc.smtp_code}); "
                f"check MAILPROC_SMTP_PASSWORD and the user in {cfg.url_source}",
                permanent=False) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendError(
                f"TLS certificate of {cfg.host}:{cfg.port} not trusted ({exc.verify_message}); "
                "set smtp.ca_file to the server's CA") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"cannot reach SMTP server {cfg.host}:{cfg.port}: {exc}; is it "
                            f"running, and are host and port in {cfg.url_source} right?"
                            ) from None
        return conn

    def _auth_xoauth2(self, conn: smtplib.SMTP) -> None:
        """AUTH XOAUTH2 with the stored OAuth2 token; a refusal of a token that looked valid
        gets one more try with a refreshed one. When no token can be had (the refresh token
        expired or was revoked) the mail is deferred, not failed: it stays queued until a
        person signs in again with `mailproc auth login`."""
        cfg = self.cfg
        where = f"{cfg.host}:{cfg.port}"
        try:
            if self.tokens is None:
                raise SendError("smtp.auth is oauth2 but no OAuth2 token source was given")
            conn.ehlo_or_helo_if_needed()
            offered = conn.esmtp_features.get("auth", "").upper().split()
            if "XOAUTH2" not in offered:
                raise SendError(f"SMTP server {where} does not offer AUTH XOAUTH2 (it offers: "
                                f"{' '.join(offered) or 'no AUTH'}); check {cfg.url_source} "
                                "(TLS first)")
            try:
                conn.auth("XOAUTH2", _xoauth2_responder(cfg.user, self.tokens.access_token()))
                return
            except smtplib.SMTPAuthenticationError as exc:
                log.info("SMTP XOAUTH2 login to %s refused (%s); refreshing the token once",
                         where, exc.smtp_code)
            try:
                conn.auth("XOAUTH2", _xoauth2_responder(
                    cfg.user, self.tokens.access_token(force_refresh=True)))
            except smtplib.SMTPAuthenticationError as exc:
                raise SendError(
                    f"SMTP XOAUTH2 login to {where} as {cfg.user} refused with a fresh token "
                    f"({exc.smtp_code}); check that {cfg.user} is the account that signed in "
                    "with `mailproc auth login` and that SMTP AUTH is enabled for it") from None
        except (SendError, OAuthError) as exc:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.close()
            raise SendError(str(exc), permanent=False) from None

    def send(self, msg: Message, recipients: list[str], *, utf8: bool = False) -> None:
        try:
            # Serialized before the conversation: a header that cannot be encoded is this
            # mail's problem, not the connection's.
            data = serialize(msg, utf8=utf8)
        except Exception as exc:  # noqa: BLE001
            raise MailRefused(f"cannot encode the mail: {type(exc).__name__}: {exc}",
                              permanent=True) from None
        sender = parseaddr(str(msg["From"]))[1]
        if self.conn is None:
            self.conn = self._connect()
        conn = self.conn
        try:
            if utf8:
                refused = self._send_utf8(conn, sender, recipients, data)
            else:
                refused = conn.sendmail(sender, recipients, data)
        except SendError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            raise MailRefused(f"every recipient refused: {_refusals(exc.recipients)}",
                              permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise SendError(f"server answered {exc.smtp_code} {exc.smtp_error!r}",
                            permanent=exc.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise SendError(f"sending failed: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the state of the conversation is unknown
            self.close()
            raise MailRefused(f"sending failed unexpectedly: {type(exc).__name__}: {exc}",
                              permanent=True) from None
        if refused:
            log.warning("some recipients refused for %s: %s", msg["Message-ID"], refused)

    def _send_utf8(self, conn: smtplib.SMTP, sender: str, recipients: list[str],
                   data: bytes) -> dict[str, tuple[int, bytes]]:
        conn.ehlo_or_helo_if_needed()
        if not conn.has_extn("smtputf8"):
            wide = ", ".join(a for a in recipients if not a.isascii())
            raise MailRefused(
                f"the SMTP server {self.cfg.host}:{self.cfg.port} does not offer SMTPUTF8, "
                f"which the address {wide} needs; reach the recipient another way, or send "
                "through a server that supports SMTPUTF8", permanent=True)
        options = ["SMTPUTF8"] + (["BODY=8BITMIME"] if conn.has_extn("8bitmime") else [])
        return conn.sendmail(sender, recipients, data, mail_options=options)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
            self.conn = None


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr}: {code} {msg.decode('utf-8', 'replace')}"
                     for addr, (code, msg) in recipients.items())


def make_transport(settings: Settings) -> Transport:
    if settings.smtp.kind == "maildir":
        assert settings.smtp.path is not None
        return MaildirTransport(settings.smtp.path)
    return SmtpTransport(settings.smtp, oauth.token_source(settings, "smtp"))


def _xoauth2_responder(user: str, access_token: str) -> Callable[..., str]:
    """smtplib's authobject for XOAUTH2: the initial response, then an empty answer to the
    server's error challenge (it then says 535)."""
    calls = 0

    def respond(challenge: bytes | None = None) -> str:
        nonlocal calls
        calls += 1
        return oauth.xoauth2_string(user, access_token) if calls == 1 else ""
    return respond


@dataclass
class FlushResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


def backoff(attempts: int, base: int, maximum: int) -> timedelta:
    """Exponential backoff: base, 2·base, 4·base … capped at maximum."""
    return timedelta(seconds=min(maximum, base * 2 ** max(0, attempts - 1)))


def flush(settings: Settings, archive: Archive, transport: Transport, now: datetime,
          limit: int | None = None, *, texts: MailTexts | None = None) -> FlushResult:
    """Send every queued mail that is due. A server that is down defers the rest of the batch
    (same backoff) instead of hammering it once per mail.

    No single mail stops the flush: whatever goes wrong while building or sending one mail (an
    attachment missing from the archive, a header that cannot be encoded, refused recipients,
    a server without the SMTPUTF8 an address needs, an unexpected exception) marks that mail
    failed, or deferred when the refusal is temporary, with the reason in one log line, and the
    flush goes on. A mail to a customer or a department that fails for good is told to
    marketing administration (the send-failure notice), and that notice goes out in the same
    flush; never for mail to marketing administration itself, which would loop."""
    result = FlushResult()
    run = _Flush(settings, archive, transport, now, texts, result)
    for row in outbox_rows.due(now, limit):
        run.one(row)
    if run.notices and run.server_down is None:
        for row in outbox_rows.due(now, limit, ids=run.notices):
            run.one(row)
    if run.server_down:
        log.warning("mail server unavailable, %d mail(s) deferred: %s", result.deferred,
                    run.server_down)
    return result


class _Flush:
    """One flush: the claim → build → send → mark of each row."""

    def __init__(self, settings: Settings, archive: Archive, transport: Transport,
                 now: datetime, texts: MailTexts | None, result: FlushResult) -> None:
        self.settings, self.archive, self.transport = settings, archive, transport
        self.now, self._texts, self.result = now, texts, result
        self.server_down: str | None = None
        self.notices: list[int] = []  # failure notices queued by this flush

    def one(self, row: OutgoingMail) -> None:
        now = self.now
        if not outbox_rows.claim(row.id, now):
            return  # another flusher took it
        error = SendError(self.server_down) if self.server_down is not None else self._send(row)
        with store.transaction():
            if error is None:
                self._mark_sent(row)
            else:
                self._mark_failed(row, error)

    def _send(self, row: OutgoingMail) -> SendError | None:
        try:
            to, cc = recipients_of(row)
            recipients = to + cc
            sender = ascii_domain(self.settings.company.sender_address)
            utf8 = needs_smtputf8([*recipients, sender])
            msg = build_message(row, self.settings, self.archive, self.now, utf8=utf8)
        except Exception as exc:  # noqa: BLE001 - one bad mail must not stop the flush
            return SendError(f"cannot build the mail: {type(exc).__name__}: {exc}",
                             permanent=True)
        try:
            self.transport.send(msg, recipients, utf8=utf8)
        except MailRefused as exc:
            return exc
        except SendError as exc:
            if not exc.permanent:
                self.server_down = str(exc)
            return exc
        except Exception as exc:  # noqa: BLE001 - a transport bug must not stop the flush
            with contextlib.suppress(Exception):
                self.transport.close()
            return SendError(f"sending failed unexpectedly: {type(exc).__name__}: {exc}",
                             permanent=True)
        return None

    def _mark_sent(self, row: OutgoingMail) -> None:
        outbox_rows.mark_sent(row, self.now)
        self.result.sent += 1

    def _mark_failed(self, row: OutgoingMail, error: SendError) -> None:
        now, settings = self.now, self.settings
        attempts = row.attempts + 1
        if error.permanent or attempts >= settings.outbox.max_attempts:
            outbox_rows.mark_failed(row, attempts, str(error), now)
            log.error("outgoing mail %s (%s) failed for good: %s", row.id, row.kind, error)
            self._tell_marketing(row, str(error), attempts)
            self.result.failed += 1
            return
        wait = backoff(attempts, settings.outbox.backoff_seconds,
                       settings.outbox.backoff_max_seconds)
        outbox_rows.defer(row, attempts, str(error), now + wait)
        if self.server_down is None:  # the batch-wide case is logged once at the end
            log.warning("outgoing mail %s (%s) deferred: %s", row.id, row.kind, error)
        self.result.deferred += 1

    def _tell_marketing(self, row: OutgoingMail, reason: str, attempts: int) -> None:
        """The send-failure notice (notice_send_failed), for a mail that never left:
        marketing administration reaches the customer or department another way. A mail the
        server accepted and later returned is a bounce (services.record_bounce, notice_bounce).
        Inside the caller's transaction."""
        settings = self.settings
        recipients = json.loads(row.to_addrs) + json.loads(row.cc_addrs)
        complaint = row.complaint if row.complaint_id else None
        if complaint is None or set(recipients) & set(settings.marketing_admin):
            return  # no complaint to name, or the mail was theirs (a notice would loop)
        try:
            if self._texts is None:
                self._texts = MailTexts(settings.templates_dir)
            text = self._texts.render(
                "notice_send_failed", number=complaint.number,
                company_name=settings.company.name, to=", ".join(recipients),
                subject=row.subject, report=shorten(reason, 1500), ack=row.kind == "ack",
                customer_display=store.customer_display(complaint), attempts=attempts,
                outgoing_id=row.id)
        except Exception as exc:  # noqa: BLE001 - a broken mail text must not stop the flush
            log.error("cannot tell marketing administration about outgoing mail %s: %s",
                      row.id, exc)
            return
        notice = queue_mail(settings=settings, now=self.now, kind="notice_send_failed",
                            to=settings.marketing_admin, subject=text.subject,
                            body=text.body, complaint=complaint, source="outbox")
        self.notices.append(notice.id)



def stuck_rows(settings: Settings, now: datetime) -> list[OutgoingMail]:
    """Rows left in 'sending' by a crash: the server may or may not have accepted them."""
    return outbox_rows.stuck(now - timedelta(seconds=settings.outbox.stuck_after_seconds))


def requeue(row_id: int, now: datetime, actor: str) -> OutgoingMail:
    return outbox_rows.requeue(row_id, now, actor)



# ---- probe (mailproc doctor) ---------------------------------------------------------------

@dataclass(frozen=True)
class SmtpProbe:
    """What `probe` found. Nothing was sent: the conversation ends after EHLO and login."""

    where: str  # host:port, or maildir:PATH
    security: str  # 'ssl', 'starttls', 'none' or 'maildir'
    logged_in: bool = False
    features: dict[str, str] = field(default_factory=dict)  # EHLO keywords (lower case)

    @property
    def smtputf8(self) -> bool:
        return self.security == "maildir" or "smtputf8" in self.features

    @property
    def size_limit(self) -> int | None:
        """The server's SIZE in bytes; None when it announces none (or 0: no limit)."""
        value = self.features.get("size", "").strip()
        return int(value) if value.isdigit() and int(value) > 0 else None


def probe(settings: Settings) -> SmtpProbe:
    """Check the way mail goes out without sending any: connect, TLS (certificate verified)
    and login through the transport's own code path, then EHLO's extensions; QUIT. For the
    Maildir transport, that the folder is there and writable. Raises SendError whose message
    says what to fix."""
    cfg = settings.smtp
    if cfg.kind == "maildir":
        assert cfg.path is not None
        if not all((cfg.path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise SendError(f"{cfg.path} is not a Maildir; run `mailproc init` or check "
                            f"{cfg.url_source}")
        if not os.access(cfg.path / "tmp", os.W_OK) or not os.access(cfg.path / "new", os.W_OK):
            raise SendError(f"the Maildir {cfg.path} is not writable; check its permissions")
        return SmtpProbe(where=f"maildir:{cfg.path}", security="maildir", logged_in=True)
    transport = make_transport(settings)
    assert isinstance(transport, SmtpTransport)
    conn = transport._connect()  # noqa: SLF001 - the very path a flush takes
    try:
        try:
            conn.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"SMTP server {cfg.host}:{cfg.port} refused EHLO: {exc}") from None
        features = dict(conn.esmtp_features)
    finally:
        transport.conn = conn
        transport.close()
    return SmtpProbe(where=f"{cfg.host}:{cfg.port}", security=cfg.security,
                     logged_in=bool(cfg.user) or cfg.auth == "oauth2", features=features)
