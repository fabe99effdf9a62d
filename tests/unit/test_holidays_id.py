"""Indonesian days off for 2026 as the pinned `holidays` package gives them (SKB 2026)."""

from datetime import date

import holidays
import pytest

from mailproc.holidays_id import indonesian_days_off

CUTI_BERSAMA_2026 = {
    date(2026, 2, 16),  # Imlek
    date(2026, 3, 18),  # Nyepi
    date(2026, 3, 20),  # Idul Fitri
    date(2026, 3, 23),  # Idul Fitri
    date(2026, 3, 24),  # Idul Fitri
    date(2026, 5, 15),  # Kenaikan Yesus Kristus
    date(2026, 5, 28),  # Idul Adha
    date(2026, 12, 24),  # Natal
}


@pytest.fixture(scope="module")
def national() -> dict[date, str]:
    return indonesian_days_off([2026], cuti_bersama=False)


@pytest.fixture(scope="module")
def with_cuti() -> dict[date, str]:
    return indonesian_days_off([2026], cuti_bersama=True)


@pytest.mark.parametrize(
    "day,name",
    [
        (date(2026, 12, 25), "Natal"),
        (date(2026, 3, 21), "Idul Fitri"),
        (date(2026, 3, 22), "Idul Fitri"),
        (date(2026, 3, 19), "Nyepi"),
    ],
)
def test_national_holidays_2026_with_indonesian_names(national, day, name):
    assert name in national[day]


def test_cuti_bersama_only_when_asked(national, with_cuti):
    assert CUTI_BERSAMA_2026.isdisjoint(national)
    assert set(with_cuti) - set(national) == CUTI_BERSAMA_2026
    assert all(with_cuti[d].startswith("Cuti Bersama") for d in CUTI_BERSAMA_2026)


def test_package_categories_are_public_and_government():
    # The split our setting relies on: national holidays PUBLIC, cuti bersama GOVERNMENT.
    gov = holidays.country_holidays("ID", years=2026, categories=(holidays.GOVERNMENT,))
    pub = holidays.country_holidays("ID", years=2026, categories=(holidays.PUBLIC,))
    assert set(gov) == CUTI_BERSAMA_2026
    assert date(2026, 12, 25) in pub and date(2026, 12, 24) not in pub


def test_several_years_and_none():
    days = indonesian_days_off([2027, 2026, 2026], cuti_bersama=False)
    assert date(2026, 1, 1) in days and date(2027, 1, 1) in days
    assert list(days) == sorted(days)
    assert indonesian_days_off([], cuti_bersama=True) == {}
