"""The working-day calendar behind the procedure's deadlines ("hari kerja").

Pure domain code: standard library only, no clock reads, no `holidays` import. The days off
arrive as data (see `mailproc.holidays_id` for the Indonesian national holidays and cuti
bersama; company days off are added by the caller from configuration).

The rules
---------
- A *working day* is a weekday that has working hours in `hours` and is not in `days_off`.
- A *working period* is that day's hours, [start, end), on the wall clock of `tz`. Counting
  happens in working time only: nights, weekends and days off do not count.
- "1 working day" is `day_length` of working time (9 h by default, 08:00-17:00), so a complaint
  received Wed 16:00 is due Thu 16:00, not Thu 17:00 or the end of Thu.
- All datetimes in and out are timezone-aware (naive ones are refused: a wall time without a
  zone is ambiguous across WIB / WITA / WIT). Inputs may be in any zone; they are converted to
  `tz` for the wall-clock rules. Results are returned in UTC (how they are stored); show them
  with `.astimezone(cal.tz)`.

Edge cases (each has a test in tests/unit/test_calendar.py)
-----------------------------------------------------------
- Start before hours (Mon 06:00): counting starts at 08:00 that day.
- Start after hours (Mon 19:00) or on a day off / weekend (Sat 10:00 in a 5-day week): counting
  starts at the beginning of the next working period, so 1 working day from Sat 10:00 is
  Mon 17:00 - the end of the next working day.
- Landing exactly on the end of a period: the result is that end (Fri 17:00), not the start of
  the next period (Mon 08:00). Both are the same instant of working time; when walking forward
  we keep the earlier wall time, when walking backward (negative amounts) the later one (a
  reminder lands on Mon 08:00 rather than Fri 17:00). In short: the result is the wall time
  nearest to the start with the requested working time in between.
- A zero amount returns the start unchanged (in UTC), even outside working hours.
- Half days (e.g. Saturday 08:00-12:00 in a 6-day week) count only their hours: with the
  default 9 h day, 1 working day from Sat 10:00 is 2 h on Saturday + 7 h on Monday = Mon 15:00.
  A `day_length` longer than a half day therefore spans into the next working day; it is
  simply working time, not "one calendar working day".
- Days off are dates; a day off suppresses the whole day whatever its hours.
- The calendar only knows the days off it was given: load the holiday years around every date
  you count over (e.g. this year and the next) or late-December deadlines miss January holidays.
- Working time between two moments (`working_hours_between`) is read from a per-day table of
  periods and running totals, built lazily per calendar over the span asked (plus a year either
  side): O(1) per call, the same result as walking the periods day by day
  (tests/unit/test_calendar_fast.py keeps that walk as the reference).
- DST: Indonesian zones have none. For other zones periods are built on the wall clock and
  durations measured in UTC, so a DST night does not shift counting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

__all__ = [
    "WIB",
    "WITA",
    "WIT",
    "WorkCalendar",
    "standard_hours",
    "first_response_due",
    "reminder_time",
    "due_date_end",
    "overdue_by",
]

WIB = ZoneInfo("Asia/Jakarta")  # Western Indonesia, UTC+7
WITA = ZoneInfo("Asia/Makassar")  # Central Indonesia, UTC+8
WIT = ZoneInfo("Asia/Jayapura")  # Eastern Indonesia, UTC+9

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)


_TABLE_MARGIN = 366  # days tabulated beyond the span asked, either side
_TABLE_MAX_DAYS = 200 * 366  # longer spans are walked day by day instead
# The first and last dates are left to the walk: their periods may not fit in a datetime.
_MIN_ORDINAL = date.min.toordinal() + 1
_MAX_ORDINAL = date.max.toordinal()


class _DayTable:
    """Working periods of the days lo .. hi-1 (proleptic ordinals) and the working time before
    each: `before[i]` is the sum of the full periods of days lo .. lo+i-1."""

    __slots__ = ("lo", "hi", "periods", "before")

    def __init__(self, lo: int, periods: list[tuple[datetime, datetime] | None]) -> None:
        self.lo = lo
        self.hi = lo + len(periods)
        self.periods = periods
        before = [_ZERO]
        running = _ZERO
        for period in periods:
            if period is not None:
                overlap = period[1] - period[0]
                if overlap > _ZERO:
                    running += overlap
            before.append(running)
        self.before = before

    def _clipped(self, n: int, a: datetime, b: datetime) -> timedelta:
        period = self.periods[n - self.lo]
        if period is None:
            return _ZERO
        overlap = min(period[1], b) - max(period[0], a)
        return overlap if overlap > _ZERO else _ZERO

    def between(self, first: int, last: int, a: datetime, b: datetime) -> timedelta:
        """Working time in [a, b), a on local day `first`, b on local day `last` (first <= last).
        Days strictly in between lie wholly inside [a, b): their periods come from `before`."""
        if first == last:
            return self._clipped(first, a, b)
        whole = self.before[last - self.lo] - self.before[first + 1 - self.lo]
        return self._clipped(first, a, b) + whole + self._clipped(last, a, b)


def standard_hours(
    *,
    six_day: bool = False,
    start: time = time(8, 0),
    end: time = time(17, 0),
    saturday_end: time = time(12, 0),
) -> dict[int, tuple[time, time]]:
    """Working hours per weekday (Mon=0): Mon-Fri start-end, plus Saturday start-saturday_end
    when `six_day` (the common half Saturday)."""
    hours = {wd: (start, end) for wd in range(5)}
    if six_day:
        hours[5] = (start, saturday_end)
    return hours


def _default_hours() -> Mapping[int, tuple[time, time]]:
    return MappingProxyType(standard_hours())


def _no_days_off() -> Mapping[date, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class WorkCalendar:
    """Working weekdays and hours in one time zone, minus the given days off."""

    tz: ZoneInfo = WIB
    hours: Mapping[int, tuple[time, time]] = field(default_factory=_default_hours)
    days_off: Mapping[date, str] = field(default_factory=_no_days_off)
    day_length: timedelta = timedelta(hours=9)
    # Cache of working periods and their running total per day, built on first use; not part
    # of the value (hours and days_off are read-only, so it never goes stale).
    _days: _DayTable | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.hours:
            # Without any working weekday every walk would loop forever.
            raise ValueError("the working week needs at least one weekday with hours")
        for wd, (start, end) in self.hours.items():
            if wd not in range(7):
                raise ValueError(f"weekday {wd!r} is not 0 (Monday) .. 6 (Sunday)")
            if not start < end:
                raise ValueError(f"working hours of weekday {wd} end before they start")
        for d in self.days_off:
            # A datetime key is a date subclass but would never match a date lookup.
            if isinstance(d, datetime) or not isinstance(d, date):
                raise ValueError(f"days_off keys must be dates, got {d!r}")
        if self.day_length <= _ZERO:
            raise ValueError("day_length must be positive")
        # Read-only copies: the calendar is a value and must not change under its users.
        object.__setattr__(self, "hours", MappingProxyType(dict(self.hours)))
        object.__setattr__(self, "days_off", MappingProxyType(dict(self.days_off)))

    # --- days -------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """A weekday with hours that is not a day off."""
        if isinstance(d, datetime):
            raise TypeError("is_working_day takes a date; use .astimezone(cal.tz).date()")
        return d.weekday() in self.hours and d not in self.days_off

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        d += _ONE_DAY
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def previous_working_day(self, d: date) -> date:
        """The last working day strictly before `d`."""
        d -= _ONE_DAY
        while not self.is_working_day(d):
            d -= _ONE_DAY
        return d

    def day_off_reason(self, d: date) -> str | None:
        """Why `d` is not a working day (holiday name, or the weekend), None if it is one."""
        if d in self.days_off:
            return self.days_off[d]
        if d.weekday() not in self.hours:
            return "akhir pekan"
        return None

    # --- working time -----------------------------------------------------------------------

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """`start` moved by `amount` of working time; an aware UTC datetime.

        Positive amounts walk forward, negative ones backward (used by `reminder_time`).
        See the module docstring for starts outside working hours and period boundaries.
        """
        origin = self._utc(start)
        if amount == _ZERO:
            return origin
        if amount < _ZERO:
            return self._subtract(origin, -amount)
        remaining = amount
        for p_start, p_end in self._periods_from(origin):
            begin = max(p_start, origin)
            available = p_end - begin
            if available <= _ZERO:
                continue  # origin is after this day's hours
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: the walk is endless")  # pragma: no cover

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """`start` plus `days` working days, counted as `days * day_length` of working time."""
        return self.add_working_time(start, days * self.day_length)

    def working_hours_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside [start, end); zero when end <= start.

        O(1) after the first call over a span: the working time of whole days in between comes
        from a cumulative per-day table (`_DayTable`), only the two end days are clipped.
        """
        a, b = self._utc(start), self._utc(end)
        if b <= a:
            return _ZERO
        first = a.astimezone(self.tz).date().toordinal()
        last = b.astimezone(self.tz).date().toordinal()
        table = self._table_over(first, last)
        if table is None:  # a span too long to tabulate: walk it day by day
            return self._walk_hours_between(a, b)
        return table.between(first, last, a, b)

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Working time between the two in working days (of `day_length`); 0 when end <= start.

        For lead times ("lama penyelesaian (hari kerja)"); round for display.
        """
        return self.working_hours_between(start, end) / self.day_length

    # --- internals --------------------------------------------------------------------------

    def _walk_hours_between(self, a: datetime, b: datetime) -> timedelta:
        """`working_hours_between` one working period at a time (UTC `a` < `b`)."""
        total = _ZERO
        for p_start, p_end in self._periods_from(a):
            if p_start >= b:
                break
            overlap = min(p_end, b) - max(p_start, a)
            if overlap > _ZERO:
                total += overlap
        return total

    def _table_over(self, first: int, last: int) -> _DayTable | None:
        """The per-day table covering the ordinals first..last, grown when needed (with a year
        of margin either side, so a report's many spans build it once); None when the span is
        too long to tabulate."""
        table = self._days
        if table is not None and table.lo <= first and last < table.hi:
            return table
        lo = max(first - _TABLE_MARGIN, _MIN_ORDINAL)
        hi = min(last + 1 + _TABLE_MARGIN, _MAX_ORDINAL)
        if not lo <= first <= last < hi or hi - lo > _TABLE_MAX_DAYS:
            return None
        if table is not None and max(hi, table.hi) - min(lo, table.lo) <= _TABLE_MAX_DAYS:
            lo, hi = min(lo, table.lo), max(hi, table.hi)  # grow it; else start afresh
        table = _DayTable(lo, [self._period(date.fromordinal(n)) for n in range(lo, hi)])
        # Replaced whole, never changed in place: a reader holding the old table stays right.
        object.__setattr__(self, "_days", table)
        return table

    def _utc(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment.isoformat()}: give it a time zone")
        return moment.astimezone(UTC)

    def _period(self, d: date) -> tuple[datetime, datetime] | None:
        """The working period of `d` in UTC, None on a non-working day."""
        if not self.is_working_day(d):
            return None
        start, end = self.hours[d.weekday()]
        # Built on the local wall clock, then in UTC so that durations are real elapsed time.
        return (
            datetime.combine(d, start, self.tz).astimezone(UTC),
            datetime.combine(d, end, self.tz).astimezone(UTC),
        )

    def _periods_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working periods in order, from the day `moment` falls on (local date) onward.

        Endless, but a walk always ends: days_off is finite and some weekday has hours.
        """
        d = moment.astimezone(self.tz).date()
        while True:
            period = self._period(d)
            if period is not None:
                yield period
            d += _ONE_DAY

    def _periods_back_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working periods in reverse order, from the day `moment` falls on backward."""
        d = moment.astimezone(self.tz).date()
        while True:
            period = self._period(d)
            if period is not None:
                yield period
            d -= _ONE_DAY

    def _subtract(self, origin: datetime, amount: timedelta) -> datetime:
        remaining = amount
        for p_start, p_end in self._periods_back_from(origin):
            finish = min(p_end, origin)
            available = finish - p_start
            if available <= _ZERO:
                continue  # origin is before this day's hours
            if remaining <= available:
                return finish - remaining
            remaining -= available
        raise AssertionError("unreachable: the walk is endless")  # pragma: no cover


# --- the procedure's clocks -------------------------------------------------------------------


def first_response_due(received: datetime, cal: WorkCalendar, days: int = 1) -> datetime:
    """The first response to the customer is due 1 working day after receipt (procedure step 3),
    counted in working hours: Wed 16:00 -> Thu 16:00; Sat 10:00 (5-day week) -> Mon 17:00;
    after hours -> the end of the next working day; before hours -> the end of that day."""
    return cal.add_working_days(received, days)


def triage_due(received: datetime, cal: WorkCalendar, days: int = 1) -> datetime:
    """Marketing administration chooses the department of a complaint in triage within
    `days` working days of receipt (sla.triage_working_days)."""
    return cal.add_working_days(received, days)


def verify_due(implemented: datetime, cal: WorkCalendar, days: int = 5) -> datetime:
    """The effectiveness check is due `days` working days after the actions were reported
    done (sla.verify_working_days)."""
    return cal.add_working_days(implemented, days)


def reminder_time(
    due: datetime, cal: WorkCalendar, *, not_before: datetime | None = None
) -> datetime:
    """When to remind the department: one working day (`day_length` of working time) before
    `due`, walking backward through working hours only.

    - due Thu 16:00 -> reminder Wed 16:00; due Mon 16:00 -> Fri 16:00 (the weekend is skipped);
    - due at the end of a day (Mon 17:00, e.g. from `due_date_end`) -> Mon 08:00 that day, the
      start of the due day rather than the equivalent Fri 17:00;
    - a due moment outside working hours counts back from the end of the working period before.
    - `not_before` (e.g. when the PTPP was issued): a reminder would otherwise fall before it when
      the deadline is less than a working day away; it is then clamped to `not_before`, and the
      caller decides whether a reminder at that moment is still worth sending.
    """
    moment = cal.add_working_time(due, -cal.day_length)
    if not_before is not None:
        floor = not_before.astimezone(UTC)
        if moment < floor:
            return floor
    return moment


def due_date_end(target: date, cal: WorkCalendar) -> datetime:
    """A due DATE (an action's target date from the form) means the end of working hours that
    day - or of the previous working day when the target is a weekend or day off, since the
    work has to be done before it. A half Saturday ends at its own end (12:00). UTC."""
    if isinstance(target, datetime):
        raise TypeError("due_date_end takes a date")
    day = target if cal.is_working_day(target) else cal.previous_working_day(target)
    _, end = cal.hours[day.weekday()]
    return datetime.combine(day, end, cal.tz).astimezone(UTC)


def overdue_by(due: datetime, now: datetime, cal: WorkCalendar) -> float:
    """How late, in working days: the working time from `due` to `now` / `day_length`.

    0 when `now` is not after `due`. Note it is also 0 when `now` is after `due` but only
    non-working time has passed (due Fri 17:00, now Sat): test `now > due` for "is it
    overdue", use this for "by how much".
    """
    return cal.working_days_between(due, now)
