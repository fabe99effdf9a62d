"""The message bus (`mailproc.ptpp.handlers`): the unit of work hands each saved batch of
domain events to the handlers inside the transaction that saved them, in the aggregate's
order; a handler that fails undoes the step and the mail and files that came with it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_readmodels import register, setup

from mailproc import store
from mailproc.bootstrap import App
from mailproc.domain.lifecycle import EventKind, MailKind
from mailproc.ptpp import handlers, workflow
from mailproc.store.db import current_chain
from mailproc.store.uow import UnitOfWork

WIB = ZoneInfo("Asia/Jakarta")


def outbox_kinds(number: str) -> list[str]:
    return [m.kind for m in store.OutgoingMail.select().join(store.Complaint).where(
        store.Complaint.number == number).order_by(store.OutgoingMail.id)]


def test_the_unit_of_work_hands_saved_events_to_the_bus_inside_its_transaction(
        tmp_path: Path):
    app, clock = setup(tmp_path)
    number = register(app, clock.now, "Penawaran iklan SEO murah")  # triage: no PTPP yet
    seen: list[tuple[str, str, bool, str]] = []

    def spy(app_: App, o: handlers.Occurrence) -> None:
        stored = store.complaint_by_number(o.complaint.number)
        seen.append((str(o.event.kind), stored.status, current_chain() is not None, o.actor))

    bus = handlers.Bus(app, {EventKind.COMPLAINT_REJECTED: (spy,)})
    with UnitOfWork(bus) as uow:
        row, case = uow.load(number)
        events = case.reject("bukan keluhan: penawaran iklan", clock.now)
        uow.save(row, case, events, at=clock.now, actor="rina", source="test")
    # After the save (the handler reads the new status), inside the transaction, once.
    assert seen == [("complaint_rejected", "rejected", True, "rina")]


def test_events_without_a_handler_are_only_recorded(tmp_path: Path):
    app, clock = setup(tmp_path)
    number = register(app, clock.now, "Penawaran iklan SEO murah")
    before = store.OutgoingMail.select().count()
    workflow.reject(app, number, reason="penawaran iklan", actor="rina", source="test")
    assert EventKind.COMPLAINT_REJECTED not in handlers.HANDLERS
    assert store.OutgoingMail.select().count() == before


def test_issuing_queues_the_departments_mail_from_the_event(tmp_path: Path):
    app, clock = setup(tmp_path)
    number = register(app, clock.now, "Penawaran iklan SEO murah", email="budi@example.com")
    assert MailKind.PTPP_ISSUE not in outbox_kinds(number)
    workflow.assign(app, number, "qc", actor="rina", source="test")
    assert outbox_kinds(number)[-1] == MailKind.PTPP_ISSUE
    mail = store.OutgoingMail.select().order_by(store.OutgoingMail.id.desc()).get()
    issued = store.Event.get(store.Event.kind == EventKind.PTPP_ISSUED)
    queued = store.Event.select().order_by(store.Event.id.desc()).get()
    # The decision first, then its consequence, carrying the document the event names.
    assert queued.kind == EventKind.MAIL_QUEUED and queued.id > issued.id
    data = json.loads(issued.data)
    assert json.loads(mail.attachments) == [data["document"]]
    assert data["filename"] in mail.body_text
    assert json.loads(mail.to_addrs) == data["to"]


def test_a_failing_handler_undoes_the_step_its_mail_and_its_files(tmp_path: Path,
                                                                  monkeypatch):
    app, clock = setup(tmp_path)
    number = register(app, clock.now, "Penawaran iklan SEO murah", email="budi@example.com")
    mails, events = store.OutgoingMail.select().count(), store.Event.select().count()

    def broken(app_: App, o: handlers.Occurrence) -> None:
        raise RuntimeError("template surat rusak")

    monkeypatch.setitem(handlers.HANDLERS, EventKind.PTPP_ISSUED, (broken,))
    with pytest.raises(RuntimeError, match="template surat rusak"):
        workflow.assign(app, number, "qc", actor="rina", source="test")
    stored = store.complaint_by_number(number)
    assert (stored.status, stored.department) == ("triage", "")
    assert store.OutgoingMail.select().count() == mails
    assert store.Event.select().count() == events
    assert not store.Document.select().exists()
    assert not [p for p in (tmp_path / "archive").rglob("*.docx")]

    # The same step with the real handler goes through.
    monkeypatch.undo()
    workflow.assign(app, number, "qc", actor="rina", source="test")
    assert store.complaint_by_number(number).status == "issued"


def test_a_report_of_both_parts_queues_the_plan_notice_then_the_done_notice(tmp_path: Path):
    """One form with the plan and the completion filled: two events, two handlers, in the
    aggregate's order."""
    order: list[str] = []
    bus = handlers.Bus(None, {  # type: ignore[arg-type]  # the handlers below need no app
        EventKind.PTPP_PLANNED: (lambda a, o: order.append("plan"),),
        EventKind.PTPP_IMPLEMENTED: (lambda a, o: order.append("done"),),
        EventKind.PTPP_VERIFIED: (lambda a, o: order.append("verified"),),
    })
    from mailproc.domain.lifecycle import Case

    now = datetime(2026, 11, 30, 9, 0, tzinfo=WIB)
    case, _ = Case.register("001/PTPP/MKT/XI/2026", "qc", now, {})
    case.issue(now, now, {})
    events = case.report_done(now, {})
    bus.handle(None, events, at=now, actor="qc@contoh.co.id", source="test")  # type: ignore
    assert order == ["plan", "done"]
