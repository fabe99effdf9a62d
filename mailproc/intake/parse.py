"""Raw RFC 822 bytes -> an immutable `IncomingMail` (`parse_message`), and a staff forward's
original sender and text (`forwarded_original`).

Owns the value types (`IncomingMail`, `Address`, `Attachment`, `HeaderMap`) and the walk that
assembles them: which parts are the body, which are attachments, which are attached messages
(parsed in turn, to a bounded depth). Reading one part or header is `mime`'s job, HTML is
`htmltext`'s, safe file names `filenames`', and what makes a mail an auto-reply or where an
inline forward starts is decided by `mailproc.domain.mailrules` from the plain values this
module hands it. Standard library only, no network, no database.

The parser is deliberately forgiving: customers write from every mail client there is, and a
complaint must never be lost because one header is malformed. `parse_message` raises only for
input that is not bytes; every other problem is recorded in `IncomingMail.defects` and the
fields that could be read are still filled.
"""

from __future__ import annotations

import email
import email.message
import email.parser
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TypeVar

from mailproc.domain import mailrules
from mailproc.intake import mime
from mailproc.intake.filenames import extension_for, sanitise_filename
from mailproc.intake.htmltext import html_to_text
from mailproc.intake.mime import (
    HEADER_PARSE_ERRORS,
    POLICY,
    collapse_ws,
    decode_header_value,
    guess_decode,
    header,
    header_values,
    tidy,
)

__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "MAX_FORWARD_DEPTH",
    "Address",
    "Attachment",
    "HeaderMap",
    "IncomingMail",
    "forwarded_original",
    "is_auto_reply",
    "parse_message",
]

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# Attached messages inside attached messages ...; deeper ones are kept as .eml attachments.
MAX_FORWARD_DEPTH = 3
MAX_MIME_DEPTH = 40  # nesting of multiparts; real mail rarely exceeds 6

# Headers kept verbatim (unfolded) in IncomingMail.headers for later stages.
KEPT_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-auto-response-suppress",
    "x-autoreply",
    "x-autorespond",
    "x-mailproc-id",
    "return-path",
    "content-type",
    "sender",
    "delivered-to",
    "x-original-to",
    "x-mailer",
    "user-agent",
)


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


class HeaderMap(Mapping[str, str]):
    """A read-only dict of header values. Unlike MappingProxyType it survives pickle, deepcopy
    and dataclasses.asdict(), and it is hashable like the rest of IncomingMail."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"HeaderMap({self._data!r})"

    def __reduce__(self) -> tuple[type[HeaderMap], tuple[dict[str, str]]]:
        return (HeaderMap, (self._data,))


@dataclass(frozen=True)
class Address:
    name: str  # display name, decoded (RFC 2047), '' if none
    email: str  # lower-cased addr-spec, '' if unparseable

    def __str__(self) -> str:
        if self.name and self.email:
            return f"{self.name} <{self.email}>"
        return self.email or self.name


_NO_ADDRESS = Address("", "")


@dataclass(frozen=True)
class Attachment:
    filename: str  # sanitised, safe to use as a file name
    original_filename: str  # decoded but unsanitised, for display/records; '' if none
    content_type: str  # lower-case
    size: int  # decoded payload size in bytes
    content: bytes | None = field(repr=False)  # None when too_large
    too_large: bool
    inline: bool  # has a Content-ID and is not disposition 'attachment'
    content_id: str  # without <>; '' if none
    sha256: str  # hex digest of the decoded payload, computed even when too large


@dataclass(frozen=True)
class IncomingMail:
    message_id: str  # without <>, '' if missing
    key: str  # message_id, else 'sha256:' + hex digest of the raw bytes (dedupe key)
    subject: str  # decoded, whitespace-collapsed
    from_: Address  # Address('', '') when missing
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None  # timezone-aware (UTC when the header had no zone)
    in_reply_to: tuple[str, ...]  # message ids without <>
    references: tuple[str, ...]  # message ids without <>, in order, no duplicates
    text: str  # readable body: text/plain if non-blank, else the HTML converted
    html: str = field(repr=False)  # the HTML part(s), '' if none
    attachments: tuple[Attachment, ...]  # real and inline parts, not the body parts
    forwarded: tuple[IncomingMail, ...]  # attached message/rfc822 parts, parsed
    auto_reply: str  # '' for a human mail, else the reason (see is_auto_reply)
    headers: Mapping[str, str] = field(repr=False)  # a HeaderMap of KEPT_HEADERS present
    size: int  # len(raw)
    defects: tuple[str, ...] = ()  # what the parser had to work around, for quarantine/diagnosis


def _addresses(msg: email.message.Message, name: str) -> tuple[Address, ...]:
    return tuple(Address(n, e) for n, e in mime.addresses(msg, name))


# --------------------------------------------------------------------------------------------
# Auto replies: the message's headers read here, judged by domain.mailrules
# --------------------------------------------------------------------------------------------


def is_auto_reply(msg: email.message.Message) -> str:
    """Why `msg` is machine-generated (see `mailrules.auto_reply_reason`), or '' for a human
    mail. Accepts a Message of any policy."""
    try:
        present = {
            name: header(msg, name)
            for name in mailrules.AUTO_REPLY_HEADERS
            if header_values(msg, name)
        }
        return mailrules.auto_reply_reason(
            present,
            subject=collapse_ws(decode_header_value(header(msg, "subject"))),
            sender_locals=mime.address_locals(msg, "from"),
            content_type=msg.get_content_type(),
            report_type=str(msg.get_param("report-type") or ""),
        )
    except HEADER_PARSE_ERRORS:
        return ""  # a header we cannot read is not evidence of an auto reply


# --------------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------------

_T = TypeVar("_T")


def _guard(defects: list[str], label: str, fn: Callable[[], _T], default: _T) -> _T:
    """Run one extraction step; on failure record a defect and keep going with `default`."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - any parser bug becomes a defect, the mail is kept
        defects.append(f"{label}: {type(exc).__name__}: {exc}")
        return default


class _Collected:
    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.forwarded: list[IncomingMail] = []
        self.defects: list[str] = []


def _make_attachment(
    part: email.message.Message, data: bytes, ctype: str, index: int, max_bytes: int
) -> Attachment:
    original = mime.filename(part)
    fallback = f"lampiran-{index}{extension_for(ctype)}"
    filename = sanitise_filename(original, fallback=fallback) if original else fallback
    content_id = collapse_ws(header(part, "content-id")).strip("<> ")
    too_large = len(data) > max_bytes
    return Attachment(
        filename=filename,
        original_filename=original,
        content_type=ctype,
        size=len(data),
        content=None if too_large else data,
        too_large=too_large,
        # Outlook/Gmail mark inline images 'inline'; some clients omit the disposition in
        # multipart/related, so a Content-ID without 'attachment' counts as inline too.
        inline=bool(content_id) and mime.disposition(part) != "attachment",
        content_id=content_id,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _add_attachment(
    part: email.message.Message, data: bytes, ctype: str, col: _Collected, max_bytes: int
) -> None:
    index = len(col.attachments) + 1
    col.attachments.append(_make_attachment(part, data, ctype, index, max_bytes))


def _walk(
    part: email.message.Message, col: _Collected, mime_depth: int, fwd_depth: int, max_bytes: int
) -> None:
    if mime_depth > MAX_MIME_DEPTH:
        col.defects.append(f"MIME nesting deeper than {MAX_MIME_DEPTH}: rest ignored")
        return
    ctype = mime.content_type(part)
    if ctype.startswith("multipart/") and part.is_multipart():
        for sub in part.get_payload():
            if not isinstance(sub, email.message.Message):
                continue
            try:
                _walk(sub, col, mime_depth + 1, fwd_depth, max_bytes)
            except Exception as exc:  # noqa: BLE001 - one unreadable part must not cost the others
                col.defects.append(f"part {mime.content_type(sub)}: {type(exc).__name__}: {exc}")
        return
    if ctype in ("message/rfc822", "message/global") and part.is_multipart():
        inner = _guard(col.defects, "attached message", lambda: mime.inner_message(part), None)
        if inner is not None and fwd_depth < MAX_FORWARD_DEPTH:
            raw = mime.message_bytes(inner)
            col.forwarded.append(_build(inner, raw, fwd_depth + 1, max_bytes))
            return
        data = mime.message_bytes(inner) if inner is not None else mime.payload_bytes(part)
        _add_attachment(part, data, "message/rfc822", col, max_bytes)
        return
    data = mime.payload_bytes(part)
    if ctype.startswith("multipart/"):
        # a multipart without usable boundaries: the parser left raw text; keep what is readable
        col.defects.append(f"{ctype} without usable boundary: read as text")
        col.plain.append(mime.text_of(part, data, "text/plain"))
        return
    if ctype in ("text/plain", "text/html"):
        is_body = mime.disposition(part) != "attachment" and not mime.filename(part)
        if is_body:
            target = col.plain if ctype == "text/plain" else col.html
            target.append(mime.text_of(part, data, ctype))
            return
    _add_attachment(part, data, ctype, col, max_bytes)


def _build(
    msg: email.message.Message,
    raw: bytes,
    fwd_depth: int,
    max_bytes: int,
    extra_defects: Iterable[str] = (),
    walk_body: bool = True,
) -> IncomingMail:
    defects: list[str] = list(extra_defects)
    for defect in getattr(msg, "defects", ()) or ():
        defects.append(type(defect).__name__)

    message_id = _guard(
        defects, "Message-ID", lambda: mime.message_id(header(msg, "message-id")), ""
    )
    key = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    subject = _guard(
        defects,
        "Subject",
        lambda: collapse_ws(decode_header_value(header(msg, "subject"))),
        "",
    )
    from_all = _guard(defects, "From", lambda: _addresses(msg, "from"), ())
    reply_to = _guard(defects, "Reply-To", lambda: _addresses(msg, "reply-to"), ())
    to = _guard(defects, "To", lambda: _addresses(msg, "to"), ())
    cc = _guard(defects, "Cc", lambda: _addresses(msg, "cc"), ())
    date = _guard(defects, "Date", lambda: mime.parse_date(header(msg, "date")), None)
    in_reply_to = _guard(
        defects, "In-Reply-To", lambda: mime.message_id_list(header(msg, "in-reply-to")), ()
    )
    references = _guard(
        defects,
        "References",
        lambda: mime.message_id_list(" ".join(header_values(msg, "references"))),
        (),
    )

    col = _Collected()
    if walk_body:
        _guard(defects, "body", lambda: _walk(msg, col, 0, fwd_depth, max_bytes), None)
    defects.extend(col.defects)

    plain = "\n".join(col.plain).strip()
    html = "\n".join(col.html)
    # text/plain wins; a whitespace-only plain part ("view this mail in HTML") does not count
    text = tidy(plain) if plain else _guard(defects, "HTML", lambda: html_to_text(html), "")
    auto_reply = _guard(defects, "auto reply", lambda: is_auto_reply(msg), "")

    def kept_headers() -> Mapping[str, str]:
        return HeaderMap({name: value for name in KEPT_HEADERS if (value := header(msg, name))})

    return IncomingMail(
        message_id=message_id,
        key=key,
        subject=subject,
        from_=from_all[0] if from_all else _NO_ADDRESS,
        reply_to=reply_to,
        to=to,
        cc=cc,
        date=date,
        in_reply_to=in_reply_to,
        references=references,
        text=text,
        html=html,
        attachments=tuple(col.attachments),
        forwarded=tuple(col.forwarded),
        auto_reply=auto_reply,
        headers=_guard(defects, "headers", kept_headers, HeaderMap()),
        size=len(raw),
        defects=tuple(defects),
    )


def _unreadable(raw: bytes, reason: str) -> IncomingMail:
    """Last resort: nothing structured could be read, keep the bytes as text for a human."""
    return IncomingMail(
        message_id="",
        key="sha256:" + hashlib.sha256(raw).hexdigest(),
        subject="",
        from_=_NO_ADDRESS,
        reply_to=(),
        to=(),
        cc=(),
        date=None,
        in_reply_to=(),
        references=(),
        text=tidy(guess_decode(raw)),
        html="",
        attachments=(),
        forwarded=(),
        auto_reply="",
        headers=HeaderMap(),
        size=len(raw),
        defects=(reason,),
    )


def parse_message(
    raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
) -> IncomingMail:
    """Parse one raw RFC 822 message. Raises TypeError for non-bytes input, nothing else."""
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise TypeError(f"parse_message needs bytes, got {type(raw).__name__}")
    max_bytes = max(int(max_attachment_bytes), 0)
    # Blank lines before the headers (seen from some export tools) would make it all body.
    source = raw.lstrip(b"\r\n")
    # The broad catches below keep the contract above: whatever the stdlib parser or our own
    # code raises, the mail is kept (as text, for a human) and the batch goes on.
    try:
        msg = email.message_from_bytes(source, policy=POLICY)
    except RecursionError:
        # Absurdly deep MIME nesting: keep the headers, give up on the body.
        try:
            header_parser = email.parser.BytesHeaderParser(policy=POLICY)
            msg = header_parser.parsebytes(source)
        except Exception as exc:  # noqa: BLE001 - never lose the mail, see above
            return _unreadable(raw, f"unparseable: {type(exc).__name__}")
        try:
            return _build(msg, raw, 0, max_bytes, ["MIME nesting too deep: body not read"], False)
        except Exception as exc:  # noqa: BLE001 - never lose the mail, see above
            return _unreadable(raw, f"unparseable: {type(exc).__name__}")
    except Exception as exc:  # noqa: BLE001 - never lose the mail, see above
        return _unreadable(raw, f"unparseable: {type(exc).__name__}: {exc}")
    try:
        return _build(msg, raw, 0, max_bytes)
    except Exception as exc:  # noqa: BLE001 - every step is guarded; never lose the mail anyway
        return _unreadable(raw, f"parse failed: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------------
# Forwarded originals
# --------------------------------------------------------------------------------------------


def _forward_sender(value: str) -> Address | None:
    if not value:
        return None
    found = mime.parse_addresses([value])
    if found:
        return Address(*found[0])
    return Address(collapse_ws(value), "")


def forwarded_sent_at(mail: IncomingMail, tz: tzinfo) -> datetime | None:
    """When the customer sent the original of a mail forwarded by staff: the attached
    message's Date, else the Date/Sent/Tanggal line of the inline forwarded block (read in
    `tz` when it names no zone); None when neither says."""
    if mail.forwarded:
        return mail.forwarded[0].date
    found = mailrules.find_inline_forward(mail.text)
    return mailrules.forward_sent_at(found.sent, tz) if found is not None else None


def forwarded_original(mail: IncomingMail) -> tuple[Address | None, str]:
    """For a mail forwarded by staff: the original sender and the original text.

    First an attached message/rfc822 (its from_ and text); else the inline forwarded block in
    `mail.text` (the styles `mailrules.find_inline_forward` knows: Gmail, Outlook, Thunderbird,
    Apple Mail, English and Indonesian). Returns (None, mail.text) when no forwarded original is
    found.

    Only call this for mail known to be a forward (e.g. from a company address): an ordinary
    reply that quotes an Outlook header block would otherwise be read as a forward too.
    """
    if mail.forwarded:
        original = mail.forwarded[0]
        return original.from_, original.text
    found = mailrules.find_inline_forward(mail.text)
    if found is None:
        return None, mail.text
    return _forward_sender(found.sender), found.text
