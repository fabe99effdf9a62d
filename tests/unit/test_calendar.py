"""The working-day calendar: the worked examples of issue 4 with real Indonesian holidays,
then the edge cases documented in mailproc.domain.calendar."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from mailproc.domain.calendar import (
    WIB,
    WIT,
    WITA,
    WorkCalendar,
    due_date_end,
    first_response_due,
    overdue_by,
    reminder_time,
    standard_hours,
)
from mailproc.holidays_id import indonesian_days_off

YEARS = (2026, 2027)  # the year counted over and the next, so year-end walks see January


def wib(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


@pytest.fixture(scope="module")
def cal_cuti() -> WorkCalendar:
    """5-day week, cuti bersama counted as days off."""
    return WorkCalendar(days_off=indonesian_days_off(YEARS, cuti_bersama=True))


@pytest.fixture(scope="module")
def cal_plain() -> WorkCalendar:
    """5-day week, national holidays only (cuti bersama worked)."""
    return WorkCalendar(days_off=indonesian_days_off(YEARS, cuti_bersama=False))


@pytest.fixture
def cal(cal_plain: WorkCalendar) -> WorkCalendar:
    return cal_plain


# --- the worked examples of issue 4 ----------------------------------------------------------


@pytest.mark.parametrize(
    "received,with_cuti,without_cuti",
    [
        # 24 Dec cuti bersama, 25 Dec Christmas, then the weekend.
        (wib(2026, 12, 23, 16), wib(2026, 12, 28, 16), wib(2026, 12, 24, 16)),
        # Saturday: counting starts Monday 08:00, so the end of the next working day.
        (wib(2026, 11, 28, 10), wib(2026, 11, 30, 17), wib(2026, 11, 30, 17)),
        # 18 cuti Nyepi, 19 Nyepi, 20 cuti, 21-22 Idul Fitri (weekend), 23-24 cuti.
        (wib(2026, 3, 17, 16), wib(2026, 3, 25, 16), wib(2026, 3, 18, 16)),
    ],
)
def test_first_response_worked_examples(cal_cuti, cal_plain, received, with_cuti, without_cuti):
    assert first_response_due(received, cal_cuti) == with_cuti
    assert first_response_due(received, cal_plain) == without_cuti


def test_results_are_utc_and_shown_in_wib(cal_cuti):
    due = first_response_due(wib(2026, 12, 23, 16), cal_cuti)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 12, 28, 9, 0, tzinfo=UTC)
    assert due.astimezone(cal_cuti.tz).strftime("%a %d %b %H:%M") == "Mon 28 Dec 16:00"


def test_inputs_in_utc_give_the_same_answers(cal_cuti, cal_plain):
    received_utc = datetime(2026, 12, 23, 9, 0, tzinfo=UTC)  # = 16:00 WIB
    assert first_response_due(received_utc, cal_cuti) == wib(2026, 12, 28, 16)
    assert first_response_due(received_utc, cal_plain) == wib(2026, 12, 24, 16)
    # 01:00 UTC Saturday is 08:00 WIB Saturday: still a day off.
    assert first_response_due(datetime(2026, 11, 28, 1, tzinfo=UTC), cal_plain) == wib(
        2026, 11, 30, 17
    )


def test_year_end_walk_sees_new_year(cal_cuti):
    # 31 Dec 2026 is Thursday, 1 Jan 2027 a national holiday (Friday).
    assert first_response_due(wib(2026, 12, 31, 16), cal_cuti) == wib(2027, 1, 4, 16)


# --- starts outside working hours ------------------------------------------------------------


def test_received_before_hours_counts_from_start_of_day(cal):
    assert first_response_due(wib(2026, 11, 23, 6), cal) == wib(2026, 11, 23, 17)


def test_received_after_hours_is_due_end_of_next_working_day(cal):
    assert first_response_due(wib(2026, 11, 23, 19), cal) == wib(2026, 11, 24, 17)
    assert first_response_due(wib(2026, 11, 23, 17), cal) == wib(2026, 11, 24, 17)


def test_received_on_holiday(cal):
    # Christmas Friday 25 Dec -> counting starts Monday 28.
    assert first_response_due(wib(2026, 12, 25, 10), cal) == wib(2026, 12, 28, 17)


def test_landing_on_end_of_day_keeps_that_day(cal):
    # Fri 08:00 + 9 h = Fri 17:00, not Mon 08:00.
    assert first_response_due(wib(2026, 11, 27, 8), cal) == wib(2026, 11, 27, 17)


def test_zero_amount_returns_start_unchanged(cal):
    sat = wib(2026, 11, 28, 10)
    assert cal.add_working_time(sat, timedelta(0)) == sat


def test_naive_datetime_is_refused(cal):
    with pytest.raises(ValueError, match="naive"):
        first_response_due(datetime(2026, 11, 23, 10), cal)


# --- working weeks and company days off ------------------------------------------------------


def test_six_day_week_with_half_saturday():
    cal = WorkCalendar(hours=standard_hours(six_day=True))
    assert cal.is_working_day(date(2026, 11, 28))
    # Sat 10:00: 2 h on Saturday (to 12:00) + 7 h on Monday -> Mon 15:00 (day_length 9 h).
    assert first_response_due(wib(2026, 11, 28, 10), cal) == wib(2026, 11, 30, 15)
    # Fri 16:00: 1 h Fri + 4 h Sat + 4 h Mon -> Mon 12:00.
    assert first_response_due(wib(2026, 11, 27, 16), cal) == wib(2026, 11, 30, 12)
    # Saturday afternoon is after hours.
    assert first_response_due(wib(2026, 11, 28, 13), cal) == wib(2026, 11, 30, 17)
    assert cal.working_hours_between(wib(2026, 11, 28, 0), wib(2026, 11, 29, 0)) == timedelta(
        hours=4
    )


def test_company_days_off(cal_plain):
    days_off = dict(cal_plain.days_off)
    days_off[date(2026, 11, 30)] = "Libur perusahaan (stock opname)"
    cal = WorkCalendar(days_off=days_off)
    assert not cal.is_working_day(date(2026, 11, 30))
    assert cal.day_off_reason(date(2026, 11, 30)) == "Libur perusahaan (stock opname)"
    assert cal.day_off_reason(date(2026, 11, 29)) == "akhir pekan"
    assert cal.day_off_reason(date(2026, 12, 1)) is None
    assert first_response_due(wib(2026, 11, 28, 10), cal) == wib(2026, 12, 1, 17)


def test_next_and_previous_working_day(cal_cuti):
    assert cal_cuti.next_working_day(date(2026, 12, 23)) == date(2026, 12, 28)
    assert cal_cuti.previous_working_day(date(2026, 12, 28)) == date(2026, 12, 23)
    assert cal_cuti.next_working_day(date(2026, 3, 17)) == date(2026, 3, 25)
    assert cal_cuti.previous_working_day(date(2026, 3, 25)) == date(2026, 3, 17)


def test_add_working_days_over_a_weekend(cal):
    # Thu 10:00 + 3 -> Fri, Mon, Tue 10:00.
    assert cal.add_working_days(wib(2026, 11, 26, 10), 3) == wib(2026, 12, 1, 10)


def test_working_days_between(cal):
    assert cal.working_days_between(wib(2026, 11, 26, 10), wib(2026, 12, 1, 10)) == 3.0
    assert cal.working_days_between(wib(2026, 11, 30, 8), wib(2026, 11, 30, 12, 30)) == 0.5
    assert cal.working_days_between(wib(2026, 12, 1, 10), wib(2026, 11, 26, 10)) == 0
    assert cal.working_hours_between(wib(2026, 11, 28, 9), wib(2026, 11, 29, 23)) == timedelta(0)


def test_between_is_the_inverse_of_add(cal_cuti):
    start = wib(2026, 3, 17, 16)
    for hours in (1, 5, 9, 13, 40):
        end = cal_cuti.add_working_time(start, timedelta(hours=hours))
        assert cal_cuti.working_hours_between(start, end) == timedelta(hours=hours)


# --- reminders, due dates, lateness ----------------------------------------------------------


def test_reminder_one_working_day_before(cal, cal_cuti):
    assert reminder_time(wib(2026, 11, 26, 16), cal) == wib(2026, 11, 25, 16)
    # Monday due: the weekend is skipped.
    assert reminder_time(wib(2026, 11, 30, 16), cal) == wib(2026, 11, 27, 16)
    # Due at the end of a day: the start of that day, not the equivalent Fri 17:00.
    assert reminder_time(wib(2026, 11, 30, 17), cal) == wib(2026, 11, 30, 8)
    # Holidays are skipped backward too.
    assert reminder_time(wib(2026, 12, 28, 16), cal_cuti) == wib(2026, 12, 23, 16)
    # A due moment outside hours counts back from the previous period's end.
    assert reminder_time(wib(2026, 11, 28, 10), cal) == wib(2026, 11, 27, 8)


def test_reminder_never_before_not_before(cal):
    issued = wib(2026, 11, 26, 15)
    due = wib(2026, 11, 27, 8)  # less than a working day away
    assert reminder_time(due, cal, not_before=issued) == issued
    assert reminder_time(due, cal, not_before=wib(2026, 11, 20)) == wib(2026, 11, 26, 8)


def test_due_date_end(cal_cuti, cal_plain):
    assert due_date_end(date(2026, 11, 26), cal_plain) == wib(2026, 11, 26, 17)
    # Christmas (a Friday): the previous working day.
    assert due_date_end(date(2026, 12, 25), cal_plain) == wib(2026, 12, 24, 17)
    assert due_date_end(date(2026, 12, 25), cal_cuti) == wib(2026, 12, 23, 17)
    # Sunday -> Friday in a 5-day week; Saturday is its own half day in a 6-day week.
    assert due_date_end(date(2026, 11, 29), cal_plain) == wib(2026, 11, 27, 17)
    six = WorkCalendar(hours=standard_hours(six_day=True))
    assert due_date_end(date(2026, 11, 28), six) == wib(2026, 11, 28, 12)
    assert due_date_end(date(2026, 11, 29), six) == wib(2026, 11, 28, 12)


def test_overdue_by(cal):
    due = wib(2026, 11, 27, 17)  # Friday end of day
    assert overdue_by(due, wib(2026, 11, 27, 12), cal) == 0
    assert overdue_by(due, wib(2026, 11, 28, 12), cal) == 0  # late, but only weekend passed
    assert overdue_by(due, wib(2026, 11, 30, 12, 30), cal) == 0.5
    assert overdue_by(due, wib(2026, 12, 2, 17), cal) == 3.0


# --- other Indonesian time zones (no DST) ----------------------------------------------------


@pytest.mark.parametrize("tz,offset", [(WIB, 7), (WITA, 8), (WIT, 9)])
def test_indonesian_zones_have_no_dst(tz, offset):
    for month in (1, 7):
        assert datetime(2026, month, 1, tzinfo=tz).utcoffset() == timedelta(hours=offset)


def test_same_instant_in_wib_wita_wit():
    received = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 15:00 WIB, 16:00 WITA, 17:00 WIT
    due_wib = first_response_due(received, WorkCalendar(tz=WIB))
    due_wita = first_response_due(received, WorkCalendar(tz=WITA))
    due_wit = first_response_due(received, WorkCalendar(tz=WIT))
    assert due_wib == datetime(2026, 11, 27, 15, tzinfo=WIB)
    assert due_wita == datetime(2026, 11, 27, 16, tzinfo=WITA)
    # 17:00 WIT is the end of the day there: the end of the next working day.
    assert due_wit == datetime(2026, 11, 27, 17, tzinfo=WIT)
    # Both still inside working hours: due the same time next working day, the same instant.
    assert due_wita == due_wib


# --- configuration errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hours": {}},
        {"hours": {0: (time(17), time(8))}},
        {"hours": {7: (time(8), time(17))}},
        {"day_length": timedelta(0)},
        {"days_off": {datetime(2026, 1, 1, tzinfo=WIB): "x"}},
    ],
)
def test_invalid_calendars_are_refused(kwargs):
    with pytest.raises(ValueError):
        WorkCalendar(**kwargs)


def test_calendar_is_an_immutable_value(cal_plain):
    with pytest.raises(TypeError):
        cal_plain.days_off[date(2026, 11, 30)] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        cal_plain.is_working_day(datetime(2026, 11, 30, tzinfo=WIB))
