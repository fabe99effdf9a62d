"""Rules about incoming mail that read plain values: is it machine-generated (and why), and
where does the original inside a staff member's forward start.

Pure policy: the arguments are strings and mappings the MIME side (`mailproc.intake.parse`) has
already decoded, never `email.message` objects; no I/O, standard library only.

- `auto_reply_reason`: RFC 3834 (Auto-Submitted), Precedence, List-*, X-Auto-Response-Suppress,
  X-Autoreply/X-Autorespond, mailer-daemon senders, the subjects auto-responders and bounces
  use, delivery/read reports, a null Return-Path.
- `find_inline_forward`: the forwarded block in a body text as Gmail, Outlook, Thunderbird
  and Apple Mail write it, in English and Indonesian.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.utils import parsedate_to_datetime

__all__ = [
    "AUTO_REPLY_HEADERS",
    "InlineForward",
    "auto_reply_reason",
    "find_inline_forward",
]

# --------------------------------------------------------------------------------------------
# Auto replies
# --------------------------------------------------------------------------------------------

# The headers `auto_reply_reason` looks at (lower case); for the rest only presence counts.
AUTO_REPLY_HEADERS = (
    "auto-submitted",
    "x-auto-response-suppress",
    "list-id",
    "list-unsubscribe",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "return-path",
)

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
_REPORT_KINDS = {"delivery-status": " (DSN)", "disposition-notification": " (MDN)"}


def auto_reply_reason(
    headers: Mapping[str, str],
    *,
    subject: str = "",
    sender_locals: Iterable[str] = (),
    content_type: str = "",
    report_type: str = "",
) -> str:
    """Why a mail is machine-generated, or '' for a human mail.

    Mail must never be answered automatically when this is non-empty, or two robots ping-pong.

    `headers`: the mail's headers that are present (names in any case; for a repeated header
    its first value, unfolded). `subject`: decoded. `sender_locals`: the local parts of the
    From addresses. `content_type`, `report_type`: the top-level type and its report-type
    parameter.
    """
    present = {name.lower(): value for name, value in headers.items()}

    def value(name: str) -> str:
        return present.get(name, "").strip()

    # Most specific first: a bounce is reported as a bounce even if it also says Auto-Submitted.
    if content_type.lower() == "multipart/report":
        return f"multipart/report{_REPORT_KINDS.get(report_type.lower(), '')}"
    for local in sender_locals:
        local = local.lower()
        if local in _DAEMON_LOCALS:
            return f"pengirim {local}"
    token = value("auto-submitted").lower().split(";", 1)[0].split("(", 1)[0].strip()
    if token and token != "no":
        return f"Auto-Submitted: {token}"
    if "x-auto-response-suppress" in present:
        return "X-Auto-Response-Suppress"
    for name, reason in (("list-id", "List-Id"), ("list-unsubscribe", "List-Unsubscribe")):
        if name in present:
            return reason
    precedence = value("precedence").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name, reason in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        if name in present:
            return reason
    subject = subject.lower()
    for prefix in _AUTO_SUBJECTS:
        if subject.startswith(prefix):
            return f"subjek balasan otomatis ({prefix})"
    # RFC 5321: only notifications are sent with a null reverse-path
    if value("return-path").replace(" ", "") == "<>":
        return "Return-Path: <>"
    return ""


# --------------------------------------------------------------------------------------------
# Forwarded originals written into the body
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


@dataclass(frozen=True)
class InlineForward:
    sender: str  # the quoted From/Dari value, Outlook's '*' and [mailto:] cleaned; '' if none
    text: str  # the original's text below the quoted header block, stripped
    sent: str = ""  # the quoted Date/Sent/Tanggal/Dikirim value as written; '' if none


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


def _clean_sender(value: str) -> str:
    """'*Budi* [mailto:budi@x]' (Outlook's plain-text rendering) -> 'Budi <budi@x>'."""
    value = value.replace("*", "").strip()
    return re.sub(r"\[mailto:([^\]]+)\]", r"<\1>", value, flags=re.IGNORECASE)


def find_inline_forward(text: str) -> InlineForward | None:
    """The first forwarded block in a body text, None when there is none.

    Recognised: Gmail '---------- Forwarded message ---------' (also Indonesian Gmail
    '---------- Pesan terusan ---------'), Outlook 'From: … Sent: … To: … Subject: …' header
    blocks (also Indonesian 'Dari: … Dikirim: … Kepada: … Perihal/Subjek: …'), Thunderbird
    '-------- Forwarded Message --------' / 'Original Message', Apple 'Begin forwarded message:'.
    A body quoted entirely with '>' is unquoted.

    Only use this for mail known to be a forward (e.g. from a company address): an ordinary
    reply that quotes an Outlook header block would otherwise be read as a forward too.
    """
    lines = text.split("\n")
    found = _find_forward_block(lines)
    if found is None:
        return None
    _marker, start = found
    sender = sent = ""
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
        if label in _FROM_LABELS and not sender:
            sender = _clean_sender(_QUOTE_HEADER.match(line).group(2))
        if label in _SENT_LABELS and not sent:
            sent = _QUOTE_HEADER.match(line).group(2).replace("*", "").strip()
        end += 1
    body_lines = lines[end:]
    if body_lines and all(line.startswith(">") for line in body_lines if line.strip()):
        body_lines = [re.sub(r"^> ?", "", line) for line in body_lines]
    return InlineForward(sender, "\n".join(body_lines).strip(), sent)


_MONTHS = {name: n for n, names in enumerate((
    ("jan", "januari", "january"), ("feb", "februari", "february", "pebruari"),
    ("mar", "maret", "march"), ("apr", "april"), ("mei", "may"), ("jun", "juni", "june"),
    ("jul", "juli", "july"), ("agu", "agt", "agustus", "aug", "august"),
    ("sep", "sept", "september"), ("okt", "oktober", "oct", "october"),
    ("nov", "nopember", "november"), ("des", "desember", "dec", "december")), start=1)
    for name in names}
_DAY_MONTH_YEAR = re.compile(r"\b(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})\b")
_MONTH_DAY_YEAR = re.compile(r"\b([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})\b")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b")
_RFC2822 = re.compile(r"^\s*(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}")
_CLOCK = re.compile(r"\b(\d{1,2})[.:](\d{2})(?:[.:]\d{2})?\s*(am|pm|a\.m\.|p\.m\.)?", re.I)


def forward_sent_at(value: str, tz: tzinfo) -> datetime | None:
    """When a forwarded original was sent, from its quoted Date/Sent line as mail clients
    write it: 'Mon, 16 Nov 2026 09:12:00 +0700', 'Mon, Nov 16, 2026 at 9:12 AM', 'Senin, 16
    November 2026 09.12', '16/11/2026 9:12'. Without a zone it is the company's (`tz`); day
    before month in numeric dates, as in Indonesia. None when it cannot be read."""
    text = value.strip()
    if not text:
        return None
    parsed = None
    if _RFC2822.match(text):  # email.utils reads anything loosely ("2:05 PM" as 02:05)
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is not None:
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
    lowered = text.lower()
    day = month = year = None
    m = _DAY_MONTH_YEAR.search(lowered)
    if m and m.group(2) in _MONTHS:
        day, month, year = int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3))
    else:
        m = _MONTH_DAY_YEAR.search(lowered)
        if m and m.group(1) in _MONTHS:
            day, month, year = int(m.group(2)), _MONTHS[m.group(1)], int(m.group(3))
        else:
            m = _NUMERIC_DATE.search(lowered)
            if m:
                day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if day is None or month is None or year is None:
        return None
    hour = minute = 0
    rest = lowered[m.end():] if m else ""
    clock = _CLOCK.search(rest)
    if clock:
        hour, minute = int(clock.group(1)), int(clock.group(2))
        meridiem = (clock.group(3) or "").replace(".", "")
        if meridiem == "pm" and hour < 12:
            hour += 12
        elif meridiem == "am" and hour == 12:
            hour = 0
    try:
        return datetime(year, month, day, hour, minute, tzinfo=tz)
    except ValueError:
        return None


_FORWARD_PREFIX = re.compile(r"^\s*((fwd?|fw|tr|terusan|diteruskan|wg)\s*:\s*)+", re.I)


def strip_forward_prefix(subject: str) -> str:
    """'Fwd: FW: Barang rusak' → 'Barang rusak' (English, Outlook, Indonesian, German
    clients): the subject of a complaint a staff member forwarded."""
    return _FORWARD_PREFIX.sub("", subject).strip() or subject
