"""Customer satisfaction after closing (issue #13, item 9; ISO 10002 9.3): the closing notice
asks for a rating from 1 to 5 by reply. This reads the rating out of the customer's own text
(the quoted original removed by the caller) and sums ratings up for the recap. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

LABELS = {1: "Sangat tidak puas", 2: "Tidak puas", 3: "Cukup puas", 4: "Puas", 5: "Sangat puas"}
LOW = 2  # a rating at or below this alerts marketing administration

# Words, longest first so that "sangat tidak puas" is not read as "puas".
_WORDS: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(rf"\b{pattern}\b"), value) for pattern, value in (
        (r"sangat\s+tidak\s+puas", 1), (r"sangat\s+kecewa", 1),
        (r"(tidak|tdk|gak|nggak|kurang)\s+puas", 2), (r"kecewa", 2),
        (r"sangat\s+puas", 5), (r"puas\s+sekali", 5), (r"memuaskan\s+sekali", 5),
        (r"cukup\s+puas", 3), (r"cukup(\s+baik)?", 3), (r"biasa\s+saja", 3),
        (r"puas", 4), (r"memuaskan", 4),
    ))
# A digit 1-5 alone, or as "nilai 4", "4/5", "4 dari 5", "bintang 4", at the start of a line.
_NUMBER = re.compile(
    r"^\s*(?:(?:nilai|penilaian|rating|skor|score|bintang)\s*[:=]?\s*)?([1-5])"
    r"(?:\s*(?:/\s*5|dari\s+5|bintang))?"
    # not a quantity or a time: "4 pcs", "2 hari"
    r"(?!\s*(?:pcs|buah|unit|karton|dus|box|kg|botol|lusin|pack|roll|lembar|hari|minggu|"
    r"bulan|jam|kali)\b)(?=\s|[.!,)]|$)", re.I)


def rating_of(text: str) -> int | None:
    """The rating a customer's reply gives, or None: the first line that is a number from 1
    to 5 (optionally 'nilai 4', '4/5', '4 dari 5'), else the first satisfaction words
    ('sangat puas' 5, 'puas' 4, 'cukup' 3, 'kurang puas' 2, 'sangat tidak puas' 1)."""
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines[:5]:  # the answer is at the top, not in a long letter further down
        m = _NUMBER.match(line)
        if m:
            return int(m.group(1))
    lowered = " ".join(lines[:10]).lower()
    best: tuple[int, int] | None = None  # (position, value): the earliest words win
    for pattern, value in _WORDS:
        m = pattern.search(lowered)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), value)
    return best[1] if best else None


def label(rating: int | None) -> str:
    return f"{rating} ({LABELS[rating]})" if rating in LABELS else "Belum dinilai pelanggan"


@dataclass(frozen=True)
class Summary:
    count: int
    average: float | None
    distribution: tuple[int, int, int, int, int]  # how many gave 1, 2, 3, 4, 5


def summarise(ratings: Iterable[int | None]) -> Summary:
    given = [r for r in ratings if r in LABELS]
    dist = tuple(given.count(v) for v in range(1, 6))
    average = round(sum(given) / len(given), 1) if given else None
    return Summary(len(given), average, dist)  # type: ignore[arg-type]
