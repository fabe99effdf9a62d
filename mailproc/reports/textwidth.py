"""How wide a text prints in Arial, to size table columns before Word or LibreOffice lays them
out: the advance widths of Helvetica (Adobe's core-font metrics, 1/1000 em), which Arial and
Liberation Sans share by design. Characters outside ASCII count as a lower-case letter, wide
East Asian ones and emoji as a full em. An estimate (no kerning), good to a few per cent."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# ' ' (32) to '~' (126).
_REGULAR = (
    278, 278, 355, 556, 556, 889, 667, 222, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722,
    722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722,
    667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 222, 556, 556, 500, 556, 556, 278, 556,
    556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500,
    500, 334, 260, 334, 584,
)
_BOLD = (
    278, 333, 474, 556, 556, 889, 722, 278, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722,
    722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722,
    667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 278, 556, 611, 556, 611, 556, 333, 611,
    611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556,
    500, 389, 280, 389, 584,
)
_PT_MM = 25.4 / 72


def _char(c: str, table: tuple[int, ...]) -> int:
    code = ord(c)
    if 32 <= code <= 126:
        return table[code - 32]
    if unicodedata.east_asian_width(c) in ("W", "F") or code > 0xFFFF:
        return 1000
    if unicodedata.category(c) in ("Mn", "Me", "Cf"):  # combining marks, soft hyphen …
        return 0
    return 556


@lru_cache(maxsize=65536)
def em(text: str, bold: bool = False) -> float:
    """The width of `text` in em (1 em = the font size)."""
    table = _BOLD if bold else _REGULAR
    return sum(_char(c, table) for c in text) / 1000


def width_mm(text: str, size_pt: float, bold: bool = False) -> float:
    """The printed width of `text` at `size_pt` points, in millimetres."""
    return em(text, bold) * size_pt * _PT_MM
