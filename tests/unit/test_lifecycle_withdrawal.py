"""Reassigning a PTPP whose form went out withdraws that department's form (issue #12): the
aggregate says so with an event of its own, and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailproc.domain.lifecycle import Case, EventKind

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def issued_to(department: str) -> Case:
    case, _ = Case.register("001/PTPP/MKT/III/2026", department, T, {})
    case.issue(T, T + timedelta(days=3))
    return case


def kinds(events) -> list[str]:
    return [str(e.kind) for e in events]


def test_a_department_that_had_the_form_loses_it_with_an_event():
    case = issued_to("qc")
    events = case.assign("logistik", T + timedelta(hours=1), "salah bagian")
    assert kinds(events) == [EventKind.DEPARTMENT_ASSIGNED, EventKind.PTPP_WITHDRAWN]
    assert events[1].data == {"department": "qc", "cycle": 1, "new_department": "logistik"}
    assert (case.department, case.cycle.department) == ("logistik", "logistik")


def test_no_withdrawal_before_a_form_went_out_or_for_the_same_department():
    case, _ = Case.register("001/PTPP/MKT/III/2026", "qc", T, {})  # assigned, not issued
    assert kinds(case.assign("logistik", T)) == [EventKind.DEPARTMENT_ASSIGNED]
    again = issued_to("qc")
    assert kinds(again.assign("qc", T)) == [EventKind.DEPARTMENT_ASSIGNED]
