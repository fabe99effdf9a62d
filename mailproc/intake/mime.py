"""MIME plumbing for the parser: charsets and byte decoding, RFC 2047 / RFC 2231 header decoding,
addresses, Message-IDs, dates, and the helpers the MIME walk uses to read one part (its content
type, disposition, payload bytes, file name, text).

Owns turning the pieces of an `email.message.Message` into plain str/bytes/tuples. It does not
decide what the mail is (that is `mailproc.domain.mailrules`), does not build `IncomingMail`
(that is `parse`), and knows nothing of HTML (`htmltext`) or file-system names (`filenames`).
Standard library only, no network.

We parse with `policy.compat32` (see `POLICY`): it keeps raw header values (so a single bad
header cannot raise on access, as `policy.default`'s header objects can), decodes RFC 2231
continuations with non-ASCII correctly, and we do all charset and RFC 2047 decoding ourselves with
`errors='replace'` (never 'ignore', which silently drops characters as imap-tools does).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.errors
import email.message
import email.policy
import email.utils
import quopri
import re
from collections.abc import Iterable
from datetime import UTC, datetime

__all__ = [
    "HEADER_PARSE_ERRORS",
    "POLICY",
    "address_locals",
    "addresses",
    "collapse_ws",
    "content_type",
    "decode_bytes",
    "decode_header_value",
    "disposition",
    "filename",
    "fix_surrogates",
    "guess_decode",
    "header",
    "header_values",
    "inner_message",
    "message_bytes",
    "message_id",
    "message_id_list",
    "parse_addresses",
    "parse_date",
    "payload_bytes",
    "strip_controls",
    "text_of",
    "tidy",
]

# What reading a header can raise when the Message carries policy.default's header objects (a
# caller may hand us one; our own POLICY never raises here): the header parser's MessageError
# family, plus IndexError and AttributeError that fuzzing its value parser turned up.
HEADER_PARSE_ERRORS: tuple[type[Exception], ...] = (
    email.errors.MessageError,
    ValueError,
    IndexError,
    AttributeError,
)


class _RawCompat32(email.policy.Compat32):
    """compat32, but header access returns raw 8-bit bytes as surrogate escapes.

    Stock compat32 wraps such values in a Header object whose str() is U+FFFD for every byte, so
    a UTF-8 file name sent unencoded (Outlook does this) would be lost. We decode them ourselves.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


POLICY = _RawCompat32()


# --------------------------------------------------------------------------------------------
# Charsets and text
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
        except (UnicodeError, LookupError):  # a codec can still fail on odd state: guess
            text = guess_decode(data)
    else:
        text = guess_decode(data)
    return text[1:] if text.startswith("\ufeff") else text


def guess_decode(data: bytes) -> str:
    """UTF-8, else windows-1252, else latin-1 (which decodes anything)."""
    for codec in ("utf-8", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def fix_surrogates(value: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogate escapes; turn them into text."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    return guess_decode(raw)


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_controls(text: str) -> str:
    """Drop C0 controls (keeps tab/newline): NUL in particular is rejected by PostgreSQL text."""
    return _CONTROL_CHARS.sub("", text)


def collapse_ws(value: str) -> str:
    """One line: controls dropped, runs of whitespace made one space."""
    return " ".join(strip_controls(value).split())


def tidy(text: str) -> str:
    """A body text as stored: LF line ends, no BOM or controls, no trailing blanks, at most one
    empty line in a row, no leading or trailing empty lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = strip_controls(text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


# --------------------------------------------------------------------------------------------
# Header decoding
# --------------------------------------------------------------------------------------------

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
    value = fix_surrogates(str(value))
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


def header_values(msg: email.message.Message, name: str) -> list[str]:
    """Raw (undecoded) values of every header called `name`, unfolded."""
    name = name.lower()
    try:
        items = list(msg.raw_items())
    except AttributeError:  # a Message-like object without raw_items
        try:
            items = list(msg.items())
        except HEADER_PARSE_ERRORS:
            return []
    values = []
    for key, value in items:
        if str(key).lower() != name:
            continue
        text = fix_surrogates(str(value))
        values.append(re.sub(r"\r?\n(?=[ \t])", "", text).replace("\r", "").replace("\n", " "))
    return values


def header(msg: email.message.Message, name: str) -> str:
    """The first raw value of header `name`, unfolded and stripped; '' when absent."""
    values = header_values(msg, name)
    return values[0].strip() if values else ""


# --------------------------------------------------------------------------------------------
# Addresses, ids, dates
# --------------------------------------------------------------------------------------------

_ADDR_SPEC = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")


def _make_address(name: str, addr: str) -> tuple[str, str]:
    name = collapse_ws(decode_header_value(name)).strip("\"' ")
    addr = addr.strip().strip("<>").strip()
    if _ADDR_SPEC.fullmatch(addr):
        return name, addr.lower()
    found = _ADDR_SPEC.search(addr)
    if found:
        # "Budi Santoso budi@example.com" without brackets: the rest is the name
        rest = collapse_ws((addr[: found.start()] + " " + addr[found.end() :]).strip("<>\"' "))
        return name or decode_header_value(rest), found.group(0).lower()
    return name, ""


def parse_addresses(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(display name decoded, lower-case addr-spec or '') pairs from raw address headers;
    entries with neither are dropped, an address repeated (Outlook's "a@x <a@x>") kept once."""
    values = [v for v in values if v]
    if not values:
        return ()
    try:
        pairs = email.utils.getaddresses(values)
    except (ValueError, IndexError):
        # documented to raise nothing; should its parser trip over hostile input, the bare
        # addr-specs are still worth having
        pairs = [("", m.group(0)) for v in values for m in _ADDR_SPEC.finditer(v)]
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, addr in pairs:
        name, email_addr = _make_address(name, addr)
        if not email_addr and not name:
            continue
        if email_addr:
            if email_addr in seen:
                continue
            seen.add(email_addr)
        result.append((name, email_addr))
    return tuple(result)


def addresses(msg: email.message.Message, name: str) -> tuple[tuple[str, str], ...]:
    """`parse_addresses` of every header called `name`."""
    return parse_addresses(header_values(msg, name))


def address_locals(msg: email.message.Message, name: str) -> tuple[str, ...]:
    """Local parts (before '@', lower case) of the addresses in header `name`, as the stdlib
    address parser splits them: also 'MAILER-DAEMON (Mail Delivery System)' without a domain."""
    result = []
    for value in header_values(msg, name):
        for _name, addr in email.utils.getaddresses([value]):
            result.append(addr.strip().strip("<>").split("@", 1)[0].lower())
    return tuple(result)


def message_id(value: str) -> str:
    """The Message-ID without <> (and without folding whitespace inside); '' if none."""
    m = re.search(r"<([^<>]+)>", value)
    if m:
        return "".join(m.group(1).split())
    tokens = value.split()
    return tokens[0].strip("<>") if tokens else ""


def message_id_list(value: str) -> tuple[str, ...]:
    """In-Reply-To / References: ids without <>, in order, no duplicates."""
    ids = ["".join(m.split()) for m in re.findall(r"<([^<>]*)>", value)]
    if not ids:
        ids = [t.strip("<>,") for t in value.split() if "@" in t]
    result: list[str] = []
    for mid in ids:
        if mid and mid not in result:
            result.append(mid)
    return tuple(result)


def parse_date(value: str) -> datetime | None:
    """A timezone-aware Date (UTC when the header has no zone), None when unreadable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (ValueError, OverflowError):  # OverflowError: a year or offset with 20 digits
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # '-0000' or no zone: RFC 5322 says UTC is the best guess
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --------------------------------------------------------------------------------------------
# One MIME part
# --------------------------------------------------------------------------------------------


def content_type(part: email.message.Message) -> str:
    """Lower-case content type; application/octet-stream when unreadable."""
    try:
        return part.get_content_type().lower()
    except HEADER_PARSE_ERRORS:
        return "application/octet-stream"


def disposition(part: email.message.Message) -> str:
    """'attachment', 'inline' or ''."""
    try:
        return (part.get_content_disposition() or "").lower()
    except HEADER_PARSE_ERRORS:
        return ""


# What serialising a parsed message can raise: header re-encoding (UnicodeEncodeError, or
# LookupError for an unknown charset), HeaderWriteError (a MessageError) for a header the
# generator refuses, and RecursionError for nesting the parser read but the generator, which
# needs more stack per level, cannot write back.
_SERIALISE_ERRORS = (UnicodeError, LookupError, email.errors.MessageError, RecursionError)


def message_bytes(msg: email.message.Message) -> bytes:
    """The message serialised again; b'' when it cannot be."""
    try:
        return msg.as_bytes()
    except _SERIALISE_ERRORS:
        try:
            return msg.as_string().encode("utf-8", "surrogateescape")
        except _SERIALISE_ERRORS:
            return b""


def _body_of_serialised(part: email.message.Message) -> bytes:
    """Body bytes of a part whose payload the parser turned into Message objects (message/*)."""
    data = message_bytes(part).replace(b"\r\n", b"\n")
    _head, sep, body = data.partition(b"\n\n")
    return body if sep else b""


def payload_bytes(part: email.message.Message) -> bytes:
    """The part's body with the Content-Transfer-Encoding undone."""
    if part.is_multipart():
        return _body_of_serialised(part)
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError):  # binascii.Error is a ValueError
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def filename(part: email.message.Message) -> str:
    """Decoded file name from Content-Disposition filename or Content-Type name; '' if none."""
    for name_header, param in (("content-disposition", "filename"), ("content-type", "name")):
        try:
            value = part.get_param(param, None, header=name_header)
        except HEADER_PARSE_ERRORS:
            continue
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
            charset, _lang, text = value
            name = decode_bytes(str(text).encode("latin-1", "surrogateescape"), charset or None)
        else:
            name = decode_header_value(email.utils.unquote(str(value)))
        name = strip_controls(name.replace("\r", "").replace("\n", "")).strip()
        if name:
            return name
    return ""


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _part_charset(part: email.message.Message, data: bytes, ctype: str) -> str | None:
    try:
        charset = part.get_content_charset()
    except HEADER_PARSE_ERRORS:
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


def text_of(part: email.message.Message, data: bytes, ctype: str) -> str:
    """A text/plain or text/html part's payload as text, LF line ends, format=flowed undone."""
    text = decode_bytes(data, _part_charset(part, data, ctype))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if ctype == "text/plain":
        try:
            flowed = str(part.get_param("format") or "").lower() == "flowed"
            delsp = str(part.get_param("delsp") or "").lower() == "yes"
        except HEADER_PARSE_ERRORS:
            flowed = delsp = False
        if flowed:
            text = _unflow(text, delsp)
    return text


def inner_message(part: email.message.Message) -> email.message.Message | None:
    """The message inside a message/rfc822 part, None if the parser found none."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, email.message.Message):
        return None
    cte = header(part, "content-transfer-encoding").lower()
    if cte in ("base64", "quoted-printable"):
        # Not allowed by RFC 2046 but some mailers do it: the parser then read encoded text as
        # a header-less message; decode it and parse again.
        encoded = message_bytes(inner)
        if cte == "base64":
            clean = re.sub(rb"[^A-Za-z0-9+/]", b"", encoded)
            decoded = base64.b64decode(clean + b"=" * (-len(clean) % 4))
        else:
            decoded = quopri.decodestring(encoded)
        inner = email.message_from_bytes(decoded, policy=POLICY)
    return inner
