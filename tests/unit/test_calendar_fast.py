"""`WorkCalendar.working_hours_between` / `working_days_between` from the per-day table give
exactly what the day-by-day walk gave: property checks against that walk, kept here as the
reference, over random moments across years, weekends, Indonesian holidays, period boundaries,
both orders and several zones and working weeks (seeded, so a failure repeats)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailproc.domain import calendar as calendar_module
from mailproc.domain.calendar import WIB, WIT, WITA, WorkCalendar, overdue_by, standard_hours
from mailproc.holidays_id import indonesian_days_off

YEARS = range(2023, 2031)
BERLIN = ZoneInfo("Europe/Berlin")  # not Indonesian, but with DST: the wall-clock rules hold


# --- the reference: the walk working_hours_between used before the table ---------------------


def _periods_from(cal: WorkCalendar, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
    d = moment.astimezone(cal.tz).date()
    while True:
        if d.weekday() in cal.hours and d not in cal.days_off:
            start, end = cal.hours[d.weekday()]
            yield (
                datetime.combine(d, start, cal.tz).astimezone(UTC),
                datetime.combine(d, end, cal.tz).astimezone(UTC),
            )
        d += timedelta(days=1)


def reference_hours_between(cal: WorkCalendar, start: datetime, end: datetime) -> timedelta:
    a, b = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    if b <= a:
        return total
    for p_start, p_end in _periods_from(cal, a):
        if p_start >= b:
            break
        overlap = min(p_end, b) - max(p_start, a)
        if overlap > timedelta(0):
            total += overlap
    return total


def reference_days_between(cal: WorkCalendar, start: datetime, end: datetime) -> float:
    return reference_hours_between(cal, start, end) / cal.day_length


# --- calendars and moments --------------------------------------------------------------------


def calendars() -> list[WorkCalendar]:
    cuti = indonesian_days_off(YEARS, cuti_bersama=True)
    plain = indonesian_days_off(YEARS, cuti_bersama=False)
    company = {date(2026, 8, 18): "Ulang tahun perusahaan", date(2027, 1, 2): "Stok opname"}
    return [
        WorkCalendar(days_off=cuti),
        WorkCalendar(tz=WITA, hours=standard_hours(six_day=True), days_off=plain),
        WorkCalendar(tz=WIT, days_off={**plain, **company}, day_length=timedelta(hours=8)),
        WorkCalendar(
            hours={0: (time(7, 30), time(16, 15)), 2: (time(13), time(21)), 5: (time(8), time(12))},
            days_off=cuti,
        ),
        WorkCalendar(tz=BERLIN, days_off={date(2026, 12, 25): "Weihnachten"}),
        WorkCalendar(),  # no days off at all
    ]


CALENDAR_IDS = ["wib-cuti", "wita-6day", "wit-8h", "odd-week", "berlin-dst", "no-days-off"]

# Wall times at and around the period edges, plus midnight, as well as random ones.
EDGES = [
    time(0),
    time(7, 30),
    time(7, 59, 59, 999999),
    time(8),
    time(8, 0, 0, 1),
    time(12),
    time(13),
    time(16, 15),
    time(16, 59, 59),
    time(17),
    time(21),
    time(23, 59, 59, 999999),
]
ZONES = [WIB, WITA, WIT, UTC, BERLIN]


def moment(rnd: random.Random, lo: date, hi: date) -> datetime:
    d = date.fromordinal(rnd.randint(lo.toordinal(), hi.toordinal()))
    if rnd.random() < 0.4:
        t = rnd.choice(EDGES)
    else:
        t = time(rnd.randrange(24), rnd.randrange(60), rnd.randrange(60), rnd.randrange(10**6))
    return datetime.combine(d, t, rnd.choice(ZONES))


def pairs(seed: int, count: int) -> Iterator[tuple[datetime, datetime]]:
    rnd = random.Random(seed)
    for _ in range(count):
        a = moment(rnd, date(2023, 1, 1), date(2030, 12, 31))
        roll = rnd.random()
        if roll < 0.3:  # the same or the next few days: the clipped ends matter most
            b = a + timedelta(minutes=rnd.randint(-3 * 24 * 60, 4 * 24 * 60))
        elif roll < 0.4:  # exactly equal, or one microsecond apart
            b = a + timedelta(microseconds=rnd.choice([0, 1, -1]))
        else:
            b = moment(rnd, date(2023, 1, 1), date(2030, 12, 31))
        yield a, b


# --- the properties -----------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(CALENDAR_IDS)), ids=CALENDAR_IDS)
def test_same_as_the_day_by_day_walk(index: int) -> None:
    cal = calendars()[index]
    for a, b in pairs(seed=1000 + index, count=300):
        expected = reference_hours_between(cal, a, b)
        assert cal.working_hours_between(a, b) == expected, (a, b)
        assert cal.working_days_between(a, b) == reference_days_between(cal, a, b), (a, b)
        # the other order is zero unless both are the same instant
        assert cal.working_hours_between(b, a) == reference_hours_between(cal, b, a), (b, a)


def test_the_table_grows_both_ways_and_stays_exact() -> None:
    """Spans asked in an order that makes the table grow forward, then backward, then both:
    each answer as the walk's, on one calendar instance."""
    [cal] = calendars()[:1]
    spans = [
        (datetime(2026, 11, 2, 9, tzinfo=WIB), datetime(2026, 11, 3, 10, tzinfo=WIB)),
        (datetime(2026, 11, 2, 9, tzinfo=WIB), datetime(2029, 6, 3, 10, tzinfo=WIB)),
        (datetime(2023, 2, 2, 9, tzinfo=WIB), datetime(2023, 2, 20, 10, tzinfo=WIB)),
        (datetime(2021, 12, 24, 16, tzinfo=WIB), datetime(2032, 1, 5, 11, tzinfo=WIB)),
        (datetime(2026, 12, 23, 16, tzinfo=WIB), datetime(2026, 12, 28, 16, tzinfo=WIB)),
    ]
    for a, b in spans:
        assert cal.working_hours_between(a, b) == reference_hours_between(cal, a, b)


def test_spans_too_long_to_tabulate_are_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calendar_module, "_TABLE_MAX_DAYS", 40)
    monkeypatch.setattr(calendar_module, "_TABLE_MARGIN", 3)
    cal = WorkCalendar(days_off=indonesian_days_off(YEARS, cuti_bersama=True))
    short = (datetime(2026, 3, 17, 16, tzinfo=WIB), datetime(2026, 3, 25, 16, tzinfo=WIB))
    long = (datetime(2026, 3, 17, 16, tzinfo=WIB), datetime(2026, 9, 25, 16, tzinfo=WIB))
    far = (datetime(2027, 3, 17, 16, tzinfo=WIB), datetime(2027, 3, 25, 16, tzinfo=WIB))
    for a, b in (short, long, short, far, short):  # far does not fit with short: table anew
        assert cal.working_hours_between(a, b) == reference_hours_between(cal, a, b)
    assert cal.working_hours_between(*short) == timedelta(hours=9)  # Nyepi, Idul Fitri, cuti


def outcome(call, *args):  # type: ignore[no-untyped-def]
    try:
        return call(*args)
    except OverflowError as exc:  # walking off date.max
        return type(exc)


def test_the_first_and_last_dates_are_left_to_the_walk() -> None:
    cal = WorkCalendar(tz=UTC)  # UTC: periods on date.min / date.max still fit a datetime
    for a, b in [
        (datetime(1, 1, 1, 9, tzinfo=UTC), datetime(1, 1, 3, 9, tzinfo=UTC)),
        (datetime(9999, 12, 28, 9, tzinfo=UTC), datetime(9999, 12, 30, 9, tzinfo=UTC)),
        (datetime(9999, 12, 29, 9, tzinfo=UTC), datetime(9999, 12, 31, 9, tzinfo=UTC)),
    ]:
        got = outcome(cal.working_hours_between, a, b)
        assert got == outcome(reference_hours_between, cal, a, b), (a, b)


def test_overdue_by_follows() -> None:
    cal = calendars()[0]
    for due, now in pairs(seed=7, count=200):
        assert overdue_by(due, now, cal) == reference_days_between(cal, due, now)


def test_the_cache_is_not_part_of_the_value() -> None:
    a, b = calendars()[0], calendars()[0]
    a.working_hours_between(datetime(2026, 1, 5, tzinfo=WIB), datetime(2026, 2, 5, tzinfo=WIB))
    assert a == b
    assert repr(a) == repr(b)
    assert "_days" not in repr(a)


def test_naive_datetimes_are_still_refused() -> None:
    cal = WorkCalendar()
    with pytest.raises(ValueError, match="naive"):
        cal.working_hours_between(datetime(2026, 1, 5), datetime(2026, 1, 6, tzinfo=WIB))
    with pytest.raises(ValueError, match="naive"):
        cal.working_hours_between(datetime(2026, 1, 6, tzinfo=WIB), datetime(2026, 1, 5))
