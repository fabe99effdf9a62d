"""Raw RFC 822 bytes -> an immutable `IncomingMail`.

Standard library only, no network. The parser is deliberately forgiving: customers write from
every mail client there is, and a complaint must never be lost because one header is malformed.
`parse_message` raises only for input that is not bytes; every other problem is recorded in
`IncomingMail.defects` and the fields that could be read are still filled.

We parse with `policy.compat32`: it keeps raw header values (so a single bad header cannot raise
on access, as `policy.default`'s header objects can), decodes RFC 2231 continuations with
non-ASCII correctly, and we do all charset and RFC 2047 decoding ourselves with `errors='replace'`
(never 'ignore', which silently drops characters as imap-tools does).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.message
import email.parser
import email.policy
import email.utils
import hashlib
import mimetypes
import quopri
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import TypeVar

__all__ = [
    "Address",
    "Attachment",
    "HeaderMap",
    "IncomingMail",
    "decode_bytes",
    "decode_header_value",
    "forwarded_original",
    "html_to_text",
    "is_auto_reply",
    "parse_message",
    "sanitise_filename",
]

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# Attached messages inside attached messages ...; deeper ones are kept as .eml attachments.
MAX_FORWARD_DEPTH = 3
MAX_MIME_DEPTH = 40  # nesting of multiparts; real mail rarely exceeds 6
MAX_FILENAME_CHARS = 120
MAX_FILENAME_BYTES = 240  # UTF-8 bytes; most file systems allow 255 per name

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


class _RawCompat32(email.policy.Compat32):
    """compat32, but header access returns raw 8-bit bytes as surrogate escapes.

    Stock compat32 wraps such values in a Header object whose str() is U+FFFD for every byte, so
    a UTF-8 file name sent unencoded (Outlook does this) would be lost. We decode them ourselves.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawCompat32()


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


# --------------------------------------------------------------------------------------------
# Charsets and header decoding
# --------------------------------------------------------------------------------------------

# Labels that mean "no idea" -> guess (utf-8, then windows-1252, then latin-1).
_UNKNOWN_CHARSETS = {
    "", "x-unknown", "unknown", "unknown-8bit", "x-user-defined", "default", "8bit",
}  # fmt: skip
# Common mail labels Python does not know, or where a superset decodes what senders really meant.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "ks_c_5601-1987": "cp949",
    "x-sjis": "shift_jis",
    "x-mac-roman": "mac_roman",
    "windows-874": "cp874",
    "x-cp1250": "cp1250",
    "x-cp1251": "cp1251",
    "utf-8-sig": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
# Codecs that exist in Python but are not a mail charset (they would "decode" nonsense).
_REJECTED_CODECS = {
    "undefined",
    "unicode-escape",
    "raw-unicode-escape",
    "idna",
    "punycode",
    "mbcs",
    "oem",
    "charmap",
}
_C1_BYTES = re.compile(rb"[\x80-\x9f]")


def _codec(charset: str | None) -> str | None:
    """Python codec name for a MIME charset label, or None when unknown or unsuitable."""
    if not charset or not isinstance(charset, str):
        return None
    label = charset.strip().strip("\"'").lower()
    if label in _UNKNOWN_CHARSETS:
        return None
    label = _CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    # bytes-to-bytes codecs such as 'base64' or 'zlib' are not text encodings
    if not getattr(info, "_is_text_encoding", True) or info.name in _REJECTED_CODECS:
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, errors='replace'; guess when the label is unknown.

    An iso-8859-1 label is read as windows-1252 when C1 bytes occur, as browsers do: Windows
    mailers label cp1252 text (curly quotes, '€') as latin-1 all the time. Under a us-ascii
    label, 8-bit bytes are guessed like an unknown charset.
    """
    codec = _codec(charset)
    if codec == "ascii":
        codec = None  # 8-bit bytes under an ascii label: guess (utf-8 first), don't replace all
    if codec == "iso8859-1" and _C1_BYTES.search(data):
        codec = "cp1252"
    if codec is not None:
        try:
            text = data.decode(codec, errors="replace")
        except Exception:  # a codec can still fail on odd state; fall back to guessing
            text = _guess_decode(data)
    else:
        text = _guess_decode(data)
    return text[1:] if text.startswith("\ufeff") else text


def _guess_decode(data: bytes) -> str:
    for codec in ("utf-8", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _fix_surrogates(value: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogate escapes; turn them into text."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    return _guess_decode(raw)


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")


def _decode_encoded_word(charset: str, encoding: str, text: str) -> bytes | None:
    data = text.encode("ascii", "replace")
    try:
        if encoding in "Bb":
            if not re.fullmatch(rb"[A-Za-z0-9+/]*=*", data):
                return None  # not base64 at all: leave the text as it came
            data = data.rstrip(b"=")
            data += b"=" * (-len(data) % 4)  # missing padding is common and harmless
            return base64.b64decode(data, validate=True)
        return binascii.a2b_qp(data, header=True)
    except (binascii.Error, ValueError):
        return None


def decode_header_value(value: str | None) -> str:
    """Decode RFC 2047 encoded words (also malformed placements) and raw 8-bit header bytes.

    Adjacent encoded words in the same charset are joined before decoding, because mailers split
    multi-byte characters across words.
    """
    if not value:
        return ""
    value = _fix_surrogates(str(value))
    if "=?" not in value:
        return value
    # tokens: ("t", text) or ("e", charset, bytes)
    tokens: list[tuple] = []
    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        decoded = _decode_encoded_word(m.group(1), m.group(2), m.group(3))
        if decoded is None:
            continue  # left in the text as it is
        between = value[pos : m.start()]
        if between and not (between.isspace() and tokens and tokens[-1][0] == "e"):
            tokens.append(("t", between))
        charset = m.group(1).split("*", 1)[0]  # RFC 2231 language suffix: utf-8*id
        if tokens and tokens[-1][0] == "e" and tokens[-1][1].lower() == charset.lower():
            tokens[-1] = ("e", tokens[-1][1], tokens[-1][2] + decoded)
        else:
            tokens.append(("e", charset, decoded))
        pos = m.end()
    tokens.append(("t", value[pos:]))
    parts = [tok[1] if tok[0] == "t" else decode_bytes(tok[2], tok[1]) for tok in tokens]
    return "".join(parts)


def _collapse_ws(value: str) -> str:
    return " ".join(_strip_controls(value).split())


def _raw_header_values(msg: email.message.Message, name: str) -> list[str]:
    """Raw (undecoded) values of every header called `name`, unfolded."""
    name = name.lower()
    try:
        items = list(msg.raw_items())
    except Exception:
        try:
            items = list(msg.items())
        except Exception:
            return []
    values = []
    for key, value in items:
        if str(key).lower() != name:
            continue
        text = _fix_surrogates(str(value))
        values.append(re.sub(r"\r?\n(?=[ \t])", "", text).replace("\r", "").replace("\n", " "))
    return values


def _header(msg: email.message.Message, name: str) -> str:
    values = _raw_header_values(msg, name)
    return values[0].strip() if values else ""


# --------------------------------------------------------------------------------------------
# Addresses, ids, dates
# --------------------------------------------------------------------------------------------

_ADDR_SPEC = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")


def _make_address(name: str, addr: str) -> Address:
    name = _collapse_ws(decode_header_value(name)).strip("\"' ")
    addr = addr.strip().strip("<>").strip()
    if _ADDR_SPEC.fullmatch(addr):
        return Address(name, addr.lower())
    found = _ADDR_SPEC.search(addr)
    if found:
        # "Budi Santoso budi@example.com" without brackets: the rest is the name
        rest = _collapse_ws((addr[: found.start()] + " " + addr[found.end() :]).strip("<>\"' "))
        return Address(name or decode_header_value(rest), found.group(0).lower())
    return Address(name, "")


def _parse_addresses(values: Iterable[str]) -> tuple[Address, ...]:
    values = [v for v in values if v]
    if not values:
        return ()
    try:
        pairs = email.utils.getaddresses(values)
    except Exception:
        pairs = [("", m.group(0)) for v in values for m in _ADDR_SPEC.finditer(v)]
    result: list[Address] = []
    seen: set[str] = set()
    for name, addr in pairs:
        address = _make_address(name, addr)
        if not address.email and not address.name:
            continue
        if address.email:
            # Outlook writes "a@x <a@x>", which parses as two addresses
            if address.email in seen:
                continue
            seen.add(address.email)
        result.append(address)
    return tuple(result)


def _addresses(msg: email.message.Message, name: str) -> tuple[Address, ...]:
    return _parse_addresses(_raw_header_values(msg, name))


def _message_id(value: str) -> str:
    m = re.search(r"<([^<>]+)>", value)
    if m:
        return "".join(m.group(1).split())
    tokens = value.split()
    return tokens[0].strip("<>") if tokens else ""


def _message_id_list(value: str) -> tuple[str, ...]:
    ids = ["".join(m.split()) for m in re.findall(r"<([^<>]*)>", value)]
    if not ids:
        ids = [t.strip("<>,") for t in value.split() if "@" in t]
    result: list[str] = []
    for mid in ids:
        if mid and mid not in result:
            result.append(mid)
    return tuple(result)


def _parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except Exception:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # '-0000' or no zone: RFC 5322 says UTC is the best guess
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --------------------------------------------------------------------------------------------
# Auto replies
# --------------------------------------------------------------------------------------------

_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
_AUTO_SUBJECTS = (
    "automatic reply:",
    "auto reply",
    "auto-reply",
    "autoreply",
    "out of office",
    "out-of-office",
    "balasan otomatis",
    "undeliverable:",
    "undelivered mail returned to sender",
    "delivery status notification",
    "mail delivery failed",
    "returned mail:",
)
_DAEMON_LOCALS = {"mailer-daemon", "postmaster", "mailerdaemon"}


def is_auto_reply(msg: email.message.Message) -> str:
    """Why `msg` is machine-generated (RFC 3834 and common practice), or '' for a human mail.

    Mail must never be answered automatically when this is non-empty, or two robots ping-pong.
    """
    try:
        return _auto_reply_reason(msg)
    except Exception:
        return ""  # a header we cannot read is not evidence of an auto reply


def _auto_reply_reason(msg: email.message.Message) -> str:
    # Most specific first: a bounce is reported as a bounce even if it also says Auto-Submitted.
    if msg.get_content_type() == "multipart/report":
        report = str(msg.get_param("report-type") or "").lower()
        kind = {"delivery-status": " (DSN)", "disposition-notification": " (MDN)"}.get(report, "")
        return f"multipart/report{kind}"
    for value in _raw_header_values(msg, "from"):
        for _name, addr in email.utils.getaddresses([value]):
            local = addr.strip().strip("<>").split("@", 1)[0].lower()
            if local in _DAEMON_LOCALS:
                return f"pengirim {local}"
    auto = _header(msg, "auto-submitted").lower()
    token = auto.split(";", 1)[0].split("(", 1)[0].strip()
    if token and token != "no":
        return f"Auto-Submitted: {token}"
    if _raw_header_values(msg, "x-auto-response-suppress"):
        return "X-Auto-Response-Suppress"
    for name, reason in (("list-id", "List-Id"), ("list-unsubscribe", "List-Unsubscribe")):
        if _raw_header_values(msg, name):
            return reason
    precedence = _header(msg, "precedence").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name, reason in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        if _raw_header_values(msg, name):
            return reason
    subject = _collapse_ws(decode_header_value(_header(msg, "subject"))).lower()
    for prefix in _AUTO_SUBJECTS:
        if subject.startswith(prefix):
            return f"subjek balasan otomatis ({prefix})"
    # RFC 5321: only notifications are sent with a null reverse-path
    if _header(msg, "return-path").replace(" ", "") == "<>":
        return "Return-Path: <>"
    return ""


# --------------------------------------------------------------------------------------------
# HTML -> text
# --------------------------------------------------------------------------------------------

_SKIP_TAGS = {"script", "style", "head", "title", "template", "noscript", "xml"}
_VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}  # fmt: skip
_PARA_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
_BLOCK_TAGS = {
    "address", "article", "aside", "caption", "center", "dd", "details", "dialog", "dir", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr",
    "main", "menu", "nav", "section", "summary", "tbody", "thead", "tfoot",
}  # fmt: skip
_HTML_WS = re.compile(r"[ \t\n\r\f\xa0\u200b]+")


class _Table:
    __slots__ = ("row", "in_cell")

    def __init__(self) -> None:
        self.row: list[str] | None = None
        self.in_cell = False


class _TextExtractor(HTMLParser):
    """Readable text from mail HTML. Buffers form a stack: every table cell gets its own."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.buffers: list[list[str]] = [[]]
        self.skip = 0
        self.pre = 0
        self.lists: list[str] = []
        self.tables: list[_Table] = []

    # -- output helpers
    def _buf(self) -> list[str]:
        return self.buffers[-1]

    def _at_line_start(self) -> bool:
        for piece in reversed(self._buf()):
            if piece:
                return piece[-1] in " \n"
        return True

    def newlines(self, count: int) -> None:
        """Make the current buffer end with at least `count` newlines (none at its start)."""
        buf = self._buf()
        while buf and buf[-1].strip(" ") == "" and "\n" not in buf[-1]:
            buf.pop()
        if buf and buf[-1].endswith(" "):
            buf[-1] = buf[-1].rstrip(" ")
        if not buf:
            return
        have = 0
        for piece in reversed(buf):
            stripped = piece.rstrip("\n")
            have += len(piece) - len(stripped)
            if stripped:
                break
        if have < count:
            buf.append("\n" * (count - have))

    def write(self, text: str) -> None:
        if self.pre:
            self._buf().append(text.replace("\xa0", " "))
            return
        text = _HTML_WS.sub(" ", text)
        if text.startswith(" ") and self._at_line_start():
            text = text.lstrip(" ")
        if text:
            self._buf().append(text)

    # -- tables
    def _close_cell(self, table: _Table) -> None:
        if table.in_cell:
            text = "".join(self.buffers.pop()) if len(self.buffers) > 1 else ""
            if table.row is None:
                table.row = []
            table.row.append(text.strip())
            table.in_cell = False

    def _close_row(self, table: _Table) -> None:
        if table.row is None:
            return
        cells, table.row = table.row, None
        if not any(cells):
            return
        # a multi-column row reads best on one line
        line = cells[0] if len(cells) == 1 else " | ".join(" ".join(c.split()) for c in cells)
        self.newlines(1)
        self._buf().append(line)
        self.newlines(1)

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.skip = 0  # a <head> that was never closed ends here
            return
        if tag in _SKIP_TAGS:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            self._buf().append("\n")
        elif tag in ("ul", "ol"):
            self.newlines(1)
            self.lists.append(tag)
        elif tag == "li":
            self.newlines(1)
            self._buf().append("  " * max(len(self.lists) - 1, 0) + "- ")
        elif tag == "pre":
            self.newlines(2)
            self.pre += 1
        elif tag == "table":
            self.newlines(1)
            self.tables.append(_Table())
        elif tag == "tr" and self.tables:
            table = self.tables[-1]
            self._close_cell(table)
            self._close_row(table)
            table.row = []
        elif tag in ("td", "th") and self.tables:
            table = self.tables[-1]
            self._close_cell(table)
            if table.row is None:
                table.row = []
            self.buffers.append([])
            table.in_cell = True
        elif tag in _PARA_TAGS:
            self.newlines(2)
        elif tag in _BLOCK_TAGS or tag in ("tr", "td", "th"):
            self.newlines(1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(self.skip - 1, 0)
            return
        if self.skip or tag in _VOID_TAGS:
            return
        if tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self.newlines(1)
        elif tag == "li":
            self.newlines(1)
        elif tag == "pre":
            self.pre = max(self.pre - 1, 0)
            self.newlines(2)
        elif tag in ("td", "th") and self.tables:
            self._close_cell(self.tables[-1])
        elif tag == "tr" and self.tables:
            self._close_cell(self.tables[-1])
            self._close_row(self.tables[-1])
        elif tag == "table" and self.tables:
            table = self.tables.pop()
            self._close_cell(table)
            self._close_row(table)
            self.newlines(1)
        elif tag in _PARA_TAGS:
            self.newlines(2)
        elif tag in _BLOCK_TAGS:
            self.newlines(1)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.write(data)

    def result(self) -> str:
        while self.tables:
            table = self.tables.pop()
            self._close_cell(table)
            self._close_row(table)
        while len(self.buffers) > 1:  # cells left open by broken markup
            inner = self.buffers.pop()
            self._buf().extend(inner)
        return "".join(self.buffers[0])


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _strip_controls(text: str) -> str:
    """Drop C0 controls (keeps tab/newline): NUL in particular is rejected by PostgreSQL text."""
    return _CONTROL_CHARS.sub("", text)


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = _strip_controls(text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def _html_fallback(html: str) -> str:
    """Crude tag stripping, used only when HTMLParser gives up on broken markup."""
    import html as html_module

    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", html)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h[1-6])\s*>", "\n", text)
    text = re.sub(r"(?s)<[^>]*>", " ", text)
    text = html_module.unescape(text)
    lines = [" ".join(line.replace("\xa0", " ").split()) for line in text.split("\n")]
    return _tidy("\n".join(lines))


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML mail body.

    Block elements and <br> become newlines, list items '- ', table rows one line with cells
    separated by ' | ', script/style/head are dropped, entities decoded, whitespace tidied.
    """
    if not html:
        return ""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # _markupbase raises AssertionError on some malformed declarations
        return _html_fallback(html)
    return _tidy(parser.result())


# --------------------------------------------------------------------------------------------
# File names
# --------------------------------------------------------------------------------------------

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", "conin$", "conout$"} | {
    f"{dev}{n}" for dev in ("com", "lpt") for n in "0123456789¹²³"
}
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, bidi overrides, surrogates


def _truncate_filename(name: str) -> str:
    if len(name) <= MAX_FILENAME_CHARS and len(name.encode("utf-8")) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= 16 and " " not in ext:
        ext = "." + ext
    else:
        stem, ext = name, ""
    stem = stem[: MAX_FILENAME_CHARS - len(ext)]
    while stem and len((stem + ext).encode("utf-8")) > MAX_FILENAME_BYTES:
        stem = stem[:-1]
    return stem.rstrip(" .") + ext


def sanitise_filename(name: str, *, fallback: str = "lampiran") -> str:
    """A file name that is safe to create on Linux and Windows, keeping what a person recognises.

    Directory parts are dropped (both separators), control and bidi-override characters removed,
    characters Windows forbids replaced by '_', '..' collapsed, leading dots/dashes stripped
    (no hidden files, no option-like names), reserved device names prefixed with '_', and the
    length bounded keeping the extension. Returns `fallback` when nothing usable remains.
    """
    if not isinstance(name, str):
        name = "" if name is None else str(name)
    text = unicodedata.normalize("NFC", _fix_surrogates(name))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    text = re.sub(r'[<>:"|?*]', "_", text)
    text = " ".join(text.split())
    text = re.sub(r"\.{2,}", ".", text)
    text = text.lstrip(" .-").rstrip(" .")
    if text.split(".", 1)[0].rstrip(" ").lower() in _WINDOWS_RESERVED:
        text = "_" + text
    text = _truncate_filename(text)
    if not text.strip("._ "):
        return fallback
    return text


_EXTENSIONS = {
    "application/octet-stream": ".bin",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/x-zip-compressed": ".zip",
    "application/x-7z-compressed": ".7z",
    "application/vnd.rar": ".rar",
    "application/x-rar-compressed": ".rar",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/ms-tnef": ".dat",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/pgp-signature": ".asc",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "image/tiff": ".tif",
    "image/heic": ".heic",
    "image/svg+xml": ".svg",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/csv": ".csv",
    "text/calendar": ".ics",
    "text/rfc822-headers": ".txt",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "video/mp4": ".mp4",
    "audio/mpeg": ".mp3",
}


def _extension_for(content_type: str) -> str:
    ext = _EXTENSIONS.get(content_type)
    if ext:
        return ext
    guessed = mimetypes.guess_extension(content_type, strict=False) or ""
    return guessed if re.fullmatch(r"\.[a-z0-9]{1,8}", guessed) else ".bin"


# --------------------------------------------------------------------------------------------
# MIME walk
# --------------------------------------------------------------------------------------------

_T = TypeVar("_T")


def _guard(defects: list[str], label: str, fn: Callable[[], _T], default: _T) -> _T:
    """Run one extraction step; on failure record a defect and keep going with `default`."""
    try:
        return fn()
    except Exception as exc:
        defects.append(f"{label}: {type(exc).__name__}: {exc}")
        return default


class _Collected:
    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.forwarded: list[IncomingMail] = []
        self.defects: list[str] = []


def _content_type(part: email.message.Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _disposition(part: email.message.Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _message_bytes(msg: email.message.Message) -> bytes:
    try:
        return msg.as_bytes()
    except Exception:
        try:
            return msg.as_string().encode("utf-8", "surrogateescape")
        except Exception:
            return b""


def _body_of_serialised(part: email.message.Message) -> bytes:
    """Body bytes of a part whose payload the parser turned into Message objects (message/*)."""
    data = _message_bytes(part).replace(b"\r\n", b"\n")
    _head, sep, body = data.partition(b"\n\n")
    return body if sep else b""


def _payload_bytes(part: email.message.Message) -> bytes:
    if part.is_multipart():
        return _body_of_serialised(part)
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _filename(part: email.message.Message) -> str:
    """Decoded file name from Content-Disposition filename or Content-Type name; '' if none."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        try:
            value = part.get_param(param, None, header=header)
        except Exception:
            continue
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
            charset, _lang, text = value
            name = decode_bytes(str(text).encode("latin-1", "surrogateescape"), charset or None)
        else:
            name = decode_header_value(email.utils.unquote(str(value)))
        name = _strip_controls(name.replace("\r", "").replace("\n", "")).strip()
        if name:
            return name
    return ""


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _part_charset(part: email.message.Message, data: bytes, ctype: str) -> str | None:
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    if not charset and ctype == "text/html":
        found = _META_CHARSET.search(data[:4096])
        if found:
            charset = found.group(1).decode("ascii", "replace")
    return charset


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: join soft-broken lines back into paragraphs."""
    out: list[str] = []
    current: str | None = None
    current_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        flowed = content.endswith(" ") and content != "-- "
        if current is not None and depth == current_depth:
            current += content
        else:
            if current is not None:
                out.append(("> " * current_depth) + current if current_depth else current)
            current, current_depth = content, depth
        if flowed:
            if delsp:
                current = current[:-1]
        else:
            out.append(("> " * current_depth) + current if current_depth else current)
            current, current_depth = None, -1
    if current is not None:
        out.append(("> " * current_depth) + current if current_depth else current)
    return "\n".join(out)


def _text_of(part: email.message.Message, data: bytes, ctype: str) -> str:
    text = decode_bytes(data, _part_charset(part, data, ctype))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if ctype == "text/plain":
        try:
            flowed = str(part.get_param("format") or "").lower() == "flowed"
            delsp = str(part.get_param("delsp") or "").lower() == "yes"
        except Exception:
            flowed = delsp = False
        if flowed:
            text = _unflow(text, delsp)
    return text


def _make_attachment(
    part: email.message.Message, data: bytes, ctype: str, index: int, max_bytes: int
) -> Attachment:
    original = _filename(part)
    fallback = f"lampiran-{index}{_extension_for(ctype)}"
    filename = sanitise_filename(original, fallback=fallback) if original else fallback
    content_id = _collapse_ws(_header(part, "content-id")).strip("<> ")
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
        inline=bool(content_id) and _disposition(part) != "attachment",
        content_id=content_id,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _add_attachment(
    part: email.message.Message, data: bytes, ctype: str, col: _Collected, max_bytes: int
) -> None:
    index = len(col.attachments) + 1
    col.attachments.append(_make_attachment(part, data, ctype, index, max_bytes))


def _inner_message(part: email.message.Message) -> email.message.Message | None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, email.message.Message):
        return None
    cte = _header(part, "content-transfer-encoding").lower()
    if cte in ("base64", "quoted-printable"):
        # Not allowed by RFC 2046 but some mailers do it: the parser then read encoded text as
        # a header-less message; decode it and parse again.
        encoded = _message_bytes(inner)
        if cte == "base64":
            clean = re.sub(rb"[^A-Za-z0-9+/]", b"", encoded)
            decoded = base64.b64decode(clean + b"=" * (-len(clean) % 4))
        else:
            decoded = quopri.decodestring(encoded)
        inner = email.message_from_bytes(decoded, policy=_POLICY)
    return inner


def _walk(
    part: email.message.Message, col: _Collected, mime_depth: int, fwd_depth: int, max_bytes: int
) -> None:
    if mime_depth > MAX_MIME_DEPTH:
        col.defects.append(f"MIME nesting deeper than {MAX_MIME_DEPTH}: rest ignored")
        return
    ctype = _content_type(part)
    if ctype.startswith("multipart/") and part.is_multipart():
        for sub in part.get_payload():
            if not isinstance(sub, email.message.Message):
                continue
            try:
                _walk(sub, col, mime_depth + 1, fwd_depth, max_bytes)
            except Exception as exc:  # one unreadable part must not cost the others
                col.defects.append(f"part {_content_type(sub)}: {type(exc).__name__}: {exc}")
        return
    if ctype in ("message/rfc822", "message/global") and part.is_multipart():
        inner = _guard(col.defects, "attached message", lambda: _inner_message(part), None)
        if inner is not None and fwd_depth < MAX_FORWARD_DEPTH:
            col.forwarded.append(_build(inner, _message_bytes(inner), fwd_depth + 1, max_bytes))
            return
        data = _message_bytes(inner) if inner is not None else _payload_bytes(part)
        _add_attachment(part, data, "message/rfc822", col, max_bytes)
        return
    data = _payload_bytes(part)
    if ctype.startswith("multipart/"):
        # a multipart without usable boundaries: the parser left raw text; keep what is readable
        col.defects.append(f"{ctype} without usable boundary: read as text")
        col.plain.append(_text_of(part, data, "text/plain"))
        return
    if ctype in ("text/plain", "text/html"):
        is_body = _disposition(part) != "attachment" and not _filename(part)
        if is_body:
            target = col.plain if ctype == "text/plain" else col.html
            target.append(_text_of(part, data, ctype))
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

    message_id = _guard(defects, "Message-ID", lambda: _message_id(_header(msg, "message-id")), "")
    key = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    subject = _guard(
        defects,
        "Subject",
        lambda: _collapse_ws(decode_header_value(_header(msg, "subject"))),
        "",
    )
    from_all = _guard(defects, "From", lambda: _addresses(msg, "from"), ())
    reply_to = _guard(defects, "Reply-To", lambda: _addresses(msg, "reply-to"), ())
    to = _guard(defects, "To", lambda: _addresses(msg, "to"), ())
    cc = _guard(defects, "Cc", lambda: _addresses(msg, "cc"), ())
    date = _guard(defects, "Date", lambda: _parse_date(_header(msg, "date")), None)
    in_reply_to = _guard(
        defects, "In-Reply-To", lambda: _message_id_list(_header(msg, "in-reply-to")), ()
    )
    references = _guard(
        defects,
        "References",
        lambda: _message_id_list(" ".join(_raw_header_values(msg, "references"))),
        (),
    )

    col = _Collected()
    if walk_body:
        _guard(defects, "body", lambda: _walk(msg, col, 0, fwd_depth, max_bytes), None)
    defects.extend(col.defects)

    plain = "\n".join(col.plain).strip()
    html = "\n".join(col.html)
    # text/plain wins; a whitespace-only plain part ("view this mail in HTML") does not count
    text = _tidy(plain) if plain else _guard(defects, "HTML", lambda: html_to_text(html), "")

    def kept_headers() -> Mapping[str, str]:
        return HeaderMap({name: value for name in KEPT_HEADERS if (value := _header(msg, name))})

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
        auto_reply=is_auto_reply(msg),
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
        text=_tidy(_guess_decode(raw)),
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
    try:
        msg = email.message_from_bytes(source, policy=_POLICY)
    except RecursionError:
        # Absurdly deep MIME nesting: keep the headers, give up on the body.
        try:
            header_parser = email.parser.BytesHeaderParser(policy=_POLICY)
            msg = header_parser.parsebytes(source)
        except Exception as exc:
            return _unreadable(raw, f"unparseable: {type(exc).__name__}")
        try:
            return _build(msg, raw, 0, max_bytes, ["MIME nesting too deep: body not read"], False)
        except Exception as exc:
            return _unreadable(raw, f"unparseable: {type(exc).__name__}")
    except Exception as exc:
        return _unreadable(raw, f"unparseable: {type(exc).__name__}: {exc}")
    try:
        return _build(msg, raw, 0, max_bytes)
    except Exception as exc:  # should not happen: every step is guarded; never lose the mail
        return _unreadable(raw, f"parse failed: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------------
# Forwarded originals
# --------------------------------------------------------------------------------------------

_FORWARD_MARKER = re.compile(
    r"^[ \t>]*-{2,}\s*(?:forwarded message|pesan terusan|pesan yang diteruskan|original message"
    r"|pesan asli|pesan awal)\s*-{2,}[ \t]*$"
    r"|^[ \t>]*(?:begin forwarded message|awal pesan yang diteruskan)\s*:[ \t]*$",
    re.IGNORECASE,
)
_QUOTE_HEADER = re.compile(
    r"^[ \t>*]*(from|dari|sent|dikirim|date|tanggal|to|kepada|cc|bcc|subject|subjek|perihal"
    r"|reply-to|balas ke|importance|kepentingan|attachments|lampiran)[ \t*]*:[ \t*]*(.*)$",
    re.IGNORECASE,
)
_FROM_LABELS = {"from", "dari"}
_SENT_LABELS = {"sent", "dikirim", "date", "tanggal"}
_SUBJECT_LABELS = {"subject", "subjek", "perihal"}


def _header_label(line: str) -> str:
    m = _QUOTE_HEADER.match(line)
    return m.group(1).lower() if m else ""


def _find_forward_block(lines: list[str]) -> tuple[int, int] | None:
    """(index of the marker line or -1, index of the first header line) of the first forward."""
    for i, line in enumerate(lines):
        if _FORWARD_MARKER.match(line):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            return i, j
        if _header_label(line) in _FROM_LABELS:
            # Outlook-style block without a marker line: From + Sent/Date + Subject close by
            labels = {_header_label(other) for other in lines[i : i + 8]}
            if labels & _SENT_LABELS and labels & _SUBJECT_LABELS:
                return -1, i
    return None


def _forward_sender(value: str) -> Address | None:
    value = value.replace("*", "").strip()
    value = re.sub(r"\[mailto:([^\]]+)\]", r"<\1>", value, flags=re.IGNORECASE)
    if not value:
        return None
    addresses = _parse_addresses([value])
    if addresses:
        return addresses[0]
    return Address(_collapse_ws(value), "")


def forwarded_original(mail: IncomingMail) -> tuple[Address | None, str]:
    """For a mail forwarded by staff: the original sender and the original text.

    First an attached message/rfc822 (its from_ and text); else the inline forwarded block in
    `mail.text`: Gmail '---------- Forwarded message ---------' (also Indonesian Gmail
    '---------- Pesan terusan ---------'), Outlook 'From: … Sent: … To: … Subject: …' header blocks
    (also Indonesian 'Dari: … Dikirim: … Kepada: … Perihal/Subjek: …'), Thunderbird
    '-------- Forwarded Message --------' / 'Original Message', Apple 'Begin forwarded message:'.
    Returns (None, mail.text) when no forwarded original is found.

    Only call this for mail known to be a forward (e.g. from a company address): an ordinary
    reply that quotes an Outlook header block would otherwise be read as a forward too.
    """
    if mail.forwarded:
        original = mail.forwarded[0]
        return original.from_, original.text
    lines = mail.text.split("\n")
    found = _find_forward_block(lines)
    if found is None:
        return None, mail.text
    _marker, start = found
    sender: Address | None = None
    end = start
    if start >= len(lines) or not _header_label(lines[start]):
        block_limit = start  # a marker line without a header block: the body follows directly
    else:
        block_limit = min(len(lines), start + 15)
    has_blank = any(not line.strip() for line in lines[start:block_limit])
    while end < block_limit:
        line = lines[end]
        if not line.strip():
            break
        label = _header_label(line)
        if not label and not has_blank:
            break  # no blank line after the headers: the first non-header line starts the body
        if label in _FROM_LABELS and sender is None:
            sender = _forward_sender(_QUOTE_HEADER.match(line).group(2))
        end += 1
    body_lines = lines[end:]
    if body_lines and all(line.startswith(">") for line in body_lines if line.strip()):
        body_lines = [re.sub(r"^> ?", "", line) for line in body_lines]
    return sender, "\n".join(body_lines).strip()
