"""The MIME message of an outgoing mail and its bytes on the wire: building it from plain values
(`MailToSend`), serialising it (UTF-8 headers when an address needs SMTPUTF8), IDNA domains,
Message-IDs.

Needs no database and no connection: outbox.py turns a queued row into a `MailToSend`,
transports.py sends the result. Must not queue, send or record anything.
"""

from __future__ import annotations

import binascii
import email.encoders
import email.policy
import email.quoprimime
import mimetypes
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, make_msgid

from mailproc.archive import Archive
from mailproc.config import Settings

MAILER_HEADER = "X-Mailproc-Id"


@dataclass(frozen=True)
class MailToSend:
    """What `build_message` needs of one queued mail: the values of its outbox row."""

    outgoing_id: int  # the outbox row's id, written as MAILER_HEADER
    kind: str
    to: tuple[str, ...]  # addresses as queued; domains become IDNA when the mail is built
    cc: tuple[str, ...]
    subject: str
    body_text: str
    body_html: str  # '' for a text-only mail
    message_id: str  # without the angle brackets, like the two below
    in_reply_to: str
    references: tuple[str, ...]
    attachments: tuple[str, ...]  # paths relative to the archive


def new_message_id(domain: str) -> str:
    """A Message-ID without the angle brackets, in the company's domain."""
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain).strip("<>")


def _header(value: str) -> str:
    """A header value as ASCII: RFC 2047 "Q" encoded words (UTF-8) when it is not, each at
    most 68 characters so a folded line stays under 78; Q keeps the ASCII part (a complaint
    number) readable in the raw mail, as the email package's own encoder does."""
    if value.isascii():
        return value
    words: list[str] = []
    chunk = bytearray()
    size = 0
    for char in value:
        encoded = char.encode("utf-8")
        cost = sum(1 if b in _Q_SAFE else 3 for b in encoded)
        if size + cost > 56 and chunk:
            words.append(email.quoprimime.header_encode(bytes(chunk), "utf-8"))
            chunk.clear()
            size = 0
        chunk += encoded
        size += cost
    words.append(email.quoprimime.header_encode(bytes(chunk), "utf-8"))
    return " ".join(words)


# What quoprimime.header_encode leaves as it is (a space becomes '_', one character too).
_Q_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/ ")


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


def needs_smtputf8(addresses: Sequence[str]) -> bool:
    """True when an address cannot be written in ASCII (RFC 6531/6532: SMTPUTF8)."""
    return not all(a.isascii() for a in addresses)


def serialize(msg: Message, *, utf8: bool, linesep: str = "\r\n", fold: bool = True) -> bytes:
    """The bytes of a message; with `utf8`, headers (addresses included) are written as
    UTF-8 (RFC 6532) instead of RFC 2047 encoded words, which cannot hold an address.
    smtplib's send_message cannot do this for a compat32 message (it asks the compat32
    policy for utf8=True and raises TypeError). A message `build_message` made (ASCII
    headers, payloads already transfer-encoded) is written by `_flatten`; anything else by
    the email package's generator. `fold=False` leaves header lines unfolded (the local
    Maildir's files, as mailbox.Maildir writes a message)."""
    width = _MAX_LINE if fold else 0
    if utf8:
        return msg.as_bytes(policy=email.policy.SMTPUTF8.clone(linesep=linesep,
                                                               max_line_length=width or None))
    flat = _flatten(msg, linesep, width)
    if flat is not None:
        return flat
    return msg.as_bytes(policy=email.policy.compat32.clone(linesep=linesep,
                                                           max_line_length=width))


_MAX_LINE = 78


def _fold(name: str, value: str, linesep: str, width: int = _MAX_LINE) -> str:
    """An ASCII header line folded at spaces to `width` characters where it can be (RFC 5322;
    0: not folded). Line breaks in the value never start a new header."""
    if "\n" in value or "\r" in value:
        value = " ".join(value.split())
    line = f"{name}: {value}"
    if not width or len(line) <= width:
        return line + linesep
    out: list[str] = []
    current = f"{name}:"
    for word in value.split():
        if len(current) + 1 + len(word) > width and current.strip() != f"{name}:":
            out.append(current)
            current = ""
        current += " " + word
    out.append(current)
    return linesep.join(out) + linesep


def _flatten(msg: Message, linesep: str, width: int = _MAX_LINE) -> bytes | None:
    """What the compat32 generator writes for a message of `build_message`, without its
    per-header and per-line Python work (~0.6 ms a mail); None when the message holds
    something this does not write (a Header object, a non-ASCII value, a non-string
    payload), for the generator to do."""
    out: list[str] = []
    if not _write(msg, out, linesep, width):
        return None
    try:
        return "".join(out).encode("ascii")
    except UnicodeEncodeError:
        return None


def _write(msg: Message, out: list[str], linesep: str, width: int) -> bool:
    boundary = None
    if msg.preamble is not None or msg.epilogue is not None:
        return False
    if msg.is_multipart():
        boundary = msg.get_boundary()
        if boundary is None:
            boundary = "===============" + uuid.uuid4().hex + "=="
            msg.set_boundary(boundary)
    for name, value in msg.raw_items():
        if not isinstance(value, str) or not value.isascii():
            return False
        out.append(_fold(name, value, linesep, width))
    out.append(linesep)
    if boundary is None:
        payload = msg.get_payload()
        if not isinstance(payload, str):
            return False
        out.append(linesep.join(payload.splitlines()))
        if payload.endswith(("\n", "\r")):
            out.append(linesep)
        return True
    parts = msg.get_payload()
    out.append(f"--{boundary}{linesep}")
    for index, part in enumerate(parts):
        if index:
            out.append(f"{linesep}--{boundary}{linesep}")
        if not _write(part, out, linesep, width):
            return False
    out.append(f"{linesep}--{boundary}--{linesep}")
    return True


def _from_header(name: str, address: str) -> str:
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    if not name:
        return address  # formataddr refuses a non-ASCII address (RFC 6532 allows it)
    display = formataddr((name, "x@x"), charset="utf-8").rsplit(" <", 1)[0]
    return f"{display} <{address}>"


def build_message(mail: MailToSend, settings: Settings, archive: Archive,
                  now: datetime, *, utf8: bool = False) -> Message:
    """The MIME message of a queued mail. Built with the compat32 classes: the modern
    EmailMessage API re-parses every header it is given and cost ~1 ms a mail.
    With `utf8` (an address needs SMTPUTF8) header values stay plain text, for
    `serialize(msg, utf8=True)`."""
    body: Message = _text_part(mail.body_text, "plain")
    if mail.body_html:
        alternative = MIMEMultipart("alternative")
        alternative.attach(body)
        alternative.attach(_text_part(mail.body_html, "html"))
        body = alternative
    if mail.attachments:
        msg: Message = MIMEMultipart("mixed")
        msg.attach(body)
        for rel in mail.attachments:
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
    msg["To"] = ", ".join(ascii_domain(a) for a in mail.to)
    if mail.cc:
        msg["Cc"] = ", ".join(ascii_domain(a) for a in mail.cc)
    msg["Subject"] = mail.subject if utf8 else _header(mail.subject)
    # In the company's time zone ("+0700"), as its people's own mail clients write it.
    msg["Date"] = format_datetime(now.astimezone(settings.timezone))
    msg["Message-ID"] = f"<{mail.message_id}>"
    if mail.in_reply_to:
        msg["In-Reply-To"] = f"<{mail.in_reply_to}>"
    if mail.references:
        msg["References"] = " ".join(f"<{r}>" for r in mail.references)
    # RFC 3834: we are automatic; ask Exchange not to answer us with its own auto-replies.
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[MAILER_HEADER] = str(mail.outgoing_id)
    msg["Content-Language"] = "id"
    return msg


def _guess_type(name: str) -> tuple[str, str]:
    ctype, _ = mimetypes.guess_type(name)
    # message/* may not be base64-encoded (RFC 2046 5.2.1): an archived mail goes as a file.
    if not ctype or ctype.startswith("message/"):
        return "application", "octet-stream"
    main, _, sub = ctype.partition("/")
    return main, sub
