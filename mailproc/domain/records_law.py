"""Records kept as the law asks (procedure step 11; Indonesia's personal data protection law,
UU 27/2022): how long the raw mail of a finished complaint is kept, and how a customer's
personal data is replaced by a pseudonym when they ask to be erased. Pure: the clock and the
time zone come in as arguments.

- Retention: the raw mail and attachments of a complaint closed or rejected before a date may
  be purged once that date is at least `retention_years` before today (`check_purge_date`,
  `purge_bound`, `past_retention`). The register row, the forms and the audit chain stay.
- Erasure: the customer gets a pseudonym derived from their address (`pseudonym`), recorded
  with the address's sha256 (`address_digest`), so that the erasure can be confirmed to the
  person who knows the address, while the erasure event itself holds no personal data. A
  `Redactor` replaces the customer's name, organisation, address and telephone number wherever
  they occur in stored text (a description's signature, a subject, a mail body), and leaves
  everything else (the PTPP's technical content) as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from mailproc.domain.states import CLOSED, REJECTED

DEFAULT_RETENTION_YEARS = 5
FINISHED = frozenset({CLOSED, REJECTED})  # only these complaints' records may be purged

# Keys of event data whose values are archive paths: never rewritten by a redaction (the
# audit chain names files by these paths; a rewritten path would name no file).
PATH_KEYS = frozenset({"path", "archive", "document", "files"})


class RetentionError(ValueError):
    """A purge date still inside the retention period; the message says the latest allowed."""


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` years earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def latest_purge_date(today: date, years: int) -> date:
    """The latest `--before` date a purge may use today: records closed before it are at
    least `years` years old."""
    return years_before(today, years)


def check_purge_date(before: date, today: date, years: int) -> None:
    """Refuse a purge date inside the retention period (RetentionError, naming the latest
    date allowed today)."""
    latest = latest_purge_date(today, years)
    if before > latest:
        raise RetentionError(
            f"--before {before.isoformat()} is inside the retention period "
            f"(records.retention_years = {years}): records of complaints closed on or after "
            f"{latest.isoformat()} must still be kept; use --before {latest.isoformat()} or "
            "an earlier date")


def purge_bound(before: date, tz: tzinfo) -> datetime:
    """The start of `before` in the company's time zone, as an aware UTC datetime: records
    closed before this instant are purged."""
    return datetime.combine(before, time(0), tz).astimezone(UTC)


def past_retention(status: str, closed_at: datetime | None, bound: datetime) -> bool:
    """Whether a complaint's raw mail may go: closed or rejected, and finished before
    `bound` (`purge_bound`)."""
    return status in FINISHED and closed_at is not None and closed_at < bound


# ---- erasure -----------------------------------------------------------------------------

def address_digest(address: str) -> str:
    """The sha256 of a normalised address: what the erasure event records instead of the
    address (whoever knows the address can check it; the log does not show it)."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def pseudonym(address: str) -> str:
    """The name an erased customer is shown under: `pelanggan-` and ten hex digits of the
    address's digest. The same address always gives the same pseudonym."""
    return "pelanggan-" + address_digest(address)[:10]


_SEPARATORS = r"[\s.\-()/]*"


def _phone_patterns(phone: str) -> list[str]:
    """A telephone number as people write it: 0812-3456-7890, +62 812 3456 7890,
    081234567890: the digits with any separators, national or international."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:  # an extension or a fragment: it would match too much
        return []
    variants = {digits}
    if digits.startswith("62"):
        variants.add("0" + digits[2:])
    elif digits.startswith("0"):
        variants.add("62" + digits[1:])
    return [r"(?<!\d)\+?" + _SEPARATORS.join(v) + r"(?!\d)"
            for v in sorted(variants, key=len, reverse=True)]


def looks_like_phone(text: str) -> bool:
    """A telephone number (six digits or more, with only + ( ) . - / and spaces besides),
    rather than a name."""
    return (len(re.sub(r"\D", "", text)) >= 6
            and re.fullmatch(r"[\d\s+().\-/]+", text.strip()) is not None)


def _words_pattern(text: str) -> str:
    """A name or organisation as a whole phrase: case and runs of spaces do not matter."""
    words = text.split()
    return r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"


@dataclass(frozen=True)
class Redactor:
    """Replaces a customer's identifying values in text with their pseudonym."""

    replacement: str
    pattern: re.Pattern[str] | None

    def text(self, value: str) -> str:
        if not value or self.pattern is None:
            return value
        return self.pattern.sub(self.replacement, value)

    def value(self, value: Any, keep: frozenset[str] = PATH_KEYS) -> Any:
        """A JSON value with every string redacted, except under the keys in `keep`."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v, keep) for v in value]
        if isinstance(value, Mapping):
            return {k: (v if k in keep else self.value(v, keep)) for k, v in value.items()}
        return value

    def changes(self, value: str) -> bool:
        return bool(value) and self.pattern is not None and bool(self.pattern.search(value))


def redactor(replacement: str, *, emails: Iterable[str] = (), names: Iterable[str] = (),
             phones: Iterable[str] = ()) -> Redactor:
    """A Redactor for one customer: their addresses, names (the person's and the
    organisation's; three letters or more, as whole words) and telephone numbers.

    Parts of a name alone ("Budi" of "Budi Santoso") are not replaced: a first name is too
    often a common word or someone else's; the full name, the address and the number are
    what identify the customer."""
    parts: list[str] = []
    for address in emails:
        address = address.strip()
        if "@" in address:
            parts.append(r"(?<![\w.+\-])" + re.escape(address) + r"(?![\w\-])")
    for name in names:
        name = " ".join(name.split())
        if len(name) >= 3 and "@" not in name:
            parts.append(_words_pattern(name))
    for phone in phones:
        parts.extend(_phone_patterns(phone))
    if not parts:
        return Redactor(replacement, None)
    # Longest first, so an organisation that contains the person's name goes whole.
    parts.sort(key=len, reverse=True)
    return Redactor(replacement, re.compile("|".join(f"(?:{p})" for p in parts), re.I))
