"""Indonesian days off from the `holidays` package (the only module that imports it).

- National holidays (libur nasional) are the package's PUBLIC category for ``ID``.
- Cuti bersama (collective leave from the SKB of three ministers) is its GOVERNMENT category.
  For private companies it is optional, so the caller decides (`cuti_bersama=`).

Islamic dates for years after the latest decree are the package's estimates; the package is
pinned (holidays==0.109) so the calendar does not change under us between releases.
Names are in Indonesian (the package's default language for ID) for display in mail and reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import holidays

__all__ = ["indonesian_days_off"]

_LANGUAGE = "id"


def indonesian_days_off(years: Iterable[int], *, cuti_bersama: bool) -> dict[date, str]:
    """Every Indonesian day off in `years`, date -> Indonesian name.

    National holidays always; cuti bersama only when `cuti_bersama` is true. A date in both
    categories gets both names joined by "; " (the package's own convention). Weekends are not
    included: the working week is the calendar's business, not this function's.
    """
    wanted = sorted(set(years))
    if not wanted:
        return {}
    categories: tuple[str, ...] = (holidays.PUBLIC,)
    if cuti_bersama:
        categories += (holidays.GOVERNMENT,)
    found = holidays.country_holidays("ID", years=wanted, categories=categories, language=_LANGUAGE)
    return dict(sorted(found.items()))
