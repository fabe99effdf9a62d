"""The procedure's clocks and monitoring with an injected clock, manual intake, verification
gates, and audit tamper detection — on local Maildirs, no servers."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from appfixture import LocalApp
from testclock import TestClock

from mailproc import store
from mailproc.bootstrap import App, build_app
from mailproc.config import load_settings
from mailproc.domain import states
from mailproc.errors import MailprocError
from mailproc.intake import services
from mailproc.outgoing import outbox, transports
from mailproc.ptpp import reminders, workflow

WIB = ZoneInfo("Asia/Jakarta")


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def make_app(local: LocalApp, clock: Clock) -> App:
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    return build_app(settings, clock=clock)


def manual(app: App, when: datetime, description: str, **kw) -> store.Complaint:
    new = services.NewComplaint(channel=kw.pop("channel", "telepon"), received_at=when,
                                customer_email=kw.pop("email", ""), customer_name="CV Maju",
                                subject=description[:40], description=description,
                                contact=kw.pop("contact", "0812-3456-789"), **kw)
    complaint = services.register_manual(app, new, actor="rina")
    # Send what was queued (the acknowledgement records the first response when sent).
    outbox.flush(app.settings, app.archive, transports.make_transport(app.settings), app.clock())
    return complaint


def sent_kinds(since_id: int = 0) -> list[tuple[str, str]]:
    return [(r.kind, r.complaint.number if r.complaint_id else "")
            for r in store.OutgoingMail.select().where(store.OutgoingMail.id > since_id)
            .order_by(store.OutgoingMail.id)]


def last_id() -> int:
    row = store.OutgoingMail.select().order_by(store.OutgoingMail.id.desc()).first()
    return row.id if row else 0


def test_first_response_due_is_stored_and_manual_complaints_are_flagged(tmp_path: Path):
    local = LocalApp(tmp_path)
    clock = Clock(datetime(2026, 12, 23, 16, 0, tzinfo=WIB))
    app = make_app(local, clock)
    c = manual(app, clock.now, "Pelanggan menelepon: 20 karton kemasan rusak dan basah.")
    # Example from the issue: Wed 23 Dec 16:00 → Mon 28 Dec 16:00 (cuti bersama counted).
    due = store.aware(store.complaint_by_number(c.number).first_response_due_at)
    assert due == datetime(2026, 12, 28, 16, 0, tzinfo=WIB)
    # No email address: no acknowledgement; the PTPP went to the department anyway.
    kinds = [k for k, _ in sent_kinds()]
    assert "ack" not in kinds and "ptpp_issue" in kinds and "notice_new" in kinds

    clock.now = datetime(2026, 12, 28, 15, 0, tzinfo=WIB)  # before the due time
    assert reminders.remind(app).no_response == []
    clock.now = datetime(2026, 12, 29, 8, 0, tzinfo=WIB)
    mark = last_id()
    assert reminders.remind(app).no_response == [c.number]
    assert ("notice_no_response", c.number) in sent_kinds(mark)
    # At most once a day.
    clock.now += timedelta(hours=3)
    assert reminders.remind(app).no_response == []
    # Recording the phone response stops the flag for good.
    workflow.record_response(app, c.number, text="Ditelepon balik oleh Rina", actor="rina",
                             source="test")
    clock.now = datetime(2026, 12, 30, 8, 0, tzinfo=WIB)
    assert reminders.remind(app).no_response == []


def test_plan_reminder_the_day_before_then_daily_overdue_with_escalation(tmp_path: Path):
    local = LocalApp(tmp_path)
    clock = Clock(datetime(2026, 11, 30, 9, 0, tzinfo=WIB))  # Monday
    app = make_app(local, clock)
    c = manual(app, clock.now, "Botol retak di bagian leher, mohon diganti.",
               email="budi@example.com")
    ptpp = store.Ptpp.get(store.Ptpp.complaint == c.id)
    # Issued Mon 09:00 + 3 working days = Thu 09:00.
    assert store.aware(ptpp.plan_due_at) == datetime(2026, 12, 3, 9, 0, tzinfo=WIB)

    def at(day: int, hour: int = 8) -> reminders.RemindResult:
        clock.now = datetime(2026, 12, day, hour, 0, tzinfo=WIB)
        return reminders.remind(app)

    assert at(1).reminders == []  # Tue: due Thu, not yet the day before
    mark = last_id()
    assert at(2).reminders == [c.number]  # Wed: the working day before
    assert sent_kinds(mark) == [("reminder", c.number)]
    assert at(2, 14).reminders == []  # once a day
    assert at(3).reminders == []  # Thu 08:00: due at 09:00, reminded yesterday, not late
    mark = last_id()
    r = at(4)  # Fri: overdue → department and operations manager
    assert (r.reminders, r.escalations) == ([c.number], [c.number])
    assert sent_kinds(mark) == [("reminder", c.number), ("escalation", c.number)]
    body = store.OutgoingMail.get(store.OutgoingMail.kind == "escalation").body_text
    assert "terlambat" in body and "Manajer Operasional" in body
    assert at(5).working_day is False  # Saturday: nothing
    r = at(7)  # Monday: again, once
    assert (r.reminders, r.escalations) == ([c.number], [c.number])
    assert at(7, 15).escalations == []


def test_verification_gates_and_rejection(tmp_path: Path):
    local = LocalApp(tmp_path)
    clock = Clock(datetime(2026, 11, 30, 9, 0, tzinfo=WIB))
    app = make_app(local, clock)
    c = manual(app, clock.now, "Botol retak.", email="budi@example.com")
    with pytest.raises(MailprocError, match="only after the actions are reported done"):
        workflow.verify(app, c.number, effective=True, note="ok", actor="rina", source="t")
    store.Complaint.update(status=states.IMPLEMENTED).execute()
    with pytest.raises(MailprocError, match="evaluation note is required"):
        workflow.verify(app, c.number, effective=True, note=" ", actor="rina", source="t")
    assert store.complaint_by_number(c.number).status == states.IMPLEMENTED  # unchanged
    with pytest.raises(MailprocError, match="cannot go from implemented to rejected"):
        workflow.reject(app, c.number, reason="spam", actor="rina", source="t")
    other = manual(app, clock.now, "Penawaran iklan jasa SEO murah")
    assert workflow.reject(app, other.number, reason="iklan", actor="rina",
                           source="t").status == states.REJECTED


def test_cli_manual_intake_verify_and_audit_tamper(tmp_path: Path):
    local = LocalApp(tmp_path, clock=TestClock(datetime(2026, 11, 25, 3, 0, tzinfo=UTC)))
    photo = tmp_path / "foto.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    out = local.run("complaints", "add", "--channel", "whatsapp", "--customer", "Toko Sinar",
                    "--contact", "sinar@example.com", "--description",
                    "Barang salah kirim, kami pesan ukuran 38 mm", "--attachment", str(photo),
                    "--received-at", "2026-11-20 10:00", "--by", "rina", "--json")
    assert out.exit_code == 0, out.output
    row = json.loads(out.stdout)
    assert (row["channel"], row["customer"], row["department"]) == (
        "whatsapp", "sinar@example.com", "gudang")
    assert row["received_at"] == "2026-11-20T03:00:00+00:00"
    shown = local.json("complaints", "show", row["number"])
    assert [a["filename"] for a in shown["attachments"]] == ["foto.png"]
    assert shown["first_response_at"] is not None  # the acknowledgement went by email
    assert shown["ptpps"][0]["plan_due_at"] is not None
    registered = [e for e in shown["events"] if e["kind"] == "complaint_registered"][0]
    assert registered["actor"] == "rina"
    for args in (("note", row["number"], "pelanggan minta kunjungan"),
                 ("send-analysis", row["number"])):
        assert local.run("complaints", *args, "--by", "rina").exit_code == 0
    bad = local.run("ptpp", "verify", row["number"], "--effective", "--note", "x")
    assert bad.exit_code == 1 and "only after" in bad.output

    assert local.run("audit", "verify").exit_code == 0
    db = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    victim = db.execute("select id from event where kind = 'note'").fetchone()[0]
    db.execute("update event set data = replace(data, 'kunjungan', 'diskon') where id = ?",
               (victim,))
    db.commit()
    result = local.run("audit", "verify", "--json")
    assert result.exit_code == 1
    altered = json.loads(result.stdout)
    assert altered["ok"] is False and altered["event_id"] == victim
    assert "altered" in altered["problem"]
    db.execute("update event set data = replace(data, 'diskon', 'kunjungan') where id = ?",
               (victim,))
    db.execute("delete from event where id = ?", (victim - 1,))
    db.commit()
    removed = json.loads(local.run("audit", "verify", "--json").stdout)
    assert removed["event_id"] == victim and "removed" in removed["problem"]
    db.close()


def test_show_prints_the_clocks(tmp_path: Path):
    local = LocalApp(tmp_path, clock=TestClock(datetime(2026, 11, 25, 3, 0, tzinfo=UTC)))
    out = local.run("complaints", "add", "--channel", "telepon", "--customer", "CV Maju",
                    "--description", "Botol retak", "--received-at", "2026-11-21 10:00")
    number = out.output.split()[1]
    text = local.run("complaints", "show", number).output
    # Sat 21 Nov 10:00 → the end of the next working day, Mon 23 Nov 17:00 WIB.
    assert "Batas tanggapan   : 2026-11-23 17:00" in text
    assert "batas analisis" in text


