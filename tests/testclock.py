"""The clock tests run mailproc on: a fixed day, far from any real date, that advances with
real time (so backoff, due times and ordering behave as in production).

Nothing in a test may depend on today's date: expected PTPP numbers, months and due dates are
computed from this clock. `.ci/run` runs the suite a second time under `faketime` at a month
and year boundary to prove it.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from mailproc.domain.numbering import NumberPattern

WIB = ZoneInfo("Asia/Jakarta")
# Tuesday 15 July 2025, 09:00 WIB: a working day with no holiday within two weeks either side.
# Earlier than any real clock the suite runs under, so mail delivered by the test servers
# (whose INTERNALDATE is real time) is received "now" by this clock, never in its future.
START = datetime(2025, 7, 15, 2, 0, tzinfo=UTC)


class TestClock:
    """Callable like `bootstrap.system_clock`: aware UTC datetimes."""

    __test__ = False  # not a test class for pytest

    def __init__(self, start: datetime = START) -> None:
        self.start = start
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._t0)

    def advance(self, seconds: float) -> None:
        """Move the clock on, as waiting would: a backoff passes without sleeping."""
        self.start += timedelta(seconds=seconds)

    def local(self) -> datetime:
        return self().astimezone(WIB)

    def today(self) -> date:
        return self.local().date()

    def number(self, seq: int, pattern: str = NumberPattern.DEFAULT) -> str:
        """The PTPP number the seq-th complaint of this clock's month gets."""
        now = self.local()
        return NumberPattern(pattern).format(seq, now.year, now.month)

    def date_in(self, days: int) -> str:
        """dd/mm/yyyy, `days` calendar days from this clock's today (as people fill forms)."""
        return (self.today() + timedelta(days=days)).strftime("%d/%m/%Y")
