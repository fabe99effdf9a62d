"""The procedure's clocks on the company's working-day calendar, from the settings.

Builds the `domain.calendar.WorkCalendar` once per App (national holidays from the `holidays`
package through `holidays_id`, cuti bersama and company days off as configured) and answers
the due times the services store. The arithmetic itself is pure, in `domain.calendar`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailproc.domain import calendar as cal
from mailproc.holidays_id import indonesian_days_off


def calendar(app: Any) -> cal.WorkCalendar:
    cached = getattr(app, "_calendar", None)
    if cached is not None:
        return cached
    c = app.settings.calendar
    now = app.clock()
    years = range(now.year - 1, now.year + 3)
    days_off = dict(indonesian_days_off(years, cuti_bersama=c.cuti_bersama))
    days_off.update({d: "libur perusahaan" for d in c.company_days_off})
    built = cal.WorkCalendar(tz=app.settings.timezone, hours=c.hours, days_off=days_off,
                             day_length=c.day_length)
    app._calendar = built
    return built


def first_response_due(app: Any, received_at: datetime) -> datetime:
    """Procedure 4.4: the first response within 1 working day of receipt."""
    return cal.first_response_due(received_at, calendar(app),
                                  app.settings.calendar.first_response_days)


def plan_due(app: Any, issued_at: datetime) -> datetime:
    return calendar(app).add_working_days(issued_at, app.settings.calendar.plan_days)
