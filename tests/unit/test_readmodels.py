"""The read models behind `complaints list/show` and `outbox list`, and the monitoring queries
of the reminder and report jobs: what they select, in what order, and the rows without a
customer or a complaint."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from appfixture import LocalApp

from mailproc import store
from mailproc.bootstrap import App, build_app
from mailproc.config import load_settings
from mailproc.domain import states
from mailproc.intake import services
from mailproc.ptpp import workflow
from mailproc.store import monitoring, readmodels
from mailproc.store.uow import current_cycle

WIB = ZoneInfo("Asia/Jakarta")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def setup(tmp_path: Path) -> tuple[App, Clock]:
    local = LocalApp(tmp_path)
    clock = Clock(datetime(2026, 11, 30, 9, 0, tzinfo=WIB))  # a Monday
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    return build_app(settings, clock=clock), clock


def register(app: App, when: datetime, text: str, email: str = "") -> str:
    new = services.NewComplaint(channel="telepon", received_at=when, customer_email=email,
                                customer_name="CV Maju", subject=text[:30], description=text)
    return services.register_manual(app, new, actor="rina").number


def test_complaint_list_newest_first_filters_open_and_status(tmp_path: Path):
    app, clock = setup(tmp_path)
    older = register(app, datetime(2026, 11, 27, 9, 0, tzinfo=WIB), "Botol retak",
                     email="budi@example.com")
    newer = register(app, datetime(2026, 11, 28, 9, 0, tzinfo=WIB), "Penawaran iklan SEO")
    workflow.reject(app, newer, reason="iklan", actor="rina", source="t")

    assert [r.number for r in readmodels.complaint_list()] == [newer, older]
    assert [r.number for r in readmodels.complaint_list("open")] == [older]
    assert [r.number for r in readmodels.complaint_list(states.REJECTED)] == [newer]
    assert readmodels.complaint_list(states.CLOSED) == []
    row = readmodels.complaint_list("open")[0]
    assert (row.customer_email, row.customer_name) == ("budi@example.com", "CV Maju")
    assert row.received_at == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # aware UTC
    assert isinstance(row.categories, tuple)


def test_a_complaint_without_customer_has_none_for_both(tmp_path: Path):
    app, clock = setup(tmp_path)
    number = register(app, clock.now, "Botol retak", email="budi@example.com")
    store.Complaint.update(customer=None).execute()
    row = readmodels.complaint_row(number)
    assert row is not None and (row.customer_email, row.customer_name) == (None, None)
    detail = readmodels.complaint_detail(number)
    assert detail is not None and detail.summary == row


def test_complaint_detail_lists_cycles_and_events_in_order(tmp_path: Path):
    app, clock = setup(tmp_path)
    number = register(app, clock.now, "Botol retak", email="budi@example.com")
    c = store.complaint_by_number(number)
    store.Ptpp.update(plan='{"action_1_corrective": "servis", "action_1_target": "besok"}',
                      status=states.IMPLEMENTED).execute()
    store.Complaint.update(status=states.IMPLEMENTED).where(store.Complaint.id == c.id).execute()
    workflow.verify(app, number, effective=False, note="terulang", actor="rina", source="t")

    detail = readmodels.complaint_detail(number)
    assert detail is not None
    assert [p.cycle for p in detail.cycles] == [1, 2]
    [action] = detail.cycles[0].actions
    assert (action.corrective, action.target, action.target_raw) == ("servis", None, "besok")
    assert detail.cycles[1].actions == ()
    ids = [e.id for e in store.Event.select().where(store.Event.complaint == c.id)
           .order_by(store.Event.id)]
    assert len(detail.events) == len(ids) and detail.events[0].kind == "complaint_registered"
    assert isinstance(detail.events[0].data, dict)
    assert readmodels.latest_cycle(number) == 2
    assert readmodels.complaint_detail("999/PTPP/MKT/I/2020") is None
    assert readmodels.latest_cycle("999/PTPP/MKT/I/2020") is None


def test_outgoing_list_status_sent_and_the_complaint_number(tmp_path: Path):
    app, clock = setup(tmp_path)
    number = register(app, clock.now, "Botol retak", email="budi@example.com")
    queued = readmodels.outgoing_list()
    assert queued and all(r.status == "queued" for r in queued)
    assert [r.id for r in queued] == sorted(r.id for r in queued)
    assert {r.complaint for r in queued} == {number}  # joined, not blanked by the join
    first = queued[0].id
    store.OutgoingMail.update(status="sent").where(store.OutgoingMail.id == first).execute()
    store.OutgoingMail.update(complaint=None).where(store.OutgoingMail.id == first).execute()

    assert first not in [r.id for r in readmodels.outgoing_list()]
    everything = readmodels.outgoing_list(include_sent=True)
    assert [r.id for r in everything] == [r.id for r in queued]
    assert everything[0].complaint is None and everything[0].status == "sent"
    # A status wins over include_sent, as `outbox list --status` does.
    assert [r.id for r in readmodels.outgoing_list("sent")] == [first]
    assert [r.id for r in readmodels.outgoing_list("sent", include_sent=False)] == [first]
    assert isinstance(everything[0].to, tuple) and everything[0].to


def test_monitoring_remembers_once_per_day_and_lists_open_complaints(tmp_path: Path):
    app, clock = setup(tmp_path)
    a = register(app, clock.now, "Botol retak")
    b = register(app, clock.now, "Penawaran iklan SEO")
    workflow.reject(app, b, reason="iklan", actor="rina", source="t")
    assert [c.number for c in monitoring.open_complaints()] == [a]
    complaint = store.complaint_by_number(a)
    assert current_cycle(complaint).cycle == 1
    day = date(2026, 11, 30)
    with store.transaction():
        assert monitoring.remember_once(complaint, "department", "reminder", day, clock.now)
        assert not monitoring.remember_once(complaint, "department", "reminder", day,
                                            clock.now)
        assert monitoring.remember_once(complaint, "operations", "escalation", day, clock.now)
        assert monitoring.remember_once(complaint, "department", "reminder",
                                        date(2026, 12, 1), clock.now)


def test_last_event_and_recap_sent(tmp_path: Path):
    app, clock = setup(tmp_path)
    register(app, clock.now, "Botol retak")  # events about a complaint do not count
    assert monitoring.last_event_at("digest_sent") is None
    assert monitoring.last_event_at("complaint_registered") is None
    with store.transaction():
        for hour in (8, 9):
            store.append_event(complaint=None, at=datetime(2026, 12, 1, hour, tzinfo=WIB),
                               actor="mailproc", source="digest", kind="digest_sent")
        store.append_event(complaint=None, at=clock.now, actor="mailproc", source="recap",
                           kind="recap_sent", data={"month": "2026-10", "total": 3})
    assert monitoring.last_event_at("digest_sent") == datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert monitoring.recap_sent_for("2026-10")
    assert not monitoring.recap_sent_for("2026-11")
