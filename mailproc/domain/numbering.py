"""PTPP numbers, e.g. ``001/PTPP/MKT/XI/2026``: a sequence per year and the Roman month.

The sequence itself is allocated by the store inside the registering transaction (so it has no
gaps and no duplicates); this module only formats numbers and recognises them in text.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def suffixed(number: str, cycle: int) -> str:
    """A later cycle's number where a company keeps one number per complaint
    (`numbering.new_number_per_cycle = false`): ``001/PTPP/MKT/XII/2026-2``."""
    return f"{number}-{cycle}"


def roman_month(month: int) -> str:
    if not 1 <= month <= 12:
        raise ValueError(f"month out of range: {month}")
    return _ROMAN[month - 1]


@dataclass(frozen=True)
class NumberPattern:
    """A str.format pattern with the fields seq, year, yy, month, month_roman."""

    pattern: str
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    DEFAULT = "{seq:03d}/PTPP/MKT/{month_roman}/{year}"
    _FIELD_REGEX = {
        "seq": r"\d{1,9}",
        "year": r"\d{4}",
        "yy": r"\d{2}",
        "month": r"\d{1,2}",
        "month_roman": r"(?:XII|XI|X|IX|VIII|VII|VI|V|IV|III|II|I)",
    }

    def __post_init__(self) -> None:
        parts = list(string.Formatter().parse(self.pattern))
        names = [name for _, name, _, _ in parts if name is not None]
        unknown = sorted(set(names) - set(self._FIELD_REGEX))
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; use {', '.join(self._FIELD_REGEX)}"
            )
        if "seq" not in names or "year" not in names and "yy" not in names:
            raise ValueError("the pattern needs {seq} and {year} (or {yy}) to stay unique")
        try:
            self.format(1, 2026, 1)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"cannot format the pattern: {exc}") from None
        regex = "".join(
            re.escape(literal) + (self._FIELD_REGEX[name] if name is not None else "")
            for literal, name, _, _ in parts
        )
        object.__setattr__(self, "_regex", re.compile(r"(?<![\w/])" + regex + r"(?![\w/])"))

    def format(self, seq: int, year: int, month: int) -> str:
        return self.pattern.format(
            seq=seq, year=year, yy=year % 100, month=month, month_roman=roman_month(month)
        )

    def find(self, text: str) -> list[str]:
        """Every number of this pattern in `text`, in order of appearance."""
        return [m.group(0) for m in self._regex.finditer(text or "")]

    def slug(self, number: str) -> str:
        """A file-system-safe form of a number, for archive folders."""
        return re.sub(r"[^A-Za-z0-9]+", "-", number).strip("-")
